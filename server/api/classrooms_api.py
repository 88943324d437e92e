"""Classrooms: list, create, read, change, delete."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from server.api.registry import Body, api, json_response, match_int, read_body
from server.auth.permissions import (
    require_can_create_classroom,
    require_can_delete_classroom,
    require_can_manage_classroom,
    require_can_see,
)
from server.auth.sessions import require_user
from server.classrooms import (
    check_name,
    check_seat_limit,
    described_classroom,
    described_classrooms,
    get_classroom,
    set_members,
    users_by_name,
    visible_classrooms,
)
from server.db.models import Classroom, User
from server.services import services

NAMES_MAX = 1000


class NewClassroomBody(Body):
    name: str = Field(max_length=200)
    seat_limit: int | None = None
    moderators: list[str] = Field(default_factory=list, max_length=NAMES_MAX)
    students: list[str] = Field(default_factory=list, max_length=NAMES_MAX)


class ClassroomPatchBody(Body):
    name: str | None = Field(default=None, max_length=200)
    seat_limit: int | None = None
    moderators: list[str] | None = Field(default=None, max_length=NAMES_MAX)
    students: list[str] | None = Field(default=None, max_length=NAMES_MAX)


async def _classroom_and_user(request: web.Request, db: AsyncSession) -> tuple[User, Classroom]:
    """The caller and the classroom named in the path (its permissions are the handler's to check)."""
    user = await require_user(request, db)
    return user, await get_classroom(db, match_int(request, "id"))


_USER_ERRORS = {401: "Not logged in", 404: "No such classroom, or not visible to you"}


@api.route(
    "GET",
    "/api/classrooms",
    summary="Classrooms I own, moderate or attend (all, for admins)",
    access="user",
    tag="classrooms",
    responses={200: "Classrooms", 401: "Not logged in"},
)
async def list_classrooms(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user = await require_user(request, db)
        rooms = await visible_classrooms(db, user)
        body = await described_classrooms(db, svc.presence, rooms, user)
    return json_response({"classrooms": body})


@api.route(
    "POST",
    "/api/classrooms",
    summary="Create a classroom",
    access="teacher, admin",
    tag="classrooms",
    body=NewClassroomBody,
    responses={201: "Created", 400: "Invalid", 401: "Not logged in", 403: "Students cannot create"},
)
async def create_classroom(request: web.Request) -> web.Response:
    svc = services(request)
    limits = svc.config.classroom
    async with svc.db() as db:
        user = await require_user(request, db)
        require_can_create_classroom(user)
        body = await read_body(request, NewClassroomBody)
        classroom = Classroom(
            name=check_name(body.name),
            owner=user,
            seat_limit=check_seat_limit(
                limits.default_seat_limit if body.seat_limit is None else body.seat_limit,
                limits.max_seat_limit,
            ),
            members=[],
        )
        set_members(
            classroom, await users_by_name(db, body.moderators), await users_by_name(db, body.students)
        )
        db.add(classroom)
        await db.commit()
        result = await described_classroom(db, svc.presence, classroom, user)
    await svc.live.classroom_changed(classroom.id)
    return json_response({"classroom": result}, status=201)


@api.route(
    "GET",
    "/api/classrooms/{id}",
    summary="One classroom",
    access="its moderators and students",
    tag="classrooms",
    responses={200: "The classroom", **_USER_ERRORS},
)
async def read_classroom(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user, classroom = await _classroom_and_user(request, db)
        require_can_see(user, classroom)
        result = await described_classroom(db, svc.presence, classroom, user)
    return json_response({"classroom": result})


@api.route(
    "PATCH",
    "/api/classrooms/{id}",
    summary="Rename, resize, or change moderators and students",
    access="its moderators",
    tag="classrooms",
    body=ClassroomPatchBody,
    responses={200: "Changed", 400: "Invalid", 403: "Not a moderator", **_USER_ERRORS},
)
async def patch_classroom(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user, classroom = await _classroom_and_user(request, db)
        require_can_manage_classroom(user, classroom)
        body = await read_body(request, ClassroomPatchBody)
        if body.name is not None:
            classroom.name = check_name(body.name)
        if body.seat_limit is not None:
            classroom.seat_limit = check_seat_limit(body.seat_limit, svc.config.classroom.max_seat_limit)
        moderators = None if body.moderators is None else await users_by_name(db, body.moderators)
        students = None if body.students is None else await users_by_name(db, body.students)
        set_members(classroom, moderators, students)
        await db.commit()
        result = await described_classroom(db, svc.presence, classroom, user)
    await svc.live.classroom_changed(classroom.id)
    return json_response({"classroom": result})


@api.route(
    "DELETE",
    "/api/classrooms/{id}",
    summary="Delete a classroom (its recordings are kept)",
    access="owner, admin",
    tag="classrooms",
    responses={204: "Deleted", 403: "Not the owner or an admin", **_USER_ERRORS},
)
async def delete_classroom(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user, classroom = await _classroom_and_user(request, db)
        require_can_delete_classroom(user, classroom)
        classroom_id = classroom.id
        await db.delete(classroom)
        await db.commit()
    await svc.live.classroom_deleted(classroom_id)
    return web.Response(status=204)
