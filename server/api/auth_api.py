"""Logging in and out, and who I am."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from server.api.registry import Body, api, json_response, read_body
from server.auth.addresses import client_address
from server.auth.passwords import verify_password
from server.auth.sessions import end_session, require_user, start_session
from server.db.models import User
from server.errors import AppError, RateLimited
from server.services import services
from server.users import me_json, user_json


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class InvalidCredentials(AppError):
    status = 401
    code = "invalid_credentials"


@api.route(
    "POST",
    "/api/auth/login",
    summary="Log in; sets the session cookie",
    access="anyone",
    tag="auth",
    body=LoginBody,
    responses={200: "Logged in", 401: "Wrong user name or password", 429: "Throttled"},
)
async def login(request: web.Request) -> web.Response:
    svc = services(request)
    body = await read_body(request, LoginBody)
    username = body.username.strip().lower()
    address = client_address(
        request.remote, request.headers.getall("X-Forwarded-For", []), svc.config.auth.trusted_proxies
    )
    wait = svc.throttle.retry_after(username, address)
    if wait:
        svc.metrics.login_failures.inc()
        raise RateLimited(
            f"too many failed logins; try again in {wait} s", headers={"Retry-After": str(wait)}
        )
    async with svc.db() as db:
        user = await db.scalar(select(User).where(User.username == username))
        if not await verify_password(user.password_hash if user else None, body.password) or user is None:
            svc.throttle.failed(username, address)
            svc.metrics.login_failures.inc()
            raise InvalidCredentials("wrong user name or password")
        svc.throttle.succeeded(username, address)
        await start_session(request, db, user, svc.config.auth.session_max_age)
    return json_response({"user": user_json(user)})


@api.route(
    "POST",
    "/api/auth/logout",
    summary="Log out: the session ends on the server, a copy of the cookie is worth nothing",
    access="anyone",
    tag="auth",
    responses={204: "Logged out"},
)
async def logout(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        ended = await end_session(request, db)
    if ended is not None:
        await svc.live.sessions_ended([ended])
    return web.Response(status=204)


@api.route(
    "GET",
    "/api/me",
    summary="The logged-in user, with what they may do",
    access="user",
    tag="auth",
    responses={200: "The user", 401: "Not logged in"},
)
async def me(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        user = await require_user(request, db)
    return json_response({"user": me_json(user)})
