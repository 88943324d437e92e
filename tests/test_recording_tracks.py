"""Tracks and both modes with real peers: each participant's own tracks, as they were sent, on the
composite's timeline.

Three aiortc participants each send a tone and a colour of their own; the robot (a real subprocess)
writes one file per participant and source. Each file decodes, holds only its participant, and its
packets are the very payloads the publisher sent (no re-encoding)."""

from __future__ import annotations

import asyncio
import fractions
import itertools
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from aiohttp import web
from aiortc import RTCPeerConnection
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtp import RtpPacket, is_rtcp
from av import VideoFrame
from sqlalchemy import select

from recorder_bot.client import ClassroomClient
from recorder_bot.job import Command, Pause
from server.db.models import Recording, RecordingTrack
from server.media.adapter import negotiated_codecs
from server.recorders.robot_run import RobotRun
from server.services import SERVICES
from tests.media_support import Classroom
from tests.synthetic_media import BeepingAudioTrack, FlashingVideoTrack, SyntheticAudioTrack
from tests.test_consent_in_sfu import BLUE, GREEN, MAGENTA, SolidVideoTrack, colour_share
from tests.test_recording import until_ended
from tests.test_recording_pause import GUARD, KEPT_HZ, PAUSED_HZ, RATE, Picture, Switch, Tone, level
from tests.test_recording_rules import until_state

pytestmark = pytest.mark.usefixtures("private_namespace")

FLASH_AT = 20.0
PEOPLE = {"teacher": (440.0, BLUE), "student": (660.0, GREEN), "student2": (880.0, MAGENTA)}


class LongFlash(FlashingVideoTrack):
    """Black, then white for a second from ``flash_at``: a loaded machine's composite may drop a frame or
    two as late, but not all of them."""

    async def recv(self) -> VideoFrame:
        t = self._index / self.fps
        await asyncio.sleep(max(0.0, self.start + t - time.time()))
        level = 235 if self.flash_at <= t < self.flash_at + 1.0 else 16
        frame = VideoFrame(self.width, self.height, "yuv420p")
        for plane, value in zip(frame.planes, (level, 128, 128), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = self._index * 90_000 // self.fps
        frame.time_base = fractions.Fraction(1, 90_000)
        self._index += 1
        return frame


class Sent:
    """What one publisher sent, per codec: Opus packets and VP8 frames (payload descriptors removed)."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self.opus: list[bytes] = []
        self._vp8: list[tuple[int, bytes]] = []
        self._types: dict[int, str] = {}
        for transceiver in pc.getTransceivers():
            for codec in negotiated_codecs(transceiver):
                if codec.payloadType is not None:
                    self._types[codec.payloadType] = codec.name.lower()
        transport = pc.getSenders()[0].transport
        original: Callable[[bytes], Awaitable[None]] = transport._send_rtp

        async def send_rtp(data: bytes) -> None:
            if not is_rtcp(data):
                packet = RtpPacket.parse(data)
                codec = self._types.get(packet.payload_type)
                if codec == "opus":
                    self.opus.append(packet.payload)
                elif codec == "vp8":
                    _descriptor, rest = VpxPayloadDescriptor.parse(packet.payload)
                    self._vp8.append((packet.timestamp, rest))
            await original(data)

        transport._send_rtp = send_rtp  # type: ignore[method-assign]

    @property
    def vp8(self) -> list[bytes]:
        frames: dict[int, list[bytes]] = {}
        for timestamp, part in self._vp8:
            frames.setdefault(timestamp, []).append(part)
        return [b"".join(parts) for parts in frames.values()]


async def enter(classroom: Classroom, name: str, tracks: dict[str, object]) -> tuple[ClassroomClient, Sent]:
    client = await classroom.enter(name, tracks)  # type: ignore[arg-type]
    assert client.pc is not None
    return client, Sent(client.pc)


def in_order_within(track: list[bytes], sent: list[bytes]) -> bool:
    """Whether ``track`` is ``sent`` with some items left out (none changed, none reordered)."""
    remaining = iter(sent)
    return all(any(item == candidate for candidate in remaining) for item in track)


def packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(container.streams[0]) if packet.size]


def spectrum_peak(path: Path, frequencies: list[float]) -> dict[float, float]:
    """The amplitude of each frequency in the track's sound (2 s from its first second on)."""
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            if frame.time is not None and frame.time >= 1.0:
                chunks.append(frame.to_ndarray().reshape(-1, frame.samples)[0])
    samples = np.concatenate(chunks)[: 48_000 * 2]
    window = np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(samples * window)) * 2 / window.sum()
    levels = {}
    for frequency in frequencies:
        index = round(frequency * samples.size / 48_000)
        levels[frequency] = float(spectrum[index - 2 : index + 3].max())
    return levels


async def start(classroom: Classroom, mode: str) -> int:
    response = await classroom.sessions["teacher"].post(
        f"/api/classrooms/{classroom.classroom_id}/recording", json={"mode": mode}
    )
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["recording"]["mode"] == mode
    return int(body["recording"]["id"])


async def stop(classroom: Classroom) -> dict[str, object]:
    response = await classroom.sessions["teacher"].post(
        f"/api/classrooms/{classroom.classroom_id}/recording/stop"
    )
    assert response.status == 200, await response.text()
    recording: dict[str, object] = (await response.json())["recording"]
    return recording


async def tracks_of(app: web.Application, recording_id: int) -> list[RecordingTrack]:
    async with app[SERVICES].db() as db:
        rows = await db.scalars(select(RecordingTrack).where(RecordingTrack.recording_id == recording_id))
        return list(rows.all())


async def until_tracks(app: web.Application, recording_id: int, count: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while len(await tracks_of(app, recording_id)) < count:
        assert time.monotonic() < deadline, f"only {len(await tracks_of(app, recording_id))} tracks"
        await asyncio.sleep(0.2)


async def test_tracks_mode_writes_each_participants_own_tracks_as_sent(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    sent: dict[str, Sent] = {}
    for name, (frequency, colour) in PEOPLE.items():
        _client, sent[name] = await enter(
            classroom, name, {"microphone": SyntheticAudioTrack(frequency), "camera": SolidVideoTrack(colour)}
        )
    recording_id = await start(classroom, "tracks")
    await until_tracks(app, recording_id, 6)
    await asyncio.sleep(5)
    done = await stop(classroom)
    assert done["state"] == "ready"

    recordings = app[SERVICES].storage.recordings
    async with app[SERVICES].db() as db:
        row = await db.get(Recording, recording_id)
    assert row is not None
    assert row.file_name is not None
    assert not (recordings / row.file_name).exists(), "tracks mode writes no composite"
    rows = {(t.user_id, t.source): t for t in await tracks_of(app, recording_id)}
    assert set(rows) == {(users[name], source) for name in PEOPLE for source in ("microphone", "camera")}
    prefix = row.file_name.removesuffix(".mp4")
    frequencies = [frequency for frequency, _ in PEOPLE.values()]
    for name, (frequency, colour) in PEOPLE.items():
        microphone, camera = rows[(users[name], "microphone")], rows[(users[name], "camera")]
        assert microphone.file_name == f"{prefix}-{users[name]}-microphone.webm"
        assert (microphone.kind, microphone.codec, camera.kind, camera.codec) == (
            "audio",
            "opus",
            "video",
            "vp8",
        )
        assert microphone.display_name == {"teacher": "Tess Teacher", "student": "Sam Student"}.get(
            name, "Sue Student"
        )
        audio_path, video_path = recordings / microphone.file_name, recordings / camera.file_name
        levels = spectrum_peak(audio_path, frequencies)
        assert levels[frequency] > 0.05, (name, levels)
        assert all(level < 0.005 for other, level in levels.items() if other != frequency), (name, levels)
        assert colour_share(video_path, colour, after=0.5) > 0.9, name
        for _other, (_f, other_colour) in PEOPLE.items():
            if other_colour != colour:
                assert colour_share(video_path, other_colour, after=0.0) < 0.01, name
        opus, vp8 = packets(audio_path), packets(video_path)
        assert len(opus) >= 5 * 50, len(opus)
        assert len(vp8) >= 5 * 15 * 0.8, len(vp8)
        assert in_order_within(opus, sent[name].opus), "Opus packets are the RTP payloads sent"
        assert in_order_within(vp8, sent[name].vp8), "VP8 frames are the payloads sent, descriptors removed"
        with av.open(str(video_path)) as container:
            first = next(container.demux(video=0))
        assert first.is_keyframe, "video starts at a keyframe"
        assert 0 <= microphone.offset_ms < 10_000


async def test_both_modes_put_an_event_at_the_same_moment_in_a_track_and_in_the_composite(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    recording_id = await start(classroom, "both")
    await until_state(app, recording_id, "recording", within=60)  # the robot is in: it sees the flash
    start_at = time.time() + 1.0
    await enter(
        classroom,
        "teacher",
        {
            "camera": LongFlash(start_at, flash_at=FLASH_AT),
            "microphone": BeepingAudioTrack(start_at, beep_at=FLASH_AT),
        },
    )
    # A quiet second person without a camera: the composite's loudest sound and only picture are the
    # teacher's (whose tile is then the whole picture, whoever speaks).
    await enter(classroom, "student", {"microphone": SyntheticAudioTrack(660, amplitude=800)})
    # The event comes once everyone's tracks have begun (a busy machine can take its time to get there).
    await until_tracks(app, recording_id, 3, within=start_at + FLASH_AT - 1 - time.time())
    await asyncio.sleep(start_at + FLASH_AT + 3 - time.time())
    done = await stop(classroom)
    assert done["state"] == "ready"
    recordings = app[SERVICES].storage.recordings
    async with app[SERVICES].db() as db:
        row = await db.get(Recording, recording_id)
    assert row is not None
    assert row.file_name is not None
    composite = recordings / row.file_name
    composite_flash, composite_beep = flash_at(composite), beep_at(composite)
    rows = {(t.user_id, t.source): t for t in await tracks_of(app, recording_id)}
    assert len(rows) == 3
    camera, microphone = rows[(users["teacher"], "camera")], rows[(users["teacher"], "microphone")]
    flash, beep = flash_at(recordings / camera.file_name), beep_at(recordings / microphone.file_name)
    track_flash, track_beep = camera.offset_ms / 1000 + flash, microphone.offset_ms / 1000 + beep
    print(
        f"composite flash {composite_flash:.3f} beep {composite_beep:.3f}; "
        f"tracks flash {track_flash:.3f} beep {track_beep:.3f}"
    )
    assert abs(track_beep - composite_beep) < 0.040
    # The composite shows the flash on its next 30 fps output frame: half a frame more, as the browser
    # sync test allows.
    assert abs(track_flash - composite_flash) < 0.040 + 1 / 60


def flash_at(path: Path) -> float:
    """When the picture brightens most (the flash: halfway from its darkest to its brightest)."""
    times, levels = [], []
    with av.open(str(path)) as container:
        for picture in container.decode(video=0):
            assert picture.time is not None
            times.append(picture.time)
            levels.append(float(picture.to_ndarray(format="gray").mean()))
    brightness = np.array(levels)
    threshold = (brightness.min() + brightness.max()) / 2
    assert brightness.max() - brightness.min() > 3, "a flash is seen (the teacher's picture may be small)"
    return times[int(np.argmax(brightness > threshold))]


def beep_at(path: Path) -> float:
    """When the 1 kHz beep starts (the first loud sample), by the decoded frames' own times."""
    with av.open(str(path)) as container:
        for sound in container.decode(audio=0):
            pcm = np.abs(sound.to_ndarray().reshape(-1, sound.samples)[0])
            if pcm.max() > 0.1:
                assert sound.time is not None
                return sound.time + int(np.argmax(pcm > 0.1)) / sound.sample_rate
    raise AssertionError("no beep is heard")


async def test_a_robot_killed_in_tracks_mode_leaves_tracks_that_play(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    await enter(
        classroom, "teacher", {"microphone": SyntheticAudioTrack(440), "camera": SolidVideoTrack(BLUE)}
    )
    recording_id = await start(classroom, "tracks")
    await until_tracks(app, recording_id, 2)
    await asyncio.sleep(4)
    robot = app[SERVICES].recorders.robot_of(recording_id)
    assert robot is not None
    os.kill(robot.process.pid, signal.SIGKILL)
    ended = await until_ended(app, recording_id)
    assert ended.state == "ready"
    assert "recovered" in ended.flags.split(","), ended.flags
    recordings = app[SERVICES].storage.recordings
    rows = await tracks_of(app, recording_id)
    # Settling drops the rows of tracks that do not play: every track must still be there.
    assert {(t.user_id, t.source) for t in rows} == {
        (users["teacher"], "microphone"),
        (users["teacher"], "camera"),
    }
    for track in rows:
        path = recordings / track.file_name
        with av.open(str(path)) as container:
            stream = container.streams[0]
            decoded = [
                frame.time
                for frame in container.decode(stream)
                if isinstance(frame, av.AudioFrame | av.VideoFrame)
            ]
        assert decoded, track.file_name
        played = max(t for t in decoded if t is not None)
        assert played >= 2.0, (track.file_name, played)


async def test_a_pause_is_cut_out_of_the_tracks_and_who_leaves_and_returns_continues_their_file(
    classroom: Classroom, users: dict[str, int], app: web.Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    switch = Switch()
    sending = RobotRun.send

    async def heard_late(run: RobotRun, command: Command) -> bool:
        """The robot hears the pause well after its instant, and the paused tone plays from (nearly)
        that instant: what a track placed meanwhile must be cut out of it."""
        if isinstance(command, Pause):
            await asyncio.sleep(0.05)
            switch.paused = True
            await asyncio.sleep(0.3)
        return await sending(run, command)

    monkeypatch.setattr(RobotRun, "send", heard_late)
    await enter(classroom, "teacher", {"microphone": Tone(switch), "camera": Picture(switch)})
    student, _ = await enter(classroom, "student", {"microphone": SyntheticAudioTrack(660)})
    base = f"/api/classrooms/{classroom.classroom_id}/recording"
    http = classroom.sessions["teacher"]
    recording_id = await start(classroom, "tracks")
    await until_tracks(app, recording_id, 3, within=40)
    await asyncio.sleep(2)

    assert (await http.post(f"{base}/pause")).status == 200
    paused = time.monotonic()
    assert switch.paused  # nothing played from just after Pause until just before Resume may be kept
    await asyncio.sleep(4)
    switch.paused = False
    await asyncio.sleep(GUARD)
    assert (await http.post(f"{base}/resume")).status == 200
    paused_for = time.monotonic() - paused
    await asyncio.sleep(2)

    # The student leaves for three seconds and comes back: the same file goes on after a gap.
    await student.close()
    classroom.clients.remove(student)
    await asyncio.sleep(3)
    await enter(classroom, "student", {"microphone": SyntheticAudioTrack(660)})
    await asyncio.sleep(4)
    done = await stop(classroom)
    assert done["state"] == "ready"

    recordings = app[SERVICES].storage.recordings
    rows = {(t.user_id, t.source): t for t in await tracks_of(app, recording_id)}
    assert set(rows) == {
        (users["teacher"], "microphone"),
        (users["teacher"], "camera"),
        (users["student"], "microphone"),
    }
    microphone = decode_audio(recordings / rows[(users["teacher"], "microphone")].file_name)
    assert level(microphone, KEPT_HZ) > 0.05
    for at in range(0, microphone.size - RATE // 4, RATE // 4):
        quarter = microphone[at : at + RATE // 4]
        assert level(quarter, PAUSED_HZ) < 0.02, f"the paused tone is heard at {at / RATE:.2f} s"
    with av.open(str(recordings / rows[(users["teacher"], "camera")].file_name)) as container:
        lumas = [float(p.to_ndarray(format="gray").mean()) for p in container.decode(video=0)]
    assert lumas
    assert max(lumas) < 150, "no picture shown while paused is kept"
    # The paused span is cut out: the teacher's track ends where the recording does (its length less
    # the pause), not the pause's length after it.
    teacher = rows[(users["teacher"], "microphone")]
    track_end = (teacher.offset_ms + teacher.duration_ms) / 1000
    length = int(str(done["duration_ms"])) / 1000
    print(f"paused {paused_for:.2f} s; recording {length:.2f} s; teacher's track ends at {track_end:.2f} s")
    assert length - 1.0 < track_end < length + 0.2

    student_path = recordings / rows[(users["student"], "microphone")].file_name
    with av.open(str(student_path)) as container:
        pts = [p.pts for p in container.demux(audio=0) if p.size and p.pts is not None]
    assert all(b > a for a, b in itertools.pairwise(pts)), "pts strictly increase"
    gaps = [b - a for a, b in itertools.pairwise(pts)]
    assert max(gaps) >= 2000, "the student's absence is a gap in the same file"
    assert pts[-1] - pts[int(np.argmax(np.array(gaps)) + 1)] >= 1000, "and their return is in it"


def decode_audio(path: Path) -> npt.NDArray[np.float32]:
    with av.open(str(path)) as container:
        chunks = [
            np.asarray(s.to_ndarray().reshape(-1, s.samples)[0], dtype=np.float32)
            for s in container.decode(audio=0)
        ]
    return np.concatenate(chunks)
