"""The class timeline: every event of a recorded class, written beside the media as it happens.

The classroom handlers call :meth:`Timeline.note` for what happens in the class (joins, chat, hands,
speaker, mute, screen share, consent); it costs no database read: each classroom's active recording and
its :class:`MediaClock` are cached here and re-read by :meth:`Timeline.refresh` when the recording starts,
stops, pauses or resumes. Events go, in the order they were noted, to one writer task that commits each
one (or the few that arrived together) at once, so a crash of the robot or the server keeps every event
noted before it, and the classroom handlers never wait for the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import Bookmark, Recording, RecordingState, TimelineEvent, User
from server.library.media_clock import MediaClock, as_utc
from server.library.recordings import active_recording
from server.rooms.presence import Presence

log = logging.getLogger(__name__)

EVENT_TYPES = frozenset(
    {
        "recording_started",
        "join",
        "leave",
        "chat",
        "hand_raised",
        "hand_lowered",
        "speaker",
        "screen_share_started",
        "screen_share_stopped",
        "muted",
        "unmuted",
        "consent",
        "paused",
        "resumed",
        "bookmark",
        "replay_started",
        "replay_paused",
        "replay_resumed",
        "replay_stopped",
        "recording_stopped",
    }
)
_RUNNING = (RecordingState.STARTING.value, RecordingState.RECORDING.value)


def iso_ms(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: timeline times are finer than the API's seconds."""
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def media_ms_at(clock: MediaClock, at: datetime) -> int:
    """The media time of ``at``; during a pause, where the media stopped (a recording stopped while
    paused ends there)."""
    media = clock.media_ms(at)
    if media is None:
        assert clock.paused_at is not None
        media = clock.resume(clock.paused_at).media_ms(clock.paused_at)
    return media or 0


@dataclass(frozen=True)
class _Live:
    """The classroom's recording as the timeline knows it: where its events go and how media time runs."""

    recording_id: int
    clock: MediaClock


@dataclass(frozen=True)
class _Pending:
    recording_id: int
    type: str
    media_ms: int
    at: datetime
    data: dict[str, Any]


class Timeline:
    def __init__(self, db: async_sessionmaker[AsyncSession], presence: Presence) -> None:
        self._db = db
        self._presence = presence
        self._live: dict[int, _Live] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._opened: set[int] = set()
        "Recordings whose ``recording_started`` is noted (once, whichever covered classroom is first)."
        self._queue: asyncio.Queue[_Pending] | None = None
        self._writer: asyncio.Task[None] | None = None

    # -- writing --------------------------------------------------------------------------------------

    async def note(self, classroom_id: int, type: str, **data: Any) -> None:
        """An event of the class now, if it is being recorded and not paused (else nothing is kept)."""
        try:
            live = self._live.get(classroom_id)
            if live is None:
                return
            at = datetime.now(UTC)
            media = live.clock.media_ms(at)
            if media is not None:
                self._put(_Pending(live.recording_id, type, media, at, data))
        except Exception:
            log.exception("timeline event lost", extra={"classroom_id": classroom_id, "type": type})

    async def note_recording(
        self, recording_id: int, type: str, at: datetime, media_ms: int, **data: Any
    ) -> None:
        """An event of one recording at a given moment, paused or not (pause, resume, bookmark)."""
        try:
            self._put(_Pending(recording_id, type, max(0, media_ms), as_utc(at), data))
        except Exception:
            log.exception("timeline event lost", extra={"recording_id": recording_id, "type": type})

    def recording_of(self, classroom_id: int) -> int | None:
        """The recording the classroom's events go to now (None: not recording)."""
        live = self._live.get(classroom_id)
        return live.recording_id if live is not None else None

    async def refresh(self, classroom_id: int) -> None:
        """Re-read the classroom's active recording: a new one opens with ``recording_started`` (who is in
        the class at media time 0), one that ended closes with ``recording_stopped``, and a pause or
        resume takes effect on the cached clock."""
        lock = self._locks.setdefault(classroom_id, asyncio.Lock())
        try:
            async with lock, self._db() as db:
                await self._refresh(db, classroom_id)
        except Exception:
            log.exception("timeline not refreshed", extra={"classroom_id": classroom_id})

    async def _refresh(self, db: AsyncSession, classroom_id: int) -> None:
        recording = await active_recording(db, classroom_id)
        running = recording if recording is not None and recording.state in _RUNNING else None
        live = self._live.get(classroom_id)
        if live is not None and (running is None or running.id != live.recording_id):
            del self._live[classroom_id]
            before = await db.get(Recording, live.recording_id)
            if before is None or before.state not in _RUNNING:
                # Ended: closed once for every classroom it covered, also one deleted meanwhile (whose
                # own refresh never comes).
                await self._close(db, live.recording_id)
        if running is None:
            return
        if live is None or live.recording_id != running.id:
            await self._open(db, running)
        self._live[classroom_id] = _Live(running.id, MediaClock.of(running))

    async def recording_ended(self, recording_id: int) -> None:
        """The recording no longer runs: it closes with ``recording_stopped`` (once) and no classroom's
        events go to it, whichever classrooms it still covers."""
        try:
            async with self._db() as db:
                await self._close(db, recording_id)
        except Exception:
            log.exception("timeline not closed", extra={"recording_id": recording_id})

    async def _close(self, db: AsyncSession, recording_id: int) -> None:
        for classroom_id in [c for c, live in self._live.items() if live.recording_id == recording_id]:
            del self._live[classroom_id]
        if recording_id not in self._opened:  # never opened here, or closed already
            return
        self._opened.discard(recording_id)
        ended = await db.get(Recording, recording_id)
        if ended is not None:
            stopped_at = as_utc(ended.stopped_at) if ended.stopped_at else datetime.now(UTC)
            clock = MediaClock.of(ended)
            self._put(_Pending(ended.id, "recording_stopped", media_ms_at(clock, stopped_at), stopped_at, {}))

    async def _open(self, db: AsyncSession, recording: Recording) -> None:
        if recording.id in self._opened:  # one of the other classrooms it covers opened it
            return
        self._opened.add(recording.id)
        already = await db.scalar(
            select(TimelineEvent.id).where(
                TimelineEvent.recording_id == recording.id, TimelineEvent.type == "recording_started"
            )
        )
        if already is not None:
            return
        starter = await db.get(User, recording.started_by_id) if recording.started_by_id else None
        # Who is in each classroom it covers (a composite session's participants name their classroom).
        covered = [c.classroom_id for c in recording.covers if c.classroom_id is not None]
        several = len(covered) > 1
        participants: list[dict[str, Any]] = []
        for classroom_id in covered or [recording.classroom_id or 0]:
            room = self._presence.room(classroom_id)
            present = [p for p in room.participants.values() if not p.robot] if room is not None else []
            participants += [
                {"user_id": p.user_id, "display_name": p.display_name, "role": p.role}
                | ({"classroom_id": classroom_id} if several else {})
                for p in present
            ]
        data = {
            "by": {"id": starter.id, "display_name": starter.display_name} if starter else None,
            "participants": participants,
        }
        self._put(_Pending(recording.id, "recording_started", 0, as_utc(recording.started_at), data))

    def _put(self, event: _Pending) -> None:
        if event.type not in EVENT_TYPES:
            raise ValueError(f"unknown timeline event type {event.type!r}")
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(self._queue))
        self._queue.put_nowait(event)

    async def _write(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            try:
                if not await self._commit(batch) and len(batch) > 1:
                    # One bad event (its recording just deleted) must not take the others with it.
                    for one in batch:
                        await self._commit([one])
            finally:
                for _ in batch:
                    queue.task_done()

    async def _commit(self, batch: list[_Pending]) -> bool:
        try:
            async with self._db() as db:
                db.add_all(
                    TimelineEvent(
                        recording_id=e.recording_id,
                        type=e.type,
                        media_ms=e.media_ms,
                        at=e.at,
                        data=json.dumps(e.data, ensure_ascii=False),
                    )
                    for e in batch
                )
                await db.commit()
        except Exception:
            log.exception("timeline events not written", extra={"count": len(batch)})
            return False
        return True

    async def flush(self) -> None:
        """Until every event noted so far is committed."""
        if self._queue is not None and self._writer is not None and not self._writer.done():
            await self._queue.join()

    async def close(self) -> None:
        """Server shutdown: what was noted is written, then the writer ends."""
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None


# -- reading ------------------------------------------------------------------------------------------


async def recording_events(db: AsyncSession, recording_id: int) -> Sequence[TimelineEvent]:
    """The recording's events in media order (ties in the order they were written)."""
    return (
        await db.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.recording_id == recording_id)
            .order_by(TimelineEvent.media_ms, TimelineEvent.id)
        )
    ).all()


def event_data(event: TimelineEvent) -> dict[str, Any]:
    """The event's stored data (an unreadable one counts as empty)."""
    try:
        data = json.loads(event.data or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def event_json(event: TimelineEvent) -> dict[str, Any]:
    """A timeline event on the wire: ``{"type", "media_ms", "at", ...data}``."""
    return {**event_data(event), "type": event.type, "media_ms": event.media_ms, "at": iso_ms(event.at)}


@dataclass(frozen=True)
class Anchor:
    """Where one continuous stretch of the file starts: media time ``media_ms`` was wall time ``at``."""

    media_ms: int
    at: datetime

    def json(self) -> dict[str, Any]:
        return {"media_ms": self.media_ms, "at": iso_ms(self.at)}


def clock_anchors(recording: Recording, events: Sequence[TimelineEvent]) -> list[Anchor]:
    """The start, then each resume: the original time of media time t is ``at + (t - media_ms)`` for the
    last anchor at or before t."""
    anchors = [Anchor(0, as_utc(recording.started_at))]
    anchors += [Anchor(e.media_ms, as_utc(e.at)) for e in events if e.type == "resumed"]
    return sorted(anchors, key=lambda a: a.media_ms)


def original_time(anchors: Sequence[Anchor], media_ms: int) -> datetime:
    """The wall-clock moment media time ``media_ms`` was recorded."""
    anchor = anchors[0]
    for candidate in anchors:
        if candidate.media_ms <= media_ms:
            anchor = candidate
    return anchor.at + timedelta(milliseconds=media_ms - anchor.media_ms)


async def events_as_now(db: AsyncSession, recording: Recording) -> list[TimelineEvent]:
    """The recording's events with its bookmarks as they are now, in media order.

    The stored ``bookmark`` events keep what was written in class; a bookmark edited after the class is
    told with its new code, remark and moment (its time of day follows the moment), and a deleted one is
    left out, so the timeline and its text export agree with the chapters. The events returned are not
    part of the session: nothing of them is written back.
    """
    events = await recording_events(db, recording.id)
    anchors = clock_anchors(recording, events)
    bookmarks = {
        b.id: b for b in await db.scalars(select(Bookmark).where(Bookmark.recording_id == recording.id))
    }
    told: list[TimelineEvent] = []
    for event in events:
        if event.type != "bookmark":
            told.append(event)
            continue
        data = event_data(event)
        bookmark = bookmarks.get(data.get("bookmark_id"))  # type: ignore[arg-type]
        if bookmark is None:
            continue
        data.update(code=bookmark.code, label=bookmark.label, remark=bookmark.remark)
        told.append(
            TimelineEvent(
                recording_id=recording.id,
                type=event.type,
                media_ms=bookmark.media_ms,
                at=original_time(anchors, bookmark.media_ms),
                data=json.dumps(data),
            )
        )
    return sorted(told, key=lambda e: e.media_ms)
