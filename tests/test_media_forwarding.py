"""aiortc participants in a classroom: the server forwards their encoded RTP untouched."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket, is_rtcp

from recorder_bot.client import ClassroomClient, ClassroomError, RemoteSource
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.netns import require_private_namespace
from tests.support import cookie_header
from tests.synthetic_media import SyntheticAudioTrack, SyntheticVideoTrack

Payloads = dict[int, list[bytes]]


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


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


@pytest.fixture
async def classroom(
    server: TestServer, users: dict[str, int], client_as: ClientFactory
) -> AsyncIterator[Classroom]:
    sessions = {name: await client_as(name) for name in ("teacher", "student", "student2")}
    response = await sessions["teacher"].post(
        "/api/classrooms", json={"name": "Physics", "students": ["student", "student2"]}
    )
    room = Classroom(server, sessions, (await response.json())["classroom"]["id"])
    yield room
    await room.close()


async def test_teacher_reaches_two_students_byte_for_byte_without_decoding(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    tracks: dict[str, MediaStreamTrack] = {
        "camera": SyntheticVideoTrack(320, 240, 15),
        "microphone": SyntheticAudioTrack(),
    }
    teacher = await classroom.enter("teacher", tracks)
    assert teacher.pc is not None
    sent = capture_sent(teacher.pc)
    counters = [Counter(), Counter()]
    students = [
        await classroom.enter(name, {}, counter)
        for name, counter in zip(("student", "student2"), counters, strict=True)
    ]
    received = []
    for student in students:
        assert student.pc is not None
        received.append(capture_received(student.pc))
    teacher_id = users["teacher"]
    await wait_for(
        lambda: all(
            c.count(teacher_id, "camera") >= 30 and c.count(teacher_id, "microphone") >= 100 for c in counters
        ),
        within=20,
    )
    for student in students:
        assert {(s.user_id, s.source) for s in student.sources.values()} == {
            (teacher_id, "camera"),
            (teacher_id, "microphone"),
        }
    media = app[SERVICES].media.get(classroom.classroom_id)
    assert media is not None
    streams = media.router.streams(str(teacher_id))
    payload_types = {s.kind: s.codec.payloadType for s in streams}
    for capture in received:
        for kind, minimum in (("video", 50), ("audio", 100)):
            forwarded = capture[payload_types[kind] or 0]
            assert len(forwarded) > minimum
            assert set(forwarded) <= set(sent[payload_types[kind] or 0])
    # Nothing reached the server receivers' tracks: no decoding on the forwarding path.
    for stream in streams:
        assert stream.receiver.track._queue.qsize() == 0  # type: ignore[attr-defined]
        assert stream.packets_received > 50


async def test_late_joiner_gets_a_picture_and_a_leaver_stops_nobody(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    teacher_counter = Counter()
    await classroom.enter(
        "teacher",
        {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack()},
        teacher_counter,
    )
    early = Counter()
    student = await classroom.enter(
        "student",
        {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack(660)},
        early,
    )
    teacher_id, student_id = users["teacher"], users["student"]
    await wait_for(
        lambda: early.count(teacher_id, "camera") > 10 and teacher_counter.count(student_id, "camera") > 10,
        20,
    )

    late = Counter()
    entered = time.monotonic()
    await classroom.enter("student2", {}, late)
    await wait_for(lambda: late.count(teacher_id, "camera") > 0 and late.count(student_id, "camera") > 0, 10)
    first_picture = (
        max(late.first_frame[(teacher_id, "camera")], late.first_frame[(student_id, "camera")]) - entered
    )
    assert first_picture < 1.0, f"late joiner waited {first_picture:.2f} s for a picture"

    await student.close()
    before = teacher_counter.count(student_id, "camera")
    seen = late.count(teacher_id, "camera")
    await asyncio.sleep(2)
    assert late.count(teacher_id, "camera") > seen + 15  # the teacher's video goes on at 15 fps
    assert teacher_counter.count(student_id, "camera") - before < 5


async def test_media_events_check_their_input(classroom: Classroom) -> None:
    client = ClassroomClient(
        str(classroom.server.make_url("")), {"Cookie": cookie_header(classroom.sessions["student"])}, {}
    )
    await client.connect()
    classroom.clients.append(client)
    with pytest.raises(ClassroomError, match="not_joined"):
        await client.call("media_join", {"publish": []})
    await client.join(classroom.classroom_id)
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("media_join", {"publish": ["camera", "camera"]}, "invalid"),
        ("media_join", {"publish": "camera"}, "invalid"),
        ("media_join", {"publish": ["hologram"]}, "invalid"),
        ("media_answer", {"revision": 1, "sdp": "v=0"}, "not_found"),
        ("media_state", {"audio_muted": "yes"}, "invalid"),
        ("media_state", {}, "invalid"),
    ]
    for event, data, code in bad:
        with pytest.raises(ClassroomError, match=code):
            await client.call(event, data)
    await client.start_media()
    after_start: list[tuple[str, dict[str, Any], str]] = [
        ("media_answer", {"revision": 99, "sdp": "v=0"}, "conflict"),
        ("media_answer", {"revision": "1", "sdp": 5}, "invalid"),
        ("media_candidate", {"candidate": "candidate:nonsense", "sdpMid": "0"}, "invalid"),
        ("media_candidate", {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}, "invalid"),
    ]
    for event, data, code in after_start:
        with pytest.raises(ClassroomError, match=code):
            await client.call(event, data)
    assert (await client.call("media_state", {"audio_muted": True}))["ok"] is True
    update = await client.next_event("participant_updated")
    assert update["participant"]["audio_muted"] is True
