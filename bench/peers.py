"""The benchmark's media clients, run as child processes so their CPU is never the server's.

``python -m bench.peers`` reads one JSON line of configuration on stdin, joins, and then answers every
further stdin line with one JSON report on stdout (cumulative counters and a monotonic timestamp, so the
orchestrator can take a window at exactly the moments it reads the server's CPU). End of stdin ends it.

Roles (and ``probe``, see :class:`LoopProbe`):

* ``publisher``: one synthetic 640x480 30 fps VP8 camera (``tests.synthetic_media``: scrolling luma noise
  that holds aiortc's encoder at its rate cap). Reports frames produced and RTP payload bytes sent.
* ``subscribers``: N receivers of that camera. Every one receives, decrypts, reassembles complete encoded
  frames in aiortc's jitter buffer and sends its RTCP (receiver reports, NACK, PLI, REMB), i.e. the whole
  aiortc receive path; only the first ``decoders`` of them also decode. A VP8 decode of this picture costs
  about 2.6% of a core per subscriber (16 decoders: 65% of a core), work the server never sees but which,
  on two shared cores, competes with it. So frames are counted where aiortc hands a complete encoded frame
  to its decoder thread (a frame that decodes is exactly a frame that got there), and the decoding sample
  shows that what arrives is a picture.

Against Aula (``forwarder: aula``) the clients are :class:`recorder_bot.client.ClassroomClient`, i.e. our
socket.io protocol; against the baseline (``forwarder: relay``) they speak ``bench/relay_server.py``'s
plain HTTP offer/answer; against Janus (``forwarder: janus``) they use its HTTP API through
``bench/janus.py``, one Janus session per client as a browser would hold: the publisher joins VideoRoom
``room`` as feed ``feed``, every subscriber subscribes to that feed. Video only: the benchmark is about
video streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
from typing import Any

import aiohttp
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpreceiver import StreamStatistics
from av import VideoFrame
from prometheus_client import generate_latest

from bench import janus
from bench.children import serve, stdin_lines
from recorder_bot.client import ClassroomClient, RemoteSource
from server.metrics import Metrics, watch_loop_lag
from tests.synthetic_media import SyntheticVideoTrack

# Name-mangled in aiortc 1.16.0 (the version pyproject pins): the queue between the jitter buffer and
# the decoder thread, the per-SSRC receive statistics, RTX SSRC -> media SSRC, the sender's encoder.
_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_REMOTE_STREAMS = "_RTCRtpReceiver__remote_streams"
_RTX_SSRCS = "_RTCRtpReceiver__rtx_ssrc"
_ENCODER = "_RTCRtpSender__encoder"


def video_codecs() -> list[Any]:
    """VP8 (and RTX), the codec both forwarders run, so the baseline cannot pick another."""
    wanted = ("video/vp8", "video/rtx")
    return [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() in wanted]


class CountedVideoTrack(SyntheticVideoTrack):
    """The synthetic camera, counting the frames it hands to the encoder."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        super().__init__(width, height, fps)
        self.frames = 0

    async def recv(self) -> VideoFrame:
        frame = await super().recv()
        self.frames += 1
        return frame


class _DecoderQueueTap:
    """Stands in for a receiver's decoder queue: counts each complete encoded frame, passes on what decodes.

    The decoder thread holds the original queue (it was given it when ``receive()`` started); aiortc puts
    frames through the receiver's attribute, which is this tap. ``None`` (the receiver stopping) always
    passes, so the thread ends. ``get`` delegates too, in case the thread starts after the tap is in.
    """

    def __init__(self, original: queue.Queue[Any], counter: ReceivedVideo) -> None:
        self._original = original
        self._counter = counter

    def put(self, item: Any) -> None:
        if item is None:
            self._original.put(None)
            return
        _codec, encoded_frame = item
        self._counter.frames += 1
        self._counter.bytes += len(encoded_frame.data)
        if self._counter.decode:
            self._original.put(item)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._original.get(*args, **kwargs)


class ReceivedVideo:
    """What one subscriber received: complete encoded frames and bytes, decoded frames if it decodes."""

    def __init__(self, receiver: RTCRtpReceiver, decode: bool) -> None:
        self.receiver = receiver
        self.decode = decode
        self.frames = 0
        self.bytes = 0
        self.decoded = 0
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

    async def report(self) -> dict[str, Any]:
        # aiortc's getStats() names every SSRC's inbound-rtp entry alike, so with RTX the retransmission
        # stream hides the media stream; its per-SSRC table says which is which.
        received = lost = repaired = 0
        rtx: dict[int, int] = getattr(self.receiver, _RTX_SSRCS)
        streams: dict[int, StreamStatistics] = getattr(self.receiver, _REMOTE_STREAMS)
        for ssrc, stats in streams.items():
            if ssrc in rtx:
                repaired += stats.packets_received
            else:
                received += stats.packets_received
                lost += stats.packets_lost
        return {
            "frames": self.frames,
            "bytes": self.bytes,
            "decoded": self.decoded if self.decode else None,
            "packets_received": received,
            "packets_lost": lost,
            "packets_retransmitted": repaired,
        }

    def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()


async def _http_offer(url: str, pc: RTCPeerConnection) -> None:
    """Non-trickle offer/answer with the relay: aiortc's description already holds every candidate."""
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
    async with aiohttp.ClientSession() as http, http.post(url, json=offer) as response:
        response.raise_for_status()
        answer = await response.json()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))


class JanusClients:
    """The Janus HTTP API sessions of one client process (one per peer connection), closed together."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http: aiohttp.ClientSession | None = None
        self.sessions: list[janus.JanusSession] = []

    async def session(self) -> janus.JanusSession:
        if self.http is None:
            self.http = aiohttp.ClientSession()
        self.sessions.append(await janus.JanusSession.create(self.http, self.url))
        return self.sessions[-1]

    async def close(self) -> None:
        await asyncio.gather(*(session.destroy() for session in self.sessions), return_exceptions=True)
        if self.http is not None:
            await self.http.close()


class Publisher:
    """The one camera, joined to Aula as the teacher, posted to the relay or published in Janus's room."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.track = CountedVideoTrack(config["width"], config["height"], config["fps"])
        self.pc: RTCPeerConnection | None = None
        self.client: ClassroomClient | None = None
        self.janus: JanusClients | None = None

    async def start(self) -> None:
        if self.config["forwarder"] == "aula":
            self.client = ClassroomClient(
                self.config["url"], {"Cookie": self.config["cookie"]}, {"camera": self.track}
            )
            await self.client.connect()
            await self.client.join(self.config["classroom_id"])
            await self.client.start_media()
            self.pc = self.client.pc
            return
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = self.pc.addTransceiver(self.track, direction="sendonly")
        transceiver.setCodecPreferences(video_codecs())
        if self.config["forwarder"] == "janus":
            self.janus = JanusClients(self.config["url"])
            await janus.publish(await self.janus.session(), self.config["room"], self.pc, self.config["feed"])
        else:
            await _http_offer(self.config["url"].rstrip("/") + "/publish", self.pc)

    async def report(self) -> dict[str, Any]:
        sent_bytes = sent_packets = 0
        connected = False
        target_bitrate: int | None = None
        if self.pc is not None:
            connected = self.pc.connectionState == "connected"
            for sender in self.pc.getSenders():
                if sender.track is not self.track:
                    continue
                for stats in (await sender.getStats()).values():
                    if stats.type == "outbound-rtp":
                        sent_bytes += stats.bytesSent
                        sent_packets += stats.packetsSent
                # What the server's REMB set (aiortc's VP8 encoder starts at 500 kbit/s, caps at 1.5 Mbit/s).
                target_bitrate = getattr(getattr(sender, _ENCODER, None), "target_bitrate", None)
        return {
            "connected": connected,
            "frames": self.track.frames,
            "bytes_sent": sent_bytes,
            "packets_sent": sent_packets,
            "target_bitrate": target_bitrate,
        }

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        elif self.pc is not None:
            await self.pc.close()
        if self.janus is not None:
            await self.janus.close()


class Subscribers:
    """N receivers of the camera; the first ``decoders`` decode it."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.received: list[ReceivedVideo] = []
        self.clients: list[ClassroomClient] = []
        self.pcs: list[RTCPeerConnection] = []
        self.janus = JanusClients(config["url"]) if config["forwarder"] == "janus" else None

    @property
    def _next_decodes(self) -> bool:
        decoders: int = self.config["decoders"]
        return len(self.received) < decoders

    async def start(self) -> None:
        if self.config["forwarder"] == "aula":
            for cookie in self.config["cookies"]:
                await self._join_aula(cookie)
        elif self.janus is not None:
            for _ in range(self.config["count"]):
                await self._join_janus(self.janus)
        else:
            for _ in range(self.config["count"]):
                await self._join_relay()

    async def _join_aula(self, cookie: str) -> None:
        decode = self._next_decodes
        client: ClassroomClient

        def on_source(source: RemoteSource) -> None:
            if source.source != "camera" or client.pc is None:
                return
            for transceiver in client.pc.getTransceivers():
                if transceiver.mid == source.mid:
                    self.received.append(ReceivedVideo(transceiver.receiver, decode))

        client = ClassroomClient(self.config["url"], {"Cookie": cookie}, {}, on_source)
        self.clients.append(client)
        await client.connect()
        await client.join(self.config["classroom_id"])
        await client.start_media()

    async def _join_relay(self) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(pc)
        transceiver: RTCRtpTransceiver = pc.addTransceiver("video", direction="recvonly")
        transceiver.setCodecPreferences(video_codecs())
        decode = self._next_decodes
        await _http_offer(self.config["url"].rstrip("/") + "/subscribe", pc)
        self.received.append(ReceivedVideo(transceiver.receiver, decode))

    async def _join_janus(self, clients: JanusClients) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(pc)
        decode = self._next_decodes
        # Janus offers: the room's codec (VP8) is all its offer holds, so no codec preferences to set.
        await janus.subscribe(await clients.session(), self.config["room"], self.config["feed"], pc)
        video = [t for t in pc.getTransceivers() if t.kind == "video"]
        if len(video) != 1:
            raise RuntimeError(f"Janus offered {len(video)} video streams, expected one")
        self.received.append(ReceivedVideo(video[0].receiver, decode))

    async def report(self) -> dict[str, Any]:
        return {"subscribers": [await received.report() for received in self.received]}

    async def close(self) -> None:
        for received in self.received:
            received.close()
        for client in self.clients:
            await client.close()
        for pc in self.pcs:
            await pc.close()
        if self.janus is not None:
            await self.janus.close()


class LoopProbe:
    """A process that does nothing but time its own event loop: the machine's share of any loop lag.

    It samples exactly as the servers do (``server.metrics.watch_loop_lag``), so a spike it sees too came
    from the machine (other processes, the hypervisor), not from the server's own work.
    """

    def __init__(self) -> None:
        self.metrics = Metrics()
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._watcher = asyncio.ensure_future(watch_loop_lag(self.metrics))

    async def report(self) -> dict[str, Any]:
        return {"metrics": generate_latest(self.metrics.registry).decode()}

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()


async def run() -> None:
    """Join as configured, then report on every stdin line until stdin closes.

    Reports are answered while joining too (with what exists so far), so the orchestrator can wait for
    media with its own deadline; a failed join ends the process at the next report.
    """
    commands = await stdin_lines()
    config = json.loads(await commands.readline())
    peer: Publisher | Subscribers | LoopProbe
    if config["role"] == "publisher":
        peer = Publisher(config)
    elif config["role"] == "subscribers":
        peer = Subscribers(config)
    else:
        peer = LoopProbe()
    await serve(peer, commands)


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
