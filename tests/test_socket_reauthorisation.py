"""Live sockets are re-authorised when the state behind them changes, not only when they connect.

Each test reproduces an attack on the earlier server (a deleted account's socket joining the next
teacher's classroom as a moderator, an unenrolled student chatting on, a socket outliving its logout or
password reset) and checks what the user now sees.
"""

from __future__ import annotations

import asyncio

import pytest
import socketio
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from server.auth.permissions import can_stop_recording
from server.classrooms import get_classroom
from server.db.models import User
from server.library.recordings import create_recording
from server.services import SERVICES
from tests.conftest import ClientFactory, ParticipantFactory
from tests.support import Participant
from tests.test_classroom_live import make_classroom, seat_teacher_and_student


async def disconnected(person: Participant, within: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while person.sio.connected:
        assert asyncio.get_running_loop().time() < deadline, "the socket is still connected"
        await asyncio.sleep(0.05)


async def test_a_deleted_users_open_socket_is_sent_away_and_never_becomes_the_next_account(
    server: TestServer, users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    admin = await client_as("admin")
    teacher2 = await client_as("teacher2")
    doomed = await participant(teacher2)
    classroom_id = await make_classroom(teacher2)
    await doomed.call("join", {"classroom_id": classroom_id})

    response = await admin.delete(f"/api/users/{users['teacher2']}")
    assert response.status == 204
    removed = await doomed.next("removed")
    assert removed["reason"] == "account_deleted"
    await disconnected(doomed)

    # The next account created (SQLite hands out the freed id again) is a new admin.
    created = await admin.post(
        "/api/users", json={"username": "newadmin", "password": "another good password", "role": "admin"}
    )
    assert created.status == 201
    assert (await teacher2.get("/api/me")).status == 401
    again = Participant(server, teacher2)
    with pytest.raises(socketio.exceptions.ConnectionError, match="failed to connect"):
        await again.connect()


async def test_an_unenrolled_student_is_taken_out_at_once_and_cannot_chat_on(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    teacher_http = await client_as("teacher")
    classroom_id, teacher, student = await seat_teacher_and_student(
        teacher_http, await client_as("student"), participant
    )
    await teacher.next("participant_joined")

    response = await teacher_http.patch(f"/api/classrooms/{classroom_id}", json={"students": []})
    assert response.status == 200
    assert (await student.next("removed"))["reason"] == "access_revoked"
    left = await teacher.next("participant_left")
    assert (left["user_id"], left["reason"], left["seats_used"]) == (users["student"], "access_revoked", 0)
    answer = await student.call("chat", {"text": "still here?"})
    assert answer["error"]["code"] == "not_joined"
    assert (await student.call("join", {"classroom_id": classroom_id}))["error"]["code"] == "not_found"
    assert teacher.pending("chat") == 0


async def test_a_password_reset_and_a_logout_end_the_sockets_of_those_sessions(
    server: TestServer, users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    admin = await client_as("admin")
    teacher_http = await client_as("teacher")
    classroom_id = await make_classroom(teacher_http, students=("student",))
    student = await participant(await client_as("student"))
    await student.call("join", {"classroom_id": classroom_id})

    response = await admin.patch(f"/api/users/{users['student']}", json={"password": "a brand new secret"})
    assert response.status == 200
    assert (await student.next("removed"))["reason"] == "session_ended"
    await disconnected(student)

    teacher = await participant(teacher_http)
    await teacher.call("join", {"classroom_id": classroom_id})
    assert (await teacher_http.post("/api/auth/logout")).status == 204
    assert (await teacher.next("removed"))["reason"] == "session_ended"
    await disconnected(teacher)


async def test_made_and_unmade_moderator_inside_the_classroom_rights_follow_at_once(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    owner = await client_as("teacher")
    classroom_id = await make_classroom(owner, students=("student",))
    teacher2_http = await client_as("teacher2")
    # A teacher enrolled as a student attends without moderating.
    await owner.patch(f"/api/classrooms/{classroom_id}", json={"students": ["student", "teacher2"]})
    colleague = await participant(teacher2_http)
    student = await participant(await client_as("student"))
    joined = await colleague.call("join", {"classroom_id": classroom_id})
    assert joined["rights"] == {"can_moderate": False, "can_record": False}
    await student.call("join", {"classroom_id": classroom_id})
    refused = await colleague.call("remove", {"user_id": users["student"]})
    assert refused["error"]["code"] == "forbidden"

    response = await owner.patch(
        f"/api/classrooms/{classroom_id}", json={"students": ["student"], "moderators": ["teacher2"]}
    )
    assert response.status == 200, await response.text()
    changed = await colleague.next("rights_changed")
    assert changed["rights"] == {"can_moderate": True, "can_record": True}
    assert changed["self"]["moderator"] is True
    assert (await colleague.call("mute_request", {"user_id": users["student"]}))["ok"] is True

    await owner.patch(f"/api/classrooms/{classroom_id}", json={"moderators": [], "students": ["student"]})
    assert (await colleague.next("removed"))["reason"] == "access_revoked"


async def test_a_hand_flood_reaches_the_others_only_up_to_the_limit(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    _, teacher, student = await seat_teacher_and_student(
        await client_as("teacher"), await client_as("student"), participant
    )
    answers = [await student.call("hand", {"raised": n % 2 == 0}) for n in range(100)]
    refused = [a for a in answers if "error" in a]
    assert {a["error"]["code"] for a in refused} == {"rate_limited"}
    assert len(answers) - len(refused) == 10  # socket_broadcasts_per_10s
    await asyncio.sleep(0.5)
    assert teacher.pending("participant_updated") <= 10
    # The flood cost the sender only: the teacher's own events still go through.
    assert (await teacher.call("chat", {"text": "calm down"}))["ok"] is True


async def test_a_dashboard_hears_about_its_classrooms_and_loses_one_it_may_no_longer_see(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    teacher_http = await client_as("teacher")
    classroom_id = await make_classroom(teacher_http, students=("student",))
    student_http: ClientSession = await client_as("student")
    dashboard = await participant(student_http)
    assert (await dashboard.call("watch_classrooms", {}))["ok"] is True
    teacher = await participant(teacher_http)
    await teacher.call("join", {"classroom_id": classroom_id})
    assert (await dashboard.next("classroom_status")) == {"classroom_id": classroom_id}
    row = await student_http.get(f"/api/classrooms/{classroom_id}")
    assert (await row.json())["classroom"]["seats_used"] == 0  # a moderator takes no seat

    await teacher_http.patch(f"/api/classrooms/{classroom_id}", json={"students": []})
    assert (await dashboard.next("classroom_status")) == {"classroom_id": classroom_id}
    assert (await student_http.get(f"/api/classrooms/{classroom_id}")).status == 404

    # Someone else's classroom is never announced to this dashboard.
    other = await make_classroom(await client_as("teacher2"))
    outsider = await participant(await client_as("teacher2"))
    await outsider.call("join", {"classroom_id": other})
    await asyncio.sleep(0.5)
    assert dashboard.pending("classroom_status") == 0


async def test_a_deleted_users_socket_that_had_not_joined_is_disconnected_too(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    admin = await client_as("admin")
    student = await participant(await client_as("student2"))
    assert (await admin.delete(f"/api/users/{users['student2']}")).status == 204
    await disconnected(student)


async def test_a_starter_unmade_moderator_loses_the_right_to_stop_at_once(
    app: web.Application, users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    owner = await client_as("teacher")
    classroom_id = await make_classroom(owner)
    await owner.patch(f"/api/classrooms/{classroom_id}", json={"moderators": ["teacher2"]})
    colleague = await participant(await client_as("teacher2"))
    await colleague.call("join", {"classroom_id": classroom_id})
    async with app[SERVICES].db() as db:
        classroom = await get_classroom(db, classroom_id)
        starter = await db.get(User, users["teacher2"])
        assert starter is not None
        recording = await create_recording(db, classroom, starter, "Session Recorder Robot")
        assert can_stop_recording(starter, recording, classroom)

    await owner.patch(f"/api/classrooms/{classroom_id}", json={"moderators": [], "students": ["teacher2"]})
    assert (await colleague.next("rights_changed"))["rights"]["can_record"] is False
    state = await colleague.next("recording_state")
    assert state["recording"]["id"] == recording.id
    assert state["recording"]["can_stop"] is False
