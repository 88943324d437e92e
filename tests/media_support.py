"""Helpers for media scenarios: aiortc participants in a classroom on a real server, and captures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket, is_rtcp

from recorder_bot.client import ClassroomClient, RemoteSource
from tests.support import cookie_header

Payloads = dict[int, list[bytes]]


class Counter:
    """Reads (so aiortc decodes) every source a client receives and counts frames per publisher."""

    def __init__(self) -> None:
        self.frames: dict[tuple[int, str], int] = {}
        self.first_frame: dict[tuple[int, str], float] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def __call__(self, remote: RemoteSource) -> None:
        self.tasks.append(asyncio.ensure_future(self._read(remote)))

    async def _read(self, remote: RemoteSource) -> None:
        key = (remote.user_id, remote.source)
        try:
            while True:
                await remote.track.recv()
                self.frames[key] = self.frames.get(key, 0) + 1
                self.first_frame.setdefault(key, time.monotonic())
        except MediaStreamError:
            return

    def count(self, user_id: int, source: str) -> int:
        return self.frames.get((user_id, source), 0)


async def wait_for(condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.1)


def capture_sent(pc: RTCPeerConnection) -> Payloads:
    """The RTP payloads a publisher's transport sends, before SRTP, by payload type."""
    transport = pc.getSenders()[0].transport
    sent: Payloads = {}
    original: Callable[[bytes], Awaitable[None]] = transport._send_rtp

    async def send_rtp(data: bytes) -> None:
        if not is_rtcp(data):
            packet = RtpPacket.parse(data)
            sent.setdefault(packet.payload_type, []).append(packet.payload)
        await original(data)

    transport._send_rtp = send_rtp  # type: ignore[method-assign]
    return sent


def capture_received(pc: RTCPeerConnection) -> Payloads:
    """The RTP payloads each receiving m-line gets, after SRTP, by payload type."""
    received: Payloads = {}
    for transceiver in pc.getTransceivers():
        original = transceiver.receiver._handle_rtp_packet

        async def handle(
            packet: RtpPacket, arrival_time_ms: int, original: Callable[..., Awaitable[None]] = original
        ) -> None:
            received.setdefault(packet.payload_type, []).append(packet.payload)
            await original(packet, arrival_time_ms)

        transceiver.receiver._handle_rtp_packet = handle  # type: ignore[method-assign]
    return received


class Classroom:
    """A classroom on a real server with a teacher and students as aiortc clients."""

    def __init__(self, server: TestServer, sessions: dict[str, ClientSession], classroom_id: int) -> None:
        self.server = server
        self.sessions = sessions
        self.classroom_id = classroom_id
        self.clients: list[ClassroomClient] = []

    async def enter(
        self, name: str, tracks: dict[str, MediaStreamTrack] | None = None, counter: Counter | None = None
    ) -> ClassroomClient:
        client = ClassroomClient(
            str(self.server.make_url("")), {"Cookie": cookie_header(self.sessions[name])}, tracks, counter
        )
        await client.connect()
        await client.join(self.classroom_id)
        await client.start_media()
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
