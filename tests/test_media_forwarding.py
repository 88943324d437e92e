"""aiortc participants in a classroom: the server forwards their encoded RTP untouched."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web
from aiortc import MediaStreamTrack
from aiortc.rtp import RtpPacket

from recorder_bot.client import ClassroomClient, ClassroomError
from server.services import SERVICES
from tests.media_support import Classroom, Counter, capture_received, capture_sent, wait_for
from tests.support import cookie_header
from tests.synthetic_media import SyntheticAudioTrack, SyntheticVideoTrack

pytestmark = pytest.mark.usefixtures("private_namespace")


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
    teacher_id = users["teacher"]
    # The students' m-lines for the teacher come with the teacher's first packets (a renegotiation when
    # the students were faster): capture once they are there.
    await wait_for(lambda: all(len(s.sources) == 2 for s in students), within=20)
    received = []
    for student in students:
        assert student.pc is not None
        received.append(capture_received(student.pc))
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
    minimums = {"video": 50, "audio": 100}
    # The captures start after the counters did: wait until they hold enough of their own.
    await wait_for(
        lambda: all(
            len(capture.get(payload_types[kind] or 0, [])) > minimum
            for capture in received
            for kind, minimum in minimums.items()
        ),
        within=20,
    )
    for capture in received:
        for kind, minimum in minimums.items():
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


async def test_the_speaking_teacher_becomes_the_active_speaker(
    classroom: Classroom, users: dict[str, int]
) -> None:
    await classroom.enter("teacher", {"microphone": SyntheticAudioTrack()})
    student = await classroom.enter("student", {}, Counter())
    speaker = await student.next_event("active_speaker", wait=10)
    assert speaker == {"user_id": users["teacher"]}


async def test_a_student_alone_gets_the_teacher_by_renegotiation_and_loses_them_cleanly(
    classroom: Classroom, users: dict[str, int]
) -> None:
    counter = Counter()
    student = await classroom.enter("student", {}, counter)
    assert student.sources == {}
    teacher = await classroom.enter("teacher", {"camera": SyntheticVideoTrack(320, 240, 15)})
    await wait_for(lambda: counter.count(users["teacher"], "camera") >= 15, 15)
    answered = student.offers_answered
    await teacher.close()
    await wait_for(lambda: student.offers_answered > answered, 10)
    assert student.pc is not None
    assert {t.currentDirection for t in student.pc.getTransceivers()} == {"inactive"}


async def test_lost_packets_are_retransmitted_from_history(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    await classroom.enter("teacher", {"camera": SyntheticVideoTrack(320, 240, 15)})
    counter = Counter()
    student = await classroom.enter("student", {}, counter)
    teacher_id = users["teacher"]
    await wait_for(lambda: counter.count(teacher_id, "camera") >= 10, 15)
    assert student.pc is not None
    receiver = next(t.receiver for t in student.pc.getTransceivers() if t.kind == "video")
    original = receiver._handle_rtp_packet
    arrived = 0

    async def lossy(packet: RtpPacket, arrival_time_ms: int) -> None:
        # Every tenth packet is lost on its way in: the student NACKs and the server answers as RTX.
        nonlocal arrived
        arrived += 1
        if arrived % 10:
            await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = lossy  # type: ignore[method-assign]
    before = counter.count(teacher_id, "camera")
    await asyncio.sleep(4)
    media = app[SERVICES].media.get(classroom.classroom_id)
    assert media is not None
    (leg,) = media.router.legs(str(users["student"]))
    assert leg.retransmitted > 0
    assert counter.count(teacher_id, "camera") - before >= 40


async def test_a_dropped_connection_comes_back_without_leaving_and_stalls_nobody(
    classroom: Classroom, users: dict[str, int]
) -> None:
    teacher = await classroom.enter("teacher", {"camera": SyntheticVideoTrack(320, 240, 15)})
    dropping, steady = Counter(), Counter()
    student = await classroom.enter("student", {}, dropping)
    await classroom.enter("student2", {}, steady)
    teacher_id = users["teacher"]
    await wait_for(
        lambda: dropping.count(teacher_id, "camera") > 10 and steady.count(teacher_id, "camera") > 10, 15
    )

    # The student's network drops: its peer connection dies without a word to the server.
    assert student.pc is not None
    await student.pc.close()
    before = steady.count(teacher_id, "camera")
    await asyncio.sleep(2)
    assert steady.count(teacher_id, "camera") - before >= 20  # the others are not stalled

    # The page starts a new peer connection (no ICE restart in aiortc) and gets the teacher again.
    student.sources.clear()
    returned = Counter()
    student.on_source = returned
    await student.start_media()
    await wait_for(lambda: returned.count(teacher_id, "camera") >= 10, 10)
    assert teacher.events.get("participant_left") is None or teacher.events["participant_left"].empty()


async def test_a_publisher_restarting_its_stream_is_seamless_for_students(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    teacher = await classroom.enter("teacher", {"camera": SyntheticVideoTrack(320, 240, 15)})
    counter = Counter()
    student = await classroom.enter("student", {}, counter)
    teacher_id = users["teacher"]
    await wait_for(lambda: counter.count(teacher_id, "camera") >= 10, 15)
    # The teacher's stream gets a new SSRC, as after a browser's encoder restart.
    assert teacher.pc is not None
    sender = next(s for s in teacher.pc.getSenders() if s.track is not None)
    new_ssrc = sender._ssrc ^ 0x5A5A5A5A
    sender.transport._rtp_router.senders[new_ssrc] = sender  # so keyframe requests still reach it
    sender._ssrc = new_ssrc
    before = counter.count(teacher_id, "camera")
    await asyncio.sleep(3)
    assert counter.count(teacher_id, "camera") - before >= 30
    media = app[SERVICES].media.get(classroom.classroom_id)
    assert media is not None
    (stream,) = media.router.streams(str(teacher_id))
    assert stream.media_ssrc == new_ssrc
    (leg,) = media.router.legs(str(users["student"]))
    assert student.pc is not None
    receiver = next(t.receiver for t in student.pc.getTransceivers() if t.kind == "video")
    inbound = [s for s in (await receiver.getStats()).values() if s.type == "inbound-rtp"]
    assert [s.ssrc for s in inbound] == [leg.ssrc]  # one stream for the student, as before
    assert inbound[0].packetsLost < 5
