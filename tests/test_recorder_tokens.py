"""A robot token admits its robot only into its own recording's classroom, and only while that recording
runs: a token that outlives its recording never fits the next one that reuses its id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import ClassVar, cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recorder_bot.job import RobotJob
from server.config import load_config
from server.db.engine import make_engine, make_session_factory, migrate
from server.db.models import Classroom, Recording, RecordingState, StopReason, User
from server.library.recordings import create_recording
from server.recorders.supervisor import RecorderSupervisor
from server.recorders.tokens import RobotGrant, RobotTokens, new_grant, robot_allowed
from server.storage import LocalStorage
from tests.support import held

KEY = b"k" * 32


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'aula.db'}")
    await migrate(engine)
    yield make_session_factory(engine)
    await engine.dispose()


async def classroom(db: async_sessionmaker[AsyncSession], name: str) -> int:
    async with db() as session:
        owner = User(username=name.lower(), display_name=name, password_hash="-", role="teacher")
        session.add(owner)
        await session.flush()
        room = Classroom(name=name, owner_id=owner.id, seat_limit=30)
        session.add(room)
        await session.commit()
        return room.id


async def started(db: async_sessionmaker[AsyncSession], classroom_id: int) -> RobotGrant:
    """A recording whose robot is starting, as the supervisor leaves it: its secret stored."""
    async with db() as session:
        recording = Recording(
            classroom_id=classroom_id,
            classroom_name="x",
            number=1,
            name="x 1",
            state=RecordingState.STARTING,
            file_name=f"x-{classroom_id}.mp4",
            covers=held(classroom_id, "x", "starting"),
        )
        session.add(recording)
        await session.flush()
        grant = new_grant(recording.id, classroom_id)
        recording.robot_secret = grant.secret
        await session.commit()
        return grant


async def allowed(db: async_sessionmaker[AsyncSession], tokens: RobotTokens, token: str) -> int | None:
    grant = tokens.verify(token)
    if grant is None:
        return None
    async with db() as session:
        recording = await robot_allowed(session, grant)
        return None if recording is None else recording.id


async def test_a_token_of_a_deleted_recording_does_not_fit_the_recording_that_reuses_its_id(
    db: async_sessionmaker[AsyncSession],
) -> None:
    tokens = RobotTokens(KEY, max_age=3600)
    physics, chemistry = await classroom(db, "Physics"), await classroom(db, "Chemistry")
    old = await started(db, physics)
    old_token = tokens.issue(old)
    assert await allowed(db, tokens, old_token) == old.recording_id
    async with db() as session:
        row = await session.get(Recording, old.recording_id)
        await session.delete(row)
        await session.commit()

    new = await started(db, chemistry)
    assert new.recording_id == old.recording_id  # SQLite reused the id: the attack's premise
    assert await allowed(db, tokens, old_token) is None
    assert await allowed(db, tokens, tokens.issue(new)) == new.recording_id
    # Even a token naming the new classroom is refused without the new recording's secret.
    forged = RobotGrant(new.recording_id, chemistry, old.secret)
    assert await allowed(db, tokens, tokens.issue(forged)) is None


async def test_a_token_admits_no_one_once_its_recording_has_ended(
    db: async_sessionmaker[AsyncSession],
) -> None:
    tokens = RobotTokens(KEY, max_age=3600)
    grant = await started(db, await classroom(db, "Physics"))
    token = tokens.issue(grant)
    async with db() as session:
        row = await session.get(Recording, grant.recording_id)
        assert row is not None
        row.state = RecordingState.READY
        await session.commit()
    assert await allowed(db, tokens, token) is None


async def test_a_token_names_its_classroom(db: async_sessionmaker[AsyncSession]) -> None:
    tokens = RobotTokens(KEY, max_age=3600)
    physics, chemistry = await classroom(db, "Physics"), await classroom(db, "Chemistry")
    grant = await started(db, physics)
    elsewhere = RobotGrant(grant.recording_id, chemistry, grant.secret)
    assert await allowed(db, tokens, tokens.issue(elsewhere)) is None


def test_only_this_servers_fresh_well_formed_tokens_carry_a_grant() -> None:
    tokens = RobotTokens(KEY, max_age=3600)
    grant = RobotGrant(7, 3, "s3cret")
    assert tokens.verify(tokens.issue(grant)) == grant
    assert RobotTokens(b"other" * 8, max_age=3600).verify(tokens.issue(grant)) is None
    assert RobotTokens(KEY, max_age=-1).verify(tokens.issue(grant)) is None  # expired
    assert tokens.verify(tokens.issue(grant)[:-2] + "xx") is None
    assert tokens.verify(None) is None
    assert tokens.verify("a" * 600) is None
    # Signed by this key, but not a grant (an old token without its secret, say).
    serializer = tokens._serializer
    assert tokens.verify(serializer.dumps({"recording_id": 7, "classroom_id": 3})) is None
    assert tokens.verify(serializer.dumps([7, 3])) is None


async def test_a_token_of_a_deleted_classroom_does_not_fit_the_classroom_that_reuses_its_id(
    db: async_sessionmaker[AsyncSession],
) -> None:
    tokens = RobotTokens(KEY, max_age=3600)
    await classroom(db, "Chemistry")
    physics = await classroom(db, "Physics")
    grant = await started(db, physics)
    token = tokens.issue(grant)
    assert await allowed(db, tokens, token) == grant.recording_id
    async with db() as session:
        await session.delete(await session.get(Classroom, physics))
        await session.commit()
    # The recording still runs (its stop is on its way) and a new classroom takes the gone one's id.
    assert await classroom(db, "Biology") == physics  # SQLite reused the id: the attack's premise
    assert await allowed(db, tokens, token) is None


class _StopDuringCommit(AsyncSession):
    """A session whose next commit first runs ``hook`` (once): a Stop landing mid-start."""

    hook: ClassVar[Callable[[], Awaitable[None]] | None] = None

    async def commit(self) -> None:
        hook, _StopDuringCommit.hook = _StopDuringCommit.hook, None
        if hook is not None:
            await hook()
        await super().commit()


class _NoRobots(RecorderSupervisor):
    launched: list[RobotJob]

    async def _launch(self, job: RobotJob) -> asyncio.subprocess.Process:
        self.launched.append(job)
        raise OSError("no robot here")


async def test_a_stop_while_the_robot_is_being_started_launches_no_robot_and_tells_no_stale_state(
    tmp_path: Path,
) -> None:
    config = load_config(environ={}, overrides={"data_dir": str(tmp_path / "data"), "warm_robots": 0})
    engine = make_engine(config.database_url)
    await migrate(engine)
    db = cast(
        "async_sessionmaker[AsyncSession]",
        async_sessionmaker(engine, class_=_StopDuringCommit, expire_on_commit=False),
    )
    storage = LocalStorage(config.storage_dir)
    storage.prepare()
    supervisor = _NoRobots(config, db, storage, RobotTokens(KEY, max_age=3600))
    supervisor.launched = []
    supervisor.server_url = "http://127.0.0.1:1"
    heard: list[str] = []
    finishing = asyncio.Event()

    async def listen(recording: Recording, reason: StopReason | None) -> None:
        heard.append(recording.state)
        if recording.state == "finishing":
            finishing.set()

    supervisor.listener = listen
    room_id = await classroom(db, "Physics")
    async with db() as session:
        room, owner = await session.get(Classroom, room_id), await session.scalar(select(User))
        assert room is not None
        assert owner is not None
        recording = await create_recording(session, room, owner, "Robot")

    stopping: list[asyncio.Task[None]] = []

    async def stop_meanwhile() -> None:
        # Pressed Stop after the start found the recording starting, before its secret is stored.
        stopping.append(asyncio.create_task(supervisor.stop(recording.id, StopReason.STOPPED)))
        await finishing.wait()  # the Stop is stored

    _StopDuringCommit.hook = stop_meanwhile
    try:
        await supervisor.start(recording, "Physics")
        await asyncio.wait_for(stopping[0], 20)
        assert supervisor.launched == []
        async with db() as session:
            row = await session.get(Recording, recording.id)
            assert row is not None
            assert (row.state, row.stop_reason) == ("failed", "stopped")
        assert "starting" not in heard  # nobody is told it is starting after its Stop
        assert heard[0] == "finishing"
    finally:
        _StopDuringCommit.hook = None
        await supervisor.close()
        await engine.dispose()
