"""Per-participant tracks as a user sees them: the list, who may see it, one track's download, the Recording's
``tracks`` count, deletion, and how the tracks settle when the robot finishes or crashes.

The tracks here are real WebM files (Opus, VP8) encoded with PyAV, with their rows made as the supervisor
makes them when the robot reports ``TrackStarted``; a stand-in robot reports them for the supervisor's
own path (the real robot writing tracks is in test_recording_tracks.py).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from sqlalchemy import select

from server.db.models import RecordingClassroom, RecordingTrack, StopReason
from server.recorders.supervisor import RecorderSupervisor
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.tracks_support import Room, make_media, make_room


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_media(tmp_path_factory.mktemp("tracks"))


@pytest.fixture
async def room(
    app: web.Application, users: dict[str, int], client_as: ClientFactory, media: dict[str, Path]
) -> Room:
    return await make_room(client_as, app, media)


async def body(client: ClientSession, path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, await response.text()
    return await response.json()


async def test_the_list_says_who_which_source_codec_offset_and_length(
    room: Room, users: dict[str, int], client_as: ClientFactory
) -> None:
    recording = await room.recording(duration_ms=2500, size_bytes=3)
    camera = await room.track(
        recording, users["student"], "Sam Student", "camera", offset_ms=480, duration_ms=2000
    )
    voice = await room.track(recording, users["teacher"], "Tess Teacher", "microphone", duration_ms=1000)
    async with room.app[SERVICES].db() as db:
        for track in (camera, voice):
            row = await db.get(RecordingTrack, track.id)
            assert row is not None
            row.size_bytes = (room.root / row.file_name).stat().st_size
        await db.commit()
    teacher = await client_as("teacher")

    listed = (await body(teacher, f"/api/recordings/{recording.id}/tracks"))["tracks"]
    assert listed == [
        {
            "id": voice.id,
            "user": {"id": users["teacher"], "display_name": "Tess Teacher"},
            "source": "microphone",
            "kind": "audio",
            "codec": "opus",
            "offset_ms": 0,
            "duration_ms": 1000,
            "size_bytes": room.media["audio"].stat().st_size,
            "media_url": f"/api/recordings/{recording.id}/tracks/{voice.id}/media",
        },
        {
            "id": camera.id,
            "user": {"id": users["student"], "display_name": "Sam Student"},
            "source": "camera",
            "kind": "video",
            "codec": "vp8",
            "offset_ms": 480,
            "duration_ms": 2000,
            "size_bytes": room.media["video"].stat().st_size,
            "media_url": f"/api/recordings/{recording.id}/tracks/{camera.id}/media",
        },
    ]
    # The Recording says how many tracks it has, alone and in the library's list.
    assert (await body(teacher, f"/api/recordings/{recording.id}"))["recording"]["tracks"] == 2
    library = {r["id"]: r for r in (await body(teacher, "/api/recordings"))["recordings"]}
    assert library[recording.id]["tracks"] == 2
    composite = await room.recording(mode="composite")
    assert (await body(teacher, f"/api/recordings/{composite.id}"))["recording"]["tracks"] == 0


async def test_who_may_see_the_tracks(room: Room, users: dict[str, int], client_as: ClientFactory) -> None:
    recording = await room.recording()
    track = await room.track(recording, users["teacher"], "Tess Teacher", "microphone", duration_ms=1000)
    routes = [
        f"/api/recordings/{recording.id}/tracks",
        f"/api/recordings/{recording.id}/tracks/{track.id}/media",
        f"/api/recordings/{recording.id}/tracks.zip",
    ]
    anonymous, enrolled, outsider = (
        await client_as(None),
        await client_as("student"),
        await client_as("student2"),
    )
    other_teacher, admin = await client_as("teacher2"), await client_as("admin")
    for route in routes:
        assert (await anonymous.get(route)).status == 401
        # Unpublished: for the enrolled student it does not exist yet, as for the other classroom's people.
        for client in (enrolled, outsider, other_teacher):
            refused = await body(client, route, 404)
            assert refused["error"]["code"] == "not_found"
        assert (await admin.get(route)).status == 200
    teacher = await client_as("teacher")
    assert (await teacher.patch(f"/api/recordings/{recording.id}", json={"published": True})).status == 200
    for route in routes:
        assert (await enrolled.get(route)).status == 200
        assert (await outsider.get(route)).status == 404
    # A track of another recording is not found through this one.
    other = await room.recording()
    other_track = await room.track(other, users["teacher"], "Tess Teacher", "microphone")
    missing = await body(teacher, f"/api/recordings/{recording.id}/tracks/{other_track.id}/media", 404)
    assert missing["error"]["message"] == "this recording has no such track"


async def test_a_composite_recording_has_no_tracks_to_list(room: Room, client_as: ClientFactory) -> None:
    recording = await room.recording(mode="composite")
    teacher = await client_as("teacher")
    for route in ("tracks", "tracks.zip"):
        refused = await body(teacher, f"/api/recordings/{recording.id}/{route}", 404)
        assert refused["error"]["message"] == (
            f"recording {recording.id} has no tracks: it was recorded in composite mode"
        )


async def test_a_track_downloads_as_an_attachment_named_after_its_speaker(
    room: Room, users: dict[str, int], client_as: ClientFactory
) -> None:
    recording = await room.recording()
    # A name that must not become a path, nor reorder the saved file's name.
    track = await room.track(
        recording, users["student"], "Zoë/..\\Ma\u202ert\x07", "camera", duration_ms=2000
    )
    teacher = await client_as("teacher")
    response = await teacher.get(f"/api/recordings/{recording.id}/tracks/{track.id}/media")
    assert response.status == 200
    assert response.headers["Content-Type"] == "video/webm"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Physics 1 - Zoe .. Ma rt - camera.webm"; '
        "filename*=UTF-8''Physics%201%20-%20Zo%C3%AB%20..%20Ma%20rt%20-%20camera.webm"
    )
    assert await response.read() == room.media["video"].read_bytes()
    ranged = await teacher.get(
        f"/api/recordings/{recording.id}/tracks/{track.id}/media", headers={"Range": "bytes=0-3"}
    )
    assert (ranged.status, await ranged.read()) == (206, b"\x1a\x45\xdf\xa3")  # the EBML magic of WebM


async def test_no_download_while_the_recording_runs_but_the_list_grows(
    room: Room, users: dict[str, int], client_as: ClientFactory
) -> None:
    recording = await room.recording(state="recording")
    track = await room.track(recording, users["teacher"], "Tess Teacher", "microphone")
    teacher = await client_as("teacher")
    listed = (await body(teacher, f"/api/recordings/{recording.id}/tracks"))["tracks"]
    assert [(t["id"], t["size_bytes"]) for t in listed] == [(track.id, room.media["audio"].stat().st_size)]
    for route in (f"tracks/{track.id}/media", "tracks.zip"):
        refused = await body(teacher, f"/api/recordings/{recording.id}/{route}", 409)
        assert refused["error"] == {
            "code": "recording_active",
            "message": "the recording is still running: its tracks can be downloaded once it stops",
        }


async def test_deleting_a_recording_deletes_its_track_files(
    room: Room, users: dict[str, int], client_as: ClientFactory
) -> None:
    recording = await room.recording()
    tracks = [
        await room.track(recording, users["teacher"], "Tess Teacher", "microphone"),
        await room.track(recording, users["student"], "Sam Student", "camera"),
    ]
    kept = await room.recording()
    other = await room.track(kept, users["teacher"], "Tess Teacher", "microphone")
    teacher = await client_as("teacher")
    assert all((room.root / t.file_name).exists() for t in tracks)
    assert (await teacher.delete(f"/api/recordings/{recording.id}")).status == 204
    assert not any((room.root / t.file_name).exists() for t in tracks)
    assert (room.root / other.file_name).exists()
    async with room.app[SERVICES].db() as db:
        left = (await db.scalars(select(RecordingTrack.id))).all()
    assert left == [other.id]
    await body(teacher, f"/api/recordings/{recording.id}/tracks", 404)


async def test_a_crashed_robots_tracks_are_read_to_their_end(
    room: Room, users: dict[str, int], client_as: ClientFactory
) -> None:
    """The server restarted under a tracks recording: each track is probed for its length, the recording
    is ready for as long as its last track ends, a track that does not play is dropped with its file."""
    recording = await room.recording(state="recording")
    voice = await room.track(recording, users["teacher"], "Tess Teacher", "microphone", offset_ms=300)
    camera = await room.track(recording, users["student"], "Sam Student", "camera", offset_ms=1200)
    broken = await room.track(recording, users["student"], "Sam Student", "screen")
    (room.root / broken.file_name).write_bytes(b"\x1a\x45\xdf\xa3 cut before its first cluster")
    await room.app[SERVICES].recorders.reconcile()

    teacher = await client_as("teacher")
    listed = (await body(teacher, f"/api/recordings/{recording.id}/tracks"))["tracks"]
    sizes = {kind: path.stat().st_size for kind, path in room.media.items()}
    assert [(t["id"], t["duration_ms"], t["size_bytes"]) for t in listed] == [
        (voice.id, 1000, sizes["audio"]),
        (camera.id, 2000, sizes["video"]),
    ]
    assert not (room.root / broken.file_name).exists()
    shown = (await body(teacher, f"/api/recordings/{recording.id}"))["recording"]
    assert (shown["state"], shown["duration_ms"], shown["size_bytes"]) == ("ready", 3200, sum(sizes.values()))
    assert (shown["flags"], shown["stop_reason"], shown["tracks"]) == (["recovered"], "recovered", 2)
    assert recording.file_name is not None
    assert not (room.root / recording.file_name).with_suffix(".jpg").exists()


async def test_a_tracks_recording_without_any_track_that_plays_failed(
    room: Room, users: dict[str, int], client_as: ClientFactory
) -> None:
    recording = await room.recording(state="recording")
    broken = await room.track(recording, users["teacher"], "Tess Teacher", "microphone")
    (room.root / broken.file_name).write_bytes(b"")
    await room.app[SERVICES].recorders.reconcile()
    shown = (await body(await client_as("teacher"), f"/api/recordings/{recording.id}"))["recording"]
    assert (shown["state"], shown["tracks"]) == ("failed", 0)
    assert shown["error"] == "no participant's media reached the recording: no track was written"


# A stand-in robot for the supervisor's own path: it reports each track as it "starts" it (copying a real
# WebM into place), then, at Stop, its Finished with every track's figures.
STAND_IN = """
import json, shutil, signal, sys, time
job = json.loads(sys.stdin.readline())
root, prefix, audio, video = job["storage_root"], job["tracks_prefix"], sys.argv[1], sys.argv[2]
def say(**message):
    print(json.dumps(message), flush=True)
written = []
def track(user, name, source, kind, codec, offset, media):
    file_name = f"{prefix}-{user}-{source}.webm"
    shutil.copyfile(media, f"{root}/{file_name}")
    written.append(file_name)
    say(event="track_started", file_name=file_name, user_id=user, display_name=name, source=source,
        kind=kind, codec=codec, offset_ms=offset)
def finish(*_):
    tracks = [{"file_name": written[0], "duration_ms": 990, "size_bytes": 1},
              {"file_name": written[1], "duration_ms": 1960, "size_bytes": 1}]
    say(event="finished", duration_ms=4321, size_bytes=0, tracks=tracks)
    sys.exit(0)
signal.signal(signal.SIGTERM, finish)
say(event="joined")
say(event="first_fragment")
track(7, "Tess Teacher", "microphone", "audio", "opus", 0, audio)
track(8, "Sam Student", "camera", "video", "vp8", 650, video)
# A track outside the recording's own names is refused by the supervisor.
say(event="track_started", file_name="elsewhere.webm", user_id=9, display_name="X", source="screen",
    kind="video", codec="vp8", offset_ms=0)
while True:
    time.sleep(1)
"""


@pytest.fixture
async def stand_in(app: web.Application, media: dict[str, Path]) -> AsyncIterator[RecorderSupervisor]:
    svc = app[SERVICES]
    supervisor = RecorderSupervisor(
        svc.config,
        svc.db,
        svc.storage,
        svc.recorders._tokens,
        command=[sys.executable, "-I", "-c", STAND_IN, str(media["audio"]), str(media["video"])],
    )
    supervisor.server_url = "http://127.0.0.1:1"
    yield supervisor
    await supervisor.close()


async def test_a_finished_robots_figures_are_stored_on_its_tracks(
    room: Room, stand_in: RecorderSupervisor, client_as: ClientFactory
) -> None:
    recording = await room.recording(state="starting")
    await stand_in.start(recording, "Physics")
    teacher = await client_as("teacher")
    deadline = asyncio.get_running_loop().time() + 20
    while len((await body(teacher, f"/api/recordings/{recording.id}/tracks"))["tracks"]) < 2:
        assert asyncio.get_running_loop().time() < deadline, "the tracks were never listed"
        await asyncio.sleep(0.1)
    await stand_in.stop(recording.id, StopReason.STOPPED)
    await asyncio.wait_for(stand_in.wait(recording.id), 20)

    listed = (await body(teacher, f"/api/recordings/{recording.id}/tracks"))["tracks"]
    sizes = {kind: path.stat().st_size for kind, path in room.media.items()}
    assert [
        (t["user"]["display_name"], t["offset_ms"], t["duration_ms"], t["size_bytes"]) for t in listed
    ] == [
        ("Tess Teacher", 0, 990, sizes["audio"]),  # the size is the file's, as it is on disk
        ("Sam Student", 650, 1960, sizes["video"]),
    ]
    shown = (await body(teacher, f"/api/recordings/{recording.id}"))["recording"]
    assert (shown["state"], shown["duration_ms"], shown["size_bytes"]) == ("ready", 4321, sum(sizes.values()))
    assert (shown["flags"], shown["tracks"]) == ([], 2)


async def test_tracks_of_a_recording_over_several_classrooms_are_seen_through_each_of_them(
    room: Room, users: dict[str, int], client_as: ClientFactory
) -> None:
    other_teacher = await client_as("teacher2")
    response = await other_teacher.post("/api/classrooms", json={"name": "Chemistry"})
    assert response.status == 201, await response.text()
    chemistry = (await response.json())["classroom"]["id"]
    recording = await room.recording()
    await room.track(recording, users["teacher"], "Tess Teacher", "microphone", duration_ms=1000)
    route = f"/api/recordings/{recording.id}/tracks"
    assert (await other_teacher.get(route)).status == 404
    async with room.app[SERVICES].db() as db:
        db.add(
            RecordingClassroom(
                recording_id=recording.id, classroom_id=chemistry, classroom_name="Chemistry", position=1
            )
        )
        await db.commit()
    # Chemistry's moderator may view it (as the recordings' own check says), so its tracks too.
    assert (await other_teacher.get(f"/api/recordings/{recording.id}")).status == 200
    assert (await other_teacher.get(route)).status == 200
    assert (await other_teacher.get(f"/api/recordings/{recording.id}/tracks.zip")).status == 200
