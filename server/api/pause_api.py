"""Pause and resume a classroom's recording: one file, with the paused span cut out of it.

Who may stop a recording may pause it (``require_can_stop``). The supervisor stores the instant, tells
the robot and the classroom (``recording_state`` carries ``paused``), and writes ``paused`` / ``resumed``
on the class timeline.
"""

from __future__ import annotations

from aiohttp import web

from server.api.recordings_api import recording_to_stop
from server.api.registry import api, json_response
from server.db.models import User
from server.library.recordings import described, get_recording
from server.services import Services, services

_ERRORS = {
    401: "Not logged in",
    403: "Not the starter or an admin",
    404: "No such classroom, not visible to you, or not being recorded",
}


async def _answer(svc: Services, user: User, recording_id: int) -> web.Response:
    async with svc.db() as db:
        recording = await get_recording(db, recording_id)
        body = await described(db, recording, user, files=svc.storage.recordings)
    return json_response({"recording": body})


@api.route(
    "POST", "/api/classrooms/{id}/recording/pause",
    summary="Pause the recording: nothing of the class is kept until Resume; the robot stays in the class",
    access="who may stop it: its starter while a moderator, admins", tag="recordings",
    responses={200: "Paused", 409: "Already paused, still starting, or stopping (conflict)", **_ERRORS},
)  # fmt: skip
async def pause_recording(request: web.Request) -> web.Response:
    svc = services(request)
    user, recording_id = await recording_to_stop(request, svc)
    await svc.recorders.pause(recording_id, user, svc.timeline)
    return await _answer(svc, user, recording_id)


@api.route(
    "POST", "/api/classrooms/{id}/recording/resume",
    summary="Resume a paused recording: the same file continues, with a chapter",
    access="who may stop it: its starter while a moderator, admins", tag="recordings",
    responses={200: "Recording again", 409: "Not paused, or stopping (conflict)", **_ERRORS},
)  # fmt: skip
async def resume_recording(request: web.Request) -> web.Response:
    svc = services(request)
    user, recording_id = await recording_to_stop(request, svc)
    await svc.recorders.resume(recording_id, user, svc.timeline)
    return await _answer(svc, user, recording_id)
