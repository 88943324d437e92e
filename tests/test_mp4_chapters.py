"""A downloaded recording carries its chapters: ffprobe lists the bookmarks, the video is the same file.

The recordings here are real fragmented MP4s written by the robot's writer (``RecordingWriter``), put in a
server's storage with bookmarks, and downloaded through ``GET /api/recordings/{id}/media?download=1``
as a user would; one scenario records a class through the robot and stops it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from sqlalchemy import select

from recorder_bot.mixer import MediaFormat, Mixer
from recorder_bot.writer import EncoderSettings, RecorderPipeline, RecordingWriter
from server.config import Config, load_config
from server.db.models import Bookmark, Recording
from server.library.mp4_chapters import CHAPTERS_MAX, TITLE_BYTES_MAX, with_chapters
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.media_support import Classroom
from tests.synthetic_media import SyntheticAudioTrack, SyntheticVideoTrack

FFPROBE, FFMPEG = shutil.which("ffprobe"), shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(not (FFPROBE and FFMPEG), reason="needs ffprobe and ffmpeg")

SECONDS = 8.0
ACCENTED = "Élève à l'écran — très bien expliqué"


@pytest.fixture
def warm_robots() -> int:
    return 0


@pytest.fixture
def config(tmp_path: Path, warm_robots: int) -> Config:
    """No waiting robot, but for the class recorded through one (a robot waits, as a school runs it)."""
    overrides = {"data_dir": str(tmp_path / "data"), "log_format": "text", "warm_robots": warm_robots}
    return load_config(environ={}, overrides=overrides)


def record(storage: Path, file_name: str, seconds: float = SECONDS) -> Path:
    """A recording as the robot writes it (a small picture, so it takes a fraction of a second)."""
    fmt = MediaFormat(width=320, height=180)
    writer = RecordingWriter(storage, file_name, fmt, EncoderSettings(fsync=False))
    pipeline = RecorderPipeline(Mixer(fmt, class_name="Physics"), writer)
    pipeline.start()
    pipeline.advance(seconds)
    pipeline.stop(seconds)
    return writer.path


@dataclass
class Probe:
    chapters: list[tuple[float, str]]
    duration: float
    video_frames: int
    audio_frames: int


def probe(path: Path) -> Probe:
    shown = ("-show_chapters", "-show_format", "-show_streams", "-of", "json")
    out = subprocess.run(
        [str(FFPROBE), "-v", "error", "-count_frames", *shown, str(path)],
        capture_output=True,
        check=True,
    ).stdout
    found = json.loads(out)
    frames = {s["codec_type"]: int(s["nb_read_frames"]) for s in found["streams"]}
    return Probe(
        [(float(c["start_time"]), c["tags"]["title"]) for c in found["chapters"]],
        float(found["format"]["duration"]),
        frames["video"],
        frames["audio"],
    )


def decode_errors(path: Path) -> str:
    """What ``ffmpeg`` says while decoding every frame (nothing for a good file)."""
    done = subprocess.run(
        [str(FFMPEG), "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
    )
    return done.stderr.strip() + ("" if done.returncode == 0 else f" (exit {done.returncode})")


def top_level_boxes(data: bytes) -> list[tuple[str, int]]:
    """(type, offset) of each box of the file."""
    boxes, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        boxes.append((kind.decode(), offset))
        offset += size
    return boxes


def faststart(source: Path, target: Path) -> None:
    """``source`` as an ordinary MP4 with its index (and absolute sample offsets) at the front."""
    command = [str(FFMPEG), "-v", "error", "-i", str(source), "-c", "copy", "-movflags", "faststart"]
    subprocess.run([*command, str(target)], check=True)


async def add_recording(app: web.Application, classroom_id: int, path: Path, state: str = "ready") -> int:
    async with app[SERVICES].db() as db:
        recording = Recording(
            classroom_id=classroom_id,
            classroom_name="Physics",
            number=1,
            name="Physics 1",
            state=state,
            file_name=path.name,
            duration_ms=int(SECONDS * 1000),
            started_at=datetime.now(UTC),
        )
        db.add(recording)
        await db.commit()
        return recording.id


async def add_bookmark(
    app: web.Application, recording_id: int, media_ms: int, label: str, remark: str | None = None
) -> None:
    async with app[SERVICES].db() as db:
        db.add(Bookmark(recording_id=recording_id, code=None, label=label, remark=remark, media_ms=media_ms))
        await db.commit()


@pytest.fixture
async def teacher(client_as: ClientFactory, users: dict[str, int]) -> ClientSession:
    return await client_as("teacher")


@pytest.fixture
async def classroom_id(teacher: ClientSession) -> int:
    response = await teacher.post("/api/classrooms", json={"name": "Physics", "students": ["student"]})
    assert response.status == 201, await response.text()
    room: dict[str, Any] = (await response.json())["classroom"]
    return int(room["id"])


async def download(http: ClientSession, recording_id: int, into: Path) -> Path:
    response = await http.get(f"/api/recordings/{recording_id}/media?download=1")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Disposition"].startswith("attachment;")
    body = await response.read()
    assert int(response.headers["Content-Length"]) == len(body)
    await asyncio.to_thread(into.write_bytes, body)
    return into


async def test_a_downloaded_recording_lists_its_bookmarks_as_chapters_and_plays_like_the_file(
    app: web.Application, teacher: ClientSession, classroom_id: int, tmp_path: Path
) -> None:
    original = record(app[SERVICES].storage.recordings, "physics-1.mp4")
    recording_id = await add_recording(app, classroom_id, original)
    await add_bookmark(app, recording_id, 5250, "Question", "élève au tableau")
    await add_bookmark(app, recording_id, 2500, ACCENTED)

    downloaded = await download(teacher, recording_id, tmp_path / "download.mp4")

    got, was = probe(downloaded), probe(original)
    assert got.chapters == [(0.0, "Start"), (2.5, ACCENTED), (5.25, "Question — élève au tableau")]
    assert was.chapters == []
    assert decode_errors(downloaded) == ""
    assert (got.video_frames, got.audio_frames) == (was.video_frames, was.audio_frames)
    assert got.video_frames == SECONDS * 15
    assert got.duration == pytest.approx(was.duration, abs=0.001)
    # Between the header and the mfra (whose offsets move), the download is the file, byte for byte.
    boxes = top_level_boxes(original.read_bytes())
    assert [kind for kind, _ in boxes][:3] == ["ftyp", "moov", "moof"]
    assert boxes[-1][0] == "mfra"
    fragments = original.read_bytes()[boxes[2][1] : boxes[-1][1]]
    assert downloaded.read_bytes().find(fragments) > boxes[2][1]
    # Playback in the page gets the file as it is.
    inline = await teacher.get(f"/api/recordings/{recording_id}/media")
    assert inline.headers["Content-Disposition"].startswith("inline;")
    assert await inline.read() == original.read_bytes()


async def test_range_requests_give_the_bytes_of_the_whole_download_even_across_the_added_header(
    app: web.Application, teacher: ClientSession, classroom_id: int, tmp_path: Path
) -> None:
    original = record(app[SERVICES].storage.recordings, "physics-1.mp4", 3.0)
    recording_id = await add_recording(app, classroom_id, original)
    await add_bookmark(app, recording_id, 1000, "Long " + "é" * 400)
    url = f"/api/recordings/{recording_id}/media?download=1"
    whole_response = await teacher.get(url)
    whole, etag = await whole_response.read(), whole_response.headers["ETag"]
    assert whole_response.headers["Accept-Ranges"] == "bytes"
    size = len(whole)
    header = top_level_boxes(whole)[2][1]  # where the added header ends and the file's fragments start
    assert [kind for kind, _ in top_level_boxes(whole)[:3]] == ["ftyp", "moov", "moof"]

    for asked, start, end in [
        ("bytes=0-99", 0, 100),
        (f"bytes={header - 50}-{header + 49}", header - 50, header + 50),
        (f"bytes={header}-", header, size),
        ("bytes=-700", size - 700, size),
        (f"bytes={size - 1}-{size + 5000}", size - 1, size),
    ]:
        response = await teacher.get(url, headers={"Range": asked})
        assert response.status == 206, asked
        assert response.headers["Content-Range"] == f"bytes {start}-{end - 1}/{size}"
        part = await response.read()
        assert int(response.headers["Content-Length"]) == len(part) == end - start
        assert part == whole[start:end], asked

    past = await teacher.get(url, headers={"Range": f"bytes={size}-"})
    assert (past.status, past.headers["Content-Range"]) == (416, f"bytes */{size}")
    # Playback (the file as it is) refuses what it cannot serve in the API's words too.
    inline, file_size = f"/api/recordings/{recording_id}/media", original.stat().st_size
    for asked in ("bytes=abc", "bytes=0-1,5-6", f"bytes={file_size}-"):
        refused = await teacher.get(inline, headers={"Range": asked})
        assert (refused.status, refused.headers["Content-Range"]) == (416, f"bytes */{file_size}"), asked
        assert (await refused.json())["error"]["code"] == "invalid"
    served = await teacher.get(inline, headers={"Range": "bytes=-100"})
    assert (served.status, len(await served.read())) == (206, 100)
    resumed = await teacher.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert (resumed.status, await resumed.read()) == (206, whole[10:20])
    # The chapters changed since: a resumed download starts again rather than mix two versions.
    await add_bookmark(app, recording_id, 2000, "Later")
    restarted = await teacher.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert restarted.status == 200
    (tmp_path / "download.mp4").write_bytes(await restarted.read())
    titles = [title for _, title in probe(tmp_path / "download.mp4").chapters]
    assert titles == ["Start", "Long " + "é" * ((TITLE_BYTES_MAX - 5) // 2), "Later"]  # cut between letters


async def test_a_recording_still_being_written_downloads_up_to_its_last_whole_fragment_with_its_chapters(
    app: web.Application, teacher: ClientSession, classroom_id: int, tmp_path: Path
) -> None:
    finished = record(tmp_path, "finished.mp4", 6.0)
    data = finished.read_bytes()
    boxes = top_level_boxes(data)
    last_moof, mdat = [offset for _, offset in boxes[-3:-1]]
    assert [kind for kind, _ in boxes[-3:]] == ["moof", "mdat", "mfra"]
    live = app[SERVICES].storage.recordings / "physics-1.mp4"
    live.write_bytes(data[:mdat])  # the robot has written the last fragment's moof, not its mdat yet
    recording_id = await add_recording(app, classroom_id, live, state="recording")
    await add_bookmark(app, recording_id, 1500, "So far")

    downloaded = await download(teacher, recording_id, tmp_path / "download.mp4")

    got = probe(downloaded)
    assert [title for _, title in got.chapters] == ["Start", "So far"]
    assert decode_errors(downloaded) == ""
    assert downloaded.read_bytes().endswith(data[last_moof - 1000 : last_moof])


@pytest.mark.parametrize("warm_robots", [1])
async def test_stop_is_ready_within_a_second_and_the_download_then_has_the_bookmarks(
    private_namespace: None, classroom: Classroom, app: web.Application, tmp_path: Path
) -> None:
    await classroom.enter(
        "teacher", {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack()}
    )
    http = classroom.sessions["teacher"]
    response = await http.post(f"/api/classrooms/{classroom.classroom_id}/recording", json={})
    assert response.status == 201, await response.text()
    recording_id = (await response.json())["recording"]["id"]
    deadline = time.monotonic() + 30
    while True:
        async with app[SERVICES].db() as db:
            state = await db.scalar(select(Recording.state).where(Recording.id == recording_id))
        if state == "recording":
            break
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.2)
    await add_bookmark(app, recording_id, 1000, "Experiment")
    await add_bookmark(app, recording_id, 2000, ACCENTED)
    await asyncio.sleep(3)

    pressed = time.monotonic()
    stopped = await http.post(f"/api/classrooms/{classroom.classroom_id}/recording/stop")
    stop_took = time.monotonic() - pressed
    assert stopped.status == 200, await stopped.text()
    assert (await stopped.json())["recording"]["state"] == "ready"
    print(f"stop to ready with 2 bookmarks: {1000 * stop_took:.0f} ms")
    assert stop_took < 1.0

    started = time.monotonic()
    downloaded = await download(http, recording_id, tmp_path / "download.mp4")
    took = time.monotonic() - started
    print(f"download of {downloaded.stat().st_size} bytes with chapters: {1000 * took:.0f} ms")
    original = next(app[SERVICES].storage.recordings.glob("*.mp4"))
    got, was = probe(downloaded), probe(original)
    assert got.chapters == [(0.0, "Start"), (1.0, "Experiment"), (2.0, ACCENTED)]
    assert decode_errors(downloaded) == ""
    assert got.video_frames == was.video_frames
    assert got.duration == pytest.approx(was.duration, abs=0.001)


async def test_a_file_that_finds_its_samples_by_absolute_offsets_downloads_as_it_is(
    app: web.Application, teacher: ClientSession, classroom_id: int, tmp_path: Path
) -> None:
    """An MP4 not written by the robot (say, imported with its index at the front): adding bytes to its
    moov would make every sample offset miss, so it is served unchanged, without chapters."""
    fragmented = record(tmp_path, "fragmented.mp4", 2.0)
    imported = app[SERVICES].storage.recordings / "physics-1.mp4"
    faststart(fragmented, imported)
    recording_id = await add_recording(app, classroom_id, imported)
    await add_bookmark(app, recording_id, 1000, "Lost")

    downloaded = await download(teacher, recording_id, tmp_path / "download.mp4")

    assert downloaded.read_bytes() == imported.read_bytes()
    assert decode_errors(downloaded) == ""


@dataclass(frozen=True)
class Mark:
    start_ms: int
    title: str


def test_past_255_chapters_the_first_255_are_kept_in_order(tmp_path: Path) -> None:
    """The Nero box counts its chapters in one byte."""
    original = record(tmp_path, "long.mp4", 1.0)
    marks = [Mark(index * 10, f"Mark {index}") for index in reversed(range(300))]
    virtual = with_chapters(original, marks)
    data = original.read_bytes()
    served = b"".join(
        part if isinstance(part, bytes) else data[part.offset : part.offset + part.length]
        for part in virtual.slices(0, virtual.size)
    )
    (tmp_path / "download.mp4").write_bytes(served)
    chapters = probe(tmp_path / "download.mp4").chapters
    assert len(chapters) == CHAPTERS_MAX
    assert chapters[:2] == [(0.0, "Mark 0"), (0.01, "Mark 1")]
    assert chapters[-1] == (2.54, "Mark 254")
