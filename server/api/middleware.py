"""Middleware: JSON errors, the same-origin rule for writes, security headers and request metrics."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from server.api.registry import Handler
from server.config import allowed_origins
from server.errors import AppError, Forbidden, PayloadTooLarge
from server.services import SERVICES

log = logging.getLogger(__name__)

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _error_response(error: AppError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers)


def request_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def origin_allowed(request: web.Request, origin: str) -> bool:
    return origin in {request_origin(request), *allowed_origins(request.app[SERVICES].config)}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as ``{"error": {"code", "message"}}`` on /api; pages keep aiohttp's own."""
    try:
        return await handler(request)
    except AppError as error:
        return _error_response(error)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SERVICES].config.server.max_body_bytes
        return _error_response(PayloadTooLarge(f"the body is larger than {limit} bytes"))
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "invalid")
        return web.json_response({"error": {"code": code, "message": exc.reason}}, status=exc.status)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return web.json_response(
            {"error": {"code": "internal", "message": "internal server error"}}, status=500
        )


@web.middleware
async def same_origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Writes with a foreign ``Origin`` are refused; together with SameSite cookies this stops CSRF."""
    if request.method in _WRITES:
        origin = request.headers.get("Origin")
        if origin is not None and not origin_allowed(request, origin):
            raise Forbidden(f"cross-origin request from {origin} refused")
    return await handler(request)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[SERVICES].metrics
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        metrics.http_requests.labels(request.method, name, str(status)).inc()
        metrics.http_seconds.labels(name).observe(time.perf_counter() - started)
