"""Health, metrics and the API's own description.

``/api/health`` answers ``ok`` only once the server can do its job: the schema is migrated, the first admin
can log in, storage takes writes, and a robot can be started (its codecs exist and the installed
``recorder_bot`` package runs in isolated mode). Until the start-up checks have run it says ``starting``.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.api.openapi import openapi_document
from server.api.registry import api, json_response
from server.db.engine import alembic_config
from server.db.models import Role, User
from server.services import services

HEALTH_TIMEOUT = 3.0
ROBOT_PROBE_TIMEOUT = 20.0


@dataclass
class Startup:
    """What the start-up checks found (``check_robot`` runs before the server answers)."""

    robot_checked: bool = False
    robot_error: str | None = None


STARTUP = web.AppKey("startup", Startup)


async def probe_robot() -> str | None:
    """Start the robot's interpreter as the supervisor does (isolated mode, so the installed package and
    not one in the working directory) and import its package; the reason when that fails."""
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-c",
            "import recorder_bot",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={},
        )
        _, error = await asyncio.wait_for(process.communicate(), ROBOT_PROBE_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        return f"the robot's interpreter did not start: {type(exc).__name__}: {exc}"[:300]
    if process.returncode != 0:
        last = error.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {process.returncode}"]
        return f"the robot cannot start: {last[0]}"[:300]
    return None


async def check_robot(app: web.Application) -> None:
    """Run once at start-up; its finding is part of every health answer."""
    startup = app[STARTUP]
    startup.robot_error = await probe_robot()
    startup.robot_checked = True


@functools.cache
def _schema_heads() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def _current_heads(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


async def _database(engine: AsyncEngine) -> tuple[dict[str, Any], int]:
    """Whether the database answers with the schema this server's migrations end in; and its admins."""
    async with engine.connect() as connection:
        migrated = await connection.run_sync(_current_heads) == _schema_heads()
        admins = 0
        if migrated:
            query = select(func.count()).select_from(User).where(User.role == Role.ADMIN)
            admins = int(await connection.scalar(query) or 0)
    return {"ok": migrated, "dialect": engine.dialect.name, "migrated": migrated}, admins


def _failed(exc: BaseException) -> dict[str, Any]:
    return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}


@api.route(
    "GET",
    "/api/health",
    summary="Whether the server can do its job: database migrated, an admin, storage, recorders",
    access="anyone",
    tag="system",
    responses={200: "ok", 503: "starting (not ready yet) or unavailable (something broke); see checks"},
)
async def health(request: web.Request) -> web.Response:
    svc = services(request)
    startup = request.app[STARTUP]
    checks: dict[str, dict[str, Any]] = {}
    admins = 0
    try:
        checks["database"], admins = await asyncio.wait_for(_database(svc.engine), HEALTH_TIMEOUT)
    except Exception as exc:  # any failure of the database is a finding, not a crash
        checks["database"] = _failed(exc)
    checks["accounts"] = {"ok": admins > 0, "admins": admins}
    try:
        storage = await asyncio.wait_for(svc.storage.check(), HEALTH_TIMEOUT)
        checks["storage"] = {"ok": storage.ok, "free_bytes": storage.free_bytes, "detail": storage.detail}
    except TimeoutError:
        checks["storage"] = {"ok": False, "detail": "storage did not answer in time"}
    checks["recorders"] = svc.recorders.health()
    # The robot starts (checked once at start-up) and knows this server's address to join it.
    startable = startup.robot_checked and startup.robot_error is None
    reachable = bool(svc.recorders.server_url)
    checks["robot"] = {"ok": startable and reachable, "startable": startable, "reachable": reachable}
    if startup.robot_error:
        checks["robot"]["detail"] = startup.robot_error
    if all(check["ok"] for check in checks.values()):
        status = "ok"
    elif startup.robot_error is None and all(
        checks[name]["ok"] for name in ("database", "storage", "recorders")
    ):
        # Nothing is broken, something is not there yet: the first admin, or the robot's way back here.
        status = "starting"
    else:
        status = "unavailable"
    return json_response({"status": status, "checks": checks}, status=200 if status == "ok" else 503)


@api.route(
    "GET",
    "/metrics",
    summary="Prometheus metrics",
    access="anyone (restrict at the proxy)",
    tag="system",
    responses={200: "Prometheus text format"},
)
async def metrics(request: web.Request) -> web.Response:
    svc = services(request)
    svc.metrics.participants.set(svc.presence.total_participants())
    svc.metrics.media_peers.set(svc.media.peer_count())
    body = generate_latest(svc.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@api.route(
    "GET",
    "/api/openapi.json",
    summary="This document",
    access="anyone",
    tag="system",
    responses={200: "OpenAPI 3.1"},
)
async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document(api.routes))
