"""The timeline service on its own: what it keeps, when, and in which order (a real database, no media)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from server.db.models import Classroom, Recording, StopReason, TimelineEvent, User
from server.library.recordings import commit_new, new_recording
from server.services import SERVICES
from tests.support import held


async def recording_in(app: web.Application, users: dict[str, int]) -> tuple[int, int]:
    """A classroom of ``teacher`` with a recording that started a second ago."""
    async with app[SERVICES].db() as db:
        teacher = await db.get(User, users["teacher"])
        assert teacher is not None
        classroom = Classroom(name="Art", owner=teacher, seat_limit=5, members=[])
        db.add(classroom)
        await db.flush()
        recording = Recording(
            classroom_id=classroom.id,
            classroom_name="Art",
            number=1,
            name="Art 1",
            state="recording",
            started_by_id=teacher.id,
            started_at=datetime.now(UTC) - timedelta(seconds=1),
            file_name="art-1.mp4",
            covers=held(classroom.id, "Art", "recording"),
        )
        db.add(recording)
        await db.commit()
        return classroom.id, recording.id


async def stored(app: web.Application, recording_id: int) -> list[tuple[str, int]]:
    async with app[SERVICES].db() as db:
        rows = await db.scalars(
            select(TimelineEvent).where(TimelineEvent.recording_id == recording_id).order_by(TimelineEvent.id)
        )
        return [(e.type, e.media_ms) for e in rows]


async def test_events_are_kept_only_while_recording_and_not_paused(
    app: web.Application, users: dict[str, int]
) -> None:
    timeline = app[SERVICES].timeline
    classroom_id, recording_id = await recording_in(app, users)
    await timeline.note(classroom_id, "chat", text="before the timeline knows of the recording")
    await timeline.refresh(classroom_id)
    await timeline.note(classroom_id, "hand_raised", user_id=1, display_name="A")
    await timeline.flush()
    events = await stored(app, recording_id)
    assert [kind for kind, _ in events] == ["recording_started", "hand_raised"]
    assert events[0][1] == 0
    assert 1000 <= events[1][1] < 3000  # a second after the start, in media time

    async with app[SERVICES].db() as db:
        recording = await db.get(Recording, recording_id)
        assert recording is not None
        recording.paused_at = datetime.now(UTC)
        await db.commit()
    await timeline.refresh(classroom_id)
    await timeline.note(classroom_id, "chat", text="while paused")
    await timeline.note(classroom_id, "not_a_kind")  # unknown kinds are refused, never raised
    await timeline.flush()
    assert [kind for kind, _ in await stored(app, recording_id)] == ["recording_started", "hand_raised"]

    async with app[SERVICES].db() as db:
        recording = await db.get(Recording, recording_id)
        assert recording is not None
        recording.state, recording.stopped_at = "finishing", recording.paused_at
        await db.commit()
    await timeline.refresh(classroom_id)
    await timeline.refresh(classroom_id)  # told twice, closed once
    await timeline.note(classroom_id, "chat", text="after the stop")
    await timeline.flush()
    kinds = [kind for kind, _ in await stored(app, recording_id)]
    assert kinds == ["recording_started", "hand_raised", "recording_stopped"]


async def test_an_event_of_a_deleted_recording_does_not_take_the_others_with_it(
    app: web.Application, users: dict[str, int]
) -> None:
    timeline = app[SERVICES].timeline
    _, recording_id = await recording_in(app, users)
    now = datetime.now(UTC)
    await timeline.note_recording(999_999, "paused", now, 10, by=None)
    await timeline.note_recording(recording_id, "paused", now, 1000, by=None)
    await timeline.note_recording(recording_id, "resumed", now, 1000, by=None)
    await timeline.flush()
    assert await stored(app, recording_id) == [("paused", 1000), ("resumed", 1000)]


async def test_a_composite_recording_whose_classroom_is_deleted_closes_once_and_holds_no_classroom(
    app: web.Application, users: dict[str, int]
) -> None:
    timeline = app[SERVICES].timeline
    async with app[SERVICES].db() as db:
        teacher = await db.get(User, users["teacher"])
        assert teacher is not None
        art, music = (Classroom(name=n, owner=teacher, seat_limit=5, members=[]) for n in ("Art", "Music"))
        db.add_all([art, music])
        await db.flush()
        art_id, music_id = art.id, music.id
        recording = new_recording([art, music], teacher, "Robot", "Art 1", 1)
        recording.state = "recording"
        recording.started_at = datetime.now(UTC) - timedelta(seconds=1)
        db.add(recording)
        await commit_new(db, [recording], [art, music])
        recording_id = recording.id
    await timeline.refresh(art_id)
    await timeline.refresh(music_id)
    assert timeline.recording_of(music_id) == recording_id

    # Music is deleted and the recording stops; only Art is still there to be refreshed.
    async with app[SERVICES].db() as db:
        await db.delete(await db.get(Classroom, music_id))
        row = await db.get(Recording, recording_id)
        assert row is not None
        row.state, row.stopped_at = "finishing", datetime.now(UTC)
        await db.commit()
    await timeline.refresh(art_id)
    await timeline.refresh(art_id)
    await timeline.note(music_id, "chat", text="after the stop")
    await timeline.flush()
    assert [kind for kind, _ in await stored(app, recording_id)] == ["recording_started", "recording_stopped"]
    assert timeline.recording_of(art_id) is None
    assert timeline.recording_of(music_id) is None


async def test_a_recording_whose_only_classroom_is_deleted_closes_when_it_ends(
    app: web.Application, users: dict[str, int]
) -> None:
    timeline = app[SERVICES].timeline
    classroom_id, recording_id = await recording_in(app, users)
    await timeline.refresh(classroom_id)
    async with app[SERVICES].db() as db:
        await db.delete(await db.get(Classroom, classroom_id))
        await db.commit()
    # The supervisor stops it (reason classroom_deleted); the recording events tell the timeline.
    await app[SERVICES].recorders.stop(recording_id, StopReason.CLASSROOM_DELETED)
    await timeline.flush()
    assert [kind for kind, _ in await stored(app, recording_id)] == ["recording_started", "recording_stopped"]
    assert timeline.recording_of(classroom_id) is None
