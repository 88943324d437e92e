"""Recording sessions over several classrooms (Viso's multi-location recording).

A session is started over 2 to 20 classrooms its starter moderates. ``separate``: one recording per
classroom, all with the session's name and number, each recorded by its own robot; ``composite``: one
recording covering every classroom (its first is the recording's own), recorded by one robot that joins
them all. Everything a session needs is stored in one transaction, or nothing is: a classroom already
recording refuses the whole session. Stopping any recording of a session stops all of them
(``server.recorders.supervisor.RecorderSupervisor.stop``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.permissions import is_admin
from server.db.models import Classroom, Recording, RecordingMode, RecordingSession, SessionMode, User
from server.errors import NotFound
from server.library.recordings import (
    check_name,
    commit_new,
    described,
    new_recording,
    next_number,
    numbered_name,
    refuse_busy,
    require_viewable,
)
from server.timefmt import iso

MIN_CLASSROOMS = 2
MAX_CLASSROOMS = 20


async def start_session(
    db: AsyncSession,
    classrooms: Sequence[Classroom],
    starter: User,
    robot_name: str,
    mode: SessionMode,
    name: str | None = None,
) -> tuple[RecordingSession, list[Recording]]:
    """Store a new session over ``classrooms`` (in their order) with its recordings in ``starting``, all
    committed together; ``RecordingActive`` naming the first busy classroom and its recorder, with
    nothing stored. The caller launches the robots."""
    await refuse_busy(db, classrooms)
    number = await next_number(db, classrooms)
    title = check_name(name) if name else await numbered_name(db, classrooms[0].name, starter, number)
    session = RecordingSession(mode=mode.value, name=title, number=number, started_by_id=starter.id)
    db.add(session)
    await db.flush()
    groups = [[classroom] for classroom in classrooms] if mode == SessionMode.SEPARATE else [classrooms]
    recordings = [
        new_recording(
            group, starter, robot_name, title, number, mode=RecordingMode.COMPOSITE, session_id=session.id
        )
        for group in groups
    ]
    db.add_all(recordings)
    await commit_new(db, recordings, classrooms)
    return session, recordings


async def get_session(db: AsyncSession, session_id: int) -> RecordingSession:
    session = await db.get(RecordingSession, session_id)
    if session is None:
        raise NotFound(f"recording session {session_id} does not exist")
    return session


async def session_recordings(db: AsyncSession, session_id: int) -> Sequence[Recording]:
    """The session's recordings in the order they were made (its classrooms' order)."""
    return (
        await db.scalars(select(Recording).where(Recording.session_id == session_id).order_by(Recording.id))
    ).all()


async def session_recording_ids(db: AsyncSession, recording_id: int) -> list[int]:
    """Every recording of ``recording_id``'s session (itself included), or just itself."""
    recording = await db.get(Recording, recording_id)
    if recording is None or recording.session_id is None:
        return [recording_id]
    return [r.id for r in await session_recordings(db, recording.session_id)]


async def viewable_by(db: AsyncSession, viewer: User, recording: Recording) -> bool:
    """Whether ``viewer`` may view ``recording`` through any classroom it covers."""
    try:
        await require_viewable(db, viewer, recording)
    except NotFound:
        return False
    return True


async def session_json(
    db: AsyncSession, session: RecordingSession, viewer: User, *, files: Path | None = None
) -> dict[str, Any]:
    """A Session on the wire, with the recordings of it ``viewer`` may view; NotFound when they may view
    none of them (and are neither its starter nor an admin)."""
    recordings = list(await session_recordings(db, session.id))
    visible = [r for r in recordings if await viewable_by(db, viewer, r)]
    if not visible and not is_admin(viewer) and session.started_by_id != viewer.id:
        raise NotFound(f"recording session {session.id} does not exist")
    starter = await db.get(User, session.started_by_id) if session.started_by_id else None
    # Its classrooms as far as the viewer may know them: those of the recordings they may view (its
    # starter and admins know them all).
    known = recordings if is_admin(viewer) or session.started_by_id == viewer.id else visible
    classrooms = [{"id": c.classroom_id, "name": c.classroom_name} for r in known for c in r.covers]
    return {
        "id": session.id,
        "mode": session.mode,
        "name": session.name,
        "number": session.number,
        "classrooms": classrooms,
        "recordings": [await described(db, r, viewer, files=files) for r in visible],
        "started_by": None
        if starter is None
        else {"id": starter.id, "username": starter.username, "display_name": starter.display_name},
        "created_at": iso(session.created_at),
    }
