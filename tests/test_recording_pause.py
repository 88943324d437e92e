"""Pause and resume into one file, with real peers and the real robot.

The teacher's microphone plays 440 Hz and the camera shows grey, except while the recording is paused,
when the microphone plays 1500 Hz and the camera shows white: the file must hold the 440 Hz and the grey
before and after the pause, and neither the 1500 Hz nor the white anywhere.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from aiohttp import ClientSession, web
from aiortc import MediaStreamTrack
from av import AudioFrame, VideoFrame

from recorder_bot.client import ClassroomClient
from server.config import Config, load_config
from server.db.models import Recording
from server.library.media_clock import as_utc
from server.library.timeline import event_json, recording_events
from server.services import SERVICES
from tests.media_support import Classroom

pytestmark = pytest.mark.usefixtures("private_namespace")

RATE = 48_000
SAMPLES = 960
FPS = 15
KEPT_HZ = 440.0
PAUSED_HZ = 1500.0
GREY, WHITE = 60, 235
PAUSE_SECONDS = 5.0
GUARD = 0.3
"""The paused content starts this long after Pause answers and ends this long before Resume: frames are
placed by the sender's clock reports, which the test's loaded event loop makes a little uncertain."""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A waiting robot, so REC records from the moment it is pressed; a small picture, so the robot's
    encoder leaves the shared machine's cores to the peers whose timing the test measures."""
    return load_config(
        environ={},
        overrides={
            "data_dir": str(tmp_path / "data"),
            "log_format": "text",
            "video_width": 640,
            "video_height": 360,
        },
    )


class Switch:
    """What the teacher's devices play: the kept content, or the paused one."""

    paused = False


class Tone(MediaStreamTrack):
    """A tone paced on the wall clock: ``KEPT_HZ``, or ``PAUSED_HZ`` while ``switch.paused``."""

    kind = "audio"

    def __init__(self, switch: Switch) -> None:
        super().__init__()
        self.switch = switch
        self._samples = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._samples / RATE - time.monotonic()))
        frequency = PAUSED_HZ if self.switch.paused else KEPT_HZ
        n = np.arange(self._samples, self._samples + SAMPLES)
        wave = np.round(8000 * np.sin(2 * np.pi * frequency * n / RATE)).astype(np.int16)
        frame = AudioFrame.from_ndarray(wave[None, :], format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, RATE)
        self._samples += SAMPLES
        return frame


class Picture(MediaStreamTrack):
    """A flat picture: grey, or white while ``switch.paused``."""

    kind = "video"

    def __init__(self, switch: Switch) -> None:
        super().__init__()
        self.switch = switch
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._index / FPS - time.monotonic()))
        frame = VideoFrame(320, 240, "yuv420p")
        frame.planes[0].update(bytes([WHITE if self.switch.paused else GREY]) * frame.planes[0].buffer_size)
        frame.planes[1].update(bytes([128]) * frame.planes[1].buffer_size)
        frame.planes[2].update(bytes([128]) * frame.planes[2].buffer_size)
        frame.pts = self._index * 90_000 // FPS
        frame.time_base = fractions.Fraction(1, 90_000)
        self._index += 1
        return frame


@dataclass
class Decoded:
    pcm: npt.NDArray[np.float32]
    audio_start: float
    audio_end: float
    video_end: float
    lumas: list[tuple[float, float]]
    "(time, mean luma) of every picture."


def decode(path: Path) -> Decoded:
    chunks: list[npt.NDArray[np.float32]] = []
    audio_start: float | None = None
    audio_end = 0.0
    with av.open(str(path)) as container:
        for sound in container.decode(audio=0):
            assert sound.time is not None
            if audio_start is None:
                audio_start = sound.time
            audio_end = sound.time + sound.samples / sound.sample_rate
            chunks.append(np.asarray(sound.to_ndarray()[0], dtype=np.float32))
    lumas = []
    with av.open(str(path)) as container:
        for picture in container.decode(video=0):
            assert picture.time is not None
            lumas.append((picture.time, float(picture.to_ndarray(format="gray").mean())))
    assert audio_start is not None
    assert lumas
    return Decoded(np.concatenate(chunks), audio_start, audio_end, lumas[-1][0] + 1 / FPS, lumas)


def level(pcm: npt.NDArray[np.float32], frequency: float) -> float:
    """The amplitude of ``frequency`` in ``pcm`` (one DFT bin, Hann-windowed so nearby tones stay out)."""
    window = np.hanning(pcm.size)
    bin_ = np.exp(-2j * np.pi * frequency * np.arange(pcm.size) / RATE)
    return float(2 * abs(np.dot(pcm * window, bin_)) / window.sum())


def levels(decoded: Decoded, frequency: float, start: float, end: float) -> list[float]:
    """``frequency``'s amplitude in each quarter second of file time from ``start`` to ``end``."""
    found = []
    t = start
    while t + 0.25 <= end:
        first = round((t - decoded.audio_start) * RATE)
        found.append(level(decoded.pcm[max(0, first) : first + RATE // 4], frequency))
        t += 0.25
    return found


async def row(app: web.Application, recording_id: int) -> Recording:
    async with app[SERVICES].db() as db:
        recording = await db.get(Recording, recording_id)
    assert recording is not None
    return recording


async def events(app: web.Application, recording_id: int) -> list[dict[str, Any]]:
    await app[SERVICES].timeline.flush()
    async with app[SERVICES].db() as db:
        return [event_json(event) for event in await recording_events(db, recording_id)]


async def recording_now(http: ClientSession, classroom_id: int) -> dict[str, Any]:
    response = await http.get(f"/api/classrooms/{classroom_id}/recording")
    assert response.status == 200
    recording: dict[str, Any] = (await response.json())["recording"]
    return recording


async def until_media_reaches_the_robot(teacher: ClassroomClient, user_id: int) -> None:
    """Until the recording records (its file has a fragment) and the teacher's media reaches it."""
    while user_id not in (await teacher.next_event("recording_media", wait=20))["receiving"]:
        pass
    while (await teacher.next_event("recording_state", wait=20))["recording"]["state"] != "recording":
        pass


async def latest_state(teacher: ClassroomClient) -> dict[str, Any]:
    """The last ``recording_state`` the teacher's page was sent so far (waiting for one if none is)."""
    state = await teacher.next_event("recording_state", wait=10)
    while not teacher.events["recording_state"].empty():
        state = await teacher.next_event("recording_state")
    recording: dict[str, Any] = state["recording"]
    return recording


async def test_pause_five_seconds_then_resume_cuts_them_out_of_the_one_file(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    switch = Switch()
    teacher = await classroom.enter("teacher", {"microphone": Tone(switch), "camera": Picture(switch)})
    student = await classroom.enter("student")
    http, room = classroom.sessions["teacher"], classroom.classroom_id
    base = f"/api/classrooms/{room}/recording"

    rec_pressed = time.monotonic()
    response = await http.post(base, json={})
    assert response.status == 201, await response.text()
    recording_id = (await response.json())["recording"]["id"]
    await until_media_reaches_the_robot(teacher, users["teacher"])
    await asyncio.sleep(2.5)
    assert (await http.post(f"{base}/resume")).status == 409  # not paused: refused, nothing changes

    pause_pressed = time.monotonic()
    paused = await http.post(f"{base}/pause")
    assert paused.status == 200, await paused.text()
    body = (await paused.json())["recording"]
    assert (body["paused"], body["paused_ms"], body["state"]) == (True, 0, "recording")
    assert body["paused_at"] is not None
    await asyncio.sleep(GUARD)
    switch.paused = True  # from now until just before Resume, nothing the teacher plays may be kept
    state = await latest_state(teacher)
    assert (state["paused"], state["paused_at"]) == (
        True,
        body["paused_at"],
    )  # "Recording paused" on the page
    assert (await latest_state(student))["paused"] is True

    again = await http.post(f"{base}/pause")
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "conflict"
    by_student = await classroom.sessions["student"].post(f"{base}/pause")
    assert by_student.status == 403
    by_student = await classroom.sessions["student"].post(f"{base}/resume")
    assert by_student.status == 403
    await teacher.call("chat", {"text": "said while paused"})
    standing = (await recording_now(http, room))["duration_ms"]
    await asyncio.sleep(1.0)
    still = await recording_now(http, room)
    assert (still["paused"], still["paused_at"]) == (True, body["paused_at"])  # the refusals changed nothing
    assert still["duration_ms"] == standing  # a paused recording's length stands still
    await asyncio.sleep(PAUSE_SECONDS - (time.monotonic() - pause_pressed) - GUARD)
    switch.paused = False
    await asyncio.sleep(max(0.0, PAUSE_SECONDS - (time.monotonic() - pause_pressed)))
    # The robot still receives the teacher while paused: the moderators hear of no missing media.
    reports = []
    while not teacher.events["recording_media"].empty():
        reports.append(await teacher.next_event("recording_media"))
    assert all(report["warning"] is None for report in reports), reports
    resumed = await http.post(f"{base}/resume")
    resume_answered = time.monotonic()
    assert resumed.status == 200, await resumed.text()
    body = (await resumed.json())["recording"]
    assert (body["paused"], body["paused_at"]) == (False, None)
    assert abs(body["paused_ms"] - PAUSE_SECONDS * 1000) < 600  # the server's instants, under load
    assert (await latest_state(teacher))["paused"] is False
    await teacher.call("chat", {"text": "said after the resume"})

    await asyncio.sleep(3.0)
    stop_pressed = time.monotonic()
    stopped = await http.post(f"{base}/stop")
    assert stopped.status == 200, await stopped.text()
    done = (await stopped.json())["recording"]
    assert (done["state"], done["paused"]) == ("ready", False)
    wall_ms = (stop_pressed - rec_pressed) * 1000
    test_paused_ms = (resume_answered - pause_pressed) * 1000

    stored = await row(app, recording_id)
    assert stored.stopped_at is not None
    server_wall_ms = (as_utc(stored.stopped_at) - as_utc(stored.started_at)).total_seconds() * 1000
    path = app[SERVICES].storage.recordings / (stored.file_name or "")
    decoded = decode(path)
    file_ms = decoded.video_end * 1000
    print(
        f"file {file_ms:.0f} ms, robot's duration {stored.duration_ms} ms, wall {server_wall_ms:.0f} ms"
        f" less paused {stored.paused_ms} ms = {server_wall_ms - stored.paused_ms:.0f} ms"
        f" (as the test saw it: {wall_ms:.0f} - {test_paused_ms:.0f} = {wall_ms - test_paused_ms:.0f} ms)"
    )
    assert abs(file_ms - (server_wall_ms - stored.paused_ms)) < 300
    assert abs(stored.duration_ms - file_ms) < 100
    assert abs(decoded.audio_end - decoded.video_end) < 0.1

    timeline = await events(app, recording_id)
    marks = [e for e in timeline if e["type"] in ("paused", "resumed")]
    assert [e["type"] for e in marks] == ["paused", "resumed"]
    teacher_ref = {"id": users["teacher"], "display_name": "Tess Teacher"}
    assert [e["by"] for e in marks] == [teacher_ref, teacher_ref]
    cut_ms = marks[0]["media_ms"]
    assert marks[1]["media_ms"] == cut_ms  # the file continues where the pause cut it
    paused_at = datetime.fromisoformat(marks[0]["at"])
    assert abs(cut_ms - (paused_at - as_utc(stored.started_at)).total_seconds() * 1000) <= 1  # at: in ms
    chats = [e["text"] for e in timeline if e["type"] == "chat"]
    assert chats == ["said after the resume"]  # nothing of the class is kept while paused

    cut = cut_ms / 1000
    print(f"cut at {cut:.3f} s of the file")
    before = levels(decoded, KEPT_HZ, cut - 2.0, cut - 0.3)
    after = levels(decoded, KEPT_HZ, cut + 0.3, decoded.audio_end - 0.5)
    paused_tone = levels(decoded, PAUSED_HZ, decoded.audio_start, decoded.audio_end)
    print(
        f"440 Hz before {np.median(before):.3f}, after {np.median(after):.3f} (median of quarter seconds);"
        f" 1500 Hz at most {max(paused_tone):.4f}"
    )
    # The median: a loaded machine drops a frame of the class here and there, pause or not.
    assert np.median(before) > 0.1
    assert np.median(after) > 0.1
    assert max(paused_tone) < 0.01
    assert len(after) >= 8  # 2 s and more of the class after the resume
    brightest = max(luma for _, luma in decoded.lumas)
    grey_before = [luma for t, luma in decoded.lumas if cut - 1.5 < t < cut - 0.3]
    grey_after = [luma for t, luma in decoded.lumas if cut + 0.5 < t < decoded.video_end - 0.5]
    assert brightest < 120  # never the white picture shown while paused
    assert np.median(grey_before) > 30
    assert np.median(grey_after) > 30

    # What the player is served: the original clock has an anchor at the resume, and a chapter starts there.
    served = await (await http.get(f"/api/recordings/{recording_id}/timeline")).json()
    served_marks = [e["type"] for e in served["events"] if e["type"] in ("paused", "resumed")]
    assert served_marks == ["paused", "resumed"]
    assert [anchor["media_ms"] for anchor in served["clock"]] == [0, cut_ms]
    chapters = (await (await http.get(f"/api/recordings/{recording_id}/chapters")).json())["chapters"]
    assert [(c["kind"], c["start_ms"]) for c in chapters] == [("start", 0), ("resume", cut_ms)]
    assert chapters[-1]["end_ms"] == stored.duration_ms


async def test_stop_while_paused_ends_the_file_at_the_pause(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    switch = Switch()
    teacher = await classroom.enter("teacher", {"microphone": Tone(switch), "camera": Picture(switch)})
    http, base = classroom.sessions["teacher"], f"/api/classrooms/{classroom.classroom_id}/recording"
    response = await http.post(base, json={})
    assert response.status == 201
    recording_id = (await response.json())["recording"]["id"]
    await until_media_reaches_the_robot(teacher, users["teacher"])
    await asyncio.sleep(1.5)
    assert (await http.post(f"{base}/pause")).status == 200
    await asyncio.sleep(GUARD)
    switch.paused = True
    await asyncio.sleep(2.0)
    stopped = await http.post(f"{base}/stop")
    assert stopped.status == 200
    done = (await stopped.json())["recording"]
    assert (done["state"], done["paused"], done["paused_at"]) == ("ready", False, None)

    stored = await row(app, recording_id)
    assert stored.stopped_at is not None
    timeline = await events(app, recording_id)
    cut_ms = next(e["media_ms"] for e in timeline if e["type"] == "paused")
    decoded = decode(app[SERVICES].storage.recordings / (stored.file_name or ""))
    print(f"file {decoded.video_end * 1000:.0f} ms, paused at {cut_ms} ms, robot's {stored.duration_ms} ms")
    assert abs(decoded.video_end * 1000 - cut_ms) < 300
    assert abs(stored.duration_ms - cut_ms) < 300
    assert max(levels(decoded, PAUSED_HZ, decoded.audio_start, decoded.audio_end)) < 0.01
    assert max(luma for _, luma in decoded.lumas) < 120
    # The pause closed at the stop: the recording's media time there is the file's end.
    wall_ms = (as_utc(stored.stopped_at) - as_utc(stored.started_at)).total_seconds() * 1000
    assert abs(wall_ms - stored.paused_ms - cut_ms) < 5
    stop_event = next(e for e in timeline if e["type"] == "recording_stopped")
    assert abs(stop_event["media_ms"] - cut_ms) < 5
    assert (await http.post(f"{base}/resume")).status == 404  # nothing is being recorded any more
