"""A composite session over two classrooms: one robot, one file, each classroom a region with its name.

The same teacher teaches both classrooms from two aiortc clients, a red camera and a 440 Hz voice in one,
a green camera and a 660 Hz voice in the other (so a user in two classrooms is two sources to the robot).
One session records both: the robot sits in each classroom's participant list, and the file holds both
voices (found by frequency), each camera in its classroom's region, and each classroom's name lettered at
the top left of its region as the robot's font draws it. A robot killed mid-session leaves a file that
plays, both regions in it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from recorder_bot import layout
from recorder_bot.client import ClassroomClient
from recorder_bot.layout import Rect
from recorder_bot.mixer import REGION_GUTTER
from server.config import Config, load_config
from server.db.models import Recording
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.support import add_user, cookie_header
from tests.synthetic_media import SyntheticAudioTrack
from tests.test_consent_in_sfu import GREEN, SolidVideoTrack
from tests.test_recorder_mixer import RED, YUV, colour_at, near
from tests.test_recording_labels import best_match, expected
from tests.test_recording_rules import state_of, until_state

pytestmark = pytest.mark.usefixtures("private_namespace")

WIDTH, HEIGHT = 1280, 720
NAMES = ("Physique 3ᵉ B", "Chimie année 2")
"The classrooms' names (accents included: the robot letters them as written)."
TONES = (440.0, 660.0)
COLOURS: tuple[YUV, YUV] = (RED, GREEN)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A robot waits, as a school runs it."""
    return load_config(environ={}, overrides={"data_dir": str(tmp_path / "data"), "log_format": "text"})


class Session:
    """Two classrooms the teacher moderates, and the clients that entered them."""

    def __init__(self, server: TestServer, http: dict[str, ClientSession], ids: tuple[int, int]) -> None:
        self.server = server
        self.http = http
        self.ids = ids
        self.clients: list[ClassroomClient] = []

    async def enter(
        self, username: str, classroom_id: int, tracks: dict[str, Any] | None = None
    ) -> tuple[ClassroomClient, dict[str, Any]]:
        """``username`` joins (publishing ``tracks``); the join's answer is what their page shows."""
        client = ClassroomClient(
            str(self.server.make_url("")), {"Cookie": cookie_header(self.http[username])}, tracks
        )
        await client.connect()
        joined = await client.join(classroom_id)
        await client.start_media()
        self.clients.append(client)
        return client, joined

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


@pytest.fixture
async def two_classrooms(server: TestServer, client_as: ClientFactory) -> AsyncIterator[Session]:
    app = server.app
    await add_user(app, "teacher", "teacher", "Tess Teacher")
    for student in ("student", "student2"):
        await add_user(app, student, "student", student.title())
    http = {name: await client_as(name) for name in ("teacher", "student", "student2")}
    ids = []
    for name, student in zip(NAMES, ("student", "student2"), strict=True):
        response = await http["teacher"].post("/api/classrooms", json={"name": name, "students": [student]})
        assert response.status == 201, await response.text()
        ids.append((await response.json())["classroom"]["id"])
    session = Session(server, http, (ids[0], ids[1]))
    yield session
    await session.close()


async def teach_both(session: Session) -> ClassroomClient:
    """The teacher, in each classroom, with that classroom's colour and voice (their first client)."""
    clients = []
    for classroom_id, colour, tone in zip(session.ids, COLOURS, TONES, strict=True):
        client, _joined = await session.enter(
            "teacher",
            classroom_id,
            {"camera": SolidVideoTrack(colour), "microphone": SyntheticAudioTrack(tone)},
        )
        clients.append(client)
    return clients[0]


async def until_recorded(teacher: ClassroomClient, within: float = 30) -> None:
    """Until the teacher's page says their media reaches the recording (the robot's joins can take a few
    seconds on a busy machine)."""
    deadline = time.monotonic() + within
    while True:
        media = await teacher.next_event("recording_media", wait=max(0.1, deadline - time.monotonic()))
        if media["receiving"]:
            return


async def start_composite(session: Session) -> dict[str, Any]:
    response = await session.http["teacher"].post(
        "/api/recording-sessions", json={"classroom_ids": list(session.ids), "mode": "composite"}
    )
    assert response.status == 201, await response.text()
    started: dict[str, Any] = (await response.json())["session"]
    assert [r["classrooms"] for r in started["recordings"]] == [
        [{"id": i, "name": n} for i, n in zip(session.ids, NAMES, strict=True)]
    ], "one recording covering both classrooms"
    return started


async def recording_listed(session: Session) -> list[dict[str, Any] | None]:
    """What the classrooms page lists as each classroom's recording."""
    response = await session.http["teacher"].get("/api/classrooms")
    assert response.status == 200
    by_id = {c["id"]: c["recording"] for c in (await response.json())["classrooms"]}
    return [by_id[classroom_id] for classroom_id in session.ids]


def regions() -> list[Rect]:
    """Where each classroom's tiles are: its region of the canvas less the gutter round it."""
    g = REGION_GUTTER
    return [
        Rect(r.x + g, r.y + g, r.width - 2 * g, r.height - 2 * g) for r in layout.regions(WIDTH, HEIGHT, 2)
    ]


def frames_of(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert frames
    assert (frames[0].width, frames[0].height) == (WIDTH, HEIGHT)
    return frames


def both_cameras(frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
    """The frames that show each classroom's camera in its region (on a starved machine some media
    arrives too late for the file, so not every frame does)."""
    centres = [layout.arrange_in(region, 1)[0] for region in regions()]
    return [
        frame
        for frame in frames
        if all(
            near(colour_at(frame, tile.x + tile.width // 2, tile.y + tile.height // 2), colour, 12)
            for tile, colour in zip(centres, COLOURS, strict=True)
        )
    ]


def seconds_heard(path: Path) -> dict[float, float]:
    """How many seconds of the file each classroom's tone is heard in: half-second windows where it is
    loud and stands out over every other frequency (a starved machine may lose some of either's
    packets, so the two are counted apart)."""
    with av.open(str(path)) as container:
        pcm = np.concatenate([frame.to_ndarray()[0] for frame in container.decode(audio=0)])
    step = 48_000 // 2
    window = np.hanning(step)
    frequencies = np.fft.rfftfreq(step, 1 / 48_000)
    heard = dict.fromkeys(TONES, 0.0)
    for start in range(0, pcm.size - step + 1, step):
        spectrum = np.abs(np.fft.rfft(pcm[start : start + step] * window)) * 2 / window.sum()
        others = spectrum.copy()
        for tone in TONES:
            others[np.abs(frequencies - tone) <= 30] = 0
        strongest_other = float(others[frequencies > 50].max())
        for tone in TONES:
            level = float(spectrum[np.abs(frequencies - tone) <= 3].max())
            if level > 0.05 and level > 10 * strongest_other:
                heard[tone] += step / 48_000
    return heard


def check_regions(path: Path) -> None:
    """Each classroom's camera fills its region's large tile; its name is lettered at the region's top
    left, matching the robot's font at the region's label size."""
    frames = frames_of(path)
    showing = both_cameras(frames)
    assert len(showing) >= 15, f"{len(showing)} of {len(frames)} frames show both classrooms' cameras"
    luma = np.asarray(showing[-1].to_ndarray(format="gray"), dtype=np.float64)
    for region, name in zip(regions(), NAMES, strict=True):
        size = layout.room_label_size(region.height)
        template = expected(layout.clean(name), size)
        # The band at the region's top left: the name is searched there only.
        band = luma[region.y : region.y + template.shape[0] + size, region.x : region.x + region.width // 2]
        found = best_match(band, template)
        assert found.similarity > 0.97, f"{name!r} lettered on its region: {found}"
        assert found.mismatch < 1.0, f"{name!r} lettered on its region: {found}"
        for other in NAMES:
            if other != name:
                wrong = best_match(band, expected(layout.clean(other), size))
                assert wrong.similarity < found.similarity, f"{other!r} is not on {name}'s region"


async def test_one_composite_file_holds_both_classrooms_voices_pictures_and_names(
    two_classrooms: Session, app: web.Application
) -> None:
    teacher = await teach_both(two_classrooms)
    started = await start_composite(two_classrooms)
    recording_id = started["recordings"][0]["id"]
    await until_state(app, recording_id, "recording", within=30)
    await until_recorded(teacher)

    # The robot sits in each classroom, seatless, as someone entering now sees.
    for classroom_id, student in zip(two_classrooms.ids, ("student", "student2"), strict=True):
        _client, joined = await two_classrooms.enter(student, classroom_id)
        robots = [p for p in joined["participants"] if p["robot"]]
        assert [r["display_name"] for r in robots] == ["Session Recorder Robot"], joined["participants"]
    await asyncio.sleep(6)  # both cameras and voices play for a while

    response = await two_classrooms.http["teacher"].post(
        f"/api/classrooms/{two_classrooms.ids[1]}/recording/stop"
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["recording"]["state"] == "ready"
    recording = await state_of(app, recording_id)
    path = app[SERVICES].storage.recordings / (recording.file_name or "")
    assert sorted(p.name for p in app[SERVICES].storage.recordings.glob("*.mp4")) == [path.name], "one file"

    heard = await asyncio.to_thread(seconds_heard, path)
    print("seconds each tone is heard:", heard)
    for tone in TONES:
        assert heard[tone] >= 1.5, f"{tone:.0f} Hz is in the file: {heard}"
    await asyncio.to_thread(check_regions, path)


async def test_a_robot_killed_mid_session_leaves_a_file_that_plays_with_both_classrooms(
    two_classrooms: Session, app: web.Application
) -> None:
    teacher = await teach_both(two_classrooms)
    started = await start_composite(two_classrooms)
    recording_id = started["recordings"][0]["id"]
    await until_state(app, recording_id, "recording", within=30)
    await until_recorded(teacher)
    listed = await recording_listed(two_classrooms)
    assert [status and status["id"] for status in listed] == [recording_id, recording_id], listed
    await asyncio.sleep(5)
    robot = app[SERVICES].recorders.robot_of(recording_id)
    assert robot is not None
    os.kill(robot.process.pid, signal.SIGKILL)
    killed = time.monotonic()

    recording: Recording = await until_state(app, recording_id, "ready", "failed", within=30)
    assert (recording.state, recording.stop_reason) == ("ready", "robot_failed")
    assert "recovered" in recording.flags
    assert recording.duration_ms >= 3000
    path = app[SERVICES].storage.recordings / (recording.file_name or "")
    assert len(await asyncio.to_thread(frames_of, path)) >= 3 * 15
    await asyncio.to_thread(check_regions, path)
    assert await recording_listed(two_classrooms) == [None, None], "both classrooms are free again"
    print(f"settled {time.monotonic() - killed:.1f} s after the kill")
