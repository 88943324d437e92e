"""Bookmarks: a moderator's code and/or remark at a moment of a recording, added while it runs and
edited afterwards. Each one is a chapter of the recording (``server/library/chapters.py``) and, when added,
a ``bookmark`` event of its timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.api.registry import Body
from server.db.models import Bookmark, Recording, RecordingState, User
from server.errors import Conflict, Invalid, NotFound
from server.library.chapters import recording_duration_ms
from server.library.codes import code_label
from server.library.media_clock import MediaClock
from server.library.timeline import Anchor, clock_anchors, iso_ms, original_time, recording_events
from server.names import check_message
from server.timefmt import iso

REMARK_MAX = 2000
MAX_BOOKMARKS = 1000
"Bookmarks one recording may hold: far more than a class is scored with, few enough to list at once."


class BookmarkBody(Body):
    code: str | None = Field(default=None, max_length=400)
    remark: str | None = Field(default=None, max_length=100_000)


class BookmarkPatchBody(BookmarkBody):
    media_ms: int | None = Field(default=None, ge=0, lt=1 << 53, strict=True)


def check_remark(remark: str | None) -> str | None:
    """The remark trimmed (None when empty), line breaks kept; ``Invalid`` on ``remark`` when it is longer
    than ``REMARK_MAX`` or holds control characters."""
    if remark is None or not remark.strip():
        return None
    if len(remark.strip()) > REMARK_MAX:
        raise Invalid.of_field("remark", f"Use at most {REMARK_MAX} characters.")
    try:
        return check_message(remark, "remark", REMARK_MAX)
    except Invalid as exc:
        raise Invalid.of_field("remark", exc.message.removeprefix("remark: ").capitalize()) from None


def _code(recording: Recording, code: str | None) -> tuple[str | None, str | None]:
    if code is None or not code.strip():
        return None, None
    return code.strip(), code_label(recording, code.strip())


def bookmark_json(bookmark: Bookmark, creator: User | None, anchors: Sequence[Anchor]) -> dict[str, Any]:
    """A Bookmark on the wire; ``at`` is the original time of day of its media time."""
    return {
        "id": bookmark.id,
        "recording_id": bookmark.recording_id,
        "code": bookmark.code,
        "label": bookmark.label,
        "remark": bookmark.remark,
        "media_ms": bookmark.media_ms,
        "at": iso_ms(original_time(anchors, bookmark.media_ms)),
        "created_by": {"id": creator.id, "display_name": creator.display_name} if creator else None,
        "created_at": iso(bookmark.created_at),
        "updated_at": iso(bookmark.updated_at),
    }


async def recording_anchors(db: AsyncSession, recording: Recording) -> list[Anchor]:
    return clock_anchors(recording, await recording_events(db, recording.id))


async def recording_bookmarks(db: AsyncSession, recording: Recording) -> list[dict[str, Any]]:
    """The recording's bookmarks in media order."""
    rows = (
        await db.execute(
            select(Bookmark, User)
            .outerjoin(User, Bookmark.created_by_id == User.id)
            .where(Bookmark.recording_id == recording.id)
            .order_by(Bookmark.media_ms, Bookmark.id)
        )
    ).all()
    anchors = await recording_anchors(db, recording)
    return [bookmark_json(bookmark, creator, anchors) for bookmark, creator in rows]


async def described_bookmark(db: AsyncSession, recording: Recording, bookmark: Bookmark) -> dict[str, Any]:
    creator = await db.get(User, bookmark.created_by_id) if bookmark.created_by_id else None
    return bookmark_json(bookmark, creator, await recording_anchors(db, recording))


async def add_bookmark(
    db: AsyncSession, recording: Recording, user: User, body: BookmarkBody
) -> tuple[Bookmark, datetime]:
    """A bookmark at media time now, committed; with the wall-clock moment it marks. Refused (409) unless
    the recording runs and is not paused, and (400) for a code not in its list or a remark too long."""
    if recording.state not in (RecordingState.STARTING.value, RecordingState.RECORDING.value):
        raise Conflict("bookmarks are added while recording; this recording is not running")
    at = datetime.now(UTC)
    media_ms = MediaClock.of(recording).media_ms(at)
    if media_ms is None:
        raise Conflict("the recording is paused: resume it to add a bookmark")
    code, label = _code(recording, body.code)
    remark = check_remark(body.remark)
    count = await db.scalar(select(func.count()).where(Bookmark.recording_id == recording.id))
    if (count or 0) >= MAX_BOOKMARKS:
        raise Conflict(f"this recording already has {MAX_BOOKMARKS} bookmarks")
    bookmark = Bookmark(
        recording_id=recording.id,
        code=code,
        label=label,
        remark=remark,
        media_ms=media_ms,
        created_by_id=user.id,
        created_at=at,
        updated_at=at,
    )
    db.add(bookmark)
    await db.commit()
    return bookmark, at


async def get_bookmark(db: AsyncSession, recording: Recording, bookmark_id: int) -> Bookmark:
    bookmark = await db.get(Bookmark, bookmark_id)
    if bookmark is None or bookmark.recording_id != recording.id:
        raise NotFound(f"bookmark {bookmark_id} of recording {recording.id} does not exist")
    return bookmark


def edit_bookmark(recording: Recording, bookmark: Bookmark, body: BookmarkPatchBody) -> None:
    """Apply the fields given (``code`` or ``remark`` null: removed); the media time must fall within
    the recording. Checks every field before changing any."""
    given = body.model_fields_set
    code, label = _code(recording, body.code) if "code" in given else (bookmark.code, bookmark.label)
    remark = check_remark(body.remark) if "remark" in given else bookmark.remark
    media_ms = bookmark.media_ms
    if "media_ms" in given:
        if body.media_ms is None:
            raise Invalid.of_field("media_ms", "Give the bookmark's time in milliseconds.")
        duration = recording_duration_ms(recording)
        if body.media_ms > duration:
            raise Invalid.of_field("media_ms", f"The recording is {duration} ms long.")
        media_ms = body.media_ms
    bookmark.code, bookmark.label, bookmark.remark, bookmark.media_ms = code, label, remark, media_ms
    bookmark.updated_at = datetime.now(UTC)
