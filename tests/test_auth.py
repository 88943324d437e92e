"""Logging in and out: wrong passwords, throttling, sessions that end, and the same-origin rule."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from tests.conftest import ClientFactory
from tests.support import PASSWORD


async def login(client: ClientSession, username: str, password: str) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    return response.status, await response.json()


async def test_login_sets_a_session_and_logout_ends_it(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    client = await client_as(None)
    assert (await client.get("/api/me")).status == 401
    status, body = await login(client, "Teacher", PASSWORD)
    assert status == 200
    assert body["user"] == {**body["user"], "username": "teacher", "role": "teacher"}
    cookie = next(iter(client.cookie_jar))
    assert cookie.key == "aula_session"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    me = await (await client.get("/api/me")).json()
    assert me["user"]["display_name"] == "Tess Teacher"
    assert (await client.post("/api/auth/logout")).status == 204
    assert (await client.get("/api/me")).status == 401


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    client = await client_as(None)
    wrong = await login(client, "teacher", "not the password")
    unknown = await login(client, "nobody", "not the password")
    assert (
        wrong
        == unknown
        == (
            401,
            {"error": {"code": "invalid_credentials", "message": "wrong user name or password"}},
        )
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "username"),
        ({"username": "teacher"}, "password"),
        ({"username": "", "password": "x"}, "username"),
        ({"username": ["teacher"], "password": "x"}, "username"),
    ],
)
async def test_malformed_logins_name_the_field(
    users: dict[str, int], client_as: ClientFactory, body: dict[str, object], field: str
) -> None:
    response = await (await client_as(None)).post("/api/auth/login", json=body)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]


async def test_non_json_and_oversized_bodies_are_refused(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    client = await client_as(None)
    response = await client.post("/api/auth/login", data=b"username=teacher")
    assert (response.status, (await response.json())["error"]["code"]) == (400, "invalid")
    huge = {"username": "teacher", "password": "x" * 2_000_000}
    response = await client.post("/api/auth/login", json=huge)
    assert (response.status, (await response.json())["error"]["code"]) == (413, "payload_too_large")


async def test_failed_logins_are_throttled_per_account_and_address(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    client = await client_as(None)
    for _ in range(5):
        assert (await login(client, "student", "guess"))[0] == 401
    response = await client.post("/api/auth/login", json={"username": "student", "password": PASSWORD})
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0
    # Another account from the same address is not locked by this one's failures.
    assert (await login(client, "teacher", PASSWORD))[0] == 200


async def test_failed_logins_are_throttled_per_address(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    client = await client_as(None)
    for n in range(20):
        assert (await login(client, f"spray{n}", "guess"))[0] == 401
    assert (await login(client, "teacher", PASSWORD))[0] == 429


async def test_a_new_password_or_deleted_account_ends_sessions(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    admin = await client_as("admin")
    student = await client_as("student")
    assert (await student.get("/api/me")).status == 200
    await admin.patch(f"/api/users/{users['student']}", json={"password": "a brand new one"})
    assert (await student.get("/api/me")).status == 401
    assert (await login(student, "student", "a brand new one"))[0] == 200
    assert (await admin.delete(f"/api/users/{users['student']}")).status == 204
    assert (await student.get("/api/me")).status == 401


async def test_cross_origin_writes_are_refused(
    server: TestServer, users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher = await client_as("teacher")
    foreign = await teacher.post(
        "/api/classrooms", json={"name": "Forged"}, headers={"Origin": "https://evil.example"}
    )
    assert (foreign.status, (await foreign.json())["error"]["code"]) == (403, "forbidden")
    listing = await (await teacher.get("/api/classrooms")).json()
    assert listing["classrooms"] == []
    own = str(server.make_url("")).rstrip("/")
    same = await teacher.post("/api/classrooms", json={"name": "Real"}, headers={"Origin": own})
    assert same.status == 201
