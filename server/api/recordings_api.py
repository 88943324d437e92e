"""REC and Resources → Recorded Classes: start and stop, list, rename, publish, delete, play, download."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from server.api.registry import Body, api, json_response, match_int, read_body
from server.auth.permissions import (
    require_can_manage_recording,
    require_can_record,
    require_can_see,
    require_can_stop,
)
from server.auth.sessions import require_user
from server.classrooms import get_classroom
from server.db.models import (
    DEFAULT_ROBOT_NAME,
    Classroom,
    Recording,
    RecordingMode,
    StopReason,
    User,
    UserSettings,
)
from server.errors import NotFound, Unavailable
from server.library.chapters import recording_chapters
from server.library.codes import find_codes_list
from server.library.files import content_disposition, download_name, path_under
from server.library.modes import require_mode
from server.library.mp4_chapters import Mp4Error, serve, with_chapters
from server.library.recordings import (
    RecordingActive,
    StorageFull,
    active_recording,
    check_name,
    create_recording,
    described,
    get_recording,
    is_active,
    require_viewable,
    visible_recordings,
)
from server.library.sessions import session_recording_ids
from server.library.tracks import delete_files, track_file_names
from server.services import Services, services

log = logging.getLogger(__name__)


class StartBody(Body):
    name: str | None = Field(default=None, max_length=400)
    codes_list: str | None = Field(default=None, max_length=1000)
    # What the robot writes: the mixed file, each participant's tracks, or both (if the admin allows it).
    mode: Literal["composite", "tracks", "both"] = "composite"


class RecordingPatchBody(Body):
    name: str | None = Field(default=None, max_length=400)
    published: bool | None = None


async def _recording_and_classroom(
    request: web.Request, db: AsyncSession
) -> tuple[User, Recording, Classroom | None]:
    user = await require_user(request, db)
    recording = await get_recording(db, match_int(request, "id"))
    # A composite session's recording is seen through any classroom it covers.
    classroom = await require_viewable(db, user, recording)
    return user, recording, classroom


_REC_ERRORS = {401: "Not logged in", 404: "No such classroom, or not visible to you"}


@api.route(
    "POST", "/api/classrooms/{id}/recording",
    summary="Start recording (REC): the robot joins the class; mode composite (default), tracks or both",
    access="the classroom's moderators", tag="recordings", body=StartBody,
    responses={
        201: "Recording starts",
        403: "Not a moderator, or the admin does not allow this mode (mode_refused)",
        409: "Already recording (recording_active)",
        507: "Not enough free space (storage_full)", **_REC_ERRORS,
    },
)  # fmt: skip
async def start_recording(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user = await require_user(request, db)
        classroom = await get_classroom(db, match_int(request, "id"))
        require_can_record(user, classroom)
        body = await read_body(request, StartBody)
        await require_mode(db, svc.config, body.mode)
        codes = find_codes_list(classroom, body.codes_list) if body.codes_list is not None else None
        await _check_space(svc)
        if not svc.recorders.server_url:
            raise Unavailable("the recorder cannot reach this server yet; try again in a moment")
        settings = await db.get(UserSettings, user.id)
        robot_name = settings.robot_name if settings else DEFAULT_ROBOT_NAME
        recording = await create_recording(
            db, classroom, user, robot_name, body.name, mode=RecordingMode(body.mode)
        )
        if codes is not None:
            recording.codes_list = json.dumps(codes, ensure_ascii=False)
            await db.commit()
        result = await described(db, recording, user)
    await svc.timeline.refresh(classroom.id)
    await svc.recorders.start(recording, classroom.name)
    return json_response({"recording": result}, status=201)


async def _check_space(svc: Services) -> None:
    status = await svc.storage.check()
    floor = svc.config.recording.min_free_bytes
    if not status.ok or status.free_bytes < floor:
        free_mib, floor_mib = status.free_bytes // 2**20, floor // 2**20
        raise StorageFull(f"not enough free space to record: {free_mib} MiB free, {floor_mib} MiB needed")


async def recording_to_stop(request: web.Request, svc: Services) -> tuple[User, int]:
    """The user and the classroom's running recording, once they may stop it (and so pause or resume it):
    404 when nothing records there, 403 for anyone but its starter (still a moderator) or an admin."""
    async with svc.db() as db:
        user = await require_user(request, db)
        classroom = await get_classroom(db, match_int(request, "id"))
        require_can_see(user, classroom)
        recording = await active_recording(db, classroom.id)
        if recording is None:
            raise NotFound("this classroom is not being recorded")
        require_can_stop(user, recording, classroom)
        return user, recording.id


@api.route(
    "POST", "/api/classrooms/{id}/recording/stop",
    summary="Stop the recording (and every recording of its session); the files are ready at once",
    access="the moderator who started it while still a moderator, admins", tag="recordings",
    responses={200: "Stopped", 403: "Not the starter or an admin", **_REC_ERRORS},
)  # fmt: skip
async def stop_recording(request: web.Request) -> web.Response:
    svc = services(request)
    user, recording_id = await recording_to_stop(request, svc)
    await svc.recorders.stop(recording_id, StopReason.STOPPED)
    async with svc.db() as db:
        together = await session_recording_ids(db, recording_id)
    # A session's recordings all stopped with this one: the answer waits until every one is ready.
    await asyncio.gather(*(svc.recorders.wait(one) for one in together))
    async with svc.db() as db:
        result = await described(db, await get_recording(db, recording_id), user)
    return json_response({"recording": result})


@api.route(
    "GET", "/api/classrooms/{id}/recording", summary="The classroom's recording in progress, or null",
    access="who can see the classroom", tag="recordings", responses={200: "Recording or null", **_REC_ERRORS},
)  # fmt: skip
async def current_recording(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user = await require_user(request, db)
        classroom = await get_classroom(db, match_int(request, "id"))
        require_can_see(user, classroom)
        recording = await active_recording(db, classroom.id)
        result = await described(db, recording, user, files=svc.storage.recordings) if recording else None
    return json_response({"recording": result})


@api.route(
    "GET", "/api/recordings",
    summary="Recordings of classrooms I moderate, published ones of classrooms I attend (all, for admins)",
    access="user", tag="recordings", responses={200: "Recordings", 401: "Not logged in"},
)  # fmt: skip
async def list_recordings(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        body = await visible_recordings(db, await require_user(request, db), files=svc.storage.recordings)
    return json_response({"recordings": body})


@api.route(
    "GET", "/api/recordings/{id}", summary="One recording", access="who may view it", tag="recordings",
    responses={200: "The recording", 401: "Not logged in", 404: "No such recording, or not visible"},
)  # fmt: skip
async def read_recording(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user, recording, _ = await _recording_and_classroom(request, db)
        return json_response(
            {"recording": await described(db, recording, user, files=svc.storage.recordings)}
        )


@api.route(
    "PATCH", "/api/recordings/{id}", summary="Rename a recording or publish it to the classroom's students",
    access="the classroom's moderators, admins", tag="recordings", body=RecordingPatchBody,
    responses={200: "Changed", 400: "Invalid", 403: "Not allowed", 404: "No such recording"},
)  # fmt: skip
async def patch_recording(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user, recording, classroom = await _recording_and_classroom(request, db)
        require_can_manage_recording(user, recording, classroom)
        body = await read_body(request, RecordingPatchBody)
        if body.name is not None:
            recording.name = check_name(body.name)
        if body.published is not None:
            recording.published = body.published
        await db.commit()
        return json_response(
            {"recording": await described(db, recording, user, files=svc.storage.recordings)}
        )


@api.route(
    "DELETE", "/api/recordings/{id}", summary="Delete a recording, its file and its tracks' files",
    access="the classroom's moderators, admins", tag="recordings",
    responses={204: "Deleted", 403: "Not allowed", 404: "No such recording", 409: "Still recording"},
)  # fmt: skip
async def delete_recording(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user, recording, classroom = await _recording_and_classroom(request, db)
        require_can_manage_recording(user, recording, classroom)
        if is_active(recording):
            raise RecordingActive("stop the recording before deleting it")
        file_name = recording.file_name
        tracks = await track_file_names(db, recording.id)
        recording_id = recording.id
        await db.delete(recording)
        await db.commit()
    await svc.replays.stop_replays_of(recording_id)  # its id may be given to another recording later
    if file_name:
        await asyncio.to_thread(_delete_file, svc.storage.recordings, file_name)
    await asyncio.to_thread(delete_files, svc.storage.recordings, tracks)
    return web.Response(status=204)


def _delete_file(root: Path, file_name: str) -> None:
    """The recording's file and its thumbnail go (blocking)."""
    path = path_under(root, file_name)
    for item in (path, path.with_suffix(".jpg")):
        item.unlink(missing_ok=True)


@api.route(
    "GET", "/api/recordings/{id}/media",
    summary="The recording's MP4 (HTTP Range; ?download=1 to save it, with its chapters in the file)",
    access="who may view it", tag="recordings",
    responses={
        200: "video/mp4", 206: "Part of it", 404: "No such recording or no file yet",
        416: "Range past the end",
    },
)  # fmt: skip
async def recording_media(request: web.Request) -> web.StreamResponse:
    """Playback serves the file as it is; a download carries the chapters so far (bookmarks, resumes) in
    its ``moov``, added as it is sent (server/library/mp4_chapters.py), so nothing is rewritten at Stop."""
    svc = services(request)
    download = request.query.get("download") == "1"
    async with svc.db() as db:
        _, recording, _ = await _recording_and_classroom(request, db)
        chapters = await recording_chapters(db, recording) if download else []
    if not recording.file_name:
        raise NotFound("this recording has no file")
    path = path_under(svc.storage.recordings, recording.file_name)
    if not path.is_file():
        raise NotFound("this recording's file is gone")
    disposition = "attachment" if request.query.get("download") == "1" else "inline"
    headers = {
        "Content-Type": "video/mp4",
        "Content-Disposition": content_disposition(disposition, download_name(recording.name)),
        "Cache-Control": "private, no-cache",
    }
    if download:
        try:
            virtual = await asyncio.to_thread(with_chapters, path, chapters)
        except FileNotFoundError:
            raise NotFound("this recording's file is gone") from None
        except Mp4Error as exc:
            log.warning("recording %s downloads without chapters: %s", recording.id, exc)
        else:
            return await serve(request, virtual, headers)
    refused = _unsatisfiable(request, path)
    if refused is not None:
        return refused
    return web.FileResponse(path, headers=headers)


def _unsatisfiable(request: web.Request, path: Path) -> web.Response | None:
    """The API's JSON 416 for a Range that aiohttp's FileResponse would refuse with an empty body (one it
    cannot parse, several ranges, or one starting past the end); None when the range can be served."""
    size = path.stat().st_size
    try:
        asked = request.http_range
    except ValueError:
        message = "the Range header must be one range of bytes, e.g. bytes=0-1023"
    else:
        if asked.start is None or asked.start < size:
            return None
        message = f"the range asked for starts past the end of the file ({size} bytes)"
    return web.json_response(
        {"error": {"code": "invalid", "message": message}},
        status=416,
        headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
    )


@api.route(
    "GET", "/api/recordings/{id}/thumbnail", summary="A frame of the recording (JPEG)",
    access="who may view it", tag="recordings", responses={200: "image/jpeg", 404: "No thumbnail"},
)  # fmt: skip
async def recording_thumbnail(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    async with svc.db() as db:
        _, recording, _ = await _recording_and_classroom(request, db)
    path = path_under(svc.storage.recordings, recording.file_name or "x").with_suffix(".jpg")
    if not path.is_file():
        raise NotFound("no thumbnail for this recording")
    return web.FileResponse(
        path, headers={"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=60"}
    )
