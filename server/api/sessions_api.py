"""Recording sessions over several classrooms: start one (composite or separate) and read it."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field

from server.api.recordings_api import _check_space
from server.api.registry import Body, api, json_response, match_int, read_body
from server.api.replay_api import MAX_ID
from server.auth.permissions import can_see, is_moderator
from server.auth.sessions import require_user
from server.db.models import DEFAULT_ROBOT_NAME, Classroom, SessionMode, UserSettings
from server.errors import Forbidden, Invalid, NotFound, Unavailable
from server.library.modes import require_mode
from server.library.sessions import (
    MAX_CLASSROOMS,
    MIN_CLASSROOMS,
    get_session,
    session_json,
    start_session,
)
from server.services import services


class SessionBody(Body):
    # 2 to 20 distinct ids, checked below so the message says so in words.
    classroom_ids: list[Annotated[int, Field(gt=0, le=MAX_ID, strict=True)]] = Field(max_length=1000)
    mode: Literal["composite", "separate"]
    name: str | None = Field(default=None, max_length=400)


def _check_ids(ids: list[int]) -> None:
    if len(set(ids)) != len(ids):
        raise Invalid.of_field("classroom_ids", "Each classroom may be chosen only once.")
    if not MIN_CLASSROOMS <= len(ids) <= MAX_CLASSROOMS:
        raise Invalid.of_field(
            "classroom_ids",
            f"A session records {MIN_CLASSROOMS} to {MAX_CLASSROOMS} classrooms; {len(ids)} were chosen.",
        )


@api.route(
    "POST", "/api/recording-sessions",
    summary="Record several classrooms at once: one composite file of all of them, or one recording per "
    "classroom (separate) with the same name and number; stopping any of them stops the whole session",
    access="a moderator of every classroom chosen", tag="recordings", body=SessionBody,
    responses={
        201: "The session starts: {session}",
        400: "Not 2 to 20 distinct classrooms, or an invalid name (invalid)",
        401: "Not logged in",
        403: "Not a moderator of one of them (named), or the admin does not allow this mode (mode_refused)",
        404: "No such classroom, or not visible to you",
        409: "A classroom is already recording (recording_active, naming it and who records it)",
        503: "The recorder cannot reach the server yet",
        507: "Not enough free space (storage_full)",
    },
)  # fmt: skip
async def start_recording_session(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user = await require_user(request, db)
        body = await read_body(request, SessionBody)
        _check_ids(body.classroom_ids)
        classrooms: list[Classroom] = []
        for classroom_id in body.classroom_ids:
            classroom = await db.get(Classroom, classroom_id)
            if classroom is None or not can_see(user, classroom):
                raise NotFound(f"classroom {classroom_id} does not exist")
            if not is_moderator(user, classroom):
                raise Forbidden(f"only the classroom's moderators can record {classroom.name}")
            classrooms.append(classroom)
        await require_mode(db, svc.config, f"multi_{body.mode}")
        await _check_space(svc)
        if not svc.recorders.server_url:
            raise Unavailable("the recorder cannot reach this server yet; try again in a moment")
        settings = await db.get(UserSettings, user.id)
        robot_name = settings.robot_name if settings else DEFAULT_ROBOT_NAME
        session, recordings = await start_session(
            db, classrooms, user, robot_name, SessionMode(body.mode), body.name
        )
        result = await session_json(db, session, user)
    for classroom in classrooms:
        await svc.timeline.refresh(classroom.id)
    names = {classroom.id: classroom.name for classroom in classrooms}
    await asyncio.gather(
        *(svc.recorders.start(r, names.get(r.classroom_id or 0, r.classroom_name)) for r in recordings)
    )
    return json_response({"session": result}, status=201)


@api.route(
    "GET", "/api/recording-sessions/{id}",
    summary="A recording session: its mode, name, number, classrooms and the recordings of it you may view",
    access="who may view one of its recordings, its starter, admins", tag="recordings",
    responses={200: "{session}", 401: "Not logged in", 404: "No such session, or not visible to you"},
)  # fmt: skip
async def read_recording_session(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user = await require_user(request, db)
        session = await get_session(db, match_int(request, "id"))
        result = await session_json(db, session, user, files=svc.storage.recordings)
    return json_response({"session": result})
