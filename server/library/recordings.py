"""Recordings and their state machine: starting → recording → finishing → ready | failed.

Transitions are the only way a recording's state changes, and the database holds at most one active
(starting, recording or finishing) recording per classroom: each recording holds the classrooms it covers
(one, or every classroom of a composite session) in ``recording_classrooms`` while it is active.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.auth.permissions import can_manage_recording, can_stop_recording, can_view_recording
from server.db.models import (
    Classroom,
    Recording,
    RecordingClassroom,
    RecordingMode,
    RecordingSession,
    RecordingState,
    RecordingTrack,
    User,
    UserSettings,
)
from server.errors import AppError, NotFound
from server.library.codes import recording_codes_list
from server.library.files import path_under, recording_file_name
from server.library.media_clock import MediaClock
from server.names import check_text
from server.timefmt import iso

ACTIVE = (RecordingState.STARTING, RecordingState.RECORDING, RecordingState.FINISHING)
TRANSITIONS: dict[RecordingState, frozenset[RecordingState]] = {
    RecordingState.STARTING: frozenset(
        {RecordingState.RECORDING, RecordingState.FINISHING, RecordingState.FAILED}
    ),
    RecordingState.RECORDING: frozenset({RecordingState.FINISHING, RecordingState.FAILED}),
    RecordingState.FINISHING: frozenset({RecordingState.READY, RecordingState.FAILED}),
    RecordingState.READY: frozenset(),
    RecordingState.FAILED: frozenset(),
}
NAME_MAX = 200
DISK_FULL_SUFFIX = " (stopped: disk full)"


class RecordingActive(AppError):
    status = 409
    code = "recording_active"


class StorageFull(AppError):
    status = 507
    code = "storage_full"


class InvalidTransition(RuntimeError):
    """A state change the state machine does not allow (a programming error, never user input)."""


def transition(recording: Recording, to: RecordingState) -> None:
    """Move ``recording`` to ``to``; once it has ended (ready or failed) its classrooms are free again
    (the lock rows of :class:`~server.db.models.RecordingClassroom`, committed with the change)."""
    current = RecordingState(recording.state)
    if to not in TRANSITIONS[current]:
        raise InvalidTransition(f"recording {recording.id}: {current} → {to} is not allowed")
    recording.state = to.value
    if to in (RecordingState.FINISHING, RecordingState.FAILED) and recording.stopped_at is None:
        recording.stopped_at = datetime.now(UTC)
    if to not in ACTIVE:
        for covered in recording.covers:
            covered.active_classroom_id = None


def is_active(recording: Recording) -> bool:
    return RecordingState(recording.state) in ACTIVE


def check_name(name: str) -> str:
    return check_text(name, "name", NAME_MAX)


async def active_recording(db: AsyncSession, classroom_id: int) -> Recording | None:
    """The recording recording ``classroom_id`` now: its own, or a session's that covers it."""
    found: Recording | None = await db.scalar(
        select(Recording)
        .join(RecordingClassroom, RecordingClassroom.recording_id == Recording.id)
        .where(
            RecordingClassroom.active_classroom_id == classroom_id,
            Recording.state.in_([s.value for s in ACTIVE]),
        )
    )
    return found


async def all_active(db: AsyncSession) -> Sequence[Recording]:
    return (await db.scalars(select(Recording).where(Recording.state.in_([s.value for s in ACTIVE])))).all()


async def get_recording(db: AsyncSession, recording_id: int) -> Recording:
    recording = await db.get(Recording, recording_id)
    if recording is None:
        raise NotFound(f"recording {recording_id} does not exist")
    return recording


async def create_recording(
    db: AsyncSession,
    classroom: Classroom,
    starter: User,
    robot_name: str,
    name: str | None = None,
    *,
    mode: RecordingMode = RecordingMode.COMPOSITE,
) -> Recording:
    """A new recording in ``starting``, numbered after the classroom's last one (Viso style): unless
    ``name`` is given it is named "<default name> <number>", the default name being the starter's own
    (Settings) or else the classroom's. Committed; ``RecordingActive`` if the classroom records already."""
    await refuse_busy(db, [classroom])
    number = await next_number(db, [classroom])
    recording = new_recording(
        [classroom],
        starter,
        robot_name,
        check_name(name) if name else await numbered_name(db, classroom.name, starter, number),
        number,
        mode=mode,
    )
    db.add(recording)
    await commit_new(db, [recording], [classroom])
    return recording


def new_recording(
    covers: Sequence[Classroom],
    starter: User,
    robot_name: str,
    name: str,
    number: int,
    *,
    mode: RecordingMode = RecordingMode.COMPOSITE,
    session_id: int | None = None,
) -> Recording:
    """A recording in ``starting`` of ``covers`` (the first is its own classroom), holding each of them:
    add it to the session and :func:`commit_new` it."""
    first = covers[0]
    recording = Recording(
        classroom_id=first.id,
        classroom_name=first.name,
        number=number,
        name=name,
        state=RecordingState.STARTING.value,
        started_by_id=starter.id,
        robot_name=robot_name,
        started_at=datetime.now(UTC),
        mode=mode.value,
        session_id=session_id,
    )
    recording.covers = [
        RecordingClassroom(
            classroom_id=classroom.id,
            classroom_name=classroom.name,
            position=position,
            active_classroom_id=classroom.id,
        )
        for position, classroom in enumerate(covers)
    ]
    return recording


async def commit_new(
    db: AsyncSession, recordings: Sequence[Recording], classrooms: Sequence[Classroom]
) -> None:
    """Give the new ``recordings`` their file names and commit them all, or none: if another start took
    one of ``classrooms`` meanwhile, ``RecordingActive`` names it and its starter."""
    # The rollback expires every loaded object: the refusal is told from plain values kept beforehand.
    held = [(classroom.id, classroom.name) for classroom in classrooms]
    try:
        await db.flush()
        for recording in recordings:
            recording.file_name = recording_file_name(recording.id, recording.name, recording.started_at)
        await db.commit()
    except IntegrityError:
        await db.rollback()
        await _refuse_held(db, held)
        raise RecordingActive("this classroom is already being recorded") from None


async def refuse_busy(db: AsyncSession, classrooms: Sequence[Classroom]) -> None:
    """``RecordingActive`` naming the first of ``classrooms`` that is being recorded, and by whom."""
    await _refuse_held(db, [(classroom.id, classroom.name) for classroom in classrooms])


async def _refuse_held(db: AsyncSession, classrooms: Sequence[tuple[int, str]]) -> None:
    for classroom_id, name in classrooms:
        active = await active_recording(db, classroom_id)
        if active is not None:
            starter = await db.get(User, active.started_by_id or 0)
            who = starter.display_name if starter else "someone"
            raise RecordingActive(f"{who} is already recording {name}")


async def next_number(db: AsyncSession, classrooms: Sequence[Classroom]) -> int:
    """The next consecutive number for a recording of ``classrooms``: one more than the highest any of
    them has used, so every recording of a session can carry the same number."""
    last = await db.scalar(
        select(func.max(Recording.number)).where(Recording.classroom_id.in_([c.id for c in classrooms]))
    )
    return (last or 0) + 1


async def numbered_name(db: AsyncSession, default_name: str, starter: User, number: int) -> str:
    """ "<name> <number>": the starter's default recording name (Settings) or else ``default_name``."""
    settings = await db.get(UserSettings, starter.id)
    default = settings.default_recording_name if settings else None
    # A default name at the limit still leaves room for its number.
    return f"{(default or default_name)[: NAME_MAX - len(str(number)) - 1].rstrip()} {number}"


def _starter_ref(starter: User | None) -> dict[str, Any] | None:
    if starter is None:
        return None
    return {"id": starter.id, "username": starter.username, "display_name": starter.display_name}


def live_duration_ms(recording: Recording, now: datetime | None = None) -> int:
    """How long an active recording's file is so far: from its start to its stop (once finishing) or
    ``now``, less the time it was paused (while paused, it stands where the pause began)."""
    end = _utc(recording.stopped_at or now or datetime.now(UTC))
    clock = MediaClock.of(recording)
    if clock.paused_at is not None:
        end = min(end, clock.paused_at)
        clock = clock.resume(clock.paused_at)
    return clock.media_ms(end) or 0


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def live_sizes(root: Path, recordings: Iterable[Recording]) -> dict[int, int]:
    """The size the robot's file has reached for each active recording, by recording id (0 before the
    robot has created it). The files are read in a worker thread, all in one go: a stat can block."""
    names = {r.id: r.file_name for r in recordings if is_active(r) and r.file_name}
    if not names:
        return {}
    return await asyncio.to_thread(_file_sizes, root, names)


def _file_sizes(root: Path, names: Mapping[int, str]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for recording_id, file_name in names.items():
        try:
            sizes[recording_id] = path_under(root, file_name).stat().st_size
        except FileNotFoundError:
            sizes[recording_id] = 0
    return sizes


def recording_json(
    recording: Recording,
    starter: User | None = None,
    *,
    viewer: User | None = None,
    classroom: Classroom | None = None,
    live_size: int | None = None,
    tracks: int = 0,
) -> dict[str, Any]:
    """A Recording on the wire (``tracks``: how many per-participant tracks it has, see
    :func:`track_counts`); ``can_stop`` and ``can_manage`` are ``viewer``'s rights on it (``classroom``
    is the recording's, or None when it was deleted).

    An active recording's ``duration_ms`` is how long it has run so far and its ``size_bytes`` is
    ``live_size``, its file's size now (see :func:`live_sizes`), when the caller read it; once ready, both
    are the finished file's."""
    active = is_active(recording)
    return {
        "id": recording.id,
        "name": recording.name,
        "number": recording.number,
        "classroom": {"id": recording.classroom_id, "name": recording.classroom_name},
        "state": recording.state,
        "started_by": _starter_ref(starter),
        "robot_name": recording.robot_name,
        "started_at": iso(recording.started_at),
        "stopped_at": iso(recording.stopped_at),
        "duration_ms": live_duration_ms(recording) if active else recording.duration_ms,
        "size_bytes": live_size if active and live_size is not None else recording.size_bytes,
        "published": recording.published,
        "flags": [flag for flag in recording.flags.split(",") if flag],
        "error": recording.error,
        "stop_reason": recording.stop_reason,
        "codes_list": recording_codes_list(recording),
        "paused": recording.paused_at is not None,
        "paused_at": iso(recording.paused_at),
        "paused_ms": recording.paused_ms or 0,
        "mode": recording.mode,
        "session_id": recording.session_id,
        "classrooms": [{"id": c.classroom_id, "name": c.classroom_name} for c in recording.covers],
        "tracks": tracks,
        "can_stop": viewer is not None and can_stop_recording(viewer, recording, classroom),
        "can_manage": viewer is not None and can_manage_recording(viewer, recording, classroom),
    }


def recording_status(
    recording: Recording, starter: User | None, session: RecordingSession | None = None
) -> dict[str, Any]:
    """A RecordingStatus: what a classroom listing shows of its active recording (with the session it
    belongs to, if any: ``{"id", "name", "mode"}``)."""
    return {
        "id": recording.id,
        "name": recording.name,
        "state": recording.state,
        "started_by": _starter_ref(starter),
        "started_at": iso(recording.started_at),
        "paused": recording.paused_at is not None,
        "mode": recording.mode,
        "session": None
        if session is None
        else {"id": session.id, "name": session.name, "mode": session.mode},
    }


async def described(
    db: AsyncSession, recording: Recording, viewer: User | None = None, *, files: Path | None = None
) -> dict[str, Any]:
    """``recording_json`` with its starter and classroom read from the database and ``viewer``'s rights
    (without a viewer, ``can_stop`` and ``can_manage`` are false); given the recordings directory
    ``files``, an active recording carries its file's size so far."""
    starter = await db.get(User, recording.started_by_id) if recording.started_by_id else None
    classroom = await db.get(Classroom, recording.classroom_id) if recording.classroom_id else None
    sizes = await live_sizes(files, [recording]) if files is not None else {}
    counts = await track_counts(db, [recording])
    return recording_json(
        recording,
        starter,
        viewer=viewer,
        classroom=classroom,
        live_size=sizes.get(recording.id),
        tracks=counts.get(recording.id, 0),
    )


async def track_counts(db: AsyncSession, recordings: Iterable[Recording]) -> dict[int, int]:
    """How many tracks each recording made in ``tracks`` or ``both`` mode has, by id (one query, none
    when every recording is composite)."""
    ids = [r.id for r in recordings if r.mode != RecordingMode.COMPOSITE.value]
    if not ids:
        return {}
    rows = await db.execute(
        select(RecordingTrack.recording_id, func.count())
        .where(RecordingTrack.recording_id.in_(ids))
        .group_by(RecordingTrack.recording_id)
    )
    return dict(rows.tuples().all())


async def covered_classrooms(db: AsyncSession, recording: Recording) -> list[Classroom]:
    """The classrooms a composite session's recording covers besides its own, those that still exist."""
    ids = [c.classroom_id for c in recording.covers[1:] if c.classroom_id is not None]
    if not ids:
        return []
    found = {c.id: c for c in await db.scalars(select(Classroom).where(Classroom.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


async def require_viewable(db: AsyncSession, viewer: User, recording: Recording) -> Classroom | None:
    """The recording's own classroom (None once deleted), if ``viewer`` may view the recording through
    it or, for a composite session's recording, through any other classroom it covers; else NotFound."""
    classroom = await db.get(Classroom, recording.classroom_id) if recording.classroom_id else None
    if can_view_recording(viewer, recording, classroom) or any(
        can_view_recording(viewer, recording, other) for other in await covered_classrooms(db, recording)
    ):
        return classroom
    raise NotFound(f"recording {recording.id} does not exist")


async def visible_recordings(
    db: AsyncSession, viewer: User, *, files: Path | None = None
) -> list[dict[str, Any]]:
    """Every recording ``viewer`` may see, newest first, as Recordings with their rights (one query, and
    one more for the other classrooms of composite sessions); a composite session's recording is seen by
    whoever may see a recording of any classroom it covers. Given the recordings directory ``files``,
    active ones carry their file's size so far."""
    starter = aliased(User)
    rows = (
        await db.execute(
            select(Recording, Classroom, starter)
            .outerjoin(Classroom, Recording.classroom_id == Classroom.id)
            .outerjoin(starter, Recording.started_by_id == starter.id)
            .order_by(Recording.started_at.desc(), Recording.id.desc())
        )
    ).all()
    more_ids = {
        c.classroom_id for recording, _, _ in rows for c in recording.covers[1:] if c.classroom_id is not None
    }
    more = (
        {c.id: c for c in await db.scalars(select(Classroom).where(Classroom.id.in_(more_ids)))}
        if more_ids
        else {}
    )
    visible = [
        (recording, classroom, started_by)
        for recording, classroom, started_by in rows
        if can_view_recording(viewer, recording, classroom)
        or any(
            can_view_recording(viewer, recording, more[c.classroom_id])
            for c in recording.covers[1:]
            if c.classroom_id in more
        )
    ]
    sizes = await live_sizes(files, [recording for recording, _, _ in visible]) if files is not None else {}
    counts = await track_counts(db, [recording for recording, _, _ in visible])
    return [
        recording_json(
            recording,
            started_by,
            viewer=viewer,
            classroom=classroom,
            live_size=sizes.get(recording.id),
            tracks=counts.get(recording.id, 0),
        )
        for recording, classroom, started_by in visible
    ]


async def active_statuses(db: AsyncSession, classroom_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The RecordingStatus of each classroom's active recording (its own or a session's), by classroom
    id (one query)."""
    ids = list(classroom_ids)
    if not ids:
        return {}
    rows = (
        await db.execute(
            select(RecordingClassroom.active_classroom_id, Recording, User, RecordingSession)
            .join(Recording, RecordingClassroom.recording_id == Recording.id)
            .outerjoin(User, Recording.started_by_id == User.id)
            .outerjoin(RecordingSession, Recording.session_id == RecordingSession.id)
            .where(
                RecordingClassroom.active_classroom_id.in_(ids),
                Recording.state.in_([s.value for s in ACTIVE]),
            )
        )
    ).all()
    return {
        classroom_id: recording_status(recording, starter, session)
        for classroom_id, recording, starter, session in rows
        if classroom_id is not None
    }


def add_flag(recording: Recording, flag: str) -> None:
    flags = [f for f in recording.flags.split(",") if f]
    if flag not in flags:
        recording.flags = ",".join([*flags, flag])
