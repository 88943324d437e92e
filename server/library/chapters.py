"""A recording's chapters: its start, each bookmark and each resume after a pause, in media order.

One list serves the player (``GET /api/recordings/{id}/chapters``), ``chapters.vtt`` and the downloaded
MP4's chapter track, so the three always agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Bookmark, Recording, TimelineEvent
from server.library.media_clock import MediaClock, as_utc
from server.library.recordings import is_active

ChapterKind = Literal["start", "bookmark", "resume"]
START_TITLE = "Start"
_ORDER: dict[str, int] = {"start": 0, "resume": 1, "bookmark": 2}
"A resume and a bookmark at the same media time: the resume opens the stretch the bookmark sits in."


@dataclass(frozen=True)
class Chapter:
    start_ms: int
    end_ms: int
    title: str
    kind: ChapterKind
    bookmark_id: int | None = None

    def json(self) -> dict[str, Any]:
        return asdict(self)


def bookmark_title(bookmark: Bookmark) -> str:
    """The label (or the code), then `` — `` and the remark if there is one."""
    name = bookmark.label or bookmark.code or ""
    remark = (bookmark.remark or "").strip()
    if name and remark:
        return f"{name} — {remark}"
    return name or remark or "Bookmark"


def recording_duration_ms(recording: Recording) -> int:
    """The file's length: the finished file's, or for an active recording its media time now."""
    if is_active(recording):
        clock = MediaClock.of(recording)
        now = clock.media_ms()
        if now is None and clock.paused_at is not None:
            now = clock.resume(clock.paused_at).media_ms(clock.paused_at)
        return now or 0
    return recording.duration_ms


async def recording_chapters(db: AsyncSession, recording: Recording) -> list[Chapter]:
    """ "Start" at 0, then every bookmark and every resume in media order, each ending where the next
    starts and the last at the recording's duration."""
    bookmarks = (await db.scalars(select(Bookmark).where(Bookmark.recording_id == recording.id))).all()
    resumes = (
        await db.scalars(
            select(TimelineEvent).where(
                TimelineEvent.recording_id == recording.id, TimelineEvent.type == "resumed"
            )
        )
    ).all()
    starts: list[tuple[int, ChapterKind, str, int | None, int]] = [(0, "start", START_TITLE, None, 0)]
    starts += [(b.media_ms, "bookmark", bookmark_title(b), b.id, b.id) for b in bookmarks]
    starts += [(e.media_ms, "resume", resume_title(e), None, e.id) for e in resumes]
    starts.sort(key=lambda s: (s[0], _ORDER[s[1]], s[4]))
    duration = recording_duration_ms(recording)
    chapters: list[Chapter] = []
    for index, (start, kind, title, bookmark_id, _) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else max(start, duration)
        chapters.append(Chapter(start, end, title, kind, bookmark_id))
    return chapters


def resume_title(event: TimelineEvent) -> str:
    """ "Resumed HH:MM:SS" in the server's local time of day (the class's clock on the wall)."""
    return f"Resumed {as_utc(event.at).astimezone():%H:%M:%S}"
