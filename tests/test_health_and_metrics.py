"""Operators' views: /api/health tells what works, /metrics counts, /api/openapi.json describes."""

from __future__ import annotations

import shutil

from aiohttp import web

from server.api.system_api import STARTUP, probe_robot
from server.services import SERVICES
from tests.conftest import ClientFactory, ParticipantFactory
from tests.support import add_user


async def test_health_reports_database_accounts_storage_and_recorders(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    response = await (await client_as(None)).get("/api/health")
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True, "dialect": "sqlite", "migrated": True}
    assert body["checks"]["accounts"] == {"ok": True, "admins": 1}
    assert body["checks"]["storage"]["ok"] is True
    assert body["checks"]["storage"]["free_bytes"] > 0
    assert body["checks"]["recorders"] == {"ok": True, "running": 0}
    assert body["checks"]["robot"] == {"ok": True, "startable": True, "reachable": True}


async def test_health_says_starting_until_an_admin_exists(
    app: web.Application, client_as: ClientFactory
) -> None:
    anonymous = await client_as(None)
    response = await anonymous.get("/api/health")
    body = await response.json()
    assert (response.status, body["status"]) == (503, "starting")
    assert body["checks"]["accounts"] == {"ok": False, "admins": 0}
    await add_user(app, "admin", "admin")
    assert (await anonymous.get("/api/health")).status == 200


async def test_health_is_503_when_the_robot_cannot_start(
    app: web.Application, users: dict[str, int], client_as: ClientFactory
) -> None:
    app[STARTUP].robot_error = "the robot cannot start: ModuleNotFoundError: No module named 'recorder_bot'"
    response = await (await client_as(None)).get("/api/health")
    body = await response.json()
    assert (response.status, body["status"]) == (503, "unavailable")
    assert body["checks"]["robot"]["ok"] is False
    assert "recorder_bot" in body["checks"]["robot"]["detail"]


async def test_the_robot_probe_finds_the_installed_package() -> None:
    assert await probe_robot() is None


async def test_health_is_503_when_storage_breaks(app: web.Application, client_as: ClientFactory) -> None:
    root = app[SERVICES].storage.root
    shutil.rmtree(root)
    root.write_text("not a directory")
    response = await (await client_as(None)).get("/api/health")
    body = await response.json()
    assert response.status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["storage"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


async def test_health_is_503_when_the_database_is_gone(
    app: web.Application, client_as: ClientFactory
) -> None:
    await app[SERVICES].engine.dispose()
    database = app[SERVICES].config.server.data_dir / "aula.db"
    for path in database.parent.glob("aula.db*"):
        path.unlink()
    database.mkdir()  # a directory where the database file was: SQLite cannot open it
    response = await (await client_as(None)).get("/api/health")
    body = await response.json()
    assert response.status == 503
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["storage"]["ok"] is True


async def test_metrics_count_requests_and_logins(users: dict[str, int], client_as: ClientFactory) -> None:
    anonymous = await client_as(None)
    await anonymous.post("/api/auth/login", json={"username": "admin", "password": "wrong password"})
    await client_as("teacher")
    text = await (await anonymous.get("/metrics")).text()
    assert 'aula_http_requests_total{method="POST",route="/api/auth/login",status="401"} 1.0' in text
    assert "aula_login_failures_total 1.0" in text


async def test_metrics_count_participants_as_they_join_and_leave(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    anonymous = await client_as(None)
    teacher = await client_as("teacher")
    created = await teacher.post("/api/classrooms", json={"name": "Physics"})
    classroom_id = (await created.json())["classroom"]["id"]
    assert "aula_participants 0.0" in await (await anonymous.get("/metrics")).text()
    person = await participant(teacher)
    assert (await person.call("join", {"classroom_id": classroom_id}))["ok"] is True
    assert "aula_participants 1.0" in await (await anonymous.get("/metrics")).text()
    await person.call("leave")
    assert "aula_participants 0.0" in await (await anonymous.get("/metrics")).text()


async def test_openapi_describes_every_route_with_its_body(client_as: ClientFactory) -> None:
    document = await (await (await client_as(None)).get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]["/api/classrooms/{id}"]) == {"get", "patch", "delete"}
    login = document["paths"]["/api/auth/login"]["post"]
    schema_name = login["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(document["components"]["schemas"][schema_name]["required"]) == {"username", "password"}
    assert "401" in login["responses"]


async def test_unknown_api_routes_answer_in_json(client_as: ClientFactory) -> None:
    client = await client_as(None)
    response = await client.get("/api/nothing-here")
    assert (response.status, (await response.json())["error"]["code"]) == (404, "not_found")
    response = await client.put("/api/me")
    assert (response.status, (await response.json())["error"]["code"]) == (405, "method_not_allowed")
