"""The baseline forwarder: aiortc's ``MediaRelay``, decoding the publisher once and encoding per subscriber.

This is what an aiortc server does when it forwards with aiortc's own tools (aiortc issue 984), so it is
what the benchmark puts next to Aula's encoded forwarding. Bench-only code, not product code: one room, one
video publisher, plain HTTP offer/answer (non-trickle: aiortc gathers every candidate before answering).

* ``POST /publish`` ``{"sdp", "type"}``: the publisher's offer (one sendonly video m-line); answers it.
* ``POST /subscribe`` ``{"sdp", "type"}``: a subscriber's offer (one recvonly video m-line); the answer
  sends ``MediaRelay.subscribe(publisher track)``, which aiortc's sender encodes for this subscriber alone.
* ``GET /metrics``: the same ``aula_event_loop_lag_seconds`` histogram Aula exposes, so loop lag compares.

The publisher is held at a fixed bitrate like Aula holds it: a REMB every second from the receiving side.
aiortc's receiver would also send REMBs from its own bandwidth estimate, which lets an aiortc publisher
drift below the cap (measured: 1.33 Mbit/s instead of 1.5), so that estimator is switched off here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.media import adapter
from server.metrics import Metrics, watch_loop_lag

SOURCE_WAIT = 10.0
REMB_INTERVAL = 1.0
# Name-mangled in aiortc 1.16.0 (server.media.adapter checks that version on import).
_RECEIVER_ESTIMATOR = "_RTCRtpReceiver__remote_bitrate_estimator"


class RelayRoom:
    """One publisher's video fanned out to every subscriber through one ``MediaRelay``."""

    def __init__(self, bitrate: int) -> None:
        self.bitrate = bitrate
        self.relay = MediaRelay()
        self.source: MediaStreamTrack | None = None
        self.source_ready = asyncio.Event()
        self.pcs: set[RTCPeerConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def _new_pc(self) -> RTCPeerConnection:
        # An explicit empty list: with none, aiortc would contact a public STUN server.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.add(pc)
        return pc

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        if self.source is not None:
            raise web.HTTPConflict(text="this room already has a publisher")
        pc = self._new_pc()

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            if track.kind != "video" or self.source is not None:
                return
            self.source = track
            # Drain the source from the start, so decoded frames never pile up in the receiver's
            # track before the first subscriber; this consumer encodes nothing.
            self._spawn(self._drain(self.relay.subscribe(track, buffered=False)))
            self.source_ready.set()

        await pc.setRemoteDescription(offer)
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video":
                setattr(transceiver.receiver, _RECEIVER_ESTIMATOR, None)
                self._spawn(self._hold_bitrate(transceiver.receiver))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription

    async def subscribe(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        try:
            await asyncio.wait_for(self.source_ready.wait(), SOURCE_WAIT)
        except TimeoutError:
            raise web.HTTPConflict(text="nobody publishes yet") from None
        assert self.source is not None
        pc = self._new_pc()
        await pc.setRemoteDescription(offer)
        # Unbuffered: a subscriber whose encoder falls behind skips frames instead of queueing them.
        pc.addTrack(self.relay.subscribe(self.source, buffered=False))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(pc.close() for pc in self.pcs), return_exceptions=True)

    @staticmethod
    async def _drain(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    async def _hold_bitrate(self, receiver: RTCRtpReceiver) -> None:
        while True:
            await asyncio.sleep(REMB_INTERVAL)
            ssrcs = [source.source for source in receiver.getSynchronizationSources()]
            if ssrcs:
                await adapter.send_remb(receiver, self.bitrate, ssrcs)


ROOM = web.AppKey("room", RelayRoom)
METRICS = web.AppKey("metrics", Metrics)


async def _offer(request: web.Request) -> RTCSessionDescription:
    body = await request.json()
    if not isinstance(body, dict) or body.get("type") != "offer" or not isinstance(body.get("sdp"), str):
        raise web.HTTPBadRequest(text='expected {"type": "offer", "sdp": "..."}')
    return RTCSessionDescription(sdp=body["sdp"], type="offer")


def _answer(description: RTCSessionDescription) -> web.Response:
    return web.json_response({"type": description.type, "sdp": description.sdp})


async def publish(request: web.Request) -> web.Response:
    return _answer(await request.app[ROOM].publish(await _offer(request)))


async def subscribe(request: web.Request) -> web.Response:
    return _answer(await request.app[ROOM].subscribe(await _offer(request)))


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(bitrate: int) -> web.Application:
    app = web.Application()
    app[ROOM] = RelayRoom(bitrate)
    app[METRICS] = Metrics()

    async def lifetime(app: web.Application) -> Any:
        watcher = asyncio.create_task(watch_loop_lag(app[METRICS]))
        yield
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await app[ROOM].close()

    app.cleanup_ctx.append(lifetime)
    app.router.add_post("/publish", publish)
    app.router.add_post("/subscribe", subscribe)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(host: str, port: int, bitrate: int) -> None:
    """Serve until SIGTERM or SIGINT; prints ``Relay is running at URL`` once listening."""
    runner = web.AppRunner(create_app(bitrate), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    print(f"Relay is running at http://{bound_host}:{bound_port}/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bitrate", type=int, default=1_500_000, help="REMB sent to the publisher (bit/s)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.bitrate))


if __name__ == "__main__":
    main()
