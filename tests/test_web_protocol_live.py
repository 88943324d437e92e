"""The browser's protocol module (web/js/protocol.js) speaks to a real ``aula serve``, not only to a fake.

Node runs web/tests/live/classroom_session.mjs with the socket.io client from web/node_modules: a teacher
and a student join one classroom, chat, raise a hand, are refused for bad input, a dashboard connection
watches the classrooms, and the student leaves. The script prints what it received; this test checks the
shapes docs/protocol.md gives them. No media: it runs with or without the loopback-only namespace.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.live_server import LiveServer, live_server

WEB = Path(__file__).resolve().parent.parent / "web"
SCRIPT = WEB / "tests" / "live" / "classroom_session.mjs"
ADMIN_PASSWORD = "admin password 1"
PASSWORD = "a good password"
PEOPLE = [("tess", "Tess Teacher", "teacher"), ("sam", "Sam Student", "student")]
JOIN_ACK_FIELDS = {
    "ok", "self", "classroom", "participants", "chat", "limits", "recording", "reminder", "consent", "rights",
    "session_started_at",
}  # fmt: skip


@dataclass
class Classroom:
    server: LiveServer
    classroom_id: int
    cookies: dict[str, str]  # username -> Cookie header
    user_ids: dict[str, int]


@pytest.fixture
async def classroom(tmp_path: Path) -> AsyncIterator[Classroom]:
    """``aula serve`` with Tess (teacher) and Sam (student) in Tess's "Physics 3B", logged in over HTTP."""
    env = {"AULA_ADMIN_PASSWORD": ADMIN_PASSWORD}
    async with live_server(tmp_path / "data", env) as server, ClientSession() as http:
        url = server.url
        admin = await log_in(http, url, "admin", ADMIN_PASSWORD)
        user_ids = {}
        for username, display_name, role in PEOPLE:
            body = {"username": username, "password": PASSWORD, "role": role, "display_name": display_name}
            created = await http.post(f"{url}/api/users", json=body, headers=headers(server, admin))
            assert created.status == 201, await created.text()
            user_ids[username] = (await created.json())["user"]["id"]
        cookies = {name: await log_in(http, url, name, PASSWORD) for name in ("tess", "sam")}
        made = await http.post(
            f"{url}/api/classrooms",
            json={"name": "Physics 3B", "students": ["sam"]},
            headers=headers(server, cookies["tess"]),
        )
        assert made.status == 201, await made.text()
        yield Classroom(server, (await made.json())["classroom"]["id"], cookies, user_ids)


async def log_in(http: ClientSession, url: str, username: str, password: str) -> str:
    """The Cookie header of a new session (read from the answer: the session keeps no cookie jar)."""
    response = await http.post(f"{url}/api/auth/login", json={"username": username, "password": password})
    assert response.status == 200, await response.text()
    return f"aula_session={response.cookies['aula_session'].value}"


def headers(server: LiveServer, cookie: str) -> dict[str, str]:
    return {"Cookie": cookie, "Origin": server.url}


async def run_session(classroom: Classroom) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for the web module tests")
    env = {
        "PATH": "/usr/bin:/bin",
        "AULA_URL": classroom.server.url,
        "AULA_TEACHER_COOKIE": classroom.cookies["tess"],
        "AULA_STUDENT_COOKIE": classroom.cookies["sam"],
        "AULA_CLASSROOM_ID": str(classroom.classroom_id),
    }
    process = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), cwd=WEB, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    output = stdout.decode().strip().splitlines()
    assert output, stderr.decode()
    seen: dict[str, Any] = json.loads(output[-1])
    assert process.returncode == 0, (seen, stderr.decode(), "".join(classroom.server.output[-30:]))
    return seen


async def test_protocol_module_joins_chats_raises_a_hand_and_is_refused_by_the_real_server(
    classroom: Classroom,
) -> None:
    seen = await run_session(classroom)
    tess, sam = classroom.user_ids["tess"], classroom.user_ids["sam"]

    teacher, student = seen["teacher_join"], seen["student_join"]
    assert set(teacher) == JOIN_ACK_FIELDS
    assert teacher["rights"] == {"can_moderate": True, "can_record": True}
    assert student["rights"] == {"can_moderate": False, "can_record": False}
    assert teacher["classroom"]["id"] == classroom.classroom_id
    assert teacher["classroom"]["seats_used"] == 0  # seats are for students only
    assert student["classroom"]["seats_used"] == 1
    assert teacher["recording"] is None
    assert teacher["consent"]["mode"] in {"notice", "ask"}
    assert teacher["limits"]["chat_max_length"] > 0
    # A moderator is never removed but may be asked to mute; the student may be both.
    assert teacher["self"]["user_id"] == tess
    assert (teacher["self"]["removable"], teacher["self"]["mutable"]) == (False, True)
    in_student_ack = {p["user_id"]: p for p in student["participants"]}
    assert set(in_student_ack) == {tess, sam}
    assert (in_student_ack[sam]["removable"], in_student_ack[sam]["mutable"]) == (True, True)
    assert in_student_ack[tess]["moderator"] is True

    joined = seen["participant_joined"]
    assert joined["seats_used"] == 1
    assert joined["participant"]["user_id"] == sam
    assert joined["participant"]["display_name"] == "Sam Student"
    assert (joined["participant"]["removable"], joined["participant"]["mutable"]) == (True, True)

    message = seen["chat_ack"]["message"]
    assert message["text"] == "Good morning, Miss!"
    assert message["user_id"] == sam
    assert seen["chat_event"]["message"] == message
    assert seen["hand_ack"] == {"ok": True}
    assert seen["hand_event"]["participant"]["user_id"] == sam
    assert seen["hand_event"]["participant"]["hand_raised"] is True

    too_long = seen["too_long_chat"]
    assert too_long["protocol_error"] is True
    assert (too_long["code"], too_long["event"]) == ("invalid", "chat")
    assert seen["error_event"]["code"] == "invalid"
    assert seen["error_event"]["event"] == "chat"
    removing = seen["student_removes_teacher"]
    assert (removing["protocol_error"], removing["code"], removing["event"]) == (True, "forbidden", "remove")
    unknown = seen["unknown_classroom"]
    assert (unknown["protocol_error"], unknown["code"], unknown["event"]) == (True, "not_found", "join")
    assert seen["hand_as_string"]["error"]["code"] == "invalid"

    assert seen["watch_ack"] == {"ok": True}
    assert seen["leave_ack"] == {"ok": True}
    left = seen["participant_left"]
    assert (left["user_id"], left["reason"], left["seats_used"]) == (sam, "left", 0)
    assert seen["classroom_status"] == {"classroom_id": classroom.classroom_id}
