"""Account administration (admins only)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from server.api.registry import api, json_response, match_int, read_body
from server.auth.permissions import require_admin
from server.auth.sessions import require_user
from server.db.models import User
from server.services import services
from server.users import create_user, delete_user, get_user, update_user, user_json

RoleName = Literal["admin", "teacher", "student"]


class NewUserBody(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    role: RoleName
    display_name: str | None = Field(default=None, max_length=80)


class UserPatchBody(BaseModel):
    display_name: str | None = Field(default=None, max_length=80)
    password: str | None = Field(default=None, max_length=256)
    role: RoleName | None = None


_ADMIN_ERRORS = {401: "Not logged in", 403: "Not an admin"}


@api.route(
    "GET",
    "/api/users",
    summary="List users",
    access="admin",
    tag="users",
    responses={200: "Users", **_ADMIN_ERRORS},
)
async def list_users(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        require_admin(await require_user(request, db))
        users = (await db.scalars(select(User).order_by(User.username))).all()
    return json_response({"users": [user_json(u) for u in users]})


@api.route(
    "POST",
    "/api/users",
    summary="Create a user",
    access="admin",
    tag="users",
    body=NewUserBody,
    responses={201: "Created", 400: "Invalid", 409: "User name taken", **_ADMIN_ERRORS},
)
async def add_user(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        require_admin(await require_user(request, db))
        body = await read_body(request, NewUserBody)
        user = await create_user(db, body.username, body.password, body.role, body.display_name)
    return json_response({"user": user_json(user)}, status=201)


@api.route(
    "PATCH",
    "/api/users/{id}",
    summary="Change a user's name, password or role",
    access="admin",
    tag="users",
    body=UserPatchBody,
    responses={200: "Changed", 400: "Invalid", 404: "No such user", 409: "Last admin", **_ADMIN_ERRORS},
)
async def patch_user(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        require_admin(await require_user(request, db))
        body = await read_body(request, UserPatchBody)
        user = await get_user(db, match_int(request, "id"))
        await update_user(db, user, display_name=body.display_name, password=body.password, role=body.role)
    return json_response({"user": user_json(user)})


@api.route(
    "DELETE",
    "/api/users/{id}",
    summary="Delete a user (their classrooms pass to you)",
    access="admin",
    tag="users",
    responses={204: "Deleted", 404: "No such user", 409: "Yourself", **_ADMIN_ERRORS},
)
async def remove_user(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        acting = await require_user(request, db)
        require_admin(acting)
        user = await get_user(db, match_int(request, "id"))
        await delete_user(db, user, acting)
    return web.Response(status=204)
