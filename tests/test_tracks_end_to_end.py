"""Tracks from the real robot, as the library's user gets them: two aiortc participants in a tracks
recording, then the list, the Recording's figures, one track's download and the zip; and a robot killed
mid-class, whose tracks the server reads to their end."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import time
import zipfile
from typing import Any

import av
import pytest
from aiohttp import web

from server.services import SERVICES
from tests.media_support import Classroom
from tests.synthetic_media import SyntheticAudioTrack
from tests.test_consent_in_sfu import BLUE, GREEN, SolidVideoTrack

pytestmark = pytest.mark.usefixtures("private_namespace")


async def _json(classroom: Classroom, path: str) -> Any:
    response = await classroom.sessions["teacher"].get(path)
    assert response.status == 200, await response.text()
    return await response.json()


async def _start(classroom: Classroom) -> int:
    await classroom.enter(
        "teacher", {"microphone": SyntheticAudioTrack(440), "camera": SolidVideoTrack(BLUE)}
    )
    await classroom.enter(
        "student", {"microphone": SyntheticAudioTrack(660), "camera": SolidVideoTrack(GREEN)}
    )
    response = await classroom.sessions["teacher"].post(
        f"/api/classrooms/{classroom.classroom_id}/recording", json={"mode": "tracks"}
    )
    assert response.status == 201, await response.text()
    recording_id = int((await response.json())["recording"]["id"])
    deadline = time.monotonic() + 60
    while len((await _json(classroom, f"/api/recordings/{recording_id}/tracks"))["tracks"]) < 4:
        assert time.monotonic() < deadline, "the robot never listed four tracks"
        await asyncio.sleep(0.3)
    await asyncio.sleep(4)
    return recording_id


def _decodes(data: bytes) -> float:
    """How far a track file plays, in seconds."""
    with av.open(io.BytesIO(data), "r") as container:
        times = [
            frame.time
            for frame in container.decode(container.streams[0])
            if isinstance(frame, av.AudioFrame | av.VideoFrame) and frame.time is not None
        ]
    return max(times, default=0.0)


async def test_a_real_robots_tracks_list_download_and_zip(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    recording_id = await _start(classroom)
    response = await classroom.sessions["teacher"].get(f"/api/recordings/{recording_id}/tracks.zip")
    assert response.status == 409  # not while it records
    stopped = await classroom.sessions["teacher"].post(
        f"/api/classrooms/{classroom.classroom_id}/recording/stop"
    )
    assert stopped.status == 200, await stopped.text()
    recording = (await stopped.json())["recording"]
    tracks = (await _json(classroom, f"/api/recordings/{recording_id}/tracks"))["tracks"]
    assert {(t["user"]["display_name"], t["source"]) for t in tracks} == {
        (name, source) for name in ("Tess Teacher", "Sam Student") for source in ("microphone", "camera")
    }
    assert (recording["state"], recording["tracks"]) == ("ready", 4)
    assert recording["size_bytes"] == sum(t["size_bytes"] for t in tracks)
    assert all(t["duration_ms"] >= 3000 and t["size_bytes"] > 0 for t in tracks), tracks
    assert recording["duration_ms"] >= max(t["offset_ms"] + t["duration_ms"] for t in tracks) - 1000

    one = next(t for t in tracks if t["source"] == "microphone")
    download = await classroom.sessions["teacher"].get(one["media_url"])
    assert download.status == 200
    assert download.headers["Content-Type"] == "audio/webm"
    assert download.headers["Content-Disposition"].startswith("attachment; ")
    assert _decodes(await download.read()) >= 3.0

    response = await classroom.sessions["teacher"].get(f"/api/recordings/{recording_id}/tracks.zip")
    assert response.status == 200
    archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["recording"]["mode"] == "tracks"
    assert [(t["user_id"], t["source"], t["offset_ms"], t["duration_ms"]) for t in manifest["tracks"]] == [
        (t["user"]["id"], t["source"], t["offset_ms"], t["duration_ms"]) for t in tracks
    ]
    for entry in manifest["tracks"]:
        assert _decodes(archive.read(entry["file"])) >= 3.0, entry


async def test_a_killed_robots_tracks_are_probed_for_their_length(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    recording_id = await _start(classroom)
    robot = app[SERVICES].recorders.robot_of(recording_id)
    assert robot is not None
    os.kill(robot.process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while (shown := (await _json(classroom, f"/api/recordings/{recording_id}"))["recording"])[
        "state"
    ] not in (
        "ready",
        "failed",
    ):
        assert time.monotonic() < deadline, shown["state"]
        await asyncio.sleep(0.3)
    tracks = (await _json(classroom, f"/api/recordings/{recording_id}/tracks"))["tracks"]
    assert (shown["state"], shown["flags"], shown["stop_reason"]) == ("ready", ["recovered"], "robot_failed")
    assert {(t["user"]["display_name"], t["source"]) for t in tracks} == {
        (name, source) for name in ("Tess Teacher", "Sam Student") for source in ("microphone", "camera")
    }, "every track survives the kill"
    assert shown["tracks"] == len(tracks) == 4
    assert all(t["duration_ms"] >= 2000 for t in tracks), tracks
    assert shown["duration_ms"] == max(t["offset_ms"] + t["duration_ms"] for t in tracks)
    assert shown["size_bytes"] == sum(t["size_bytes"] for t in tracks)
