"""Tracks made by hand for the tracks tests: small real WebM files (Opus, VP8) encoded with PyAV, and their
rows as the supervisor stores them when the robot reports ``TrackStarted``."""

from __future__ import annotations

import fractions
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiohttp import web

from server.db.models import Classroom, Recording, RecordingTrack
from server.library.files import tracks_prefix
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.support import held


def write_webm(path: Path, kind: str, seconds: float) -> Path:
    """A small real track: a 440 Hz tone in Opus, or a changing grey picture in VP8."""
    with av.open(str(path), "w", format="webm") as out:
        if kind == "audio":
            audio = out.add_stream("libopus", rate=48000)
            audio.layout = "mono"
            for i in range(int(seconds * 50)):
                t = (np.arange(960) + i * 960) / 48000
                samples = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, fractions.Fraction(1, 48000)
                for packet in audio.encode(frame):
                    out.mux(packet)
            for packet in audio.encode(None):
                out.mux(packet)
        else:
            video = out.add_stream("libvpx", rate=25)
            video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
            for i in range(int(seconds * 25)):
                picture = av.VideoFrame.from_ndarray(
                    np.full((48, 64, 3), i * 10 % 255, np.uint8), format="rgb24"
                )
                picture.pts = i
                for packet in video.encode(picture):
                    out.mux(packet)
            for packet in video.encode(None):
                out.mux(packet)
    return path


def make_media(folder: Path) -> dict[str, Path]:
    """A one-second Opus track and a two-second VP8 one."""
    return {
        "audio": write_webm(folder / "audio.webm", "audio", 1.0),
        "video": write_webm(folder / "video.webm", "video", 2.0),
    }


class Room:
    """A classroom of ``teacher`` with ``student`` enrolled (``student2`` is of another classroom)."""

    def __init__(self, app: web.Application, classroom_id: int, media: dict[str, Path]) -> None:
        self.app = app
        self.id = classroom_id
        self.media = media
        self.root: Path = app[SERVICES].storage.recordings
        self._serial = 0

    async def recording(
        self, mode: str = "tracks", state: str = "ready", published: bool = False, **fields: Any
    ) -> Recording:
        self._serial += 1
        async with self.app[SERVICES].db() as db:
            classroom = await db.get(Classroom, self.id)
            assert classroom is not None
            recording = Recording(
                classroom_id=self.id,
                classroom_name=classroom.name,
                number=self._serial,
                name=f"Physics {self._serial}",
                state=state,
                mode=mode,
                started_by_id=classroom.owner_id,
                started_at=datetime(2026, 3, 4, 9, 30, tzinfo=UTC),
                file_name=f"20260304-093000-{1000 + self._serial}-Physics.mp4",
                published=published,
                covers=held(self.id, classroom.name, state),
                **fields,
            )
            db.add(recording)
            await db.commit()
            return recording

    async def track(
        self, recording: Recording, user_id: int, name: str, source: str, *, offset_ms: int = 0, **fields: Any
    ) -> RecordingTrack:
        """A track as the supervisor stores it at ``TrackStarted``, with its file written."""
        kind = "audio" if source == "microphone" else "video"
        assert recording.file_name is not None
        file_name = f"{tracks_prefix(recording.file_name)}-{user_id}-{source}.webm"
        shutil.copyfile(self.media[kind], self.root / file_name)
        async with self.app[SERVICES].db() as db:
            track = RecordingTrack(
                recording_id=recording.id,
                user_id=user_id,
                display_name=name,
                source=source,
                kind=kind,
                codec="opus" if kind == "audio" else "vp8",
                file_name=file_name,
                offset_ms=offset_ms,
                **fields,
            )
            db.add(track)
            await db.commit()
            return track


async def make_room(client_as: ClientFactory, app: web.Application, media: dict[str, Path]) -> Room:
    teacher = await client_as("teacher")
    response = await teacher.post("/api/classrooms", json={"name": "Physics", "students": ["student"]})
    assert response.status == 201, await response.text()
    return Room(app, (await response.json())["classroom"]["id"], media)
