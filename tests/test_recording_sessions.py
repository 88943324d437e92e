"""One recording session over several classrooms, with the real robot and aiortc participants: separate
recordings that share a name and number and stop together, the refusals, a robot killed mid-session, and
who sees a composite session's recording."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from recorder_bot.client import ClassroomClient
from server.config import Config, load_config
from server.db.models import Classroom as ClassroomRow
from server.db.models import Recording, RecordingClassroom, RecordingSession, SessionMode, User
from server.library.modes import set_allowed_modes
from server.library.recordings import RecordingActive, commit_new, new_recording
from server.library.sessions import start_session as start_stored_session
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.media_support import Classroom
from tests.synthetic_media import SyntheticAudioTrack, SyntheticVideoTrack

pytestmark = pytest.mark.usefixtures("private_namespace")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A waiting robot, and room for robots that start slowly on a busy machine (two start at once)."""
    return load_config(
        environ={},
        overrides={"data_dir": str(tmp_path / "data"), "log_format": "text", "robot_start_timeout": 120},
    )


@dataclasses.dataclass
class Two:
    """Physics (student) and Chemistry (student2), both owned by ``teacher``; ``teacher2`` co-teaches
    Chemistry only."""

    a: Classroom
    b: Classroom
    sessions: dict[str, ClientSession]


@pytest.fixture
async def two(server: TestServer, users: dict[str, int], client_as: ClientFactory) -> AsyncIterator[Two]:
    sessions = {
        name: await client_as(name) for name in ("teacher", "teacher2", "student", "student2", "admin")
    }
    ids = []
    for name, students in (("Physics", ["student"]), ("Chemistry", ["student2"])):
        response = await sessions["teacher"].post(
            "/api/classrooms", json={"name": name, "students": students}
        )
        assert response.status == 201, await response.text()
        ids.append((await response.json())["classroom"]["id"])
    response = await sessions["teacher"].patch(f"/api/classrooms/{ids[1]}", json={"moderators": ["teacher2"]})
    assert response.status == 200, await response.text()
    pair = Two(Classroom(server, sessions, ids[0]), Classroom(server, sessions, ids[1]), sessions)
    yield pair
    await pair.a.close()
    await pair.b.close()


async def start_session(
    http: ClientSession, classroom_ids: list[Any], mode: str = "separate", **more: Any
) -> tuple[int, dict[str, Any]]:
    response = await http.post(
        "/api/recording-sessions", json={"classroom_ids": classroom_ids, "mode": mode, **more}
    )
    return response.status, await response.json()


async def row(app: web.Application, recording_id: int) -> Recording:
    async with app[SERVICES].db() as db:
        recording = await db.get(Recording, recording_id)
    assert recording is not None
    return recording


async def until_state(
    app: web.Application, recording_id: int, *states: str, within: float = 120
) -> Recording:
    deadline = time.monotonic() + within
    while (recording := await row(app, recording_id)).state not in states:
        assert time.monotonic() < deadline, f"recording {recording_id} still {recording.state}"
        await asyncio.sleep(0.2)
    return recording


async def stored_counts(app: web.Application) -> tuple[int, int]:
    async with app[SERVICES].db() as db:
        recordings = await db.scalar(select(func.count()).select_from(Recording))
        sessions = await db.scalar(select(func.count()).select_from(RecordingSession))
    return recordings or 0, sessions or 0


async def robot_joins(client: ClassroomClient, within: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        joined = await client.next_event("participant_joined", wait=max(0.1, deadline - time.monotonic()))
        if joined["participant"]["robot"]:
            return dict(joined)


async def state_reaching(
    client: ClassroomClient, state: str, within: float = 120
) -> tuple[dict[str, Any], float]:
    """The first ``recording_state`` event in ``state`` and when it arrived (monotonic)."""
    deadline = time.monotonic() + within
    while True:
        event = await client.next_event("recording_state", wait=max(0.1, deadline - time.monotonic()))
        if event["recording"]["state"] == state:
            return event, time.monotonic()


def tone(path: Path, frequency: float) -> float:
    """How strong ``frequency`` is in the file's sound: summed over its audible frames (on a busy machine
    the test's senders stutter, and the robots join a moment after REC: the file has silent stretches)."""
    total = 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            samples = frame.to_ndarray()[0]
            if samples.size < 256 or float(np.abs(samples).max()) < 0.02:
                continue
            window = np.hanning(samples.size)
            spectrum = np.abs(np.fft.rfft(samples * window)) * 2 / window.sum()
            index = round(frequency * samples.size / frame.sample_rate)
            total += float(spectrum[max(0, index - 1) : index + 2].max())
    return total


def video_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


async def test_separate_session_one_stop_in_one_classroom_ends_both_ready_together(
    two: Two, app: web.Application
) -> None:
    teacher = await two.a.enter(
        "teacher", {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack(440)}
    )
    teacher2 = await two.b.enter(
        "teacher2", {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack(880)}
    )
    http = two.sessions["teacher"]
    status, body = await start_session(http, [two.a.classroom_id, two.b.classroom_id])
    assert status == 201, body
    session = body["session"]
    assert session["mode"] == "separate"
    assert session["name"] == "Physics 1"
    assert session["number"] == 1
    assert session["classrooms"] == [
        {"id": two.a.classroom_id, "name": "Physics"},
        {"id": two.b.classroom_id, "name": "Chemistry"},
    ]
    assert session["started_by"]["username"] == "teacher"
    recordings = session["recordings"]
    assert [
        (r["classroom"]["id"], r["name"], r["number"], r["session_id"], r["mode"]) for r in recordings
    ] == [
        (two.a.classroom_id, "Physics 1", 1, session["id"], "composite"),
        (two.b.classroom_id, "Physics 1", 1, session["id"], "composite"),
    ]
    # Each classroom gets its own robot, a seatless participant.
    for client in (teacher, teacher2):
        joined = await robot_joins(client)
        assert joined["participant"]["display_name"] == "Session Recorder Robot"
        assert joined["seats_used"] == 0
    for client in (teacher, teacher2):
        await state_reaching(client, "recording")

    # The dashboard shows the session's name for both classrooms.
    listing = await (await http.get("/api/classrooms")).json()
    statuses = {c["id"]: c["recording"] for c in listing["classrooms"]}
    for classroom_id in (two.a.classroom_id, two.b.classroom_id):
        assert statuses[classroom_id]["session"] == {
            "id": session["id"],
            "name": "Physics 1",
            "mode": "separate",
        }
    read = await (await http.get(f"/api/recording-sessions/{session['id']}")).json()
    assert [r["state"] for r in read["session"]["recordings"]] == ["recording", "recording"]

    await asyncio.sleep(5)
    # Each classroom's teacher hears its recording become ready as it happens.
    ready = [asyncio.create_task(state_reaching(client, "ready")) for client in (teacher, teacher2)]
    await asyncio.sleep(0.5)
    pressed = time.monotonic()
    response = await http.post(f"/api/classrooms/{two.b.classroom_id}/recording/stop")
    stop_took = time.monotonic() - pressed
    assert response.status == 200, await response.text()
    answered = (await response.json())["recording"]
    assert (answered["id"], answered["state"]) == (recordings[1]["id"], "ready")
    (_, ready_a), (_, ready_b) = await asyncio.gather(*ready)
    spread = abs(ready_a - ready_b)
    print(f"stop answered in {stop_took:.2f} s; ready events {1000 * spread:.0f} ms apart")
    assert spread < 1.0
    rows = [await row(app, r["id"]) for r in recordings]
    assert [(r.state, r.stop_reason, r.name, r.number) for r in rows] == [
        ("ready", "stopped", "Physics 1", 1)
    ] * 2
    stopped: list[datetime] = [r.stopped_at for r in rows if r.stopped_at is not None]
    assert len(stopped) == 2
    assert stopped[0] == stopped[1]
    assert abs(rows[0].duration_ms - rows[1].duration_ms) < 1000, [r.duration_ms for r in rows]
    folder = app[SERVICES].storage.recordings
    path_a, path_b = (folder / (r.file_name or "") for r in rows)
    assert path_a != path_b
    for path in (path_a, path_b):
        assert video_frames(path) >= 15 * 4
    # Each file holds its own classroom's sound.
    assert tone(path_a, 440) > 3 * tone(path_a, 880)
    assert tone(path_b, 880) > 3 * tone(path_b, 440)
    listed = (await (await http.get("/api/recordings")).json())["recordings"]
    assert sorted((r["name"], r["number"], r["state"]) for r in listed) == [("Physics 1", 1, "ready")] * 2


async def test_a_session_is_refused_with_the_reason_and_nothing_is_stored(
    two: Two, app: web.Application, config: Config
) -> None:
    http = two.sessions["teacher"]
    a, b = two.a.classroom_id, two.b.classroom_id
    for ids, words in (
        ([a], "2 to 20 classrooms"),
        ([a, a], "only once"),
        ([a, b, *range(1000, 1019)], "2 to 20 classrooms"),
        ([a, "2"], None),
    ):
        status, body = await start_session(http, ids)
        assert (status, body["error"]["code"]) == (400, "invalid"), body
        if words:
            assert words in body["error"]["message"]
    status, body = await start_session(http, [a, b], mode="mixed")
    assert (status, body["error"]["code"]) == (400, "invalid")

    status, body = await start_session(http, [a, 99_999])
    assert (status, body["error"]["code"]) == (404, "not_found")
    # teacher2 moderates Chemistry only: Physics does not exist for them (404), and once they attend it
    # as a student they may not record it (403, naming it).
    status, body = await start_session(two.sessions["teacher2"], [b, a])
    assert (status, body["error"]["code"]) == (404, "not_found")
    response = await http.patch(f"/api/classrooms/{a}", json={"students": ["student", "teacher2"]})
    assert response.status == 200, await response.text()
    status, body = await start_session(two.sessions["teacher2"], [b, a])
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert "Physics" in body["error"]["message"]
    status, body = await start_session(two.sessions["student2"], [a, b])
    assert status == 404  # student2 cannot see Physics
    status, body = await start_session(two.sessions["student2"], [b, a])
    assert (status, body["error"]["code"]) == (403, "forbidden")  # they attend Chemistry

    async with app[SERVICES].db() as db:
        await set_allowed_modes(db, ["composite", "multi_composite"])
    status, body = await start_session(http, [a, b], mode="separate")
    assert (status, body["error"]["code"]) == (403, "mode_refused")
    assert "multi_separate" in body["error"]["message"]
    async with app[SERVICES].db() as db:
        await set_allowed_modes(db, ["composite", "multi_separate"])
    status, body = await start_session(http, [a, b], mode="composite")
    assert (status, body["error"]["code"]) == (403, "mode_refused")

    svc = app[SERVICES]
    svc.config = dataclasses.replace(
        config, recording=dataclasses.replace(config.recording, min_free_bytes=1 << 60)
    )
    status, body = await start_session(http, [a, b])
    assert (status, body["error"]["code"]) == (507, "storage_full")
    svc.config = config
    assert await stored_counts(app) == (0, 0)

    # Chemistry records on its own (teacher2 pressed REC): the session is refused, naming it and them.
    response = await two.sessions["teacher2"].post(f"/api/classrooms/{b}/recording", json={})
    assert response.status == 201, await response.text()
    alone = (await response.json())["recording"]
    status, body = await start_session(http, [a, b])
    assert (status, body["error"]["code"]) == (409, "recording_active")
    assert body["error"]["message"] == "Theo Teacher is already recording Chemistry"
    assert await stored_counts(app) == (1, 0)
    # Physics is still free: a single REC there works.
    listing = await (await http.get("/api/classrooms")).json()
    statuses = {c["id"]: c["recording"] for c in listing["classrooms"]}
    assert statuses[a] is None
    assert statuses[b]["session"] is None
    response = await two.sessions["teacher2"].post(f"/api/classrooms/{b}/recording/stop")
    assert response.status == 200, await response.text()
    assert (await until_state(app, alone["id"], "ready", "failed")).state in ("ready", "failed")


async def test_a_robot_killed_in_a_separate_session_leaves_files_that_play(
    two: Two, app: web.Application
) -> None:
    await two.a.enter(
        "teacher", {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack()}
    )
    await two.b.enter(
        "teacher2", {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack(880)}
    )
    http = two.sessions["teacher"]
    status, body = await start_session(http, [two.a.classroom_id, two.b.classroom_id])
    assert status == 201, body
    ids = [r["id"] for r in body["session"]["recordings"]]
    for recording_id in ids:
        await until_state(app, recording_id, "recording")
    await asyncio.sleep(5)
    robot = app[SERVICES].recorders.robot_of(ids[0])
    assert robot is not None
    os.kill(robot.process.pid, signal.SIGKILL)
    killed = await until_state(app, ids[0], "ready", "failed")
    assert (killed.state, killed.flags, killed.stop_reason) == ("ready", "recovered", "robot_failed")
    # Chemistry's robot records on; its Stop answers once it is ready.
    assert (await row(app, ids[1])).state == "recording"
    response = await http.post(f"/api/classrooms/{two.b.classroom_id}/recording/stop")
    assert response.status == 200, await response.text()
    assert (await response.json())["recording"]["state"] == "ready"
    folder = app[SERVICES].storage.recordings
    for recording_id in ids:
        recording = await row(app, recording_id)
        assert recording.state == "ready"
        assert video_frames(folder / (recording.file_name or "")) >= 15 * 3


async def test_a_composite_session_is_one_recording_every_classroom_sees_and_its_students_watch(
    two: Two, app: web.Application
) -> None:
    teacher = await two.a.enter("teacher", {"camera": SyntheticVideoTrack(320, 240, 15)})
    teacher2 = await two.b.enter("teacher2", {"camera": SyntheticVideoTrack(320, 240, 15)})
    http = two.sessions["teacher"]
    status, body = await start_session(
        http, [two.a.classroom_id, two.b.classroom_id], mode="composite", name="Breakouts"
    )
    assert status == 201, body
    session = body["session"]
    assert (session["mode"], session["name"]) == ("composite", "Breakouts")
    [recording] = session["recordings"]
    assert recording["classrooms"] == session["classrooms"]
    assert (recording["classroom"]["id"], recording["session_id"]) == (two.a.classroom_id, session["id"])
    # Both classrooms hear of it, see the robot, and list it with the session's name.
    for client in (teacher, teacher2):
        event, _ = await state_reaching(client, "starting", within=10)
        assert event["recording"]["id"] == recording["id"]
        joined = await robot_joins(client)
        assert joined["participant"]["user_id"] == -recording["id"]
    await until_state(app, recording["id"], "recording")
    for viewer in ("teacher", "teacher2"):
        listing = await (await two.sessions[viewer].get("/api/classrooms")).json()
        statuses = {c["id"]: c["recording"] for c in listing["classrooms"]}
        assert statuses[two.b.classroom_id]["session"]["name"] == "Breakouts"
        current = await (
            await two.sessions[viewer].get(f"/api/classrooms/{two.b.classroom_id}/recording")
        ).json()
        assert current["recording"]["id"] == recording["id"]
    # A single REC in a classroom the session covers is refused.
    response = await two.sessions["teacher2"].post(f"/api/classrooms/{two.b.classroom_id}/recording", json={})
    assert response.status == 409
    assert (await response.json())["error"]["message"] == "Tess Teacher is already recording Chemistry"

    await asyncio.sleep(3)
    response = await http.post(f"/api/classrooms/{two.b.classroom_id}/recording/stop")
    assert response.status == 200, await response.text()
    done = (await response.json())["recording"]
    assert done["id"] == recording["id"]
    assert done["state"] in ("ready", "failed")
    for client in (teacher, teacher2):
        await state_reaching(client, done["state"])

    # The class timeline saw who was in each classroom at the start.
    timeline = await (await http.get(f"/api/recordings/{recording['id']}/timeline")).json()
    [started] = [e for e in timeline["events"] if e["type"] == "recording_started"]
    assert {(p["display_name"], p["classroom_id"]) for p in started["participants"]} == {
        ("Tess Teacher", two.a.classroom_id),
        ("Theo Teacher", two.b.classroom_id),
    }
    assert len([e for e in timeline["events"] if e["type"] == "recording_stopped"]) == 1

    # Chemistry's student sees it once it is published, as Physics' student does.
    student2 = two.sessions["student2"]
    assert (await (await student2.get("/api/recordings")).json())["recordings"] == []
    assert (await student2.get(f"/api/recordings/{recording['id']}")).status == 404
    # A moderator of Chemistry alone views it; it is managed as its first classroom's (Physics).
    teacher2_view = await (await two.sessions["teacher2"].get(f"/api/recordings/{recording['id']}")).json()
    assert teacher2_view["recording"]["can_manage"] is False
    response = await two.sessions["teacher2"].patch(
        f"/api/recordings/{recording['id']}", json={"published": True}
    )
    assert response.status == 403
    response = await http.patch(f"/api/recordings/{recording['id']}", json={"published": True})
    assert response.status == 200, await response.text()
    for student in ("student", "student2"):
        listed = (await (await two.sessions[student].get("/api/recordings")).json())["recordings"]
        assert [r["id"] for r in listed] == [recording["id"]]
        response = await two.sessions[student].get(f"/api/recordings/{recording['id']}")
        assert response.status == 200
        assert (await response.json())["recording"]["can_manage"] is False
        assert (await two.sessions[student].get(f"/api/recordings/{recording['id']}/timeline")).status == 200
    read = await (await student2.get(f"/api/recording-sessions/{session['id']}")).json()
    assert [r["id"] for r in read["session"]["recordings"]] == [recording["id"]]


async def test_a_disk_running_low_stops_the_whole_session_and_its_recordings_keep_one_name(
    two: Two, app: web.Application, config: Config
) -> None:
    await two.a.enter("teacher", {"camera": SyntheticVideoTrack(320, 240, 15)})
    await two.b.enter("teacher2", {"camera": SyntheticVideoTrack(320, 240, 15)})
    status, body = await start_session(two.sessions["teacher"], [two.a.classroom_id, two.b.classroom_id])
    assert status == 201, body
    ids = [r["id"] for r in body["session"]["recordings"]]
    for recording_id in ids:
        await until_state(app, recording_id, "recording")
    recorders = app[SERVICES].recorders
    recorders.config = dataclasses.replace(
        config,
        recording=dataclasses.replace(config.recording, stop_free_bytes=1 << 60, disk_check_interval=1),
    )
    rows = [await until_state(app, recording_id, "ready", "failed") for recording_id in ids]
    assert [(r.state, r.stop_reason, r.name, r.flags) for r in rows] == [
        ("ready", "disk_full", "Physics 1 (stopped: disk full)", "disk_full")
    ] * 2
    assert rows[0].stopped_at == rows[1].stopped_at


async def test_classroom_ids_beyond_any_id_are_refused_as_invalid(two: Two, app: web.Application) -> None:
    for wrong in (10**20, 0, -3):
        status, body = await start_session(two.sessions["teacher"], [two.a.classroom_id, wrong])
        assert (status, body["error"]["code"]) == (400, "invalid"), body
    assert await stored_counts(app) == (0, 0)


async def test_two_starts_racing_over_one_classroom_one_is_stored_the_other_told_who_records_it(
    two: Two, app: web.Application, users: dict[str, int]
) -> None:
    """Both starts find Chemistry free, as two pressed at the same moment do; the second to commit is
    refused by the database, naming the classroom and its recorder, and leaves nothing behind."""
    a, b = two.a.classroom_id, two.b.classroom_id
    db = app[SERVICES].db
    async with db() as first, db() as second:
        teacher = await first.get(User, users["teacher"])
        teacher2 = await second.get(User, users["teacher2"])
        assert teacher is not None
        assert teacher2 is not None
        physics, chemistry = await first.get(ClassroomRow, a), await first.get(ClassroomRow, b)
        assert physics is not None
        assert chemistry is not None
        theirs = [await second.get(ClassroomRow, b), await second.get(ClassroomRow, a)]
        # A composite session over both is stored first...
        winner = new_recording([physics, chemistry], teacher, "Robot", "Physics 1", 1)
        first.add(winner)
        await commit_new(first, [winner], [physics, chemistry])
        # ...then a separate session over Chemistry and Physics, and a plain REC of Chemistry, lose.
        session = RecordingSession(mode="separate", name="Chemistry 1", number=1, started_by_id=teacher2.id)
        second.add(session)
        await second.flush()
        losers = [
            new_recording([c], teacher2, "Robot", "Chemistry 1", 1, session_id=session.id)
            for c in theirs
            if c is not None
        ]
        second.add_all(losers)
        with pytest.raises(RecordingActive) as refused:
            await commit_new(second, losers, [c for c in theirs if c is not None])
        assert str(refused.value) == "Tess Teacher is already recording Chemistry"
    assert await stored_counts(app) == (1, 0)
    async with db() as third:
        again = await third.get(ClassroomRow, b)
        starter = await third.get(User, users["teacher2"])
        assert again is not None
        assert starter is not None
        alone = new_recording([again], starter, "Robot", "Chemistry 1", 1)
        third.add(alone)
        with pytest.raises(RecordingActive, match=r"^Tess Teacher is already recording Chemistry$"):
            await commit_new(third, [alone], [again])
    assert await stored_counts(app) == (1, 0)
    # Over HTTP the loser hears 409 with the same words.
    status, body = await start_session(two.sessions["teacher"], [b, a])
    assert (status, body["error"]["code"]) == (409, "recording_active")


async def test_a_session_names_only_the_classrooms_its_reader_may_see(
    two: Two, app: web.Application, users: dict[str, int]
) -> None:
    db = app[SERVICES].db
    async with db() as session:
        teacher = await session.get(User, users["teacher"])
        rooms = [
            await session.get(ClassroomRow, two.a.classroom_id),
            await session.get(ClassroomRow, two.b.classroom_id),
        ]
        assert teacher is not None
        assert rooms[0] is not None
        assert rooms[1] is not None
        made, _ = await start_stored_session(
            session, [rooms[0], rooms[1]], teacher, "Robot", SessionMode.SEPARATE
        )
        session_id = made.id
    physics = {"id": two.a.classroom_id, "name": "Physics"}
    chemistry = {"id": two.b.classroom_id, "name": "Chemistry"}
    for who, expected in (
        ("teacher", [physics, chemistry]),
        ("admin", [physics, chemistry]),
        ("teacher2", [chemistry]),
    ):
        response = await two.sessions[who].get(f"/api/recording-sessions/{session_id}")
        assert response.status == 200, await response.text()
        read = (await response.json())["session"]
        assert read["classrooms"] == expected, who
        assert [r["classroom"]["id"] for r in read["recordings"]] == [c["id"] for c in expected]
    response = await two.sessions["student"].get(f"/api/recording-sessions/{session_id}")
    assert response.status == 404  # nothing of it published


async def test_deleting_a_classroom_stops_the_recording_holding_it_even_before_its_robot_is_inside(
    two: Two, app: web.Application, users: dict[str, int]
) -> None:
    """A composite session's recording over both classrooms, its robot not (yet) in either: deleting
    Chemistry stops it, for that reason, and lets go of both classrooms."""
    a, b = two.a.classroom_id, two.b.classroom_id
    async with app[SERVICES].db() as db:
        teacher = await db.get(User, users["teacher"])
        physics, chemistry = await db.get(ClassroomRow, a), await db.get(ClassroomRow, b)
        assert teacher is not None
        assert physics is not None
        assert chemistry is not None
        recording = new_recording([physics, chemistry], teacher, "Robot", "Physics 1", 1)
        db.add(recording)
        await commit_new(db, [recording], [physics, chemistry])
        recording_id = recording.id
    response = await two.sessions["teacher"].delete(f"/api/classrooms/{b}")
    assert response.status == 204, await response.text()
    ended = await until_state(app, recording_id, "ready", "failed", within=30)
    assert ended.stop_reason == "classroom_deleted"
    async with app[SERVICES].db() as db:
        held_now = await db.scalars(
            select(RecordingClassroom.active_classroom_id).where(
                RecordingClassroom.recording_id == recording_id
            )
        )
        assert list(held_now) == [None, None]
    listing = await (await two.sessions["teacher"].get("/api/classrooms")).json()
    assert {c["id"]: c["recording"] for c in listing["classrooms"]} == {a: None}


async def test_a_bookmark_reaches_the_moderators_of_every_classroom_of_a_composite_session(
    two: Two, app: web.Application, users: dict[str, int]
) -> None:
    async with app[SERVICES].db() as db:
        teacher = await db.get(User, users["teacher"])
        physics = await db.get(ClassroomRow, two.a.classroom_id)
        chemistry = await db.get(ClassroomRow, two.b.classroom_id)
        assert teacher is not None
        assert physics is not None
        assert chemistry is not None
        recording = new_recording([physics, chemistry], teacher, "Robot", "Physics 1", 1)
        recording.state = "recording"
        db.add(recording)
        await commit_new(db, [recording], [physics, chemistry])
        recording_id = recording.id
    in_chemistry = await two.b.enter("teacher2")
    response = await two.sessions["teacher"].post(
        f"/api/recordings/{recording_id}/bookmarks", json={"remark": "both rooms"}
    )
    assert response.status == 201, await response.text()
    added = await in_chemistry.next_event("bookmark_added", wait=10)
    assert added["bookmark"]["remark"] == "both rooms"


async def test_pausing_one_recording_of_a_separate_session_pauses_and_resumes_them_all_at_once(
    two: Two, app: web.Application, users: dict[str, int]
) -> None:
    """The session's recordings record (robots aside: none here); Pause in Physics pauses Chemistry's
    too, at the same instant, and Resume in Chemistry resumes both."""
    async with app[SERVICES].db() as db:
        teacher = await db.get(User, users["teacher"])
        rooms = [
            await db.get(ClassroomRow, two.a.classroom_id),
            await db.get(ClassroomRow, two.b.classroom_id),
        ]
        assert teacher is not None
        assert rooms[0] is not None
        assert rooms[1] is not None
        _, made = await start_stored_session(db, [rooms[0], rooms[1]], teacher, "Robot", SessionMode.SEPARATE)
        for recording in made:
            recording.state = "recording"
        await db.commit()
        ids = [r.id for r in made]
    http = two.sessions["teacher"]
    response = await http.post(f"/api/classrooms/{two.a.classroom_id}/recording/pause")
    assert response.status == 200, await response.text()
    paused = [(await row(app, one)).paused_at for one in ids]
    assert paused[0] is not None
    assert paused[0] == paused[1]
    response = await http.post(f"/api/classrooms/{two.b.classroom_id}/recording/pause")
    assert response.status == 409  # already paused, with the whole session
    response = await http.post(f"/api/classrooms/{two.b.classroom_id}/recording/resume")
    assert response.status == 200, await response.text()
    resumed = [await row(app, one) for one in ids]
    assert [r.paused_at for r in resumed] == [None, None]
    assert resumed[0].paused_ms == resumed[1].paused_ms
