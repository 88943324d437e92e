"""Seats are for students, and what a student may send is the server's to decide.

A teacher is never locked out of their own classroom: moderators take no seat. A student whose camera or
screen is not allowed cannot publish it even by calling the protocol directly, and a microphone withdrawn
mid-class stops reaching the others at once (their receivers count no more packets), until it is allowed
again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCSessionDescription

from recorder_bot.client import ClassroomClient, ClassroomError
from server.classrooms import get_classroom
from server.services import SERVICES
from server.signalling.protocol import MediaAnswer, Offer
from tests.conftest import ClientFactory, ParticipantFactory
from tests.media_support import Classroom, Counter, wait_for
from tests.support import Participant, cookie_header
from tests.synthetic_media import SyntheticAudioTrack
from tests.test_consent_in_sfu import SolidVideoTrack

BLUE = (41, 240, 110)


async def new_classroom(teacher: ClientSession, **fields: Any) -> int:
    response = await teacher.post("/api/classrooms", json={"name": "Chemistry 2A", **fields})
    assert response.status == 201, await response.text()
    return int((await response.json())["classroom"]["id"])


async def seats_used(http: ClientSession, classroom_id: int) -> int:
    return int((await (await http.get(f"/api/classrooms/{classroom_id}")).json())["classroom"]["seats_used"])


async def test_a_full_classroom_still_lets_its_owner_and_moderators_in_and_they_can_make_room(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    owner_http = await client_as("teacher")
    classroom_id = await new_classroom(
        owner_http, seat_limit=1, moderators=["teacher2"], students=["student", "student2"]
    )
    student = await participant(await client_as("student"))
    assert (await student.call("join", {"classroom_id": classroom_id}))["ok"] is True
    assert await seats_used(owner_http, classroom_id) == 1

    owner = await participant(owner_http)
    joined = await owner.call("join", {"classroom_id": classroom_id})
    assert joined["ok"] is True, joined
    assert joined["classroom"]["seats_used"] == 1  # the owner took no seat
    moderator = await participant(await client_as("teacher2"))
    assert (await moderator.call("join", {"classroom_id": classroom_id}))["ok"] is True
    admin = await participant(await client_as("admin"))
    assert (await admin.call("join", {"classroom_id": classroom_id}))["ok"] is True
    assert await seats_used(owner_http, classroom_id) == 1

    late = await participant(await client_as("student2"))
    refused = await late.call("join", {"classroom_id": classroom_id})
    assert refused["error"] == {
        "code": "classroom_full",
        "message": "This classroom is full: its one student seat is taken.",
    }
    assert (await late.next("error"))["event"] == "join"

    # The owner makes room: the student leaves, the seat is free for the one waiting.
    assert (await owner.call("remove", {"user_id": users["student"]}))["ok"] is True
    assert (await student.next("removed"))["reason"] == "removed"
    assert (await late.call("join", {"classroom_id": classroom_id}))["ok"] is True
    left = await moderator.next("participant_left")
    assert (left["user_id"], left["reason"], left["seats_used"]) == (users["student"], "removed", 0)
    assert await seats_used(owner_http, classroom_id) == 1


async def test_a_larger_limit_counts_students_only(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    owner_http = await client_as("teacher")
    classroom_id = await new_classroom(owner_http, seat_limit=2, students=["student", "student2"])
    owner = await participant(owner_http)
    await owner.call("join", {"classroom_id": classroom_id})
    for name in ("student", "student2"):
        joined = await (await participant(await client_as(name))).call("join", {"classroom_id": classroom_id})
        assert joined["ok"] is True, joined
    assert await seats_used(owner_http, classroom_id) == 2


# -- media rights: what the protocol refuses --------------------------------------------------------------


async def set_student_media(app: web.Application, classroom_id: int, **allowed: bool) -> None:
    """Change a classroom's students' defaults in its row, as its settings form does, and tell the live
    classroom."""
    svc = app[SERVICES]
    async with svc.db() as db:
        classroom = await get_classroom(db, classroom_id)
        for source, value in allowed.items():
            setattr(classroom, f"student_{source}", value)
        await db.commit()
    await svc.live.classroom_changed(classroom_id)


async def next_update_of(person: Participant, user_id: int) -> dict[str, Any]:
    while True:
        update = (await person.next("participant_updated"))["participant"]
        if update["user_id"] == user_id:
            return dict(update)


async def test_a_student_publishes_only_what_the_classroom_and_the_moderator_allow(
    app: web.Application, users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    owner_http = await client_as("teacher")
    classroom_id = await new_classroom(owner_http, students=["student"])
    teacher = await participant(owner_http)
    joined = await teacher.call("join", {"classroom_id": classroom_id})
    assert joined["self"]["may_publish"] == ["microphone", "camera", "screen"]
    assert joined["self"]["media_rights_editable"] is False
    student = await participant(await client_as("student"))
    joined = await student.call("join", {"classroom_id": classroom_id})
    # By default a student talks and shows themselves; the screen needs a moderator's leave.
    assert joined["self"]["may_publish"] == ["microphone", "camera"]
    assert joined["self"]["media_rights_editable"] is True

    assert (await student.call("media_join", {"publish": ["microphone"]}))["ok"] is True
    refused = await student.call("media_screen", {})
    assert refused["error"]["code"] == "forbidden"
    assert refused["error"]["message"] == "the moderator has not allowed your screen"
    assert (await student.next("error"))["event"] == "media_screen"
    sharing = await student.call("media_state", {"screen_sharing": True})
    assert sharing["error"]["code"] == "forbidden"
    assert (await student.next("error"))["event"] == "media_state"

    # The moderator denies this student's camera: everyone is told, and the protocol refuses it.
    denied = {"user_id": users["student"], "source": "camera", "allowed": False}
    assert (await teacher.call("media_permission", denied))["ok"] is True
    assert (await next_update_of(student, users["student"]))["may_publish"] == ["microphone"]
    assert (await next_update_of(teacher, users["student"]))["may_publish"] == ["microphone"]
    refused = await student.call("media_join", {"publish": ["microphone", "camera"]})
    assert refused["error"] == {"code": "forbidden", "message": "the moderator has not allowed your camera"}
    assert (await student.next("error"))["event"] == "media_join"

    # A reconnect keeps the moderator's decision; the classroom's own settings apply on top of it.
    await student.close()
    again = await participant(await client_as("student"))
    assert (await again.call("join", {"classroom_id": classroom_id}))["self"]["may_publish"] == ["microphone"]
    await set_student_media(app, classroom_id, screen=True, microphone=False)
    assert (await next_update_of(again, users["student"]))["may_publish"] == ["screen"]
    assert (await again.call("media_screen", {}))["error"]["code"] == "not_found"  # allowed: no peer yet

    # Only students' rights are a moderator's to change, and only moderators change them.
    on_teacher = {"user_id": users["teacher"], "source": "microphone", "allowed": False}
    assert (await teacher.call("media_permission", on_teacher))["error"]["code"] == "forbidden"
    allowed = {"user_id": users["student"], "source": "camera", "allowed": True}
    assert (await again.call("media_permission", allowed))["error"]["code"] == "forbidden"


class SneakyClient(ClassroomClient):
    """Asks to publish nothing, then sends its microphone on the audio m-line the server offers only so
    that a receive-only offer is valid: what a hand-made client would try once its microphone is denied."""

    async def start_media(self) -> None:
        self.sneaking = dict(self.tracks)
        self.tracks = {}
        await super().start_media()

    async def _answer(self, offer: Offer) -> None:
        assert self.pc is not None
        if self.pc.signalingState == "closed":
            return
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        first = self.pc.getTransceivers()[0]
        if first.kind == "audio" and first.sender.track is None:
            first.sender.replaceTrack(self.sneaking["microphone"])
            first.direction = "sendonly"
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = MediaAnswer(revision=offer.revision, sdp=self.pc.localDescription.sdp)
        await self.call("media_answer", answer.model_dump())
        self._notice_sources(offer.sources)


@pytest.mark.usefixtures("private_namespace")
async def test_a_denied_student_is_not_heard_even_through_an_m_line_never_offered_for_publishing(
    classroom: Classroom, users: dict[str, int]
) -> None:
    counter = Counter()
    teacher = await classroom.enter("teacher", counter=counter)
    denied = {"user_id": users["student"], "source": "microphone", "allowed": False}
    student = SneakyClient(
        str(classroom.server.make_url("")),
        {"Cookie": cookie_header(classroom.sessions["student"])},
        {"microphone": SyntheticAudioTrack(660)},
    )
    await student.connect()
    await student.join(classroom.classroom_id)
    assert (await teacher.call("media_permission", denied))["ok"] is True
    with pytest.raises(ClassroomError) as refused:
        await student.call("media_join", {"publish": ["microphone"]})
    assert refused.value.code == "forbidden"
    classroom.clients.append(student)
    await student.start_media()
    other = await classroom.enter("student2", {"microphone": SyntheticAudioTrack(880)})
    assert other is not None
    await wait_for(lambda: counter.count(users["student2"], "microphone") > 20, 15)
    await asyncio.sleep(1)
    assert student.pc is not None
    sent = [await packets_sent(t.sender) for t in student.pc.getTransceivers() if t.sender.track]
    assert sent, "the student attached its microphone"
    assert min(sent) > 20, "and really sends it"
    assert counter.count(users["student"], "microphone") == 0
    assert all(remote.user_id != users["student"] for remote in teacher.sources.values())
    # On the wire: besides student2's labelled microphone, not one packet reaches the teacher.
    assert teacher.pc is not None
    labelled = {remote.mid for remote in teacher.sources.values()}
    unlabelled = [
        await packets_received(t.receiver) for t in teacher.pc.getTransceivers() if t.mid not in labelled
    ]
    assert sum(unlabelled) == 0


# -- media rights: withdrawn mid-class --------------------------------------------------------------------


async def packets_received(receiver: RTCRtpReceiver) -> int:
    """What a receiver's ``getStats()`` says arrived on its m-line (inbound-rtp ``packetsReceived``)."""
    report = await receiver.getStats()
    return sum(getattr(stat, "packetsReceived", 0) for stat in report.values() if stat.type == "inbound-rtp")


async def packets_sent(sender: RTCRtpSender) -> int:
    report = await sender.getStats()
    return sum(getattr(stat, "packetsSent", 0) for stat in report.values() if stat.type == "outbound-rtp")


async def packets_from(client: ClassroomClient, user_id: int, source: str) -> int:
    counts = [
        await packets_received(remote.receiver)
        for remote in client.sources.values()
        if (remote.user_id, remote.source) == (user_id, source)
    ]
    return sum(counts)


@pytest.mark.usefixtures("private_namespace")
async def test_a_microphone_withdrawn_mid_class_stops_reaching_the_others_at_once_until_allowed_again(
    classroom: Classroom, users: dict[str, int]
) -> None:
    teacher = await classroom.enter("teacher")
    student_id = users["student"]
    student = await classroom.enter(
        "student", {"microphone": SyntheticAudioTrack(660), "camera": SolidVideoTrack(BLUE)}
    )
    listener = await classroom.enter("student2", counter=Counter())

    async def flowing(source: str) -> bool:
        before = await packets_from(listener, student_id, source)
        await asyncio.sleep(0.5)
        return await packets_from(listener, student_id, source) > before

    async def until_flowing(source: str, within: float = 15) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not await flowing(source):
            assert asyncio.get_running_loop().time() < deadline, f"no {source} packets arrive"

    await until_flowing("microphone")
    await until_flowing("camera")

    withdrawn = {"user_id": student_id, "source": "microphone", "allowed": False}
    assert (await teacher.call("media_permission", withdrawn))["ok"] is True
    update = await updated(student, student_id, ["camera"])
    assert update["publishing"] == ["camera"]
    await asyncio.sleep(0.3)  # packets already on the wire
    stopped_at = await packets_from(listener, student_id, "microphone")
    await asyncio.sleep(2)
    assert await packets_from(listener, student_id, "microphone") == stopped_at, "still heard"
    assert await flowing("camera"), "the camera, still allowed, goes on"

    allowed = {"user_id": student_id, "source": "microphone", "allowed": True}
    assert (await teacher.call("media_permission", allowed))["ok"] is True
    await updated(student, student_id, ["microphone", "camera"])
    await until_flowing("microphone")


async def updated(client: ClassroomClient, user_id: int, may_publish: list[str]) -> dict[str, Any]:
    """The first ``participant_updated`` of ``user_id`` that carries these rights (earlier ones, about
    what they publish, are skipped)."""
    while True:
        update = (await client.next_event("participant_updated"))["participant"]
        if update["user_id"] == user_id and update["may_publish"] == may_publish:
            return dict(update)
