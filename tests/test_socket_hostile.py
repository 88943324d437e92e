"""A hostile client against the live classroom: each test replays an abuse a review reproduced against an
earlier build of this server and checks what the others now see."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from sqlalchemy import update

from server.config import Config, load_config
from server.db.models import AuthSession
from server.services import SERVICES
from tests.conftest import ClientFactory, ParticipantFactory
from tests.support import Participant
from tests.test_classroom_live import make_classroom, seat_teacher_and_student


@pytest.fixture
def config(tmp_path: Path) -> Config:
    base = load_config(
        environ={}, overrides={"data_dir": str(tmp_path / "data"), "log_format": "text", "warm_robots": 0}
    )
    return dataclasses.replace(base, classroom=dataclasses.replace(base.classroom, session_recheck_seconds=1))


async def seats(http: ClientSession, classroom_id: int) -> int:
    body = await (await http.get(f"/api/classrooms/{classroom_id}")).json()
    return int(body["classroom"]["seats_used"])


async def test_a_join_cut_short_by_a_disconnect_leaves_no_ghost_seat(
    server: TestServer, users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    teacher_http = await client_as("teacher")
    classroom_id = await make_classroom(teacher_http, students=("student",))
    student_http = await client_as("student")
    # The disconnect lands at a moment of the join that varies from try to try.
    for attempt in range(40):
        quitter = Participant(server, student_http)
        await quitter.connect()
        await quitter.sio.emit("join", {"classroom_id": classroom_id}, namespace="/classroom")
        await asyncio.sleep((0, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.008, 0.012)[attempt % 8])
        await quitter.close()
        await asyncio.sleep(0.05)
        assert await seats(teacher_http, classroom_id) == 0, f"a ghost seat after try {attempt + 1}"
    teacher = await participant(teacher_http)
    joined = await teacher.call("join", {"classroom_id": classroom_id})
    assert [p["username"] for p in joined["participants"]] == ["teacher"]


async def test_a_socket_that_only_listens_is_ended_when_its_session_expires(
    app: web.Application, users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    teacher_http = await client_as("teacher")
    classroom_id = await make_classroom(teacher_http, students=("student",))
    listener = await participant(await client_as("student"))
    await listener.call("join", {"classroom_id": classroom_id})
    async with app[SERVICES].db() as db:
        await db.execute(
            update(AuthSession)
            .where(AuthSession.user_id == users["student"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await db.commit()
    # It sends nothing; within session_recheck_seconds (1 s here) the server ends it anyway.
    assert (await listener.next("removed", wait=5))["reason"] == "session_ended"
    assert await seats(teacher_http, classroom_id) == 0


async def test_join_and_leave_loops_and_extra_tabs_buy_no_more_broadcasts(
    server: TestServer, users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    teacher_http = await client_as("teacher")
    classroom_id = await make_classroom(teacher_http, students=("student",))
    teacher = await participant(teacher_http)
    await teacher.call("join", {"classroom_id": classroom_id})
    dashboard = await participant(await client_as("admin"))
    await dashboard.call("watch_classrooms", {})
    student_http = await client_as("student")
    flooder = await participant(student_http)
    answers = []
    for _ in range(30):
        answers.append(await flooder.call("join", {"classroom_id": classroom_id}))
        answers.append(await flooder.call("leave", {}))
    assert sum(1 for a in answers if a.get("ok")) <= 20  # 10 joins and 10 leaves per 10 s
    assert {a["error"]["code"] for a in answers if "error" in a} <= {"rate_limited", "not_joined"}

    # More tabs of the same person share one allowance.
    tabs = [await participant(student_http) for _ in range(3)]
    await tabs[0].call("join", {"classroom_id": classroom_id})
    raised = [await tab.call("hand", {"raised": n % 2 == 0}) for n in range(12) for tab in tabs[:1]]
    raised += [await tab.call("hand", {"raised": True}) for tab in tabs[1:]]
    assert sum(1 for a in raised if a.get("ok")) <= 10
    await asyncio.sleep(1.2)
    # The dashboard heard of the whole flood in a handful of coalesced notices, not one per join.
    assert dashboard.pending("classroom_status") <= 6


async def test_a_deleted_watchers_id_given_to_a_new_account_hears_nothing_of_the_old_classrooms(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    admin = await client_as("admin")
    teacher_http = await client_as("teacher")
    classroom_id = await make_classroom(teacher_http, students=("student2",))
    watcher = await participant(await client_as("student2"))
    await watcher.call("watch_classrooms", {})
    assert (await admin.delete(f"/api/users/{users['student2']}")).status == 204
    created = await admin.post(
        "/api/users", json={"username": "newcomer", "password": "correct horse battery", "role": "student"}
    )
    assert (await created.json())["user"]["id"] == users["student2"]  # SQLite gives the id out again
    newcomer = await participant(await client_as("newcomer"))
    await newcomer.call("watch_classrooms", {})
    teacher = await participant(teacher_http)
    await teacher.call("join", {"classroom_id": classroom_id})
    await asyncio.sleep(1.2)
    assert newcomer.pending("classroom_status") == 0


async def test_two_tabs_starting_media_at_once_get_answers_never_an_internal_error(
    server: TestServer, users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    teacher_http = await client_as("teacher")
    classroom_id = await make_classroom(teacher_http)
    tabs = [await participant(teacher_http) for _ in range(4)]
    for tab in tabs:
        await tab.call("join", {"classroom_id": classroom_id})
    answers = await asyncio.gather(*(tab.call("media_join", {"publish": ["microphone"]}) for tab in tabs))
    codes = {a["error"]["code"] for a in answers if "error" in a}
    assert codes <= {"conflict", "not_joined"}
    assert any(a.get("ok") for a in answers)


async def test_chat_refuses_control_and_bidi_characters_and_keeps_line_breaks(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    _, teacher, student = await seat_teacher_and_student(
        await client_as("teacher"), await client_as("student"), participant
    )
    for text in ("nul\x00here", "answer: \u202eexe.txt", "bell\x07"):
        answer = await student.call("chat", {"text": text})
        assert answer["error"]["code"] == "invalid", text
    assert (await student.call("chat", {"text": "line one\r\nline two"}))["ok"] is True
    assert (await teacher.next("chat"))["message"]["text"] == "line one\nline two"
    assert teacher.pending("chat") == 0
