"""Admins manage accounts, teachers manage classrooms; bad input changes nothing."""

from __future__ import annotations

import pytest
from aiohttp import ClientSession, web

from server.db.models import Recording
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.support import PASSWORD


async def status_and_code(response: object) -> tuple[int, str | None]:
    assert hasattr(response, "status")
    body = await response.json()  # type: ignore[attr-defined]
    return response.status, (body.get("error") or {}).get("code")


@pytest.fixture
async def admin(users: dict[str, int], client_as: ClientFactory) -> ClientSession:
    return await client_as("admin")


@pytest.fixture
async def teacher(users: dict[str, int], client_as: ClientFactory) -> ClientSession:
    return await client_as("teacher")


async def test_admin_creates_a_teacher_who_can_log_in(admin: ClientSession, client_as: ClientFactory) -> None:
    response = await admin.post(
        "/api/users",
        json={"username": "Grace.H", "password": PASSWORD, "role": "teacher", "display_name": "Grace Hopper"},
    )
    assert response.status == 201
    created = (await response.json())["user"]
    assert (created["username"], created["role"], created["display_name"]) == (
        "grace.h",
        "teacher",
        "Grace Hopper",
    )
    grace = await client_as("grace.h")
    assert (await (await grace.get("/api/me")).json())["user"]["id"] == created["id"]
    listing = await (await admin.get("/api/users")).json()
    assert "grace.h" in [u["username"] for u in listing["users"]]
    assert all("password" not in str(u) for u in listing["users"])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "teacher", "password": PASSWORD, "role": "student"}, 409, "conflict"),
        ({"username": "x", "password": PASSWORD, "role": "student"}, 400, "invalid"),
        ({"username": "../etc", "password": PASSWORD, "role": "student"}, 400, "invalid"),
        ({"username": "newbie", "password": "short", "role": "student"}, 400, "invalid"),
        ({"username": "newbie", "password": PASSWORD, "role": "king"}, 400, "invalid"),
        ({"username": "newbie", "role": "student"}, 400, "invalid"),
    ],
)
async def test_bad_new_users_are_refused_and_nothing_is_created(
    admin: ClientSession, body: dict[str, str], status: int, code: str
) -> None:
    before = await (await admin.get("/api/users")).json()
    assert await status_and_code(await admin.post("/api/users", json=body)) == (status, code)
    assert await (await admin.get("/api/users")).json() == before


async def test_admins_cannot_lock_themselves_out(admin: ClientSession, users: dict[str, int]) -> None:
    assert await status_and_code(await admin.delete(f"/api/users/{users['admin']}")) == (409, "conflict")
    demote = await admin.patch(f"/api/users/{users['admin']}", json={"role": "teacher"})
    assert await status_and_code(demote) == (409, "conflict")
    assert await status_and_code(await admin.delete("/api/users/999999")) == (404, "not_found")
    assert await status_and_code(await admin.patch("/api/users/abc", json={})) == (400, "invalid")


async def test_deleting_a_teacher_keeps_their_classrooms(
    admin: ClientSession, teacher: ClientSession, users: dict[str, int]
) -> None:
    created = await teacher.post("/api/classrooms", json={"name": "Biology"})
    classroom_id = (await created.json())["classroom"]["id"]
    assert (await admin.delete(f"/api/users/{users['teacher']}")).status == 204
    room = await (await admin.get(f"/api/classrooms/{classroom_id}")).json()
    assert room["classroom"]["owner"]["username"] == "admin"


async def test_teacher_creates_a_classroom_with_students_and_moderators(
    teacher: ClientSession, client_as: ClientFactory
) -> None:
    response = await teacher.post(
        "/api/classrooms",
        json={
            "name": "  Physics   3B ",
            "seat_limit": 25,
            "students": ["Student"],
            "moderators": ["teacher2"],
        },
    )
    assert response.status == 201
    room = (await response.json())["classroom"]
    assert room["name"] == "Physics 3B"
    assert room["seat_limit"] == 25
    assert [m["username"] for m in room["moderators"]] == ["teacher", "teacher2"]
    assert [s["username"] for s in room["students"]] == ["student"]
    assert room["seats_used"] == 0
    assert room["recording"] is None

    student_view = await (await (await client_as("student")).get("/api/classrooms")).json()
    assert [(c["name"], c["can_moderate"]) for c in student_view["classrooms"]] == [("Physics 3B", False)]
    co_teacher = await client_as("teacher2")
    assert (await (await co_teacher.get("/api/classrooms")).json())["classrooms"][0]["can_moderate"] is True
    renamed = await co_teacher.patch(f"/api/classrooms/{room['id']}", json={"name": "Physics 3C"})
    assert (await renamed.json())["classroom"]["name"] == "Physics 3C"
    assert (await (await client_as("student2")).get("/api/classrooms")).status == 200
    assert (await (await (await client_as("student2")).get("/api/classrooms")).json())["classrooms"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 121},
        {"name": "Big", "seat_limit": 0},
        {"name": "Big", "seat_limit": 501},
        {"name": "Big", "seat_limit": "many"},
        {"name": "Big", "students": ["nobody"]},
        {"name": "Big", "students": ["student"], "moderators": ["student"]},
        {"seat_limit": 3},
    ],
)
async def test_bad_classrooms_are_refused_and_nothing_is_created(
    teacher: ClientSession, body: dict[str, object]
) -> None:
    assert await status_and_code(await teacher.post("/api/classrooms", json=body)) == (400, "invalid")
    assert (await (await teacher.get("/api/classrooms")).json())["classrooms"] == []


async def test_a_student_cannot_create_a_classroom(users: dict[str, int], client_as: ClientFactory) -> None:
    student = await client_as("student")
    response = await student.post("/api/classrooms", json={"name": "Mine"})
    assert await status_and_code(response) == (403, "forbidden")
    admin = await client_as("admin")
    assert (await (await admin.get("/api/classrooms")).json())["classrooms"] == []


async def test_deleting_a_classroom_keeps_its_recordings(
    app: web.Application, teacher: ClientSession
) -> None:
    created = await teacher.post("/api/classrooms", json={"name": "History"})
    classroom_id = (await created.json())["classroom"]["id"]
    async with app[SERVICES].db() as db:
        db.add(Recording(classroom_id=classroom_id, classroom_name="History", number=1, name="History 1"))
        await db.commit()
    assert (await teacher.delete(f"/api/classrooms/{classroom_id}")).status == 204
    async with app[SERVICES].db() as db:
        kept = await db.get(Recording, 1)
    assert kept is not None
    assert (kept.name, kept.classroom_id) == ("History 1", None)


async def test_settings_are_per_user(users: dict[str, int], client_as: ClientFactory) -> None:
    teacher = await client_as("teacher")
    defaults = await (await teacher.get("/api/me/settings")).json()
    assert defaults == {
        "settings": {
            "recording_reminder": False,
            "robot_name": "Session Recorder Robot",
            "default_recording_name": None,
            "edit_name_on_stop": False,
        }
    }
    changed = await teacher.patch(
        "/api/me/settings", json={"recording_reminder": True, "robot_name": " Rec  Bot "}
    )
    assert (await changed.json())["settings"] == {
        "recording_reminder": True,
        "robot_name": "Rec Bot",
        "default_recording_name": None,
        "edit_name_on_stop": False,
    }
    blank = await teacher.patch("/api/me/settings", json={"robot_name": "   "})
    assert await status_and_code(blank) == (400, "invalid")
    other = await (await (await client_as("teacher2")).get("/api/me/settings")).json()
    assert other["settings"]["recording_reminder"] is False
