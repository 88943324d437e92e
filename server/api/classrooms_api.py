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
    set_student_media,
    users_by_name,
    visible_classrooms,
)
from server.db.models import Classroom, User
from server.errors import FieldProblems, Invalid
from server.services import services

NAMES_MAX = 1000


class StudentMediaBody(Body):
    """What students may publish by default; a source left out keeps its setting."""

    microphone: bool | None = None
    camera: bool | None = None
    screen: bool | None = None

    def changes(self) -> dict[str, bool]:
        return {source: allowed for source, allowed in self.model_dump().items() if allowed is not None}


class NewClassroomBody(Body):
    name: str = Field(max_length=200)
    seat_limit: int | None = None
    moderators: list[str] = Field(default_factory=list, max_length=NAMES_MAX)
    students: list[str] = Field(default_factory=list, max_length=NAMES_MAX)
    student_media: StudentMediaBody | None = None


class ClassroomPatchBody(Body):
    name: str | None = Field(default=None, max_length=200)
    seat_limit: int | None = None
    moderators: list[str] | None = Field(default=None, max_length=NAMES_MAX)
    students: list[str] | None = Field(default=None, max_length=NAMES_MAX)
    student_media: StudentMediaBody | None = None


async def _users(
    db: AsyncSession, names: list[str] | None, field: str, problems: FieldProblems
) -> list[User] | None:
    """The users ``names`` lists (None: unchanged, or not found, which ``problems`` then notes)."""
    if names is None:
        return None
    try:
        return await users_by_name(db, names, field)
    except Invalid as exc:
        problems.note(exc, field)
        return None


async def _set_members(
    db: AsyncSession,
    classroom: Classroom,
    moderators: list[str] | None,
    students: list[str] | None,
    problems: FieldProblems,
) -> None:
    mods = await _users(db, moderators, "moderators", problems)
    studs = await _users(db, students, "students", problems)
    if not problems.has("moderators", "students"):
        problems.check("students", lambda: set_members(classroom, mods, studs))


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
        problems = FieldProblems()
        name = problems.check("name", lambda: check_name(body.name))
        seat_limit = limits.default_seat_limit if body.seat_limit is None else body.seat_limit
        seats = problems.check("seat_limit", lambda: check_seat_limit(seat_limit, limits.max_seat_limit))
        classroom = Classroom(name=name or "", owner=user, seat_limit=seats or 1, members=[])
        await _set_members(db, classroom, body.moderators, body.students, problems)
        problems.raise_if_any()
        if body.student_media is not None:
            set_student_media(classroom, body.student_media.changes())
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
    summary="Rename, resize, change moderators and students, or what students may publish",
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
        problems = FieldProblems()
        name: str | None = None
        if body.name is not None:
            typed = body.name
            name = problems.check("name", lambda: check_name(typed))
        seats: int | None = None
        if body.seat_limit is not None:
            wanted, maximum = body.seat_limit, svc.config.classroom.max_seat_limit
            seats = problems.check("seat_limit", lambda: check_seat_limit(wanted, maximum))
        await _set_members(db, classroom, body.moderators, body.students, problems)
        # Nothing is changed unless every field is right (the session is not committed).
        problems.raise_if_any()
        if name is not None:
            classroom.name = name
        if seats is not None:
            classroom.seat_limit = seats
        if body.student_media is not None:
            set_student_media(classroom, body.student_media.changes())
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
