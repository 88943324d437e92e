"""Sessions that can be revoked: a cookie is one login, ended by logout, a new password or deleting the
account, and never comes to mean another account."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from aiohttp import ClientSession, web
from sqlalchemy import select, update

from server.db.models import AuthSession
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.support import PASSWORD


class LiveSpy:
    """Stands in for the live classrooms and notes what HTTP handlers tell them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    async def users_changed(self, user_ids: Iterable[int]) -> None:
        self.calls.append(("users_changed", sorted(user_ids)))

    async def sessions_ended(self, session_ids: Iterable[str]) -> None:
        self.calls.append(("sessions_ended", len(list(session_ids))))

    async def classroom_changed(self, classroom_id: int) -> None:
        self.calls.append(("classroom_changed", classroom_id))

    async def classroom_deleted(self, classroom_id: int) -> None:
        self.calls.append(("classroom_deleted", classroom_id))

    async def recording_media(self, classroom_id: int, recording_id: int, receiving: list[int]) -> None:
        self.calls.append(("recording_media", recording_id))


def copy_of(client: ClientSession, server_client: ClientSession) -> None:
    """Put ``client``'s cookies into ``server_client``'s jar, as a thief with a copied cookie would."""
    server_client.cookie_jar.update_cookies({c.key: c.value for c in client.cookie_jar})


async def me(client: ClientSession) -> tuple[int, dict[str, object]]:
    response = await client.get("/api/me")
    return response.status, await response.json()


async def test_a_deleted_users_cookie_never_becomes_the_next_account(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    admin = await client_as("admin")
    # The newest account is logged in; deleting it frees the highest id, which SQLite hands out again.
    made = await admin.post(
        "/api/users", json={"username": "leaver", "password": PASSWORD, "role": "teacher"}
    )
    leaver_id = (await made.json())["user"]["id"]
    leaver = await client_as("leaver")
    assert (await me(leaver))[0] == 200
    assert (await admin.delete(f"/api/users/{leaver_id}")).status == 204
    made = await admin.post(
        "/api/users", json={"username": "newadmin", "password": PASSWORD, "role": "admin"}
    )
    assert (await made.json())["user"]["id"] == leaver_id  # the id is reused: the attack's premise
    status, body = await me(leaver)
    assert (status, body["error"]["code"]) == (401, "unauthorized")  # type: ignore[index]
    users_list = await leaver.get("/api/users")
    assert users_list.status == 401


async def test_a_copied_cookie_is_worth_nothing_after_logout(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher = await client_as("teacher")
    thief = await client_as(None)
    copy_of(teacher, thief)
    assert (await me(thief))[0] == 200
    assert (await teacher.post("/api/auth/logout")).status == 204
    status, body = await me(thief)
    assert (status, body["error"]["code"]) == (401, "unauthorized")  # type: ignore[index]
    assert (await thief.post("/api/classrooms", json={"name": "Stolen"})).status == 401


async def test_an_expired_session_is_refused(
    app: web.Application, users: dict[str, int], client_as: ClientFactory
) -> None:
    student = await client_as("student")
    async with app[SERVICES].db() as db:
        await db.execute(update(AuthSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await db.commit()
    assert (await me(student))[0] == 401
    async with app[SERVICES].db() as db:
        assert (await db.scalars(select(AuthSession))).all() == []


async def test_a_new_password_ends_every_other_session_of_the_user(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    admin = await client_as("admin")
    admin_elsewhere = await client_as("admin")
    student, student_phone = await client_as("student"), await client_as("student")
    changed = await admin.patch(f"/api/users/{users['student']}", json={"password": "a brand new one"})
    assert changed.status == 200
    assert (await me(student))[0] == (await me(student_phone))[0] == 401
    # Admins changing their own password stay logged in where they did it, and nowhere else.
    changed = await admin.patch(f"/api/users/{users['admin']}", json={"password": "another new one"})
    assert changed.status == 200
    assert (await me(admin))[0] == 200
    assert (await me(admin_elsewhere))[0] == 401


async def test_a_role_change_keeps_the_session_and_the_rights_follow_the_role(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    admin = await client_as("admin")
    teacher = await client_as("teacher")
    status, body = await me(teacher)
    assert body["user"]["can_create_classroom"] is True  # type: ignore[index]
    await admin.patch(f"/api/users/{users['teacher']}", json={"role": "student"})
    status, body = await me(teacher)
    assert status == 200
    assert body["user"]["role"] == "student"  # type: ignore[index]
    assert body["user"]["can_create_classroom"] is False  # type: ignore[index]
    assert (await teacher.post("/api/classrooms", json={"name": "Still mine?"})).status == 403


async def test_changes_reach_the_live_classrooms(
    app: web.Application, users: dict[str, int], client_as: ClientFactory
) -> None:
    spy = LiveSpy()
    app[SERVICES].live = spy
    admin = await client_as("admin")
    teacher = await client_as("teacher")
    await client_as("student")
    await admin.patch(f"/api/users/{users['student']}", json={"password": "a brand new one"})
    await admin.patch(f"/api/users/{users['teacher2']}", json={"role": "student"})
    created = await teacher.post("/api/classrooms", json={"name": "Physics"})
    classroom_id = (await created.json())["classroom"]["id"]
    await teacher.patch(f"/api/classrooms/{classroom_id}", json={"students": ["student2"]})
    await teacher.delete(f"/api/classrooms/{classroom_id}")
    await admin.delete(f"/api/users/{users['student2']}")
    await teacher.post("/api/auth/logout")
    assert spy.calls == [
        ("sessions_ended", 1),
        ("users_changed", [users["student"]]),
        ("users_changed", [users["teacher2"]]),
        ("classroom_changed", classroom_id),
        ("classroom_changed", classroom_id),
        ("classroom_deleted", classroom_id),
        ("users_changed", [users["student2"]]),
        ("sessions_ended", 1),
    ]
