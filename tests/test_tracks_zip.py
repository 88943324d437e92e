"""``GET /api/recordings/{id}/tracks.zip``: a zip that unzips, with a manifest matching the listing and each
track byte for byte, streamed with bounded memory to a slow client, and stopped when the client leaves."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import resource
import threading
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from server.api import tracks_api
from server.db.models import RecordingTrack
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.tracks_support import Room, make_media, make_room

BIG = 24 * 2**20


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_media(tmp_path_factory.mktemp("tracks"))


@pytest.fixture
async def room(
    app: web.Application, users: dict[str, int], client_as: ClientFactory, media: dict[str, Path]
) -> Room:
    return await make_room(client_as, app, media)


async def test_the_zip_holds_the_manifest_and_every_track_as_it_is(
    room: Room, users: dict[str, int], client_as: ClientFactory
) -> None:
    recording = await room.recording(duration_ms=3200, size_bytes=10)
    made = [
        await room.track(recording, users["teacher"], "Tess Teacher", "microphone", duration_ms=1000),
        await room.track(
            recording, users["student"], "Sam Student", "camera", offset_ms=700, duration_ms=2000
        ),
        # Two people of the same name (and one whose name is a path) still get a file each.
        await room.track(recording, users["student2"], "Sam Student", "camera", offset_ms=900),
        await room.track(recording, users["admin"], "../../etc/passwd\r\n", "microphone", offset_ms=1500),
    ]
    teacher = await client_as("teacher")
    listed = (await (await teacher.get(f"/api/recordings/{recording.id}/tracks")).json())["tracks"]

    response = await teacher.get(f"/api/recordings/{recording.id}/tracks.zip")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="Physics 1 - tracks.zip"')
    assert "Content-Length" not in response.headers  # streamed as it is made
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names == [
        "manifest.json",
        "Tess Teacher - microphone.webm",
        "Sam Student - camera.webm",
        "Sam Student - camera (2).webm",
        "etc passwd - microphone.webm",
    ]
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())

    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["recording"] == {
        "id": recording.id,
        "name": "Physics 1",
        "started_at": "2026-03-04T09:30:00Z",
        "duration_ms": 3200,
        "mode": "tracks",
    }
    assert [
        {k: t[k] for k in ("user_id", "display_name", "source", "kind", "codec", "offset_ms", "duration_ms")}
        for t in manifest["tracks"]
    ] == [
        {
            "user_id": t["user"]["id"],
            "display_name": t["user"]["display_name"],
            **{k: t[k] for k in ("source", "kind", "codec", "offset_ms", "duration_ms")},
        }
        for t in listed
    ]
    by_id = {track.id: track for track in made}
    for entry, shown in zip(manifest["tracks"], listed, strict=True):
        assert archive.read(entry["file"]) == (room.root / by_id[shown["id"]].file_name).read_bytes()


async def test_a_track_file_gone_is_left_out_of_zip_and_manifest(
    room: Room, users: dict[str, int], client_as: ClientFactory
) -> None:
    recording = await room.recording()
    await room.track(recording, users["teacher"], "Tess Teacher", "microphone")
    gone = await room.track(recording, users["student"], "Sam Student", "camera")
    (room.root / gone.file_name).unlink()
    response = await (await client_as("teacher")).get(f"/api/recordings/{recording.id}/tracks.zip")
    archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    assert archive.namelist() == ["manifest.json", "Tess Teacher - microphone.webm"]
    assert [t["display_name"] for t in json.loads(archive.read("manifest.json"))["tracks"]] == [
        "Tess Teacher"
    ]


async def big_recording(room: Room, users: dict[str, int]) -> tuple[int, list[RecordingTrack]]:
    """Three 24 MiB tracks (random bytes: no media, only their size matters here)."""
    recording = await room.recording()
    tracks = []
    for user, name, source in (
        ("teacher", "Tess Teacher", "camera"),
        ("student", "Sam Student", "camera"),
        ("student2", "Sue Student", "screen"),
    ):
        track = await room.track(recording, users[user], name, source)
        with (room.root / track.file_name).open("wb") as out:
            for _ in range(BIG // 2**20):
                out.write(os.urandom(2**20))
        tracks.append(track)
    return recording.id, tracks


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def test_the_zip_streams_to_a_slow_client_in_bounded_memory(
    room: Room, users: dict[str, int], client_as: ClientFactory, tmp_path: Path
) -> None:
    recording_id, tracks = await big_recording(room, users)
    teacher = await client_as("teacher")
    saved = tmp_path / "tracks.zip"
    figures: dict[str, Any] = {}
    rss_before = _rss()
    tracemalloc.start()
    try:
        response = await teacher.get(f"/api/recordings/{recording_id}/tracks.zip")
        assert response.status == 200
        received = 0
        with saved.open("wb") as out:
            # Slow at first (the server's thread must wait for it), then a second of nothing at all.
            while chunk := await response.content.read(64 * 1024):
                out.write(chunk)
                received += len(chunk)
                if received < 8 * 2**20:
                    await asyncio.sleep(0.01)
                elif "paused" not in figures:
                    figures["paused"] = True
                    await asyncio.sleep(1.0)
                    figures["peak_after_pause"] = tracemalloc.get_traced_memory()[1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    figures.update(
        zip_bytes=received,
        tracemalloc_peak=peak,
        rss_growth=_rss() - rss_before,
        maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )
    print(f"\ntracks.zip of 3 x 24 MiB: {figures}")
    # Python's allocations (server and client, one process) stay a few chunks, for 72 MiB sent.
    assert peak < 6 * 2**20, figures
    assert figures["peak_after_pause"] < 6 * 2**20, figures

    archive = zipfile.ZipFile(saved)
    assert archive.namelist() == [
        "manifest.json",
        "Tess Teacher - camera.webm",
        "Sam Student - camera.webm",
        "Sue Student - screen.webm",
    ]
    for info, track in zip(archive.infolist()[1:], tracks, strict=True):
        digest = hashlib.sha256()
        with archive.open(info) as entry:
            while piece := entry.read(2**20):
                digest.update(piece)
        assert info.file_size == BIG
        assert digest.hexdigest() == _sha256(room.root / track.file_name)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while piece := source.read(2**20):
            digest.update(piece)
    return digest.hexdigest()


def _zipping() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "tracks-zip"]


async def test_a_client_that_leaves_stops_the_zip(
    room: Room, users: dict[str, int], client_as: ClientFactory
) -> None:
    recording_id, _ = await big_recording(room, users)
    teacher = await client_as("teacher")
    response = await teacher.get(f"/api/recordings/{recording_id}/tracks.zip")
    assert len(await response.content.readexactly(2**20)) == 2**20
    assert _zipping(), "the zip is being written"
    response.close()  # the connection goes
    deadline = asyncio.get_running_loop().time() + 10
    while _zipping():
        assert asyncio.get_running_loop().time() < deadline, "the zip's thread did not stop"
        await asyncio.sleep(0.05)
    # The server is still there for the next download, which is whole.
    again = await teacher.get(f"/api/recordings/{recording_id}/tracks.zip")
    size = 0
    while chunk := await again.content.read(2**20):
        size += len(chunk)
    assert size > 3 * BIG
    assert room.app[SERVICES].storage.recordings == room.root


def _open_tracks(root: Path) -> list[str]:
    """The track files this process holds open now."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(root)) and target.endswith(".webm"):
                held.append(target)
    return held


async def until_no_zip(within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while _zipping() or tracks_api._zips:
        assert asyncio.get_running_loop().time() < deadline, "the zip did not end"
        await asyncio.sleep(0.05)


async def test_a_zip_holds_one_track_file_open_and_only_so_many_are_made_at_once(
    room: Room, users: dict[str, int], client_as: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracks_api, "ZIPS_AT_ONCE", 1)
    recording_id, _ = await big_recording(room, users)
    teacher = await client_as("teacher")
    first = await teacher.get(f"/api/recordings/{recording_id}/tracks.zip")
    assert len(await first.content.readexactly(2**20)) == 2**20
    assert len(_open_tracks(room.root)) == 1  # the one being read, not all three
    second = await (await client_as("admin")).get(f"/api/recordings/{recording_id}/tracks.zip")
    assert second.status == 503
    assert second.headers["Retry-After"] == "30"
    assert (await second.json())["error"]["code"] == "unavailable"
    first.close()
    await until_no_zip()
    assert _open_tracks(room.root) == []
    again = await teacher.get(f"/api/recordings/{recording_id}/tracks.zip")
    assert again.status == 200
    assert len(await again.read()) > 3 * BIG


async def test_a_client_that_stops_taking_the_zip_is_cut_off(
    room: Room, users: dict[str, int], client_as: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracks_api, "ZIP_WRITE_TIMEOUT", 0.5)
    recording_id, _ = await big_recording(room, users)
    teacher = await client_as("teacher")
    response = await teacher.get(f"/api/recordings/{recording_id}/tracks.zip")
    assert len(await response.content.readexactly(2**20)) == 2**20
    # It keeps the connection but reads nothing more: the server lets the download go.
    await until_no_zip()
    assert _open_tracks(room.root) == []
    received = 2**20
    with contextlib.suppress(aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
        while chunk := await response.content.read(2**20):
            received += len(chunk)
    assert received < 3 * BIG  # cut off, not whole
