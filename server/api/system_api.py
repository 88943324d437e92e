"""Health, metrics and the API's own description."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.api.openapi import openapi_document
from server.api.registry import api, json_response
from server.db.engine import ping
from server.services import services

HEALTH_TIMEOUT = 3.0


@api.route(
    "GET",
    "/api/health",
    summary="Whether the database, storage and recorders work",
    access="anyone",
    tag="system",
    responses={200: "Healthy", 503: "Something does not work; see checks"},
)
async def health(request: web.Request) -> web.Response:
    svc = services(request)
    checks: dict[str, dict[str, Any]] = {}
    try:
        await asyncio.wait_for(ping(svc.engine), HEALTH_TIMEOUT)
        checks["database"] = {"ok": True, "dialect": svc.engine.dialect.name}
    except Exception as exc:  # any failure of the database is a finding, not a crash
        checks["database"] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}
    try:
        storage = await asyncio.wait_for(svc.storage.check(), HEALTH_TIMEOUT)
        checks["storage"] = {"ok": storage.ok, "free_bytes": storage.free_bytes, "detail": storage.detail}
    except TimeoutError:
        checks["storage"] = {"ok": False, "detail": "storage did not answer in time"}
    checks["recorders"] = svc.recorders.health()
    healthy = all(check["ok"] for check in checks.values())
    return json_response(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )


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
