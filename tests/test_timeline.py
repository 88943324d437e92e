"""The class timeline of a real recorded class: aiortc peers, the real robot, chat, hands and bookmarks.

One recording serves every assertion: the teacher scores two moments with bookmarks, pauses and resumes,
then the robot is killed; the timeline, its text and WebVTT exports and the chapters tell what happened,
up to the kill, at the media time where it sits in the file.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import pytest
from aiohttp import web

from server.config import Config, load_config
from server.services import SERVICES
from tests.media_support import Classroom
from tests.synthetic_media import FlashingVideoTrack, SyntheticAudioTrack
from tests.test_recording import row, until_ended

pytestmark = pytest.mark.usefixtures("private_namespace")

CODES = {
    "lists": [
        {
            "name": "Lesson",
            "codes": [
                {"code": "Q", "label": "Question", "key": "q"},
                {"code": "praise", "label": "Praise", "key": "p"},
            ],
        }
    ]
}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A robot waits, so REC records from the moment it is pressed."""
    return load_config(environ={}, overrides={"data_dir": str(tmp_path / "data"), "log_format": "text"})


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def flash_time(path: Path) -> float:
    """When the picture first turns white, in seconds of the file."""
    with av.open(str(path)) as container:
        for picture in container.decode(video=0):
            if float(picture.to_ndarray(format="gray").mean()) > 150:
                assert picture.time is not None
                return float(picture.time)
    raise AssertionError("no flash in the recording")


async def test_a_recorded_class_keeps_its_timeline_bookmarks_and_chapters_up_to_a_robot_crash(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    http = classroom.sessions["teacher"]
    student_http = classroom.sessions["student"]
    base = f"/api/classrooms/{classroom.classroom_id}"
    assert (await http.put(f"{base}/codes", json=CODES)).status == 200

    start = time.time() + 0.5
    flash_at = 7.0  # seconds after ``start``: well after REC is under way
    teacher = await classroom.enter(
        "teacher", {"camera": FlashingVideoTrack(start, flash_at), "microphone": SyntheticAudioTrack()}
    )
    student = await classroom.enter("student", {"microphone": SyntheticAudioTrack(660)})

    response = await http.post(f"{base}/recording", json={"codes_list": "Lesson"})
    assert response.status == 201, await response.text()
    recording = (await response.json())["recording"]
    assert recording["codes_list"] == {"name": "Lesson", "codes": CODES["lists"][0]["codes"]}
    recording_id = recording["id"]
    rec = f"/api/recordings/{recording_id}"
    deadline = time.monotonic() + 20
    while (await row(app, recording_id)).state != "recording":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)

    # The chat message leaves at the very moment the teacher's picture flashes.
    await asyncio.sleep(max(0.0, start + flash_at - time.time()))
    sent = datetime.now(UTC)
    message = (await student.call("chat", {"text": "Why is the sky blue?"}))["message"]
    await student.call("hand", {"raised": True})

    first = await http.post(f"{rec}/bookmarks", json={"code": "Q", "remark": "A good question"})
    assert first.status == 201, await first.text()
    bookmark = (await first.json())["bookmark"]
    assert (bookmark["code"], bookmark["label"], bookmark["created_by"]["id"]) == (
        "Q",
        "Question",
        users["teacher"],
    )
    added = await teacher.next_event("bookmark_added", wait=5)
    assert added["bookmark"]["id"] == bookmark["id"]

    # Bad bookmarks: each refused in words, none kept.
    refusals: list[tuple[Any, dict[str, Any], int, str | None]] = [
        (http, {"code": "nope"}, 400, "code"),
        (http, {"remark": "x" * 2001}, 400, "remark"),
        (student_http, {"remark": "me too"}, 404, None),  # unpublished: not even visible to a student
    ]
    for session, body, status, field in refusals:
        refused = await session.post(f"{rec}/bookmarks", json=body)
        assert refused.status == status, (body, await refused.text())
        error = (await refused.json())["error"]
        assert error["message"]
        if field is not None:
            assert field in error["fields"], error
    listed = await (await http.get(f"{rec}/bookmarks")).json()
    assert [b["id"] for b in listed["bookmarks"]] == [bookmark["id"]]

    await asyncio.sleep(0.5)
    second = await http.post(f"{rec}/bookmarks", json={"remark": "Back to the board"})
    assert second.status == 201, await second.text()

    # While paused nothing of the class is kept, and no bookmark can be added.
    assert (await http.post(f"{base}/recording/pause")).status == 200
    await student.call("chat", {"text": "Nobody hears this"})
    paused = await http.post(f"{rec}/bookmarks", json={"remark": "During the pause"})
    assert paused.status == 409, await paused.text()
    assert "paused" in (await paused.json())["error"]["message"]
    await asyncio.sleep(1.0)
    assert (await http.post(f"{base}/recording/resume")).status == 200
    await student.call("hand", {"raised": False})
    await asyncio.sleep(1.5)

    robot = app[SERVICES].recorders.robot_of(recording_id)
    assert robot is not None
    killed = datetime.now(UTC)
    os.kill(robot.process.pid, signal.SIGKILL)
    ended = await until_ended(app, recording_id)
    assert (ended.state, ended.stop_reason) == ("ready", "robot_failed")
    await app[SERVICES].timeline.flush()

    timeline = await (await http.get(f"{rec}/timeline")).json()
    events = timeline["events"]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "recording_started"
    assert kinds[-1] == "recording_stopped"
    assert {p["user_id"] for p in events[0]["participants"]} == {users["teacher"], users["student"]}
    assert events[0]["by"]["id"] == users["teacher"]
    for expected in ("chat", "hand_raised", "bookmark", "paused", "resumed", "hand_lowered"):
        assert expected in kinds, kinds
    assert kinds.count("bookmark") == 2
    chats = [e for e in events if e["type"] == "chat"]
    assert [c["text"] for c in chats] == ["Why is the sky blue?"]  # the paused one is not kept
    chat = chats[0]
    assert (chat["user_id"], chat["message_id"]) == (users["student"], message["id"])
    assert [e["media_ms"] for e in events] == sorted(e["media_ms"] for e in events)
    assert all(parse(e["at"]) <= killed for e in events if e["type"] != "recording_stopped")

    # The chat sits at its media time: the file's start plus media_ms is when it was sent.
    clock = timeline["clock"]
    assert len(clock) == 2  # the start, then the resume
    offset_ms = (parse(clock[0]["at"]) - sent).total_seconds() * 1000 + chat["media_ms"]
    # The picture that flashed as it was sent shows in the file a camera frame and its trip later.
    path = app[SERVICES].storage.recordings / (ended.file_name or "")
    picture_ms = 1000 * flash_time(path) - chat["media_ms"]
    print(
        f"chat at media time {offset_ms:+.0f} ms from when it was sent; "
        f"the flash {picture_ms:+.0f} ms after it"
    )
    assert abs(offset_ms) < 100
    assert -100 < picture_ms < 250

    chapters = (await (await http.get(f"{rec}/chapters")).json())["chapters"]
    assert [c["kind"] for c in chapters] == ["start", "bookmark", "bookmark", "resume"]
    assert chapters[1]["title"] == "Question — A good question"
    assert chapters[2]["title"] == "Back to the board"
    assert chapters[3]["title"].startswith("Resumed ")
    assert chapters[0]["start_ms"] == 0
    assert all(a["end_ms"] == b["start_ms"] for a, b in itertools.pairwise(chapters))
    assert chapters[-1]["end_ms"] == ended.duration_ms

    vtt = await http.get(f"{rec}/chapters.vtt")
    assert vtt.content_type == "text/vtt"
    text = await vtt.text()
    assert text.startswith("WEBVTT\n")
    assert "Question — A good question" in text
    assert "Back to the board" in text
    chat_vtt = await (await http.get(f"{rec}/chat.vtt")).text()
    assert "<v Sam Student>Why is the sky blue?" in chat_vtt
    assert "Nobody hears this" not in chat_vtt

    lines = (await (await http.get(f"{rec}/timeline.txt")).text()).splitlines()
    assert len(lines) == len(events)
    for line, event in zip(lines, events, strict=True):
        assert line.startswith(f"{parse(event['at']).astimezone():%H:%M:%S}  "), (line, event)
    assert any("Why is the sky blue?" in line for line in lines)

    # After the class: no bookmark on a recording that is not running; editing still works.
    after = await http.post(f"{rec}/bookmarks", json={"remark": "Too late"})
    assert after.status == 409
    edited = await http.patch(f"{rec}/bookmarks/{bookmark['id']}", json={"code": "praise"})
    assert edited.status == 200, await edited.text()
    assert (await edited.json())["bookmark"]["label"] == "Praise"
    too_far = await http.patch(f"{rec}/bookmarks/{bookmark['id']}", json={"media_ms": 10**9})
    assert too_far.status == 400
    assert "media_ms" in (await too_far.json())["error"]["fields"]
    for not_a_time in (True, "100"):
        wrong_type = await http.patch(f"{rec}/bookmarks/{bookmark['id']}", json={"media_ms": not_a_time})
        assert wrong_type.status == 400, not_a_time
        assert "media_ms" in (await wrong_type.json())["error"]["fields"]
    listed = await (await http.get(f"{rec}/bookmarks")).json()
    assert [b["label"] for b in listed["bookmarks"]] == ["Praise", None]
    # The timeline and its text tell the bookmarks as they are now: edited, moved, or deleted.
    moved = await http.patch(f"{rec}/bookmarks/{bookmark['id']}", json={"media_ms": 100})
    assert moved.status == 200, await moved.text()
    other = listed["bookmarks"][1]
    assert (await http.delete(f"{rec}/bookmarks/{other['id']}")).status == 204
    timeline_now = await (await http.get(f"{rec}/timeline")).json()
    told = [e for e in timeline_now["events"] if e["type"] == "bookmark"]
    assert [(e["bookmark_id"], e["label"], e["media_ms"]) for e in told] == [(bookmark["id"], "Praise", 100)]
    text_now = await (await http.get(f"{rec}/timeline.txt")).text()
    assert "Praise" in text_now
    assert "Back to the board" not in text_now
    assert (await student_http.get(f"{rec}/timeline")).status == 404
