"""Replay into a live class with real peers: a class is recorded by the robot, then a moderator replays the
file into the classroom; its publisher joins as "Replay: <name>", takes no seat, and every participant
receives its picture and sound; pause stops the frames, resume brings them back, stop takes it out. Bad
requests change nothing."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from recorder_bot.client import ClassroomClient
from server.db.models import Bookmark, Recording
from server.replay.grant import REPLAY_ID_BASE
from server.services import SERVICES
from tests.media_support import Classroom, Counter, wait_for
from tests.synthetic_media import SyntheticAudioTrack, SyntheticVideoTrack
from tests.test_recording import until_ended

pytestmark = pytest.mark.usefixtures("private_namespace")


async def record_a_class(classroom: Classroom, app: web.Application, seconds: float = 3.0) -> int:
    """REC with the robot while the teacher sends a picture and a tone; the recording's id, once ready."""
    http = classroom.sessions["teacher"]
    response = await http.post(f"/api/classrooms/{classroom.classroom_id}/recording", json={})
    assert response.status == 201, await response.text()
    recording_id: int = (await response.json())["recording"]["id"]
    await asyncio.sleep(seconds)
    stopped = await http.post(f"/api/classrooms/{classroom.classroom_id}/recording/stop")
    assert stopped.status == 200, await stopped.text()
    assert (await until_ended(app, recording_id)).state == "ready"
    return recording_id


async def replay_participant(client: ClassroomClient) -> dict[str, Any]:
    while True:
        joined = await client.next_event("participant_joined", wait=20)
        if joined["participant"]["replay"]:
            return dict(joined["participant"])


async def cpu_share(pid: int, seconds: float) -> float:
    """The share of one core process ``pid`` used over ``seconds`` (utime + stime from /proc)."""

    def ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    first = ticks()
    await asyncio.sleep(seconds)
    return (ticks() - first) / os.sysconf("SC_CLK_TCK") / seconds


async def frames_rise(counter: Counter, user_id: int, source: str, within: float = 10) -> None:
    before = counter.count(user_id, source)
    await wait_for(lambda: counter.count(user_id, source) > before + 5, within)


async def test_a_recording_replays_to_everyone_pauses_resumes_and_stops(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    cid = classroom.classroom_id
    teacher_http, student_http = classroom.sessions["teacher"], classroom.sessions["student"]
    publisher = await classroom.enter(
        "teacher", {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack()}
    )
    recording_id = await record_a_class(classroom, app)
    await publisher.close()
    classroom.clients.remove(publisher)

    teacher_frames, student_frames = Counter(), Counter()
    teacher = await classroom.enter("teacher", {}, teacher_frames)
    student = await classroom.enter("student", {}, student_frames)
    seats_before = (await (await teacher_http.get(f"/api/classrooms/{cid}")).json())["classroom"]

    # A student may not replay; an unknown recording, a bookmark of another recording: refused.
    refused = await student_http.post(f"/api/classrooms/{cid}/replay", json={"recording_id": recording_id})
    assert refused.status == 403
    unknown = await teacher_http.post(f"/api/classrooms/{cid}/replay", json={"recording_id": 999_999})
    assert unknown.status == 404
    async with app[SERVICES].db() as db:
        first = await db.get(Recording, recording_id)
        assert first is not None
        another = Recording(
            classroom_id=cid,
            classroom_name="Physics",
            number=2,
            name="Physics 2",
            state="ready",
            started_by_id=users["teacher"],
            file_name=f"other-{first.file_name}",
        )
        # Theo's recording of a classroom since deleted: Tess may not view it; and one that failed.
        theirs = Recording(
            classroom_id=None,
            classroom_name="Chemistry",
            number=1,
            name="Chemistry 1",
            state="ready",
            started_by_id=users["teacher2"],
            file_name=f"theirs-{first.file_name}",
        )
        failed = Recording(
            classroom_id=cid,
            classroom_name="Physics",
            number=3,
            name="Physics 3",
            state="failed",
            started_by_id=users["teacher"],
            file_name=f"failed-{first.file_name}",
        )
        db.add_all([another, theirs, failed])
        await db.flush()
        elsewhere = Bookmark(recording_id=another.id, media_ms=500, code=None, label=None, remark="x")
        db.add(elsewhere)
        await db.commit()
        bookmark_id, theirs_id, failed_id = elsewhere.id, theirs.id, failed.id
    not_viewable = await teacher_http.post(f"/api/classrooms/{cid}/replay", json={"recording_id": theirs_id})
    assert not_viewable.status == 404
    not_ready = await teacher_http.post(f"/api/classrooms/{cid}/replay", json={"recording_id": failed_id})
    assert not_ready.status == 409
    wrong = await teacher_http.post(
        f"/api/classrooms/{cid}/replay", json={"recording_id": recording_id, "bookmark_id": bookmark_id}
    )
    assert wrong.status == 400
    assert "bookmark_id" in (await wrong.json())["error"]["fields"]
    as_text = await teacher_http.post(
        f"/api/classrooms/{cid}/replay", json={"recording_id": str(recording_id)}
    )
    assert as_text.status == 400
    assert "recording_id" in (await as_text.json())["error"]["fields"]
    assert (await (await teacher_http.get(f"/api/classrooms/{cid}/replay")).json()) == {"replay": None}

    started = time.monotonic()
    response = await teacher_http.post(
        f"/api/classrooms/{cid}/replay", json={"recording_id": recording_id, "loop": True}
    )
    assert response.status == 201, await response.text()
    replay = (await response.json())["replay"]
    assert replay["recording_id"] == recording_id
    assert replay["loop"] is True
    assert replay["started_by"]["id"] == users["teacher"]
    twice = await teacher_http.post(f"/api/classrooms/{cid}/replay", json={"recording_id": recording_id})
    assert twice.status == 409

    participant = await replay_participant(student)
    assert participant["display_name"] == f"Replay: {replay['name']}"
    assert participant["user_id"] < -REPLAY_ID_BASE  # never a robot's -recording.id
    assert participant["role"] == "replay"
    assert participant["robot"] is False
    replay_id = participant["user_id"]
    for counter in (teacher_frames, student_frames):
        await frames_rise(counter, replay_id, "camera", within=20)
        await frames_rise(counter, replay_id, "microphone")
    print(f"first replay frames {time.monotonic() - started:.1f} s after POST")
    state = await teacher.next_event("replay_state")
    while state["replay"]["state"] != "playing":
        state = await teacher.next_event("replay_state")
    # Seatless and not counted as present.
    seats_now = (await (await teacher_http.get(f"/api/classrooms/{cid}")).json())["classroom"]
    assert seats_now["seats_used"] == seats_before["seats_used"]
    assert seats_now.get("present") == seats_before.get("present")

    # The recording is 3 s long and loops: frames still arrive after it would have ended.
    await asyncio.sleep(max(0.0, started + 6 - time.monotonic()))
    await frames_rise(student_frames, replay_id, "camera")

    # The replay process's CPU for this one stream (decode, scale, encode once), over 3 s.
    live = app[SERVICES].replays.get(cid)
    assert live is not None
    assert live.process is not None
    cpu = await cpu_share(live.process.pid, 3.0)
    print(f"replay process: {cpu:.0%} of one core for one stream")

    # A REC meanwhile records the replay like any publisher (the robot reports its media as received),
    # and its timeline holds the replay's pause, resume and stop.
    rec = await teacher_http.post(f"/api/classrooms/{cid}/recording", json={})
    assert rec.status == 201, await rec.text()
    second_id = (await rec.json())["recording"]["id"]
    deadline = time.monotonic() + 20
    while True:
        report = await teacher.next_event("recording_media", wait=20)
        if replay_id in report["receiving"]:
            break
        assert time.monotonic() < deadline, report

    paused = await teacher_http.post(f"/api/classrooms/{cid}/replay/pause")
    assert paused.status == 200
    assert (await paused.json())["replay"]["state"] == "paused"
    assert (await teacher_http.post(f"/api/classrooms/{cid}/replay/pause")).status == 409
    await asyncio.sleep(0.7)
    held = student_frames.count(replay_id, "camera")
    await asyncio.sleep(1.5)
    assert student_frames.count(replay_id, "camera") <= held + 1
    resumed = await teacher_http.post(f"/api/classrooms/{cid}/replay/resume")
    assert resumed.status == 200
    assert (await resumed.json())["replay"]["state"] == "playing"
    assert (await teacher_http.post(f"/api/classrooms/{cid}/replay/resume")).status == 409
    await frames_rise(student_frames, replay_id, "camera")

    stopped = await teacher_http.post(f"/api/classrooms/{cid}/replay/stop")
    assert stopped.status == 200
    while True:
        left = await student.next_event("participant_left", wait=10)
        if left["user_id"] == replay_id:
            break
    await asyncio.sleep(0.7)
    after = student_frames.count(replay_id, "camera")
    await asyncio.sleep(1.0)
    assert student_frames.count(replay_id, "camera") == after
    assert (await (await teacher_http.get(f"/api/classrooms/{cid}/replay")).json()) == {"replay": None}
    assert (await teacher_http.post(f"/api/classrooms/{cid}/replay/stop")).status == 404

    assert (await teacher_http.post(f"/api/classrooms/{cid}/recording/stop")).status == 200
    assert (await until_ended(app, second_id)).state == "ready"
    timeline = await (await teacher_http.get(f"/api/recordings/{second_id}/timeline")).json()
    kinds = [e["type"] for e in timeline["events"] if e["type"].startswith("replay_")]
    assert kinds == ["replay_paused", "replay_resumed", "replay_stopped"], timeline["events"]
    assert all(e["recording_id"] == recording_id for e in timeline["events"] if e["type"] in kinds)
    assert all(e["by"]["id"] == users["teacher"] for e in timeline["events"] if e["type"] in kinds)

    # One chapter, not looping: from its bookmark to the next one (1 s), then it ends by itself.
    async with app[SERVICES].db() as db:
        for media_ms in (500, 1500):
            db.add(Bookmark(recording_id=recording_id, media_ms=media_ms, code=None, label=None, remark="b"))
        await db.commit()
    chapters = (await (await teacher_http.get(f"/api/recordings/{recording_id}/chapters")).json())["chapters"]
    chapter = next(c for c in chapters if c["start_ms"] == 500)
    assert chapter["end_ms"] == 1500
    teacher.events.pop("replay_state", None)  # the earlier replay's
    response = await teacher_http.post(
        f"/api/classrooms/{cid}/replay",
        json={"recording_id": recording_id, "bookmark_id": chapter["bookmark_id"]},
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["replay"]["bookmark_id"] == chapter["bookmark_id"]
    before = student_frames.count(replay_id, "camera")
    while (await teacher.next_event("replay_state", wait=20))["replay"] is not None:
        pass
    assert student_frames.count(replay_id, "camera") > before  # it played, about 15 frames
    assert student_frames.count(replay_id, "camera") < before + 40  # and only its second

    # Looping, it would play on for ever: once the last person has left (and not come back), it stops.
    app[SERVICES].replays.empty_grace = 0.5
    response = await teacher_http.post(
        f"/api/classrooms/{cid}/replay", json={"recording_id": recording_id, "loop": True}
    )
    assert response.status == 201, await response.text()
    await replay_participant(student)
    for client in (student, teacher):
        await client.close()
        classroom.clients.remove(client)
    await wait_for(lambda: app[SERVICES].replays.get(cid) is None, 5)

    # Deleting the classroom ends its replay at once, also one whose publisher is not inside yet.
    response = await teacher_http.post(
        f"/api/classrooms/{cid}/replay", json={"recording_id": recording_id, "loop": True}
    )
    assert response.status == 201, await response.text()
    assert (await teacher_http.delete(f"/api/classrooms/{cid}")).status == 204
    assert app[SERVICES].replays.get(cid) is None
