"""REC with real peers: the robot joins like a client, records the class, and the file is ready at Stop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import numpy as np
import pytest
from aiohttp import web

from server.config import Config, load_config
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
    assert joined["seats_used"] == 2  # the robot takes no seat
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
