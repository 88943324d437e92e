"""REC with real peers: the robot joins like a client, records the class, and the file is ready at Stop."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from pathlib import Path

import av
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from server.app import create_app
from server.config import Config, load_config
from server.db.models import Recording
from server.services import SERVICES
from tests.media_support import Classroom, Counter, wait_for
from tests.synthetic_media import (
    BeepingAudioTrack,
    FlashingVideoTrack,
    SyntheticAudioTrack,
    SyntheticVideoTrack,
)

pytestmark = pytest.mark.usefixtures("private_namespace")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """As a school runs it: a robot waits, so REC records from the moment it is pressed."""
    return load_config(environ={}, overrides={"data_dir": str(tmp_path / "data"), "log_format": "text"})


async def row(app: web.Application, recording_id: int) -> Recording:
    async with app[SERVICES].db() as db:
        recording = await db.get(Recording, recording_id)
    assert recording is not None
    return recording


async def until_ended(app: web.Application, recording_id: int, within: float = 30) -> Recording:
    deadline = time.monotonic() + within
    while (recording := await row(app, recording_id)).state not in ("ready", "failed"):
        assert time.monotonic() < deadline, f"still {recording.state}"
        await asyncio.sleep(0.2)
    return recording


def streams_of(path: Path) -> dict[str, str]:
    with av.open(str(path)) as container:
        return {stream.type: stream.codec_context.name for stream in container.streams}


async def test_teacher_records_a_class_and_the_file_is_ready_at_stop(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    teacher = await classroom.enter(
        "teacher", {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack()}
    )
    counter = Counter()
    await classroom.enter("student", {"microphone": SyntheticAudioTrack(660)}, counter)
    await wait_for(lambda: counter.count(users["teacher"], "camera") > 5, 15)
    http = classroom.sessions["teacher"]

    pressed = time.monotonic()
    response = await http.post(f"/api/classrooms/{classroom.classroom_id}/recording", json={})
    assert response.status == 201, await response.text()
    recording = (await response.json())["recording"]
    assert recording["name"] == "Physics 1"
    joined = await teacher.next_event("participant_joined", wait=15)
    while joined["participant"]["username"] == "student":  # the student's arrival came first
        joined = await teacher.next_event("participant_joined", wait=15)
    assert joined["participant"]["robot"] is True
    assert joined["participant"]["display_name"] == "Session Recorder Robot"
    assert joined["seats_used"] == 1  # the robot and the teacher take no seat
    while (state := await teacher.next_event("recording_state", wait=20))["recording"][
        "state"
    ] != "recording":
        assert state["recording"]["state"] == "starting"

    await asyncio.sleep(6)
    stop_pressed = time.monotonic()
    stopped = await http.post(f"/api/classrooms/{classroom.classroom_id}/recording/stop")
    stop_took = time.monotonic() - stop_pressed
    wall = time.monotonic() - pressed
    assert stopped.status == 200, await stopped.text()
    done = (await stopped.json())["recording"]
    assert done["state"] == "ready"
    assert stop_took < 1.0, f"stop took {stop_took:.2f} s"  # listed as ready within a second

    listed = await (await http.get("/api/recordings")).json()
    assert [r["state"] for r in listed["recordings"]] == ["ready"]
    stored = await row(app, recording["id"])
    assert (stored.stop_reason, stored.flags, stored.robot_secret) == ("stopped", "", None)
    reasons = []
    while not teacher.events["recording_state"].empty():
        reasons.append((await teacher.next_event("recording_state"))["reason"])
    assert reasons[-2:] == ["stopped", "stopped"]  # finishing, then ready
    path = app[SERVICES].storage.recordings / next(app[SERVICES].storage.recordings.glob("*.mp4")).name
    assert streams_of(path) == {"video": "h264", "audio": "aac"}
    assert abs(done["duration_ms"] / 1000 - wall) < 1.0, (done["duration_ms"], wall)
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 15 * 5


def flash_and_beep(path: Path) -> tuple[float, float]:
    """When the picture turns white, and when the 1 kHz beep starts, in the recording."""
    flash: float | None = None
    with av.open(str(path)) as container:
        for picture in container.decode(video=0):
            if float(picture.to_ndarray(format="gray").mean()) > 150:
                flash = picture.time
                break
    samples: list[np.ndarray] = []
    start: float | None = None
    with av.open(str(path)) as container:
        for sound in container.decode(audio=0):
            if start is None:
                start = sound.time
            samples.append(sound.to_ndarray()[0])
    pcm = np.concatenate(samples)
    onset = int(np.argmax(np.abs(pcm) > 0.1))
    assert flash is not None
    assert start is not None
    return flash, start + onset / 48_000


async def test_a_flash_and_a_beep_at_the_same_moment_line_up_in_the_recording(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    http = classroom.sessions["teacher"]
    response = await http.post(f"/api/classrooms/{classroom.classroom_id}/recording", json={})
    assert response.status == 201
    started = time.time()
    start = started + 1.0
    await classroom.enter(
        "teacher",
        {
            "camera": FlashingVideoTrack(start, flash_at=5.0),
            "microphone": BeepingAudioTrack(start, beep_at=5.0),
        },
    )
    await asyncio.sleep(8)
    stopped = await http.post(f"/api/classrooms/{classroom.classroom_id}/recording/stop")
    assert (await stopped.json())["recording"]["state"] == "ready"
    path = next(app[SERVICES].storage.recordings.glob("*.mp4"))
    flash, beep = flash_and_beep(path)
    print(f"flash at {flash:.3f} s, beep at {beep:.3f} s, offset {1000 * (beep - flash):+.0f} ms")
    assert abs(beep - flash) < 0.040


async def test_a_robot_killed_mid_class_leaves_a_recording_that_plays_and_says_the_robot_failed(
    classroom: Classroom, app: web.Application
) -> None:
    await classroom.enter(
        "teacher", {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack()}
    )
    http = classroom.sessions["teacher"]
    response = await http.post(f"/api/classrooms/{classroom.classroom_id}/recording", json={})
    assert response.status == 201, await response.text()
    recording_id = (await response.json())["recording"]["id"]
    deadline = time.monotonic() + 20
    while (await row(app, recording_id)).state != "recording":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    await asyncio.sleep(4)
    robot = app[SERVICES].recorders.robot_of(recording_id)
    assert robot is not None
    os.kill(robot.process.pid, signal.SIGKILL)

    recording = await until_ended(app, recording_id)
    assert (recording.state, recording.flags, recording.stop_reason) == ("ready", "recovered", "robot_failed")
    assert recording.duration_ms >= 2000
    assert recording.robot_secret is None


async def test_a_restarted_server_settles_what_its_predecessor_left_recording_as_recovered(
    app: web.Application, config: Config
) -> None:
    """A file that plays is ready, one that does not is failed; either way the reason is ``recovered``,
    unless the recording had been stopped before the crash."""
    recordings = app[SERVICES].storage.recordings
    playable = recordings / "left-open.mp4"
    with av.open(str(playable), "w") as container:  # a short file, as a robot leaves it
        stream = container.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(30):
            picture = av.VideoFrame.from_ndarray(np.full((120, 160, 3), i * 8, np.uint8), format="rgb24")
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
    shutil.copy(playable, recordings / "stopped-then-crashed.mp4")
    async with app[SERVICES].db() as db:
        for name, state, file_name, reason in [
            ("Open 1", "recording", "left-open.mp4", None),
            ("Open 2", "starting", "never-written.mp4", None),
            ("Open 3", "finishing", "stopped-then-crashed.mp4", "stopped"),
        ]:
            db.add(
                Recording(
                    classroom_id=None,
                    classroom_name="Old",
                    number=int(name[-1]),
                    name=name,
                    state=state,
                    file_name=file_name,
                    stop_reason=reason,
                    robot_secret="left-behind",
                )
            )
        await db.commit()

    restarted = TestServer(create_app(config), host="127.0.0.1")
    await restarted.start_server()
    try:
        async with restarted.app[SERVICES].db() as db:
            rows = {r.name: r for r in (await db.scalars(select(Recording))).all()}
    finally:
        await restarted.close()
    assert (rows["Open 1"].state, rows["Open 1"].flags, rows["Open 1"].stop_reason) == (
        "ready",
        "recovered",
        "recovered",
    )
    assert (rows["Open 2"].state, rows["Open 2"].stop_reason) == ("failed", "recovered")
    assert (rows["Open 3"].state, rows["Open 3"].stop_reason) == ("ready", "stopped")
    assert {r.robot_secret for r in rows.values()} == {None}
