"""``python -I -m recorder_bot.replay``: play one recording (or one chapter) into a live classroom.

The replay publisher is a client like the recorder robot: it joins with its own grant (``replay_token``)
and publishes the file's picture as its ``camera`` and its sound as its ``microphone``, so the SFU forwards
it to everyone (and to a recorder robot) like any publisher, encoded once, here. The file is decoded by
PyAV on a thread of its own, paced at real time from the chapter's start; the event loop only hands the
frames to aiortc, whose encoders run in its executor. ``pause`` on stdin holds the decoder (nothing is
sent), ``resume`` goes on; at the end of the file or chapter it seeks back when looping, else it reports
``ended``. SIGTERM, or stdin closing, stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import av.container
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame
from av.audio.resampler import AudioResampler
from pydantic import ValidationError

from recorder_bot.client import NAMESPACE, ClassroomClient
from recorder_bot.replay_job import (
    ReplayEnded,
    ReplayFailed,
    ReplayJob,
    ReplayJoined,
    ReplayPlaying,
    ReplayProgress,
    parse_command,
)

log = logging.getLogger("recorder_bot.replay")

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
QUEUE_FRAMES = 30
"Frames held for a track that is not taking them yet (before the connection is up): the oldest go."
GAP = 0.2
"A pause longer than this moves the audio clock on, so the receiver sees the time that passed."


def report(message: ReplayProgress) -> None:
    sys.stdout.write(message.line())
    sys.stdout.flush()


class FrameQueue:
    """Frames from the decoder thread to one track, dropping the oldest when nobody takes them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_FRAMES)

    def put_threadsafe(self, frame: Any) -> None:
        self._loop.call_soon_threadsafe(self._put, frame)

    def _put(self, frame: Any) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    async def get(self) -> Any:
        return await self._queue.get()

    def empty(self) -> bool:
        return self._queue.empty()


class ReplayTrack(MediaStreamTrack):
    """A track fed by the decoder thread; timestamps follow the wall clock, so a pause is a gap.

    ``on_wanted`` is called when aiortc first asks for a frame, i.e. once the connection is up: the file
    starts playing then, so nobody misses its first seconds to connection set-up."""

    def __init__(
        self, kind: str, frames: FrameQueue, on_wanted: Callable[[], None], on_first: Callable[[], None]
    ) -> None:
        super().__init__()
        self.kind = kind
        self._frames = frames
        self._on_wanted = on_wanted
        self._on_first = on_first
        self._start: float | None = None
        self._samples = 0

    async def recv(self) -> VideoFrame | AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        self._on_wanted()
        frame: VideoFrame | AudioFrame = await self._frames.get()
        now = time.monotonic()
        if self._start is None:
            self._start = now
            self._on_first()
        if isinstance(frame, VideoFrame):
            frame.pts = int((now - self._start) * VIDEO_CLOCK)
            frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        else:
            due = int((now - self._start) * AUDIO_RATE)
            if due - self._samples > GAP * AUDIO_RATE:
                self._samples = due
            frame.pts = self._samples
            frame.time_base = fractions.Fraction(1, AUDIO_RATE)
            self._samples += frame.samples
        return frame


class Decoder:
    """Decodes the file on its own thread and hands each frame over at its moment (real time)."""

    def __init__(
        self,
        job: ReplayJob,
        video: FrameQueue | None,
        audio: FrameQueue | None,
        on_end: Callable[[], None],
        on_error: Callable[[str], None],
    ) -> None:
        self.job = job
        self._video = video
        self._audio = audio
        self._on_end = on_end
        self._on_error = on_error
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="replay-decoder", daemon=True)
        self._started = False

    def start(self) -> None:
        """Start decoding (once; later calls do nothing)."""
        if not self._started:
            self._started = True
            self._thread.start()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        if self._started:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            with av.open(str(self.job.path)) as container:
                while not self._stop.is_set():
                    self._play_once(container)
                    if not self.job.loop:
                        break
            if not self._stop.is_set():
                self._on_end()
        except Exception as exc:
            log.exception("replay decoding failed")
            self._on_error(f"{type(exc).__name__}: {exc}")

    def _play_once(self, container: av.container.InputContainer) -> None:
        """From the chapter's start to its end (or the file's), at real time."""
        start = self.job.start_ms / 1000
        end = None if self.job.end_ms is None else self.job.end_ms / 1000
        streams = [*container.streams.video[:1], *container.streams.audio[:1]]
        container.seek(int(start * 1_000_000), backward=True, any_frame=False)
        origin = time.monotonic()
        resampler = AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE)
        sent_any = False
        for packet in container.demux(*streams):
            for frame in packet.decode():
                if self._stop.is_set():
                    return
                if not isinstance(frame, VideoFrame | AudioFrame):
                    continue
                t = frame.time
                if t is None or t < start - 0.001:
                    continue  # decoded from the keyframe before the chapter's start: not shown
                if end is not None and t >= end:
                    if packet.stream.type == "video" or not self._video:
                        return
                    continue
                origin = self._wait(origin + (t - start)) - (t - start)
                sent_any = True
                if isinstance(frame, VideoFrame) and self._video is not None:
                    self._video.put_threadsafe(self._scaled(frame))
                elif isinstance(frame, AudioFrame) and self._audio is not None:
                    for out in resampler.resample(frame):
                        out.pts = None
                        self._audio.put_threadsafe(out)
        if not sent_any:
            raise RuntimeError("nothing to play from this point of the file")

    def _wait(self, due: float) -> float:
        """Sleep until ``due``; a pause meanwhile moves the moment on by as long as it lasted. Returns the
        moment the frame is sent at (its due time, shifted by any pause)."""
        if not self._running.is_set():
            paused = time.monotonic()
            self._running.wait()
            due += time.monotonic() - paused
        delay = due - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)
        return due

    def _scaled(self, frame: VideoFrame) -> VideoFrame:
        if frame.width <= self.job.max_width:
            return frame
        height = round(frame.height * self.job.max_width / frame.width / 2) * 2
        return frame.reformat(width=self.job.max_width, height=height, format="yuv420p")


def has_stream(path: Path, kind: str) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.video if kind == "video" else container.streams.audio)


async def play(job: ReplayJob, commands: asyncio.StreamReader, stop: asyncio.Event) -> None:
    """Join, publish, and play until stopped, ended (not looping) or disconnected."""
    loop = asyncio.get_running_loop()
    ended = asyncio.Event()
    errors: list[str] = []
    video_q = FrameQueue(loop) if await asyncio.to_thread(has_stream, job.path, "video") else None
    audio_q = FrameQueue(loop) if await asyncio.to_thread(has_stream, job.path, "audio") else None
    if video_q is None and audio_q is None:
        raise RuntimeError("the file has neither picture nor sound")
    first = asyncio.Event()
    tracks: dict[str, MediaStreamTrack] = {}

    def wanted() -> None:
        decoder.start()

    if audio_q is not None:
        tracks["microphone"] = ReplayTrack("audio", audio_q, wanted, first.set)
    if video_q is not None:
        tracks["camera"] = ReplayTrack("video", video_q, wanted, first.set)

    def failed(error: str) -> None:  # on the decoder thread
        errors.append(error)
        loop.call_soon_threadsafe(ended.set)

    def played_out() -> None:  # on the decoder thread
        loop.call_soon_threadsafe(ended.set)

    decoder = Decoder(job, video_q, audio_q, played_out, failed)
    client = ClassroomClient(job.server_url, {}, tracks, auth={"replay_token": job.token})
    disconnected = asyncio.Event()

    async def gone(reason: Any = None) -> None:
        disconnected.set()

    client.sio.on("disconnect", gone, namespace=NAMESPACE)
    reading = asyncio.create_task(_follow_commands(commands, decoder, stop))
    try:
        await client.connect()
        await client.join(job.classroom_id)
        await client.start_media()
        report(ReplayJoined())
        waits = [asyncio.ensure_future(e.wait()) for e in (first, stop, ended, disconnected)]
        await asyncio.wait(waits[:], return_when=asyncio.FIRST_COMPLETED)
        if first.is_set():
            report(ReplayPlaying())
        waits = waits[1:]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for future in waits:
            future.cancel()
        if errors:
            report(ReplayFailed.of(errors[0]))
        elif ended.is_set() and not stop.is_set():
            # The frames still queued play out before the end is told.
            queues = [q for q in (video_q, audio_q) if q is not None]
            for _ in range(20):
                if all(q.empty() for q in queues):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.2)
            report(ReplayEnded())
    finally:
        reading.cancel()
        await asyncio.to_thread(decoder.stop)
        for track in tracks.values():
            track.stop()
        with contextlib.suppress(Exception):
            await client.close()


async def _follow_commands(commands: asyncio.StreamReader, decoder: Decoder, stop: asyncio.Event) -> None:
    while True:
        line = await commands.readline()
        if not line:
            stop.set()  # the server is gone
            return
        command = parse_command(line)
        if command is None:
            continue
        if command.command == "pause":
            decoder.pause()
        else:
            decoder.resume()


async def run() -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        job = ReplayJob.model_validate_json(await reader.readline())
    except ValidationError as exc:
        report(ReplayFailed.of(f"bad job: {exc}"))
        return 2
    try:
        await play(job, reader, stop)
    except Exception as exc:
        log.exception("replay failed")
        report(ReplayFailed.of(f"{type(exc).__name__}: {exc}"))
        return 1
    return 0


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s replay %(levelname)s %(message)s"
    )
    return asyncio.run(run())


if __name__ == "__main__":
    raise SystemExit(main())
