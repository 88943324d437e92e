"""The supervisor and one robot's run, with stand-in robots: how the robot is started, how it may end,
and the stop reason every ending leaves on its recording. (The real robot is in test_recording.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recorder_bot.job import Failed, RobotJob, parse_progress
from server.config import Config, load_config
from server.db.engine import make_engine, make_session_factory, migrate
from server.db.models import Classroom, Recording, StopReason, User
from server.library.recordings import create_recording
from server.recorders.robot_run import spawn_robot
from server.recorders.supervisor import RecorderSupervisor
from server.recorders.tokens import RobotTokens, robot_allowed
from server.storage import LocalStorage

# A stand-in robot: reads its job, writes it to argv[1], then behaves as the job's classroom name says.
STAND_IN = """
import json, signal, sys, time
job = json.loads(sys.stdin.readline())
open(sys.argv[1], "w").write(json.dumps(job))
mode = job["classroom_name"]
def say(**message):
    print(json.dumps(message), flush=True)
def finish(*_):
    say(event="finished", duration_ms=1000, size_bytes=10)
    sys.exit(0)
signal.signal(signal.SIGTERM, finish)
if mode == "never starts":
    time.sleep(60)
say(event="joined")
print("some library's chatter", flush=True)
print("x" * 100_000, flush=True)
say(event="first_fragment")
if mode == "dies":
    say(event="failed", error="RuntimeError: no camera")
    sys.exit(1)
while True:
    time.sleep(1)
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(
        environ={},
        overrides={"data_dir": str(tmp_path / "data"), "warm_robots": 0, "robot_start_timeout": 2},
    )


@pytest.fixture
async def db(config: Config) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(config.database_url)
    await migrate(engine)
    yield make_session_factory(engine)
    await engine.dispose()


class Supervised:
    def __init__(self, config: Config, db: async_sessionmaker[AsyncSession], job_file: Path) -> None:
        storage = LocalStorage(config.storage_dir)
        storage.prepare()
        self.db = db
        self.job_file = job_file
        self.tokens = RobotTokens(b"k" * 32, max_age=3600)
        self.heard: list[tuple[str, StopReason | None]] = []
        self.supervisor = RecorderSupervisor(
            config, db, storage, self.tokens, command=[sys.executable, "-I", "-c", STAND_IN, str(job_file)]
        )
        self.supervisor.server_url = "http://127.0.0.1:1"
        self.supervisor.listener = self._heard

    async def _heard(self, recording: Recording, reason: StopReason | None) -> None:
        self.heard.append((recording.state, reason))

    async def start(self, behaviour: str) -> int:
        async with self.db() as session:
            owner = User(username="tess", display_name="Tess", password_hash="-", role="teacher")
            session.add(owner)
            await session.flush()
            room = Classroom(name=behaviour, owner_id=owner.id, seat_limit=30)
            session.add(room)
            await session.commit()
            recording = await create_recording(session, room, owner, "Robot")
        await self.supervisor.start(recording, behaviour)
        return recording.id

    async def row(self, recording_id: int) -> Recording:
        async with self.db() as session:
            recording = await session.get(Recording, recording_id)
        assert recording is not None
        return recording

    async def ended(self, recording_id: int) -> Recording:
        await asyncio.wait_for(self.supervisor.wait(recording_id), 20)
        return await self.row(recording_id)

    def job(self) -> RobotJob:
        return RobotJob.model_validate(json.loads(self.job_file.read_text()))


@pytest.fixture
async def supervised(
    config: Config, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[Supervised]:
    supervised = Supervised(config, db, tmp_path / "job.json")
    yield supervised
    await supervised.supervisor.close()


async def until(condition: Callable[[], bool], within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)


async def test_stop_stores_its_reason_and_the_robot_finishes_its_file(supervised: Supervised) -> None:
    recording_id = await supervised.start("records")
    await until(lambda: ("recording", None) in supervised.heard)
    # Its secret was stored before its token was issued, and the token admits it while it records.
    grant = supervised.tokens.verify(supervised.job().token)
    assert grant is not None
    assert (grant.recording_id, grant.classroom_id) == (recording_id, supervised.job().classroom_id)
    async with supervised.db() as session:
        assert await robot_allowed(session, grant) is not None

    await supervised.supervisor.stop(recording_id, StopReason.TOO_LONG)
    recording = await supervised.ended(recording_id)
    assert (recording.state, recording.stop_reason) == ("failed", "too_long")  # a stand-in writes no file
    assert recording.robot_secret is None
    async with supervised.db() as session:
        assert await robot_allowed(session, grant) is None
    assert supervised.heard[-2:] == [("finishing", StopReason.TOO_LONG), ("failed", StopReason.TOO_LONG)]
    assert supervised.supervisor.robot_of(recording_id) is None  # its run ended with the recording


async def test_a_robot_that_dies_unasked_ends_its_recording_as_robot_failed(supervised: Supervised) -> None:
    recording_id = await supervised.start("dies")
    recording = await supervised.ended(recording_id)
    assert (recording.state, recording.stop_reason) == ("failed", "robot_failed")
    assert recording.error == "RuntimeError: no camera"
    assert supervised.heard[-1] == ("failed", StopReason.ROBOT_FAILED)


async def test_a_robot_that_never_starts_is_killed_and_says_why(supervised: Supervised) -> None:
    recording_id = await supervised.start("never starts")
    recording = await supervised.ended(recording_id)
    assert (recording.state, recording.stop_reason) == ("failed", "robot_failed")
    assert recording.error == "the robot did not start recording within 2 s"


async def test_stop_while_the_robot_starts_keeps_the_stop_as_the_reason(supervised: Supervised) -> None:
    recording_id = await supervised.start("never starts")
    await supervised.supervisor.stop(recording_id, StopReason.STOPPED)
    recording = await supervised.ended(recording_id)
    assert (recording.state, recording.stop_reason) == ("failed", "stopped")


async def test_a_robot_that_cannot_be_started_fails_its_recording(
    config: Config, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    supervised = Supervised(config, db, tmp_path / "job.json")
    supervised.supervisor = RecorderSupervisor(
        config, db, LocalStorage(config.storage_dir), supervised.tokens, command=[str(tmp_path / "no-robot")]
    )
    supervised.supervisor.listener = supervised._heard
    recording_id = await supervised.start("records")
    recording = await supervised.row(recording_id)
    assert (recording.state, recording.stop_reason) == ("failed", "robot_failed")
    assert recording.error is not None
    assert recording.error.startswith("the robot could not be started")
    assert supervised.heard == [("failed", StopReason.ROBOT_FAILED)]
    await supervised.supervisor.close()


def plant_robot(directory: Path) -> Path:
    """A ``recorder_bot`` package in ``directory`` that leaves a mark if it ever runs; the mark's path."""
    planted = directory / "recorder_bot"
    planted.mkdir()
    marker = directory / "planted-ran"
    (planted / "__init__.py").write_text("")
    (planted / "__main__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    return marker


def environment_of(pid: int) -> tuple[dict[str, str], str]:
    """A running process's environment and working directory, as the kernel knows them."""
    entries = Path(f"/proc/{pid}/environ").read_text().split("\0")
    environment = dict(entry.split("=", 1) for entry in entries if "=" in entry)
    return environment, os.readlink(f"/proc/{pid}/cwd")


async def test_the_robot_runs_from_the_installed_package_with_none_of_the_servers_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone planted a recorder_bot package where the server runs, and the server's environment holds
    # the first admin's password.
    marker = plant_robot(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AULA_ADMIN_PASSWORD", "correct horse battery staple")
    monkeypatch.setenv("DATABASE_PASSWORD", "hunter2")
    monkeypatch.setenv("TZ", "Europe/Paris")

    robot = await spawn_robot()
    try:
        environment, cwd = environment_of(robot.pid)
    finally:
        assert robot.stdin is not None
        robot.stdin.close()  # no job: the real robot says so and exits
        out, _ = await asyncio.wait_for(robot.communicate(), 60)
    assert not any(name.startswith("AULA_") for name in environment)
    assert "DATABASE_PASSWORD" not in environment
    assert set(environment) <= {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ"}
    assert environment["TZ"] == "Europe/Paris"
    assert cwd == "/"
    assert not marker.exists()
    said = parse_progress(out.splitlines()[-1])
    assert isinstance(said, Failed)
    assert said.error.startswith("bad job")
    assert robot.returncode == 2
