"""Replay into a live classroom: a moderator plays a recording (or one chapter) to everyone inside, pauses,
resumes and stops it (``server.replay``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from server.api.registry import Body, api, json_response, match_int, read_body
from server.auth.permissions import (
    can_replay,
    require_can_control_replay,
    require_can_replay,
    require_can_see,
)
from server.auth.sessions import require_user
from server.classrooms import get_classroom
from server.db.models import Bookmark, Classroom, Recording, User
from server.errors import Conflict, FieldProblems, NotFound, Unavailable
from server.library.chapters import recording_chapters
from server.library.files import path_under
from server.replay.supervisor import Replay
from server.services import Services, services

MAX_ID = (1 << 53) - 1


class ReplayBody(Body):
    # Strict: "1" or true is bad input here, not an id.
    recording_id: int = Field(gt=0, le=MAX_ID, strict=True)
    bookmark_id: int | None = Field(default=None, gt=0, le=MAX_ID, strict=True)
    loop: bool = Field(default=False, strict=True)


def _by(user: User) -> dict[str, Any]:
    return {"id": user.id, "display_name": user.display_name}


_ERRORS = {401: "Not logged in", 404: "No such classroom (or recording), or not visible to you"}


@api.route(
    "POST", "/api/classrooms/{id}/replay",
    summary="Replay a recording (or the chapter a bookmark opens) into the live classroom as a shared stream",
    access="the classroom's moderators who may view the recording", tag="replay", body=ReplayBody,
    responses={
        201: "The replay starts", 400: "Invalid (a bookmark of another recording)", 403: "Not a moderator",
        409: "A replay is already playing, or the recording is not ready", **_ERRORS,
    },
)  # fmt: skip
async def start_replay(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user = await require_user(request, db)
        classroom = await get_classroom(db, match_int(request, "id"))
        require_can_control_replay(user, classroom)
        body = await read_body(request, ReplayBody)
        recording = await db.get(Recording, body.recording_id)
        if recording is None:
            raise NotFound(f"recording {body.recording_id} does not exist")
        recording_classroom = (
            await db.get(Classroom, recording.classroom_id) if recording.classroom_id else None
        )
        require_can_replay(user, classroom, recording, recording_classroom)
        start_ms, end_ms = 0, None
        if body.bookmark_id is not None:
            bookmark = await db.get(Bookmark, body.bookmark_id)
            if bookmark is None or bookmark.recording_id != recording.id:
                problems = FieldProblems()
                problems.add("bookmark_id", "This bookmark is not one of this recording's.")
                raise problems.error()
            chapter = next(
                (c for c in await recording_chapters(db, recording) if c.bookmark_id == bookmark.id), None
            )
            start_ms = chapter.start_ms if chapter else bookmark.media_ms
            end_ms = chapter.end_ms if chapter else None
        path = _file_of(svc, recording)
        if svc.replays.get(classroom.id) is not None:
            raise Conflict("a replay is already playing in this classroom; stop it first")
        if not svc.recorders.server_url:
            raise Unavailable("the replay cannot reach this server yet; try again in a moment")
        replay = await svc.replays.start(
            classroom_id=classroom.id,
            recording_id=recording.id,
            name=recording.name,
            path=path,
            start_ms=start_ms,
            end_ms=end_ms,
            bookmark_id=body.bookmark_id,
            loop=body.loop,
            by=(user.id, user.display_name),
        )
    await svc.timeline.note(
        classroom.id,
        "replay_started",
        recording_id=replay.recording_id,
        name=replay.name,
        bookmark_id=replay.bookmark_id,
        loop=replay.loop,
        by=_by(user),
    )
    return json_response({"replay": replay.json()}, status=201)


def _file_of(svc: Services, recording: Recording) -> Any:
    try:
        path = path_under(svc.storage.recordings, recording.file_name or "")
    except ValueError:
        raise NotFound("this recording has no file") from None
    if not path.is_file():
        raise NotFound("this recording's file is missing")
    return path


async def _control(request: web.Request) -> tuple[Services, User, int]:
    svc = services(request)
    async with svc.db() as db:
        user = await require_user(request, db)
        classroom = await get_classroom(db, match_int(request, "id"))
        require_can_control_replay(user, classroom)
        return svc, user, classroom.id


_CONTROL = {200: "Done", 403: "Not a moderator", 404: "No replay in this classroom (or no such classroom)"}


@api.route(
    "POST", "/api/classrooms/{id}/replay/pause", summary="Pause the replay: nothing is sent until resumed",
    access="the classroom's moderators", tag="replay",
    responses={**_CONTROL, 401: "Not logged in", 409: "Already paused"},
)  # fmt: skip
async def pause_replay(request: web.Request) -> web.Response:
    svc, user, classroom_id = await _control(request)
    replay = await svc.replays.pause(classroom_id)
    await _note(svc, replay, "replay_paused", user)
    return json_response({"replay": replay.json()})


@api.route(
    "POST", "/api/classrooms/{id}/replay/resume", summary="Resume a paused replay where it stopped",
    access="the classroom's moderators", tag="replay",
    responses={**_CONTROL, 401: "Not logged in", 409: "Not paused"},
)  # fmt: skip
async def resume_replay(request: web.Request) -> web.Response:
    svc, user, classroom_id = await _control(request)
    replay = await svc.replays.resume(classroom_id)
    await _note(svc, replay, "replay_resumed", user)
    return json_response({"replay": replay.json()})


@api.route(
    "POST", "/api/classrooms/{id}/replay/stop", summary="Stop the replay: its tile goes from every page",
    access="the classroom's moderators", tag="replay", responses={**_CONTROL, 401: "Not logged in"},
)  # fmt: skip
async def stop_replay(request: web.Request) -> web.Response:
    svc, user, classroom_id = await _control(request)
    replay = await svc.replays.stop(classroom_id, _by(user))
    return json_response({"replay": replay.json()})


@api.route(
    "GET", "/api/classrooms/{id}/replay", summary="The replay playing in the classroom, or null",
    access="who can see the classroom", tag="replay", responses={200: "Replay or null", **_ERRORS},
)  # fmt: skip
async def current_replay(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user = await require_user(request, db)
        classroom = await get_classroom(db, match_int(request, "id"))
        require_can_see(user, classroom)
        if can_replay(user, classroom):
            svc.replays.prepare()  # a moderator's page: Play may come next
    replay = svc.replays.get(classroom.id)
    return json_response({"replay": replay.json() if replay else None})


async def _note(svc: Services, replay: Replay, kind: str, user: User) -> None:
    await svc.timeline.note(replay.classroom_id, kind, recording_id=replay.recording_id, by=_by(user))
