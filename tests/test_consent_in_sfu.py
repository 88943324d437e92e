"""Recording consent is enforced in the SFU: a decliner's media never reaches the robot, so never the file.

Each person sends a colour and a tone of their own; the recording is then searched for them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fractions
import time
from pathlib import Path

import av
import numpy as np
import pytest
from aiohttp import web
from aiortc import MediaStreamTrack
from av import VideoFrame

from server.config import Config, load_config
from server.services import SERVICES
from tests.media_support import Classroom, wait_for
from tests.synthetic_media import SyntheticAudioTrack
from tests.test_recording_rules import start, stop, tone_level, until_state

pytestmark = pytest.mark.usefixtures("private_namespace")

VIDEO_CLOCK = 90_000
# YUV of the colours each person's camera shows, and how they look once mixed and encoded.
BLUE = (41, 240, 110)
GREEN = (145, 54, 34)
MAGENTA = (106, 202, 222)


class SolidVideoTrack(MediaStreamTrack):
    """A camera showing one flat colour (YUV), 15 fps."""

    kind = "video"

    def __init__(self, yuv: tuple[int, int, int], width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.yuv, self.width, self.height = yuv, width, height
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._index / 15 - time.monotonic()))
        frame = VideoFrame(self.width, self.height, "yuv420p")
        for plane, value in zip(frame.planes, self.yuv, strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = self._index * VIDEO_CLOCK // 15
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._index += 1
        return frame


def colour_share(path: Path, yuv: tuple[int, int, int], after: float) -> float:
    """The largest share of a frame's pixels close to ``yuv`` in any frame from ``after`` seconds on."""
    target = np.array(yuv, dtype=np.int16)
    best = 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is None or frame.time < after:
                continue
            planes = frame.to_ndarray(format="yuv444p").astype(np.int16)  # 3 x H x W
            distance = np.abs(planes - target[:, None, None]).max(axis=0)
            best = max(best, float((distance < 24).mean()))
    return best


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Consent asked of everyone; a robot waits, as a school runs it."""
    base = load_config(environ={}, overrides={"data_dir": str(tmp_path / "data"), "log_format": "text"})
    return dataclasses.replace(base, recording=dataclasses.replace(base.recording, consent="ask"))


def robot_sources(app: web.Application, classroom_id: int) -> set[tuple[str, str]]:
    """(publisher user id, kind) of every leg the SFU sends to the robot."""
    media = app[SERVICES].media.get(classroom_id)
    assert media is not None
    robot = [key for key in media.peers if key < 0]
    if not robot:
        return set()
    peer = media.peers[robot[0]]
    return {(leg.stream.participant_id, leg.stream.kind) for leg in media.router.legs(peer.key) if leg.active}


async def test_decliners_and_a_late_joiner_who_declines_are_neither_heard_nor_seen_in_the_file(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    teacher = await classroom.enter(
        "teacher", {"microphone": SyntheticAudioTrack(440), "camera": SolidVideoTrack(BLUE)}
    )
    student = await classroom.enter(
        "student", {"microphone": SyntheticAudioTrack(660), "camera": SolidVideoTrack(GREEN)}
    )
    status, body = await start(classroom.sessions["teacher"], classroom.classroom_id)
    assert status == 201, body
    recording_id = body["recording"]["id"]
    assert (await teacher.call("recording_consent", {"accepted": True}))["ok"] is True
    assert (await student.call("recording_consent", {"accepted": False}))["ok"] is True
    await until_state(app, recording_id, "recording")
    teacher_id, student_id = str(users["teacher"]), str(users["student"])
    teacher_sources = {(teacher_id, "audio"), (teacher_id, "video")}
    await wait_for(lambda: teacher_sources <= robot_sources(app, classroom.classroom_id), 15)

    # Someone arriving after REC is asked too; until they answer, nothing of theirs reaches the robot.
    late = await classroom.enter(
        "student2", {"microphone": SyntheticAudioTrack(880), "camera": SolidVideoTrack(MAGENTA)}
    )
    await asyncio.sleep(3)
    late_id = str(users["student2"])
    assert all(publisher == teacher_id for publisher, _ in robot_sources(app, classroom.classroom_id))
    assert (await late.call("recording_consent", {"accepted": False}))["ok"] is True
    await asyncio.sleep(4)
    sources = robot_sources(app, classroom.classroom_id)
    assert sources == teacher_sources
    assert not {student_id, late_id} & {publisher for publisher, _ in sources}

    _status, body = await stop(classroom.sessions["teacher"], classroom.classroom_id)
    assert body["recording"]["state"] == "ready"
    path = next(app[SERVICES].storage.recordings.glob("*.mp4"))
    assert tone_level(path, 440, after=1.0) > 0.02, "the teacher, who accepted, is heard"
    assert colour_share(path, BLUE, after=1.0) > 0.02, "and seen"
    assert tone_level(path, 660, after=0.0) < 0.002, "the student who declined is not heard"
    assert colour_share(path, GREEN, after=0.0) < 0.001, "nor seen"
    assert tone_level(path, 880, after=0.0) < 0.002, "the late joiner who declined is not heard"
    assert colour_share(path, MAGENTA, after=0.0) < 0.001, "nor seen"


async def test_a_participant_who_declines_after_accepting_is_cut_off_at_once(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    await classroom.enter("teacher", {"microphone": SyntheticAudioTrack(440)})
    student = await classroom.enter(
        "student", {"microphone": SyntheticAudioTrack(660), "camera": SolidVideoTrack(GREEN)}
    )
    status, body = await start(classroom.sessions["teacher"], classroom.classroom_id)
    assert status == 201, body
    await until_state(app, body["recording"]["id"], "recording")
    student_id = str(users["student"])
    assert (await student.call("recording_consent", {"accepted": True}))["ok"] is True
    both = {(student_id, "audio"), (student_id, "video")}
    await wait_for(lambda: both <= robot_sources(app, classroom.classroom_id), 15)

    assert (await student.call("recording_consent", {"accepted": False}))["ok"] is True
    # The legs go in the same event: no packet of theirs is forwarded to the robot after the answer.
    assert not both & robot_sources(app, classroom.classroom_id)
    _status, body = await stop(classroom.sessions["teacher"], classroom.classroom_id)
    assert body["recording"]["state"] == "ready"
