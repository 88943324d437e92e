"""The track writer: encoded frames stream-copied into WebM / fragmented MP4, readable while written."""

from __future__ import annotations

import asyncio
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from recorder_bot.job import TrackStarted
from recorder_bot.pause_clock import PauseClock
from recorder_bot.tracks import (
    TrackError,
    TrackFile,
    TrackRecorder,
    is_keyframe,
    track_file_name,
    track_path,
)


def opus_packets(seconds: float, frequency: float = 440.0) -> list[bytes]:
    encoder = av.CodecContext.create("libopus", "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "stereo", "s16"
    encoder.time_base = Fraction(1, 48_000)
    packets: list[bytes] = []
    for index in range(int(seconds * 50)):
        n = np.arange(index * 960, (index + 1) * 960)
        tone = (8000 * np.sin(2 * np.pi * frequency * n / 48_000)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2)[None, :], format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48_000, index * 960
        packets += [bytes(p) for p in encoder.encode(frame)]
    return packets


def video_packets(codec: str, frames: int, gop: int = 15) -> list[tuple[bytes, bool]]:
    encoder = av.CodecContext.create(codec, "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = 160, 120, "yuv420p"
    encoder.time_base, encoder.framerate, encoder.gop_size = Fraction(1, 15), Fraction(15), gop
    if codec == "libx264":
        encoder.options = {"preset": "ultrafast", "tune": "zerolatency"}
    else:
        encoder.options = {"deadline": "realtime", "lag-in-frames": "0"}
    packets: list[tuple[bytes, bool]] = []
    for index in range(frames):
        picture = av.VideoFrame.from_ndarray(
            np.full((120, 160, 3), (index * 8) % 256, np.uint8), format="rgb24"
        )
        picture = picture.reformat(format="yuv420p")
        picture.pts = index
        packets += [(bytes(p), p.is_keyframe) for p in encoder.encode(picture)]
    return packets


def decoded(path: Path) -> tuple[str, int, list[int]]:
    """Codec, number of decoded frames and the packets' pts (milliseconds) of the file's one stream."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        name = stream.codec_context.name
        pts = [
            round(float(p.pts * p.time_base) * 1000)
            for p in container.demux(stream)
            if p.pts is not None and p.size
        ]
    with av.open(str(path)) as container:
        count = sum(1 for _ in container.decode(container.streams[0]))
    return name, count, pts


def test_names_are_made_from_the_prefix_and_refuse_anything_outside_the_root(tmp_path: Path) -> None:
    assert track_file_name("rec-7", 12, "camera", "vp8") == "rec-7-12-camera.webm"
    assert track_file_name("rec-7", -3, "microphone", "opus") == "rec-7-r3-microphone.webm"
    assert track_file_name("rec-7", 12, "screen", "h264") == "rec-7-12-screen.mp4"
    for bad in ("../x.webm", "x.mkv", ".x.webm", "a/b.webm", ""):
        with pytest.raises(ValueError, match="not a safe track file name"):
            track_path(tmp_path, bad)
    (tmp_path / "taken.webm").write_bytes(b"mine")
    with pytest.raises(TrackError):
        TrackFile(tmp_path, "taken.webm", "opus")
    assert (tmp_path / "taken.webm").read_bytes() == b"mine", "an existing file is never replaced"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link.webm").symlink_to(tmp_path / "elsewhere" / "target.webm")
    with pytest.raises(TrackError):
        TrackFile(tmp_path, "link.webm", "opus")
    assert not (tmp_path / "elsewhere" / "target.webm").exists()


def test_opus_is_stream_copied_into_webm_and_plays_while_written(tmp_path: Path) -> None:
    packets = opus_packets(4.0)
    track = TrackFile(tmp_path, "t-1-microphone.webm", "opus")
    for index, packet in enumerate(packets[:150]):
        track.write(packet, index * 20, True)
    # A robot killed now: what is on disk already plays (all but the last cluster).
    shutil.copy(track.path, tmp_path / "killed.webm")
    codec, frames, _ = decoded(tmp_path / "killed.webm")
    assert (codec, frames >= 100) == ("opus", True)
    for index, packet in enumerate(packets[150:], start=150):
        track.write(packet, index * 20, True)
    finished = track.close()
    assert (finished.file_name, finished.duration_ms) == ("t-1-microphone.webm", len(packets) * 20)
    assert finished.size_bytes == track.path.stat().st_size
    codec, frames, pts = decoded(track.path)
    assert codec == "opus"
    assert frames == len(packets)
    assert pts == [i * 20 for i in range(len(packets))]
    with av.open(str(track.path)) as container:
        stored = [bytes(p) for p in container.demux(audio=0) if p.size]
    assert stored == packets, "byte for byte what was given"


def test_vp8_in_webm_with_a_gap_and_strictly_increasing_pts(tmp_path: Path) -> None:
    packets = video_packets("libvpx", 60)
    assert is_keyframe("vp8", packets[0][0])
    assert not is_keyframe("vp8", packets[1][0])
    assert [key for _, key in packets] == [is_keyframe("vp8", data) for data, _ in packets]
    track = TrackFile(tmp_path, "t-2-camera.webm", "vp8")
    with pytest.raises(TrackError):
        track.write(packets[1][0], 0, False)  # a video track starts at a keyframe
    times = [round(i * 1000 / 15) + (5000 if i >= 30 else 0) for i in range(60)]  # away 5 s
    for (data, key), at in zip(packets, times, strict=True):
        track.write(data, at, key)
    with pytest.raises(TrackError):
        track.write(packets[0][0], times[-1], True)
    track.close()
    codec, frames, pts = decoded(track.path)
    assert (codec, frames) == ("vp8", 60)
    assert pts == times
    with av.open(str(track.path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 120)


def test_h264_goes_into_fragmented_mp4_that_plays_before_it_is_closed(tmp_path: Path) -> None:
    packets = video_packets("libx264", 45)
    assert packets[0][1]
    assert is_keyframe("h264", packets[0][0])
    assert not is_keyframe("h264", packets[1][0])
    track = TrackFile(tmp_path, "t-3-screen.mp4", "h264")
    for index, (data, key) in enumerate(packets):
        track.write(data, round(index * 1000 / 15), key)
    shutil.copy(track.path, tmp_path / "killed.mp4")
    track.close()
    codec, frames, pts = decoded(track.path)
    assert (codec, frames) == ("h264", 45)
    assert pts == [round(i * 1000 / 15) for i in range(45)]
    killed_codec, killed_frames, _ = decoded(tmp_path / "killed.mp4")
    assert killed_codec == "h264"
    assert killed_frames >= 15, "the fragments already written play"


async def test_a_pause_heard_late_is_cut_out_of_the_tracks_and_they_go_on_from_it(tmp_path: Path) -> None:
    """Frames placed after a pause's instant but before the robot heard of it wait on their way to the
    writer: the cut drops them, and what comes after the resume continues the track from the cut, on the
    composite's timeline (nothing squashed, nothing dropped as overlapping)."""
    started: list[TrackStarted] = []
    recorder = TrackRecorder(tmp_path, "rec-1", 0.0, PauseClock(), started.append, delay=60.0)
    recorder.start()
    audio = opus_packets(3.0)
    for index, packet in enumerate(audio[:100]):  # 0 to 2 s placed; the pause was at 1 s
        recorder.write(5, "microphone", "opus", packet, index * 0.02)
    recorder.write(6, "microphone", "opus", audio[0], 1.5)  # someone who began speaking in the pause
    recorder.write(7, "camera", "vp8", b"\x00not a vp8 frame", 0.5)  # a file that fails at once
    recorder.cut(1.0)
    for index, packet in enumerate(audio[100:150]):  # after the resume: file time 1 s on
        recorder.write(5, "microphone", "opus", packet, 1.0 + index * 0.02)
    finished = await asyncio.to_thread(recorder.stop)
    await asyncio.sleep(0.1)  # the writer's reports reach the loop

    _name, count, pts = decoded(tmp_path / "rec-1-5-microphone.webm")
    assert pts == list(range(0, 2000, 20))
    assert count == 100
    assert [t.file_name for t in started] == ["rec-1-5-microphone.webm"]
    assert [(t.file_name, t.duration_ms) for t in finished] == [("rec-1-5-microphone.webm", 2000)]
    assert not (tmp_path / "rec-1-6-microphone.webm").exists(), "nothing of the pause is kept"
    assert not (tmp_path / "rec-1-7-camera.webm").exists(), "a file never reported is not left behind"
