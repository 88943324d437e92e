"""A recording's timeline, chapters and bookmarks, and their exports (text and WebVTT)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from server.api.registry import api, json_response, match_int, read_body
from server.auth.permissions import (
    require_can_bookmark,
    require_can_manage_recording,
)
from server.auth.sessions import require_user
from server.db.models import Classroom, Recording, User
from server.library.bookmarks import (
    BookmarkBody,
    BookmarkPatchBody,
    add_bookmark,
    described_bookmark,
    edit_bookmark,
    get_bookmark,
    recording_bookmarks,
)
from server.library.chapters import recording_chapters, recording_duration_ms
from server.library.files import content_disposition, download_name
from server.library.recordings import get_recording, require_viewable
from server.library.timeline import clock_anchors, event_json, events_as_now, recording_events
from server.library.timeline_export import chapters_vtt, chat_vtt, timeline_text
from server.services import Services, services
from server.signalling.namespace_core import NAMESPACE
from server.signalling.protocol import BookmarkAdded

log = logging.getLogger(__name__)

_ERRORS = {401: "Not logged in", 404: "No such recording, or not visible to you"}
_CHANGE_ERRORS = {**_ERRORS, 400: "Invalid (fields name each problem)", 403: "Not a moderator"}


async def _viewed(request: web.Request, db: AsyncSession) -> tuple[User, Recording, Classroom | None]:
    user = await require_user(request, db)
    recording = await get_recording(db, match_int(request, "id"))
    # A composite session's recording is seen through any classroom it covers.
    classroom = await require_viewable(db, user, recording)
    return user, recording, classroom


def _file(text: str, content_type: str, name: str, suffix: str) -> web.Response:
    """A text export, shown inline, named after the recording should it be saved."""
    return web.Response(
        text=text,
        content_type=content_type,
        charset="utf-8",
        headers={
            "Content-Disposition": content_disposition(
                "inline", download_name(name).removesuffix(".mp4") + suffix
            ),
            "Cache-Control": "private, no-cache",
        },
    )


@api.route(
    "GET", "/api/recordings/{id}/timeline",
    summary="Every event of the recorded class at its media time, and the clock to the original time",
    access="who may view it", tag="recordings", responses={200: "Events and clock anchors", **_ERRORS},
)  # fmt: skip
async def read_timeline(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        _, recording, _ = await _viewed(request, db)
        events = await events_as_now(db, recording)
        anchors = clock_anchors(recording, events)
        return json_response(
            {"events": [event_json(e) for e in events], "clock": [a.json() for a in anchors]}
        )


@api.route(
    "GET", "/api/recordings/{id}/timeline.txt",
    summary="The timeline as text: one line per event, the original time of day first",
    access="who may view it", tag="recordings", responses={200: "text/plain", **_ERRORS},
)  # fmt: skip
async def read_timeline_text(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        _, recording, _ = await _viewed(request, db)
        events = await events_as_now(db, recording)
    return _file(timeline_text(events), "text/plain", recording.name, ".txt")


@api.route(
    "GET", "/api/recordings/{id}/chapters",
    summary="The recording's chapters: its start, each bookmark and each resume",
    access="who may view it", tag="recordings", responses={200: "Chapters", **_ERRORS},
)  # fmt: skip
async def read_chapters(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        _, recording, _ = await _viewed(request, db)
        chapters = await recording_chapters(db, recording)
    return json_response({"chapters": [c.json() for c in chapters]})


@api.route(
    "GET", "/api/recordings/{id}/chapters.vtt", summary="The chapters as WebVTT",
    access="who may view it", tag="recordings", responses={200: "text/vtt", **_ERRORS},
)  # fmt: skip
async def read_chapters_vtt(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        _, recording, _ = await _viewed(request, db)
        chapters = await recording_chapters(db, recording)
    return _file(chapters_vtt(chapters), "text/vtt", recording.name, ".chapters.vtt")


@api.route(
    "GET", "/api/recordings/{id}/chat.vtt", summary="The class's chat as WebVTT, in sync with the file",
    access="who may view it", tag="recordings", responses={200: "text/vtt", **_ERRORS},
)  # fmt: skip
async def read_chat_vtt(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        _, recording, _ = await _viewed(request, db)
        events = await recording_events(db, recording.id)
    return _file(chat_vtt(events, recording_duration_ms(recording)), "text/vtt", recording.name, ".chat.vtt")


@api.route(
    "GET", "/api/recordings/{id}/bookmarks", summary="The recording's bookmarks in media order",
    access="who may view it", tag="recordings", responses={200: "Bookmarks", **_ERRORS},
)  # fmt: skip
async def list_bookmarks(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        _, recording, _ = await _viewed(request, db)
        return json_response({"bookmarks": await recording_bookmarks(db, recording)})


@api.route(
    "POST", "/api/recordings/{id}/bookmarks",
    summary="Bookmark this moment of the recording (a code of its list and/or a remark)",
    access="who may record in its classroom", tag="recordings", body=BookmarkBody,
    responses={
        201: "Bookmark added", 409: "The recording is not running, or is paused (conflict)", **_CHANGE_ERRORS,
    },
)  # fmt: skip
async def post_bookmark(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        user, recording, classroom = await _viewed(request, db)
        require_can_bookmark(user, recording, classroom)
        body = await read_body(request, BookmarkBody)
        bookmark, at = await add_bookmark(db, recording, user, body)
        result = await described_bookmark(db, recording, bookmark)
    await svc.timeline.note_recording(
        recording.id,
        "bookmark",
        at,
        bookmark.media_ms,
        bookmark_id=bookmark.id,
        code=bookmark.code,
        label=bookmark.label,
        remark=bookmark.remark,
        by={"id": user.id, "display_name": user.display_name},
    )
    # Every classroom it records (a composite session's) hears of it.
    covered = [c.classroom_id for c in recording.covers if c.classroom_id is not None]
    if recording.classroom_id is not None and recording.classroom_id not in covered:
        covered.insert(0, recording.classroom_id)
    for classroom_id in covered:
        await _tell_moderators(svc, classroom_id, result)
    return json_response({"bookmark": result}, status=201)


async def _tell_moderators(svc: Services, classroom_id: int, bookmark: dict[str, Any]) -> None:
    """``bookmark_added`` to the classroom's moderators in the class (the one who added it included: it
    may have come from another tab or the API)."""
    room = svc.presence.room(classroom_id)
    sids = [p.sid for p in room.participants.values() if p.moderator and not p.robot] if room else []
    body = BookmarkAdded(bookmark=bookmark).model_dump(mode="json", by_alias=True)
    for sid in sids:
        try:
            await svc.sio.emit(BookmarkAdded.event, body, to=sid, namespace=NAMESPACE)
        except Exception:
            log.exception("bookmark_added not sent", extra={"classroom_id": classroom_id})


@api.route(
    "PATCH", "/api/recordings/{id}/bookmarks/{bookmark_id}",
    summary="Change a bookmark's code, remark or media time", access="the classroom's moderators, admins",
    tag="recordings", body=BookmarkPatchBody, responses={200: "Changed", **_CHANGE_ERRORS},
)  # fmt: skip
async def patch_bookmark(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        user, recording, classroom = await _viewed(request, db)
        require_can_manage_recording(user, recording, classroom)
        bookmark = await get_bookmark(db, recording, match_int(request, "bookmark_id"))
        edit_bookmark(recording, bookmark, await read_body(request, BookmarkPatchBody))
        await db.commit()
        return json_response({"bookmark": await described_bookmark(db, recording, bookmark)})


@api.route(
    "DELETE", "/api/recordings/{id}/bookmarks/{bookmark_id}", summary="Delete a bookmark",
    access="the classroom's moderators, admins", tag="recordings",
    responses={204: "Deleted", 403: "Not a moderator", **_ERRORS},
)  # fmt: skip
async def delete_bookmark(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        user, recording, classroom = await _viewed(request, db)
        require_can_manage_recording(user, recording, classroom)
        bookmark = await get_bookmark(db, recording, match_int(request, "bookmark_id"))
        await db.delete(bookmark)
        await db.commit()
    return web.Response(status=204)
