"""The replay publisher's grant: its own kind of token (neither read as the robot's nor the other way round),
good only while its replay is live, and one replay per classroom."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from server.errors import Conflict, NotFound
from server.recorders.tokens import RobotGrant, RobotTokens
from server.replay.grant import REPLAY_ID_BASE, ReplayTokens, new_replay_grant, replay_user_id
from server.replay.supervisor import ReplaySupervisor

SECRET = b"k" * 32
# Stands in for the publisher: reads its job and waits for SIGTERM, like the real one before it joins.
WAITING = (sys.executable, "-c", "import sys, time; sys.stdin.readline(); time.sleep(30)")


def test_a_replay_token_is_its_own_kind() -> None:
    replays, robots = ReplayTokens(SECRET, 3600), RobotTokens(SECRET, 3600)
    grant = new_replay_grant(3, 7)
    assert replays.verify(replays.issue(grant)) == grant
    assert robots.verify(replays.issue(grant)) is None
    assert replays.verify(robots.issue(RobotGrant(7, 3, "s"))) is None
    assert replays.verify(ReplayTokens(b"x" * 32, 3600).issue(grant)) is None
    assert replays.verify("x" * 600) is None


def test_replay_ids_never_meet_the_robots() -> None:
    assert replay_user_id(1) == -(REPLAY_ID_BASE + 1)
    assert -replay_user_id(1) > 2**52 > 10**15  # recording ids, which the robot negates, stay far below
    assert -replay_user_id(10**6) < 2**53  # held exactly by JavaScript's numbers


async def test_a_grant_admits_only_while_its_replay_is_live(tmp_path: Path) -> None:
    supervisor = ReplaySupervisor(ReplayTokens(SECRET, 3600), lambda: "http://127.0.0.1:1", WAITING)
    seen: list[object] = []

    async def listener(classroom_id: int, replay: object) -> None:
        seen.append(replay)

    supervisor.listener = listener
    args = {
        "classroom_id": 3,
        "recording_id": 7,
        "name": "Physics 1",
        "path": tmp_path / "a.mp4",
        "start_ms": 0,
        "end_ms": None,
        "bookmark_id": None,
        "loop": False,
        "by": (2, "Tess"),
    }
    supervisor.prepare()  # a publisher waits, libraries loaded: the replay takes it
    supervisor.prepare()
    assert supervisor._warming is not None
    await supervisor._warming
    waiting = supervisor._warm
    replay = await supervisor.start(**args)  # type: ignore[arg-type]
    assert replay.process is waiting
    try:
        assert replay.display_name == "Replay: Physics 1"
        assert supervisor.allowed(replay.grant) is replay
        assert supervisor.allowed(replace(replay.grant, secret="guessed")) is None
        assert supervisor.allowed(replace(replay.grant, recording_id=8)) is None
        with pytest.raises(Conflict):
            await supervisor.start(**args)  # type: ignore[arg-type]
        assert (await supervisor.pause(3)).state == "paused"
        with pytest.raises(Conflict):
            await supervisor.pause(3)
        assert (await supervisor.resume(3)).state == "playing"
    finally:
        await supervisor.stop(3)
    assert supervisor.allowed(replay.grant) is None
    assert seen[-1] is None
    with pytest.raises(NotFound):
        await supervisor.stop(3)
    # Deleting the recording stops its replay too.
    again = await supervisor.start(**args)  # type: ignore[arg-type]
    await supervisor.stop_replays_of(7)
    assert supervisor.get(3) is None
    assert supervisor.allowed(again.grant) is None
    await supervisor.close()
    assert replay.process is not None
    assert replay.process.returncode is not None
