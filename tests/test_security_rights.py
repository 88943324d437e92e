"""Rights follow what a user is now, are decided on the server and travel with the objects they concern:
moderators are teachers or admins, and a recording's rights follow its classroom's moderators."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession, web

from server.db.models import Recording
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.support import held


async def make_classroom(teacher: ClientSession, **fields: Any) -> dict[str, Any]:
    response = await teacher.post("/api/classrooms", json={"name": "Physics", **fields})
    assert response.status == 201, await response.text()
    room: dict[str, Any] = (await response.json())["classroom"]
    return room


async def add_recording(
    app: web.Application, classroom_id: int, started_by: int, state: str = "ready", published: bool = False
) -> int:
    async with app[SERVICES].db() as db:
        recording = Recording(
            classroom_id=classroom_id,
            classroom_name="Physics",
            number=1,
            name="Physics 1",
            state=state,
            started_by_id=started_by,
            published=published,
            stop_reason=None if state in ("starting", "recording", "finishing") else "stopped",
            covers=held(classroom_id, "Physics", state),
        )
        db.add(recording)
        await db.commit()
        return recording.id


async def error_of(response: Any) -> tuple[int, str, str]:
    body = await response.json()
    return response.status, body["error"]["code"], body["error"]["message"]


@pytest.fixture
async def s(users: dict[str, int], client_as: ClientFactory) -> dict[str, ClientSession]:
    return {name: await client_as(name) for name in users}


async def test_a_student_cannot_be_made_moderator_so_cannot_list_unpublished_recordings(
    app: web.Application, users: dict[str, int], s: dict[str, ClientSession]
) -> None:
    # student2 is another classroom's student; the teacher tries to make them a moderator of this one.
    refused = await s["teacher"].post("/api/classrooms", json={"name": "Physics", "moderators": ["student2"]})
    status, code, message = await error_of(refused)
    assert (status, code) == (400, "invalid")
    assert "student2" in message
    assert (await (await s["teacher"].get("/api/classrooms")).json())["classrooms"] == []

    room = await make_classroom(s["teacher"], students=["student"])
    patched = await s["teacher"].patch(f"/api/classrooms/{room['id']}", json={"moderators": ["student2"]})
    status, code, message = await error_of(patched)
    assert (status, code) == (400, "invalid")
    assert "student2" in message
    after = (await (await s["teacher"].get(f"/api/classrooms/{room['id']}")).json())["classroom"]
    assert [m["username"] for m in after["moderators"]] == ["teacher"]

    recording_id = await add_recording(app, room["id"], users["teacher"])
    assert (await (await s["student2"].get("/api/recordings")).json())["recordings"] == []
    assert (await s["student2"].get(f"/api/recordings/{recording_id}/media?download=1")).status == 404
    # An enrolled student does not see it either until it is published.
    assert (await (await s["student"].get("/api/recordings")).json())["recordings"] == []


async def test_a_starter_unmade_moderator_cannot_rename_publish_delete_or_stop(
    app: web.Application, users: dict[str, int], s: dict[str, ClientSession]
) -> None:
    room = await make_classroom(s["teacher"], moderators=["teacher2"], students=["student"])
    finished = await add_recording(app, room["id"], users["teacher2"])
    listed = (await (await s["teacher2"].get("/api/recordings")).json())["recordings"]
    assert [(r["id"], r["can_manage"], r["can_stop"]) for r in listed] == [(finished, True, False)]

    # The owner takes teacher2's moderator rights away (teacher2 stays, as a student) and publishes.
    unmade = {"moderators": [], "students": ["student", "teacher2"]}
    await s["teacher"].patch(f"/api/classrooms/{room['id']}", json=unmade)
    await s["teacher"].patch(f"/api/recordings/{finished}", json={"published": True})
    seen = (await (await s["teacher2"].get(f"/api/recordings/{finished}")).json())["recording"]
    assert (seen["can_manage"], seen["can_stop"]) == (False, False)
    for body in ({"name": "Mine now"}, {"published": False}):
        status, code, _ = await error_of(await s["teacher2"].patch(f"/api/recordings/{finished}", json=body))
        assert (status, code) == (403, "forbidden"), body
    status, code, _ = await error_of(await s["teacher2"].delete(f"/api/recordings/{finished}"))
    assert (status, code) == (403, "forbidden")
    owner_view = (await (await s["teacher"].get(f"/api/recordings/{finished}")).json())["recording"]
    assert (owner_view["name"], owner_view["published"], owner_view["can_manage"]) == (
        "Physics 1",
        True,
        True,
    )

    # The same for a recording in progress: only an admin, or its starter while a moderator, stops it.
    second = await make_classroom(s["teacher"], moderators=["teacher2"], students=["student2"])
    running = await add_recording(app, second["id"], users["teacher2"], state="recording")
    seen = (await (await s["teacher2"].get(f"/api/recordings/{running}")).json())["recording"]
    assert (seen["can_stop"], seen["can_manage"]) == (True, True)
    unmade = {"moderators": [], "students": ["student2", "teacher2"]}
    await s["teacher"].patch(f"/api/classrooms/{second['id']}", json=unmade)
    stopped = await s["teacher2"].post(f"/api/classrooms/{second['id']}/recording/stop")
    assert (await error_of(stopped))[:2] == (403, "forbidden")
    owner_view = (await (await s["teacher"].get(f"/api/recordings/{running}")).json())["recording"]
    admin_view = (await (await s["admin"].get(f"/api/recordings/{running}")).json())["recording"]
    assert (owner_view["can_stop"], owner_view["can_manage"]) == (False, True)
    assert (admin_view["can_stop"], admin_view["can_manage"]) == (True, True)


async def test_a_demoted_teacher_loses_moderation_of_their_own_classrooms(
    app: web.Application, users: dict[str, int], s: dict[str, ClientSession]
) -> None:
    room = await make_classroom(s["teacher"], students=["student"])
    await s["admin"].patch(f"/api/users/{users['teacher']}", json={"role": "student"})
    view = (await (await s["teacher"].get(f"/api/classrooms/{room['id']}")).json())["classroom"]
    assert {k: view[k] for k in ("can_moderate", "can_record", "can_manage", "can_delete")} == dict.fromkeys(
        ("can_moderate", "can_record", "can_manage", "can_delete"), False
    )
    status, code, _ = await error_of(
        await s["teacher"].patch(f"/api/classrooms/{room['id']}", json={"name": "x"})
    )
    assert (status, code) == (403, "forbidden")
    status, code, _ = await error_of(
        await s["teacher"].post(f"/api/classrooms/{room['id']}/recording", json={})
    )
    assert (status, code) == (403, "forbidden")


async def test_a_deleted_classrooms_recording_stays_with_admins_and_its_starter_while_a_teacher(
    app: web.Application, users: dict[str, int], s: dict[str, ClientSession]
) -> None:
    room = await make_classroom(s["teacher"], moderators=["teacher2"])
    recording_id = await add_recording(app, room["id"], users["teacher2"])
    assert (await s["teacher"].delete(f"/api/classrooms/{room['id']}")).status == 204
    for who in ("admin", "teacher2"):
        view = (await (await s[who].get(f"/api/recordings/{recording_id}")).json())["recording"]
        assert view["can_manage"] is True, who
    assert (await s["teacher"].get(f"/api/recordings/{recording_id}")).status == 404
    await s["admin"].patch(f"/api/users/{users['teacher2']}", json={"role": "student"})
    assert (await s["teacher2"].get(f"/api/recordings/{recording_id}")).status == 404


async def test_rights_travel_with_me_users_classrooms_and_recordings(
    app: web.Application, users: dict[str, int], s: dict[str, ClientSession]
) -> None:
    me = {
        who: (await (await s[who].get("/api/me")).json())["user"] for who in ("admin", "teacher", "student")
    }
    assert [(me[w]["can_create_classroom"], me[w]["can_record"], me[w]["can_manage_users"]) for w in me] == [
        (True, True, True),
        (True, True, False),
        (False, False, False),
    ]
    rows = (await (await s["admin"].get("/api/users")).json())["users"]
    assert {r["username"]: r["can_delete"] for r in rows} == {
        "admin": False,
        "student": True,
        "student2": True,
        "teacher": True,
        "teacher2": True,
    }

    room = await make_classroom(s["teacher"], moderators=["teacher2"], students=["student"])
    rights = ("can_moderate", "can_record", "can_manage", "can_delete")
    expected = {
        "teacher": (True, True, True, True),
        "teacher2": (True, True, True, False),
        "student": (False, False, False, False),
        "admin": (True, True, True, True),
    }
    for who, wanted in expected.items():
        view = (await (await s[who].get(f"/api/classrooms/{room['id']}")).json())["classroom"]
        assert tuple(view[k] for k in rights) == wanted, who
        assert view["recording"] is None

    running = await add_recording(app, room["id"], users["teacher2"], state="recording")
    other = await make_classroom(s["teacher"], name="Chemistry")
    listing = (await (await s["student"].get("/api/classrooms")).json())["classrooms"]
    assert [c["name"] for c in listing] == ["Physics"]
    status = listing[0]["recording"]
    assert status == {
        "id": running,
        "name": "Physics 1",
        "state": "recording",
        "started_by": {"id": users["teacher2"], "username": "teacher2", "display_name": "Theo Teacher"},
        "started_at": status["started_at"],
        "paused": False,
        "mode": "composite",
        "session": None,
    }
    both = (await (await s["teacher"].get("/api/classrooms")).json())["classrooms"]
    assert [(c["name"], c["recording"] and c["recording"]["id"]) for c in both] == [
        ("Chemistry", None),
        ("Physics", running),
    ]
    assert other["recording"] is None
    current = (await (await s["teacher2"].get(f"/api/classrooms/{room['id']}/recording")).json())["recording"]
    assert (current["stop_reason"], current["can_stop"], current["can_manage"]) == (None, True, True)
    current = (await (await s["teacher"].get(f"/api/classrooms/{room['id']}/recording")).json())["recording"]
    assert (current["can_stop"], current["can_manage"]) == (False, True)
