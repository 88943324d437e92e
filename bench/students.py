"""The class-capacity benchmark's participants, run as child processes so their CPU is never the server's.

``python -m bench.students`` prints ``{"ready": true}`` once its libraries are loaded, reads one JSON line
of configuration on stdin, joins, and then answers every further stdin line with one JSON report on stdout
(cumulative counters and a monotonic timestamp; ``time.monotonic`` is one clock for every process of the
machine, so join times from several processes line up). End of stdin ends it.

Roles:

* ``teacher``: a synthetic 640x480 30 fps VP8 camera (as ``bench/peers.py``'s publisher: scrolling luma
  noise that holds aiortc's encoder at its rate cap) and a 440 Hz Opus microphone. Reports frames produced
  and video RTP bytes sent.
* ``students``: a group of students, each one :class:`recorder_bot.client.ClassroomClient` (the page's
  socket.io protocol) publishing a microphone only, each starting to join at its own ``join_at`` (a
  monotonic time the orchestrator chose, so the whole class arrives at one rate across processes). A
  speaking student's microphone sends a tone. A silent one sends, by the ``silent`` setting, either Opus-coded
  digital silence at 50 packets/s (``silence``: what a browser's muted track, ``track.enabled = false``,
  sends when Opus DTX is not negotiated, and the server forwards every packet), or nothing (``paused``:
  the m-line is negotiated and forwarded, but no RTP flows until the student speaks, like a client that
  replaces its muted track with none).

Received media is counted where aiortc hands a complete encoded frame to its decoder thread, as in
``bench/peers.py``: the teacher's video frames (only the first ``decoders`` students of a group also
decode them, showing that what arrives is a picture), and every other participant's audio packets, which
are never decoded. Decoding fifty Opus streams per student would be the clients' cost, not the server's,
and on two shared cores it would compete with the server. The moment each student's first teacher frame
reaches that point is its join-to-first-frame end.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import queue
import time
from typing import Any

from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpreceiver import StreamStatistics
from av import AudioFrame

from bench.children import say, serve, stdin_lines
from bench.peers import CountedVideoTrack
from recorder_bot.client import ClassroomClient, RemoteSource
from tests.synthetic_media import AUDIO_RATE, AUDIO_SAMPLES, SyntheticAudioTrack

# Name-mangled in aiortc 1.16.0 (the version pyproject pins), as in bench/peers.py.
_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_REMOTE_STREAMS = "_RTCRtpReceiver__remote_streams"
_RTX_SSRCS = "_RTCRtpReceiver__rtx_ssrc"
_ENCODER = "_RTCRtpSender__encoder"
SILENT_MODES = ("silence", "paused")


class SilentAudioTrack(MediaStreamTrack):
    """A muted microphone: 20 ms frames of digital silence, paced in real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._samples = 0
        self._start: float | None = None
        self._pcm = bytes(AUDIO_SAMPLES * 2)

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._samples / AUDIO_RATE - time.monotonic()))
        frame = AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        frame.planes[0].update(self._pcm)
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._samples += AUDIO_SAMPLES
        return frame


class PausedAudioTrack(MediaStreamTrack):
    """A microphone that is published but sends nothing: its first frame never comes."""

    kind = "audio"

    async def recv(self) -> AudioFrame:
        await asyncio.Event().wait()
        raise MediaStreamError


class Tally:
    """What one receiver got: complete encoded frames, their bytes, when the first came, what decoded."""

    def __init__(self, receiver: RTCRtpReceiver, decode: bool) -> None:
        self.receiver = receiver
        self.decode = decode
        self.frames = 0
        self.bytes = 0
        self.decoded = 0
        self.first_at: float | None = None
        original = getattr(receiver, _DECODER_QUEUE)
        if not isinstance(original, queue.Queue):
            raise RuntimeError("aiortc internals changed: RTCRtpReceiver has no decoder queue")
        setattr(receiver, _DECODER_QUEUE, _DecoderQueueTap(original, self))
        self._reader = asyncio.ensure_future(self._read()) if decode else None

    async def _read(self) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await self.receiver.track.recv()
                self.decoded += 1

    def packets(self) -> tuple[int, int, int]:
        """(received, lost, retransmitted) RTP packets, the media SSRCs told apart from RTX."""
        received = lost = repaired = 0
        rtx: dict[int, int] = getattr(self.receiver, _RTX_SSRCS)
        streams: dict[int, StreamStatistics] = getattr(self.receiver, _REMOTE_STREAMS)
        for ssrc, stats in streams.items():
            if ssrc in rtx:
                repaired += stats.packets_received
            else:
                received += stats.packets_received
                lost += stats.packets_lost
        return received, lost, repaired

    def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()


class _DecoderQueueTap:
    """Stands in for a receiver's decoder queue (see ``bench/peers.py``): counts, passes on what decodes."""

    def __init__(self, original: queue.Queue[Any], tally: Tally) -> None:
        self._original = original
        self._tally = tally

    def put(self, item: Any) -> None:
        if item is None:
            self._original.put(None)
            return
        _codec, encoded_frame = item
        tally = self._tally
        if tally.first_at is None:
            tally.first_at = time.monotonic()
        tally.frames += 1
        tally.bytes += len(encoded_frame.data)
        if tally.decode:
            self._original.put(item)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._original.get(*args, **kwargs)


class Teacher:
    """The camera and microphone at the front of the class."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.camera = CountedVideoTrack(config["width"], config["height"], config["fps"])
        tracks: dict[str, MediaStreamTrack] = {"camera": self.camera, "microphone": SyntheticAudioTrack()}
        self.client = ClassroomClient(config["url"], {"Cookie": config["cookie"]}, tracks)

    async def start(self) -> None:
        await self.client.connect()
        await self.client.join(self.config["classroom_id"])
        await self.client.start_media()

    async def report(self) -> dict[str, Any]:
        sent_bytes = 0
        target_bitrate: int | None = None
        pc = self.client.pc
        if pc is not None:
            for sender in pc.getSenders():
                if sender.track is not self.camera:
                    continue
                for stats in (await sender.getStats()).values():
                    if stats.type == "outbound-rtp":
                        sent_bytes += stats.bytesSent
                target_bitrate = getattr(getattr(sender, _ENCODER, None), "target_bitrate", None)
        return {
            "connected": pc is not None and pc.connectionState == "connected",
            "frames": self.camera.frames,
            "bytes_sent": sent_bytes,
            "target_bitrate": target_bitrate,
        }

    async def close(self) -> None:
        await self.client.close()


class Student:
    """One student: joins at ``join_at``, publishes a microphone, receives the teacher and the class."""

    def __init__(self, config: dict[str, Any], seat: dict[str, Any], decode: bool) -> None:
        self.config = config
        self.join_at: float = seat["join_at"]
        self.speaking: bool = seat["speaking"]
        self.decode = decode
        microphone: MediaStreamTrack
        if self.speaking:
            microphone = SyntheticAudioTrack(frequency=seat["frequency"])
        elif config["silent"] == "silence":
            microphone = SilentAudioTrack()
        else:
            microphone = PausedAudioTrack()
        self.client = ClassroomClient(
            config["url"], {"Cookie": seat["cookie"]}, {"microphone": microphone}, self._source
        )
        self.video: Tally | None = None
        self.audio: list[Tally] = []
        self.join_started: float | None = None
        self.media_started: float | None = None
        self.error: str | None = None

    def _source(self, source: RemoteSource) -> None:
        if source.source == "camera":  # the teacher's: the only camera in the class
            self.video = Tally(source.receiver, self.decode)
        elif source.track.kind == "audio":
            self.audio.append(Tally(source.receiver, decode=False))

    async def join(self) -> None:
        await asyncio.sleep(max(0.0, self.join_at - time.monotonic()))
        self.join_started = time.monotonic()
        step = "connect"
        try:
            await self.client.connect()
            step = "join"
            await self.client.join(self.config["classroom_id"])
            step = "media_join and first answer"
            await self.client.start_media()
            self.media_started = time.monotonic()
        except Exception as error:  # reported, so the orchestrator can say which student failed and why
            waited = time.monotonic() - self.join_started
            self.error = f"{step}: {type(error).__name__} {error} after {waited:.1f} s"

    def report(self) -> dict[str, Any]:
        video = self.video
        received = lost = repaired = 0
        if video is not None:
            received, lost, repaired = video.packets()
        audio_received = audio_lost = 0
        for tally in self.audio:
            got, missed, _ = tally.packets()
            audio_received += got
            audio_lost += missed
        pc = self.client.pc
        return {
            "join_started": self.join_started,
            "media_started": self.media_started,
            "first_frame_at": video.first_at if video is not None else None,
            "connected": pc is not None and pc.connectionState == "connected",
            "error": self.error,
            "speaking": self.speaking,
            "frames": video.frames if video is not None else 0,
            "bytes": video.bytes if video is not None else 0,
            "decoded": video.decoded if video is not None and video.decode else None,
            "packets_received": received,
            "packets_lost": lost,
            "packets_retransmitted": repaired,
            "audio_sources": len(self.audio),
            "audio_frames": sum(tally.frames for tally in self.audio),
            "audio_packets_received": audio_received,
            "audio_packets_lost": audio_lost,
        }

    async def close(self) -> None:
        for tally in [*self.audio, *([self.video] if self.video is not None else [])]:
            tally.close()
        await self.client.close()


class Students:
    """One process's share of the class; the first ``decoders`` of them decode the teacher's video."""

    def __init__(self, config: dict[str, Any]) -> None:
        decoders: int = config["decoders"]
        self.students = [Student(config, seat, i < decoders) for i, seat in enumerate(config["seats"])]

    async def start(self) -> None:
        await asyncio.gather(*(student.join() for student in self.students))

    async def report(self) -> dict[str, Any]:
        return {"students": [student.report() for student in self.students]}

    async def close(self) -> None:
        await asyncio.gather(*(student.close() for student in self.students), return_exceptions=True)


async def run() -> None:
    """Say ready, take the configuration, join as configured, then report on every stdin line.

    Reports are answered while joining too (with what exists so far), so the orchestrator waits for
    media with its own deadline; a teacher whose join failed ends the process at the next report.
    """
    commands = await stdin_lines()
    say({"ready": True})
    config = json.loads(await commands.readline())
    peer = Teacher(config) if config["role"] == "teacher" else Students(config)
    await serve(peer, commands)


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
