"""The recorder's file: H.264 + AAC in fragmented MP4, written as it goes, safe to kill, quick to close.

Each scenario records generated participants through the real pipeline (mixer, encoder and writer on
the worker thread), faster than real time, then opens the file the way a player would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from recorder_bot.mixer import BLACK_Y, TEXT_Y, MediaFormat, Mixer, SourceKey
from recorder_bot.writer import (
    RecorderPipeline,
    RecordingError,
    RecordingWriter,
    recording_path,
)
from server.library.files import recording_file_name
from tests.test_recorder_mixer import (
    BLUE,
    GREEN,
    RED,
    YELLOW,
    YUV,
    Participant,
    camera_frame,
    near,
    play,
    tone_frame,
)

REPO = Path(__file__).resolve().parent.parent
FFPROBE = shutil.which("ffprobe")
THUMB = (160, 90)
"""Decoded pictures are kept at this size: enough to tell tiles apart, small enough to keep them all."""


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    root = tmp_path / "recordings"
    root.mkdir()
    return root


def start_pipeline(storage: Path, name: str = "class.mp4") -> RecorderPipeline:
    fmt = MediaFormat()
    pipeline = RecorderPipeline(Mixer(fmt, class_name="Physics 3B"), RecordingWriter(storage, name, fmt))
    pipeline.start()
    return pipeline


@dataclass
class Decoded:
    """What a player gets out of the file."""

    width: int = 0
    height: int = 0
    video_times: list[float] = field(default_factory=list)
    thumbs: list[npt.NDArray[np.uint8]] = field(default_factory=list)
    """Each picture as (Y, U, V) planes at ``THUMB`` size."""
    audio: list[npt.NDArray[np.float32]] = field(default_factory=list)
    audio_start: float | None = None
    truncated: bool = False

    @property
    def samples(self) -> npt.NDArray[np.float32]:
        return np.concatenate(self.audio) if self.audio else np.zeros(0, dtype=np.float32)

    @property
    def audio_seconds(self) -> float:
        return self.samples.size / 48_000

    def colour(self, t: float, x: float, y: float) -> YUV:
        """The colour at (``x``, ``y``) (fractions of the picture) in the picture shown at ``t``."""
        index = max(i for i, start in enumerate(self.video_times) if start <= t + 1e-6)
        planes = self.thumbs[index]
        px, py = int(x * THUMB[0]), int(y * THUMB[1])
        return (int(planes[0, py, px]), int(planes[1, py, px]), int(planes[2, py, px]))


def decode(path: Path, until_damaged: bool = False) -> Decoded:
    """Decode every packet; with ``until_damaged``, stop at the first damaged one (a killed writer's tail)."""
    decoded = Decoded()
    with av.open(str(path)) as container:
        for packet in container.demux():
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                if not until_damaged:
                    raise
                decoded.truncated = True
                break
            for frame in frames:
                if isinstance(frame, av.VideoFrame):
                    decoded.width, decoded.height = frame.width, frame.height
                    assert frame.time is not None
                    decoded.video_times.append(frame.time)
                    small = frame.reformat(*THUMB, format="yuv444p")
                    decoded.thumbs.append(np.asarray(small.to_ndarray(), dtype=np.uint8))
                elif isinstance(frame, av.AudioFrame):
                    if decoded.audio_start is None:
                        decoded.audio_start = frame.time
                    decoded.audio.append(np.asarray(frame.to_ndarray(), dtype=np.float32)[0])
    return decoded


def ffprobe(path: Path) -> dict[str, object]:
    if FFPROBE is None:
        pytest.skip("ffprobe is not installed (apt-get install ffmpeg)")
    result = subprocess.run(
        [FFPROBE, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    probed: dict[str, object] = json.loads(result.stdout)
    return probed


def streams_of(path: Path) -> dict[str, dict[str, object]]:
    probed = ffprobe(path)
    streams = probed["streams"]
    assert isinstance(streams, list)
    return {str(stream["codec_type"]): stream for stream in streams}


def duration_of(path: Path) -> float:
    probed = ffprobe(path)
    assert isinstance(probed["format"], dict)
    return float(probed["format"]["duration"])


def spectrum_peak(samples: npt.NDArray[np.float32], frequency: float) -> float:
    """The level of ``frequency`` in ``samples``, as the amplitude of a sine."""
    window = np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(samples * window)) * 2 / window.sum()
    bin_index = round(frequency * samples.size / 48_000)
    return float(spectrum[bin_index - 2 : bin_index + 3].max())


def test_four_people_talk_for_ten_seconds(storage: Path) -> None:
    """Four students with cameras and microphones; Carol speaks up at 5 s. The file has H.264 + AAC at
    1280x720 and 15 fps, lasts the ten seconds, decodes end to end, shows Carol large after she speaks,
    and every voice is in the sound."""
    people = [
        Participant(1, RED, 330.0),
        Participant(2, GREEN, 550.0),
        Participant(3, BLUE, 770.0),
        Participant(4, YELLOW, 990.0, size=(640, 480)),
    ]
    pipeline = start_pipeline(storage)
    pipeline.set_names({1: "Ada", 2: "Bob", 3: "Carol", 4: "Dan"})
    play(pipeline, people, 10.0, on_time={5.0: lambda: pipeline.set_active_speaker(3, 5.0)})
    stats = pipeline.stop(10.0)
    path = storage / "class.mp4"

    streams = streams_of(path)
    assert streams["video"]["codec_name"] == "h264"
    assert streams["audio"]["codec_name"] == "aac"
    assert (streams["video"]["width"], streams["video"]["height"]) == (1280, 720)
    assert streams["video"]["r_frame_rate"] == "15/1"
    assert duration_of(path) == pytest.approx(10.0, abs=0.1)

    decoded = decode(path)
    assert (decoded.width, decoded.height) == (1280, 720)
    assert len(decoded.video_times) == 150
    assert decoded.audio_seconds == pytest.approx(10.0, abs=0.1)
    assert near(decoded.colour(3.0, 0.5, 0.4), RED, 12), "the first to arrive is large before anyone speaks"
    assert near(decoded.colour(7.0, 0.5, 0.4), BLUE, 12), "Carol is large once she speaks"
    second = decoded.samples[48_000 * 6 : 48_000 * 7]
    for person in people:
        assert spectrum_peak(second, person.frequency) > 0.1, f"{person.frequency} Hz is in the mix"
    assert stats.late_video_frames == stats.late_audio_frames == stats.dropped_queue_full == 0
    assert stats.fragments >= 9, "a fragment about every second"


@pytest.mark.parametrize(
    ("audio_lag", "flash_at"),
    [(0.2, 3.0), (-0.15, 2.0 + 1 / 30)],
    ids=["audio-200ms-late", "audio-150ms-early"],
)
def test_flash_and_beep_line_up(storage: Path, audio_lag: float, flash_at: float) -> None:
    """A camera flashes white as a 1 kHz beep starts. However late or early the audio reaches the robot,
    the flash and the beep are within 40 ms of each other in the file."""
    flasher = Participant(1, RED, flash_at=flash_at, audio_lag=audio_lag)
    other = Participant(2, GREEN, microphone=False)
    pipeline = start_pipeline(storage)
    play(pipeline, [flasher, other], 5.0)
    pipeline.stop(5.0)

    decoded = decode(storage / "class.mp4")
    flash = next(
        t for t, planes in zip(decoded.video_times, decoded.thumbs, strict=True) if planes[0, 36, 80] > 200
    )
    assert decoded.audio_start is not None
    onset = int(np.argmax(np.abs(decoded.samples) > 0.25))
    beep = decoded.audio_start + onset / 48_000
    print(f"flash at {flash:.4f} s, beep at {beep:.4f} s, offset {1000 * (beep - flash):+.1f} ms")
    assert abs(beep - flash) <= 0.040
    assert beep == pytest.approx(flash_at, abs=0.040)


CRASHING_ROBOT = """
import sys, time
from pathlib import Path
from recorder_bot.mixer import Mixer
from recorder_bot.writer import RecordingWriter, RecorderPipeline
from tests.test_recorder_mixer import GREEN, RED, Participant, play

pipeline = RecorderPipeline(Mixer(class_name="Crash"), RecordingWriter(Path(sys.argv[1]), "crash.mp4"))
pipeline.start()
play(pipeline, [Participant(1, RED, 440.0), Participant(2, GREEN, 660.0)], 6.0)
assert pipeline.flush(60)
print("recorded", pipeline.stats().fragments, flush=True)
time.sleep(120)
"""


def test_a_killed_robot_leaves_a_file_that_plays_to_its_last_fragment(storage: Path) -> None:
    robot = subprocess.Popen(
        [sys.executable, "-c", CRASHING_ROBOT, str(storage)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert robot.stdout is not None
        line = robot.stdout.readline()
        assert line.startswith("recorded"), line
        robot.send_signal(signal.SIGKILL)
        robot.wait(10)
    finally:
        if robot.poll() is None:
            robot.kill()
            robot.wait(10)
    assert robot.returncode == -signal.SIGKILL

    decoded = decode(storage / "crash.mp4", until_damaged=True)
    assert len(decoded.video_times) >= 4 * 15
    assert decoded.audio_seconds >= 4.0
    assert near(decoded.colour(2.0, 0.5, 0.4), RED, 12)


def test_a_recording_without_media_is_a_valid_file(storage: Path) -> None:
    """Nobody sent anything and the recording was stopped at once: the file still plays, both streams
    present, the picture black with the class name."""
    pipeline = start_pipeline(storage)
    pipeline.stop()
    path = storage / "class.mp4"

    assert set(streams_of(path)) == {"video", "audio"}
    decoded = decode(path)
    assert len(decoded.video_times) >= 1
    assert decoded.audio_seconds > 0
    luma = decoded.thumbs[0][0]
    assert np.count_nonzero(np.abs(luma.astype(int) - BLACK_Y) < 8) / luma.size > 0.8
    assert luma.max() > (BLACK_Y + TEXT_Y) // 2, "the class name is lettered on it (thin strokes, thumbnail)"


def test_closing_is_quick_whatever_was_recorded(storage: Path) -> None:
    pipeline = start_pipeline(storage)
    play(pipeline, [Participant(1, RED, 440.0), Participant(2, GREEN, 660.0)], 20.0)
    pipeline.advance(20.0)
    assert pipeline.flush(60)
    started = time.perf_counter()
    pipeline.stop(20.0)
    spent = time.perf_counter() - started
    print(f"stop to file ready: {1000 * spent:.1f} ms")
    assert spent < 0.5
    assert duration_of(storage / "class.mp4") == pytest.approx(20.0, abs=0.1)


def test_the_pipeline_knows_whose_frames_reached_the_mixer_lately(storage: Path) -> None:
    """Who the recording holds now: the robot reports it, so a moderator hears when it is nobody."""
    pipeline = start_pipeline(storage)
    pipeline.set_names({1: "Ada", 2: "Bob", 3: "Carol"})
    assert pipeline.receiving(2.0) == []
    pipeline.add_video(SourceKey(2, "camera"), camera_frame(GREEN), 0.0)
    pipeline.add_audio(SourceKey(1, "microphone"), tone_frame(440.0, 0.2, 0), 0.0)
    assert pipeline.flush(10)
    now = time.monotonic()
    assert pipeline.receiving(2.0) == [1, 2]
    assert pipeline.receiving(2.0, now=now + 2.5) == [], "two seconds without a frame: no longer received"
    pipeline.stop(1.0)


# -- files -------------------------------------------------------------------------------------------------


def test_a_second_writer_never_overwrites(storage: Path) -> None:
    writer = RecordingWriter(storage, "class.mp4")
    writer.close()
    size = (storage / "class.mp4").stat().st_size
    with pytest.raises(RecordingError, match="already exists"):
        RecordingWriter(storage, "class.mp4")
    assert (storage / "class.mp4").stat().st_size == size


def test_a_planted_link_is_not_followed(storage: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (storage / "class.mp4").symlink_to(target)
    with pytest.raises(RecordingError):
        RecordingWriter(storage, "class.mp4")
    assert target.read_text() == "keep me"


@pytest.mark.parametrize(
    "name",
    ["../escape.mp4", "/etc/passwd", "sub/class.mp4", ".hidden.mp4", "class.mkv", "", "a" * 200 + ".mp4"],
)
def test_paths_outside_the_storage_root_are_refused(storage: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"safe recording file name|outside"):
        RecordingWriter(storage, name)
    assert list(storage.parent.rglob("*.mp4")) == []


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "Física 3º — Grupo B", "李雷和韩梅梅", "x" * 1000, "a/b\\c\x00d", ""],
)
def test_file_names_are_sanitised(storage: Path, name: str) -> None:
    started = datetime(2026, 11, 23, 15, 1, 31, tzinfo=UTC)
    file_name = recording_file_name(42, name, started)
    assert file_name.isascii()
    assert file_name.startswith("20261123-150131-42-")
    assert file_name.endswith(".mp4")
    assert "/" not in file_name
    assert "\\" not in file_name
    assert ".." not in file_name
    assert len(file_name) <= 100
    assert recording_path(storage, file_name).parent == storage.resolve()
    assert recording_file_name(43, name, started) != file_name, "unique by recording id"


def test_no_file_is_left_open_or_half_made_when_the_name_is_refused(storage: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with pytest.raises(ValueError, match="safe recording file name"):
            RecordingWriter(storage, "../x.mp4")
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_disk_that_fails_mid_recording_keeps_what_was_written(
    storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing fails after three seconds (the disk filled up): the robot is told, further frames are
    refused, and the file still plays up to the failure."""
    pipeline = start_pipeline(storage)
    people = [Participant(1, RED, 440.0)]
    play(pipeline, people, 3.0)
    assert pipeline.flush(30)

    def disk_full(frame: av.VideoFrame) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline.writer, "write_video", disk_full)
    pipeline.advance(4.0)
    assert not pipeline.flush(30)
    assert not pipeline.add_video(SourceKey(1, "camera"), people[0].video(4.0), 4.0)
    with pytest.raises(RecordingError, match="No space left"):
        pipeline.stop(4.0)
    decoded = decode(storage / "class.mp4", until_damaged=True)
    assert len(decoded.video_times) >= 2 * 15
