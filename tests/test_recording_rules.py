"""The rules around REC, with the real robot: who records and stops, leaving, crashes, disk, consent."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from server.app import create_app
from server.config import Config
from server.db.models import ConsentAnswer, Recording
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.media_support import Classroom
from tests.synthetic_media import SyntheticAudioTrack, SyntheticVideoTrack

pytestmark = pytest.mark.usefixtures("private_namespace")


async def start(http: ClientSession, classroom_id: int) -> tuple[int, dict[str, Any]]:
    response = await http.post(f"/api/classrooms/{classroom_id}/recording", json={})
    return response.status, await response.json()


async def stop(http: ClientSession, classroom_id: int) -> tuple[int, dict[str, Any]]:
    response = await http.post(f"/api/classrooms/{classroom_id}/recording/stop")
    return response.status, await response.json()


async def state_of(app: web.Application, recording_id: int) -> Recording:
    async with app[SERVICES].db() as db:
        recording = await db.get(Recording, recording_id)
    assert recording is not None
    return recording


async def until_state(app: web.Application, recording_id: int, *states: str, within: float = 20) -> Recording:
    deadline = asyncio.get_running_loop().time() + within
    while (recording := await state_of(app, recording_id)).state not in states:
        assert asyncio.get_running_loop().time() < deadline, f"still {recording.state}"
        await asyncio.sleep(0.2)
    return recording


def tone_level(path: Path, frequency: float, after: float) -> float:
    """The amplitude of ``frequency`` in the recording's sound from ``after`` seconds on."""
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            if frame.time is not None and frame.time >= after:
                chunks.append(frame.to_ndarray()[0])
    samples = np.concatenate(chunks)[: 48_000 * 2]
    window = np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(samples * window)) * 2 / window.sum()
    index = round(frequency * samples.size / 48_000)
    return float(spectrum[index - 2 : index + 3].max())


@pytest.fixture
async def co_taught(classroom: Classroom, client_as: ClientFactory) -> Classroom:
    """``teacher2`` moderates the classroom too."""
    response = await classroom.sessions["teacher"].patch(
        f"/api/classrooms/{classroom.classroom_id}", json={"moderators": ["teacher2"]}
    )
    assert response.status == 200
    classroom.sessions["teacher2"] = await client_as("teacher2")
    classroom.sessions["admin"] = await client_as("admin")
    return classroom


async def test_only_moderators_record_and_only_the_starter_or_an_admin_stops(
    co_taught: Classroom, app: web.Application
) -> None:
    room, s = co_taught.classroom_id, co_taught.sessions
    status, body = await start(s["student"], room)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert (await (await s["teacher"].get("/api/recordings")).json())["recordings"] == []

    status, body = await start(s["teacher"], room)
    assert status == 201
    status, body = await start(s["teacher2"], room)
    assert (status, body["error"]["code"]) == (409, "recording_active")
    assert "Tess Teacher" in body["error"]["message"]
    current = await (await s["teacher2"].get(f"/api/classrooms/{room}/recording")).json()
    assert current["recording"]["started_by"]["display_name"] == "Tess Teacher"

    for who in ("teacher2", "student"):
        status, body = await stop(s[who], room)
        assert (status, body["error"]["code"]) == (403, "forbidden"), who
    status, body = await stop(s["admin"], room)
    assert (status, body["recording"]["state"]) == (200, "ready")
    status, body = await stop(s["teacher"], room)
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_recording_goes_on_when_the_starter_leaves_and_they_can_come_back_to_stop(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    teacher = await classroom.enter("teacher", {"camera": SyntheticVideoTrack(320, 240, 15)})
    student = await classroom.enter("student", {})
    status, body = await start(classroom.sessions["teacher"], classroom.classroom_id)
    recording_id = body["recording"]["id"]
    await until_state(app, recording_id, "recording")
    await teacher.close()
    await classroom.sessions["teacher"].post("/api/auth/logout")
    await asyncio.sleep(3)
    assert (await state_of(app, recording_id)).state == "recording"
    room = app[SERVICES].presence.room(classroom.classroom_id)
    assert room is not None
    assert [p.robot for p in room.participants.values()].count(True) == 1

    await classroom.sessions["teacher"].post(
        "/api/auth/login", json={"username": "teacher", "password": "correct horse battery"}
    )
    status, body = await stop(classroom.sessions["teacher"], classroom.classroom_id)
    assert (status, body["recording"]["state"]) == (200, "ready")
    assert body["recording"]["duration_ms"] > 3000
    left = await student.next_event("participant_left", wait=10)
    while left["user_id"] != -recording_id:
        left = await student.next_event("participant_left", wait=10)


async def test_a_killed_robot_leaves_a_recording_that_plays_and_a_restart_settles_every_row(
    classroom: Classroom, app: web.Application, config: Config
) -> None:
    await classroom.enter(
        "teacher", {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack()}
    )
    _status, body = await start(classroom.sessions["teacher"], classroom.classroom_id)
    recording_id = body["recording"]["id"]
    await until_state(app, recording_id, "recording")
    await asyncio.sleep(5)
    robot = app[SERVICES].recorders.robot_of(recording_id)
    assert robot is not None
    os.kill(robot.process.pid, signal.SIGKILL)
    recording = await until_state(app, recording_id, "ready", "failed")
    assert recording.state == "ready"
    assert "recovered" in recording.flags
    assert recording.duration_ms >= 3000
    path = app[SERVICES].storage.recordings / (recording.file_name or "")
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 3 * 15

    # A server that died with recordings in flight settles them when it starts again.
    copy = path.with_name("copy-" + path.name)
    shutil.copy(path, copy)
    async with app[SERVICES].db() as db:
        db.add(
            Recording(
                classroom_id=None,
                classroom_name="Old",
                number=9,
                name="Old 9",
                state="recording",
                file_name=copy.name,
            )
        )
        db.add(
            Recording(
                classroom_id=None,
                classroom_name="Old",
                number=10,
                name="Old 10",
                state="starting",
                file_name="gone.mp4",
            )
        )
        await db.commit()
    restarted = TestServer(create_app(config), host="127.0.0.1")
    await restarted.start_server()
    try:
        async with restarted.app[SERVICES].db() as db:
            rows = {r.name: r for r in (await db.scalars(select(Recording))).all()}
        assert (rows["Old 9"].state, rows["Old 9"].flags) == ("ready", "recovered")
        assert rows["Old 10"].state == "failed"
    finally:
        await restarted.close()


async def test_no_space_no_recording(classroom: Classroom, app: web.Application, config: Config) -> None:
    svc = app[SERVICES]
    svc.config = dataclasses.replace(
        config, recording=dataclasses.replace(config.recording, min_free_bytes=1 << 60)
    )
    status, body = await start(classroom.sessions["teacher"], classroom.classroom_id)
    assert (status, body["error"]["code"]) == (507, "storage_full")
    assert (await (await classroom.sessions["teacher"].get("/api/recordings")).json())["recordings"] == []


async def test_running_low_on_disk_stops_cleanly_and_says_so(
    classroom: Classroom, app: web.Application, config: Config
) -> None:
    teacher = await classroom.enter("teacher", {"camera": SyntheticVideoTrack(320, 240, 15)})
    recorders = app[SERVICES].recorders
    recorders.config = dataclasses.replace(
        config,
        recording=dataclasses.replace(config.recording, stop_free_bytes=1 << 60, disk_check_interval=1),
    )
    _status, body = await start(classroom.sessions["teacher"], classroom.classroom_id)
    recording_id = body["recording"]["id"]
    recording = await until_state(app, recording_id, "ready", "failed", within=30)
    assert recording.state == "ready"
    assert recording.name.endswith("(stopped: disk full)")
    assert "disk_full" in recording.flags
    reasons = []
    while not teacher.events["recording_state"].empty():
        reasons.append((await teacher.next_event("recording_state"))["reason"])
    assert "disk_full" in reasons


async def test_the_reminder_is_for_moderators_who_asked_and_only_while_not_recording(
    classroom: Classroom, app: web.Application
) -> None:
    s = classroom.sessions
    await s["teacher"].patch("/api/me/settings", json={"recording_reminder": True})
    await s["student"].patch("/api/me/settings", json={"recording_reminder": True})
    teacher = await classroom.enter("teacher", {})
    assert (await teacher.join(classroom.classroom_id))["reminder"] is True
    student = await classroom.enter("student", {})
    assert (await student.join(classroom.classroom_id))["reminder"] is False
    _status, _body = await start(s["teacher"], classroom.classroom_id)
    assert (await teacher.join(classroom.classroom_id))["reminder"] is False
    await s["teacher"].patch("/api/me/settings", json={"recording_reminder": False})
    await stop(s["teacher"], classroom.classroom_id)
    assert (await teacher.join(classroom.classroom_id))["reminder"] is False


async def test_a_renamed_robot_comes_under_its_new_name_at_the_next_start(
    classroom: Classroom, app: web.Application
) -> None:
    http = classroom.sessions["teacher"]
    student = await classroom.enter("student", {})
    await start(http, classroom.classroom_id)
    await http.patch("/api/me/settings", json={"robot_name": "Rec Bot"})
    first = await student.next_event("participant_joined", wait=15)
    assert (
        first["participant"]["display_name"] == "Session Recorder Robot"
    )  # the change waits for the next start
    await stop(http, classroom.classroom_id)
    _status, body = await start(http, classroom.classroom_id)
    assert body["recording"]["robot_name"] == "Rec Bot"
    second = await student.next_event("participant_joined", wait=15)
    assert (second["participant"]["display_name"], second["participant"]["robot"]) == ("Rec Bot", True)
    await stop(http, classroom.classroom_id)


async def test_a_recording_without_any_media_is_still_a_valid_file(
    classroom: Classroom, app: web.Application
) -> None:
    http = classroom.sessions["teacher"]
    status, body = await start(http, classroom.classroom_id)
    assert status == 201
    await until_state(app, body["recording"]["id"], "recording")
    await asyncio.sleep(2)
    _status, body = await stop(http, classroom.classroom_id)
    assert body["recording"]["state"] == "ready"
    path = next(app[SERVICES].storage.recordings.glob("*.mp4"))
    with av.open(str(path)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        assert sum(1 for _ in container.decode(video=0)) >= 15


async def test_with_consent_asked_a_student_who_declines_is_left_out_and_the_answer_is_kept(
    classroom: Classroom, users: dict[str, int], app: web.Application, config: Config
) -> None:
    app[SERVICES].config = dataclasses.replace(
        config, recording=dataclasses.replace(config.recording, consent="ask")
    )
    teacher = await classroom.enter("teacher", {"microphone": SyntheticAudioTrack(440)})
    student = await classroom.enter("student", {"microphone": SyntheticAudioTrack(660)})
    joined = await student.join(classroom.classroom_id)
    assert joined["consent"]["mode"] == "ask"
    status, body = await start(classroom.sessions["teacher"], classroom.classroom_id)
    assert status == 201
    recording_id = body["recording"]["id"]
    assert (await student.call("recording_consent", {"accepted": False}))["ok"] is True
    assert (await teacher.call("recording_consent", {"accepted": True}))["ok"] is True
    await until_state(app, recording_id, "recording")
    await asyncio.sleep(5)
    _status, body = await stop(classroom.sessions["teacher"], classroom.classroom_id)
    async with app[SERVICES].db() as db:
        answers = (await db.scalars(select(ConsentAnswer).order_by(ConsentAnswer.id))).all()
    assert [(a.user_id, a.accepted) for a in answers] == [(users["student"], False), (users["teacher"], True)]
    assert all(a.answered_at is not None for a in answers)
    path = next(app[SERVICES].storage.recordings.glob("*.mp4"))
    assert tone_level(path, 440, after=2.0) > 0.02, "the teacher is in the recording"
    assert tone_level(path, 660, after=2.0) < 0.002, "the student who declined is not"


async def test_deleting_a_classroom_while_it_records_keeps_the_recording_and_says_why_it_ended(
    classroom: Classroom, app: web.Application
) -> None:
    student = await classroom.enter("student", {"microphone": SyntheticAudioTrack(660)})
    status, body = await start(classroom.sessions["teacher"], classroom.classroom_id)
    assert status == 201
    recording_id = body["recording"]["id"]
    await until_state(app, recording_id, "recording")
    await asyncio.sleep(2)
    response = await classroom.sessions["teacher"].delete(f"/api/classrooms/{classroom.classroom_id}")
    assert response.status == 204
    assert (await student.next_event("removed"))["reason"] == "classroom_deleted"
    recording = await until_state(app, recording_id, "ready", "failed")
    assert (recording.state, recording.stop_reason) == ("ready", "classroom_deleted")
    listed = await (await classroom.sessions["teacher"].get(f"/api/recordings/{recording_id}")).json()
    assert listed["recording"]["stop_reason"] == "classroom_deleted"
    path = next(app[SERVICES].storage.recordings.glob("*.mp4"))
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(audio=0)) > 50
