"""Account administration (admins only), and the directory the classroom forms pick people from."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from server.api.registry import Body, api, json_response, match_int, read_body
from server.auth.permissions import require_admin, require_can_search_directory
from server.auth.sessions import require_authenticated, require_user
from server.db.models import User
from server.errors import Invalid
from server.services import services
from server.users import (
    create_user,
    delete_user,
    get_user,
    search_directory,
    update_user,
    user_json,
    user_row_json,
)

RoleName = Literal["admin", "teacher", "student"]


class NewUserBody(Body):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    role: RoleName
    display_name: str | None = Field(default=None, max_length=80)


class UserPatchBody(Body):
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
        acting = await require_user(request, db)
        require_admin(acting)
        users = (await db.scalars(select(User).order_by(User.username))).all()
    return json_response({"users": [user_row_json(u, acting) for u in users]})


QUERY_MAX = 100


@api.route(
    "GET",
    "/api/users/directory",
    summary="Find users by user name or display name (?q=, ?role= repeatable) to enrol or make moderators",
    access="teacher, admin",
    tag="users",
    responses={200: "Up to 20 users", 400: "Invalid", 401: "Not logged in", 403: "Students cannot"},
)
async def user_directory(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        user = await require_user(request, db)
        require_can_search_directory(user)
        query = request.query.get("q", "")
        if len(query) > QUERY_MAX:
            raise Invalid.of_field("q", f"Search for at most {QUERY_MAX} characters.")
        found = await search_directory(db, query, request.query.getall("role", []))
    keys = ("id", "username", "display_name", "role")
    return json_response({"users": [{key: user_json(u)[key] for key in keys} for u in found]})


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
        acting = await require_user(request, db)
        require_admin(acting)
        body = await read_body(request, NewUserBody)
        user = await create_user(db, body.username, body.password, body.role, body.display_name)
    return json_response({"user": user_row_json(user, acting)}, status=201)


@api.route(
    "PATCH",
    "/api/users/{id}",
    summary="Change a user's name, password (ends their other sessions) or role",
    access="admin",
    tag="users",
    body=UserPatchBody,
    responses={200: "Changed", 400: "Invalid", 404: "No such user", 409: "Last admin", **_ADMIN_ERRORS},
)
async def patch_user(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        caller = await require_authenticated(request, db)
        require_admin(caller.user)
        body = await read_body(request, UserPatchBody)
        user = await get_user(db, match_int(request, "id"))
        ended = await update_user(
            db,
            user,
            display_name=body.display_name,
            password=body.password,
            role=body.role,
            # Admins changing their own password stay logged in here; every other session of theirs ends.
            keep_session=caller.session_id if user.id == caller.user.id else None,
        )
        result = user_row_json(user, caller.user)
    if ended:
        await svc.live.sessions_ended(ended)
    await svc.live.users_changed([user.id])
    return json_response({"user": result})


@api.route(
    "DELETE",
    "/api/users/{id}",
    summary="Delete a user and end their sessions (their classrooms pass to you)",
    access="admin",
    tag="users",
    responses={204: "Deleted", 404: "No such user", 409: "Yourself", **_ADMIN_ERRORS},
)
async def remove_user(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        acting = await require_user(request, db)
        require_admin(acting)
        user = await get_user(db, match_int(request, "id"))
        user_id = user.id
        await delete_user(db, user, acting)
    await svc.live.users_changed([user_id])
    return web.Response(status=204)
