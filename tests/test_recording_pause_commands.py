"""The supervisor's pause, resume and stop as a stand-in robot hears them on its stdin, with the
recording's stored instants and the timeline's events; refusals change nothing. (Media: see
test_recording_pause.py.)"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recorder_bot.job import Pause, Resume, Stop, parse_command
from server.config import Config, load_config
from server.db.engine import make_engine, make_session_factory, migrate
from server.db.models import Classroom, Recording, StopReason, User
from server.errors import Conflict, NotFound
from server.library.media_clock import as_utc
from server.library.recordings import create_recording, live_duration_ms
from server.recorders.supervisor import RecorderSupervisor
from server.recorders.tokens import RobotTokens
from server.storage import LocalStorage

# Reads its job, records at once, and writes every later stdin line to argv[1] as it comes. It finishes
# at the stop command; SIGTERM (which the supervisor sends right after it) only gives it a second more, so
# a loaded machine cannot make it exit with the command still unread in its pipe.
STAND_IN = """
import json, signal, sys
job = json.loads(sys.stdin.readline())
def finish(*_):
    print(json.dumps({"event": "finished", "duration_ms": 1000, "size_bytes": 10}), flush=True)
    sys.exit(0)
signal.signal(signal.SIGALRM, finish)
signal.signal(signal.SIGTERM, lambda *_: signal.setitimer(signal.ITIMER_REAL, 1.0))
print(json.dumps({"event": "first_fragment"}), flush=True)
with open(sys.argv[1], "a") as heard:
    for line in sys.stdin:
        heard.write(line)
        heard.flush()
        if json.loads(line).get("command") == "stop":
            finish()
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(environ={}, overrides={"data_dir": str(tmp_path / "data"), "warm_robots": 0})


@pytest.fixture
async def db(config: Config) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(config.database_url)
    await migrate(engine)
    yield make_session_factory(engine)
    await engine.dispose()


class Timeline:
    """What the supervisor writes on the timeline, kept in order."""

    def __init__(self) -> None:
        self.refreshed: list[int] = []
        self.noted: list[dict[str, Any]] = []

    async def refresh(self, classroom_id: int) -> None:
        self.refreshed.append(classroom_id)

    async def note_recording(
        self, recording_id: int, type: str, at: datetime, media_ms: int, **data: Any
    ) -> None:
        self.noted.append({"type": type, "at": at, "media_ms": media_ms, **data})


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def heard(path: Path, lines: int) -> list[Any]:
    for _ in range(200):
        found = await asyncio.to_thread(_lines, path)
        if len(found) >= lines:
            return [parse_command(line) for line in found]
        await asyncio.sleep(0.02)
    raise AssertionError(f"the robot heard only {found}")


async def until_recording(db: async_sessionmaker[AsyncSession], recording_id: int) -> None:
    for _ in range(250):
        async with db() as session:
            row = await session.get(Recording, recording_id)
        if row is not None and row.state == "recording":
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never recording")


async def test_pause_resume_and_stop_reach_the_robot_at_the_stored_instants(
    config: Config, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    storage = LocalStorage(config.storage_dir)
    storage.prepare()
    stdin = tmp_path / "stdin.txt"
    supervisor = RecorderSupervisor(
        config,
        db,
        storage,
        RobotTokens(b"k" * 32, 3600),
        command=[sys.executable, "-I", "-c", STAND_IN, str(stdin)],
    )
    supervisor.server_url = "http://127.0.0.1:1"
    timeline = Timeline()
    async with db() as session:
        tess = User(username="tess", display_name="Tess", password_hash="-", role="teacher")
        session.add(tess)
        await session.flush()
        room = Classroom(name="Physics", owner_id=tess.id, seat_limit=30)
        session.add(room)
        await session.commit()
        recording = await create_recording(session, room, tess, "Robot")
    try:
        await supervisor.start(recording, "Physics")
        with pytest.raises(Conflict):
            await supervisor.resume(recording.id, tess, timeline)  # not paused
        await until_recording(db, recording.id)

        paused = await supervisor.pause(recording.id, tess, timeline)
        assert paused.paused_at is not None
        with pytest.raises(Conflict):
            await supervisor.pause(recording.id, tess, timeline)
        await asyncio.sleep(0.3)
        standing = live_duration_ms(paused)
        await asyncio.sleep(0.2)
        assert live_duration_ms(paused) == standing  # a paused recording's length stands still

        resumed = await supervisor.resume(recording.id, tess, timeline)
        assert resumed.paused_at is None
        assert 500 <= resumed.paused_ms < 1500
        with pytest.raises(Conflict):
            await supervisor.resume(recording.id, tess, timeline)
        await supervisor.stop(recording.id, StopReason.STOPPED)
        await asyncio.wait_for(supervisor.wait(recording.id), 10)
        async with db() as session:
            done = await session.get(Recording, recording.id)
        assert done is not None
        assert done.stopped_at is not None
        with pytest.raises((Conflict, NotFound)):
            await supervisor.pause(recording.id, tess, timeline)

        pause_at = as_utc(paused.paused_at).timestamp()
        resume_at = pause_at + resumed.paused_ms / 1000
        commands = await heard(stdin, 3)
        assert [type(c) for c in commands] == [Pause, Resume, Stop]
        assert commands[0].at == pytest.approx(pause_at, abs=1e-6)
        assert commands[1].at == pytest.approx(resume_at, abs=0.002)
        assert commands[2].at == pytest.approx(as_utc(done.stopped_at).timestamp(), abs=1e-6)
        assert [n["type"] for n in timeline.noted] == ["paused", "resumed"]
        assert [n["by"] for n in timeline.noted] == [{"id": tess.id, "display_name": "Tess"}] * 2
        assert timeline.noted[0]["media_ms"] == timeline.noted[1]["media_ms"]
        assert timeline.refreshed == [room.id, room.id]
        assert (done.paused_at, done.paused_ms) == (None, resumed.paused_ms)
        assert json.loads(commands[0].line()) == {"command": "pause", "at": commands[0].at}
    finally:
        await supervisor.close()


async def test_stop_while_paused_closes_the_pause_at_the_stop(
    config: Config, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    storage = LocalStorage(config.storage_dir)
    storage.prepare()
    supervisor = RecorderSupervisor(
        config,
        db,
        storage,
        RobotTokens(b"k" * 32, 3600),
        command=[sys.executable, "-I", "-c", STAND_IN, str(tmp_path / "stdin.txt")],
    )
    supervisor.server_url = "http://127.0.0.1:1"
    async with db() as session:
        tess = User(username="tess", display_name="Tess", password_hash="-", role="teacher")
        session.add(tess)
        await session.flush()
        room = Classroom(name="Physics", owner_id=tess.id, seat_limit=30)
        session.add(room)
        await session.commit()
        recording = await create_recording(session, room, tess, "Robot")
    try:
        with pytest.raises(Conflict, match="still starting"):
            await supervisor.pause(recording.id, tess)  # no fragment yet: a paused robot would write none
        await supervisor.start(recording, "Physics")
        await until_recording(db, recording.id)
        paused = await supervisor.pause(recording.id, tess)
        await asyncio.sleep(0.4)
        await supervisor.stop(recording.id, StopReason.STOPPED)
        await asyncio.wait_for(supervisor.wait(recording.id), 10)
        async with db() as session:
            done = await session.get(Recording, recording.id)
        assert done is not None
        assert done.stopped_at is not None
        assert paused.paused_at is not None
        assert done.paused_at is None
        pause_ms = (as_utc(done.stopped_at) - as_utc(paused.paused_at)).total_seconds() * 1000
        assert abs(done.paused_ms - pause_ms) <= 1
    finally:
        await supervisor.close()
