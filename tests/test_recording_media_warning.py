"""The moderator hears what the recording holds: warned within 5 s of REC when it is nobody's media.

A teacher presses REC while nobody publishes: their socket gets ``recording_media`` with the warning
``no_media`` within 5 s. A student then turns on a camera and microphone: the warning clears and
``receiving`` names the student. A moderator who arrives later hears the current state; students are never
sent the event.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from recorder_bot.client import ClassroomClient
from server.config import Config, load_config
from tests.conftest import ClientFactory
from tests.media_support import Classroom
from tests.synthetic_media import SyntheticAudioTrack
from tests.test_consent_in_sfu import GREEN, SolidVideoTrack
from tests.test_recording_rules import start, stop, until_state

pytestmark = pytest.mark.usefixtures("private_namespace")

PROMISED = 5.0


@pytest.fixture(params=[1, 0], ids=["waiting-robot", "robot-started-at-rec"])
def config(tmp_path: Path, request: pytest.FixtureRequest) -> Config:
    """With a robot waiting (as a school runs it) and without (the robot starts when REC is pressed)."""
    return load_config(
        environ={},
        overrides={"data_dir": str(tmp_path / "data"), "log_format": "text", "warm_robots": request.param},
    )


async def next_media(client: ClassroomClient, until: float) -> dict[str, Any]:
    """The next ``recording_media`` this client is sent, before ``until`` (monotonic)."""
    event: dict[str, Any] = await client.next_event(
        "recording_media", wait=max(0.0, until - time.monotonic())
    )
    return event


async def test_a_recording_without_media_warns_the_moderator_until_media_arrives(
    classroom: Classroom, users: dict[str, int], app: web.Application, client_as: ClientFactory
) -> None:
    teacher = await classroom.enter("teacher")  # in the classroom, sending nothing
    pressed = time.monotonic()
    status, body = await start(classroom.sessions["teacher"], classroom.classroom_id)
    assert status == 201, body
    recording_id = body["recording"]["id"]

    while (event := await next_media(teacher, pressed + PROMISED))["warning"] != "no_media":
        assert event["receiving"] == [], event
    warned_after = time.monotonic() - pressed
    assert event == {"recording_id": recording_id, "receiving": [], "warning": "no_media"}
    print(f"REC to no_media warning: {warned_after:.2f} s")
    classroom.sessions["admin"] = await client_as("admin")
    admin = await classroom.enter("admin")
    arrived = time.monotonic()
    late = await next_media(admin, arrived + 2.5)
    assert late == event, "a moderator arriving later is told at the robot's next report"

    student = await classroom.enter(
        "student", {"camera": SolidVideoTrack(GREEN), "microphone": SyntheticAudioTrack()}
    )
    publishing = time.monotonic()
    while (event := await next_media(teacher, publishing + 15))["warning"] is not None:
        assert event["receiving"] == [], event
    cleared_after = time.monotonic() - publishing
    assert event == {"recording_id": recording_id, "receiving": [users["student"]], "warning": None}
    print(f"student's media to warning cleared: {cleared_after:.2f} s")

    await until_state(app, recording_id, "recording")
    status, body = await stop(classroom.sessions["teacher"], classroom.classroom_id)
    assert status == 200, body
    assert "recording_media" not in student.events, "students are not told"
