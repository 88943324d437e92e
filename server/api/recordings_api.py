"""Resources → Recorded Classes: the recordings a user may see."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.api.registry import api, json_response
from server.auth.permissions import can_see, is_admin, is_moderator
from server.auth.sessions import require_user
from server.db.models import Classroom, Recording
from server.services import services
from server.timefmt import iso


def recording_json(recording: Recording) -> dict[str, Any]:
    return {
        "id": recording.id,
        "name": recording.name,
        "classroom": {"id": recording.classroom_id, "name": recording.classroom_name},
        "state": recording.state,
        "started_at": iso(recording.started_at),
        "stopped_at": iso(recording.stopped_at),
        "duration_ms": recording.duration_ms,
        "size_bytes": recording.size_bytes,
        "published": recording.published,
    }


@api.route(
    "GET",
    "/api/recordings",
    summary="Recordings of classrooms I moderate, published ones of classrooms I attend (all, for admins)",
    access="user",
    tag="recordings",
    responses={200: "Recordings", 401: "Not logged in"},
)
async def list_recordings(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        user = await require_user(request, db)
        rows = (
            await db.execute(
                select(Recording, Classroom)
                .outerjoin(Classroom, Recording.classroom_id == Classroom.id)
                .order_by(Recording.started_at.desc(), Recording.id.desc())
            )
        ).all()
    visible = [
        recording
        for recording, classroom in rows
        if is_admin(user)
        or (
            classroom is not None
            and (is_moderator(user, classroom) or (recording.published and can_see(user, classroom)))
        )
    ]
    return json_response({"recordings": [recording_json(r) for r in visible]})
