"""The recorder's costs: CPU and real-time factor by class size, stop-to-ready time, memory over a long run.

    python -m bench.recording            # the full run: about 11 minutes on 2 cores
    python -m bench.recording --quick    # a smoke version: 2 to 3 minutes (more on a busy machine)

What runs is the robot's own recording path without the network: a ``RecorderPipeline`` with the ``Mixer``
and a ``RecordingWriter`` (libx264 + AAC into fragmented MP4, fsync per fragment) on its worker thread,
at the robot's defaults (1280x720, 15 fps, 0.4 s delay). Synthetic participants stand in for the robot's
decoded WebRTC inputs: each sends a 640x480 30 fps camera whose textured picture pans 4 px a frame (harder
for the encoder than a talking head before a still wall) and a tone as 20 ms stereo s16 frames, as aiortc's
Opus decoder delivers them; the active speaker changes every few seconds, so the picture's layout does too.
Decoding is not part of these numbers: the cost of decoding N VP8 640x480 30 fps streams (and N Opus
streams) with aiortc's own decoders is measured apart and shown beside them.

- **CPU**: fed at real time from an asyncio loop on ``time.time()``, as the robot feeds it, for N = 1, 4, 9
  (and N = 4 with unpredictable noise pictures, the encoder's worst case). After a warm-up, CPU *time* of the
  worker thread (``/proc/self/task/<tid>/stat``) and of the whole process is read over a fixed window: CPU
  time, not wall time, so the other work on a shared machine disturbs it little. The event loop's lag, the
  frames that came too late or were dropped, and how long each thread waited for a CPU (schedstat) over the
  same window are reported with the machine's CPU pressure, as they tell a slow recorder from a busy box.
- **Real-time factor**: the same sources fed as fast as the pipeline takes them (paced with
  ``pipeline.flush``); media seconds produced per wall second, and CPU seconds per media second.
- **Stop to ready**: recordings of 1, 10 and 60 minutes made faster than real time (4 participants, cameras
  at 15 fps instead of 30: the output is 15 fps either way, so the file is the same kind; it halves the run
  time). Timed from the stop call: ``pipeline.stop()`` (the robot finishing its file), then the server's
  ``probe`` (of the file's start, as after a clean finish) and ``thumbnail``, exactly what ``_settle``
  does before a recording is listed as ready. The robot's process exit, its WebRTC teardown and the
  database commit are not included.
- **Tracks**: each participant's own tracks (``recorder_bot.tracks``) written in real time for N = 1 and 4
  from pre-encoded VP8 / Opus frames, as aiortc's jitter buffer hands them over: process CPU, the track
  writer thread's, and CPU seconds per written track per media minute; and ``both`` for a class of four
  (the composite fed beside the tracks in one process, plus the decoding measured apart).
  ``--tracks-only`` runs just these (``--tracks-seconds`` long).
- **Memory**: the resident memory of the process, read each media minute of the longest of those
  recordings (so also faster than real time); growth from minute 1 to minute 30.

Every measurement runs in a fresh process, as each robot is its own process: memory freed by an earlier
point cannot hide growth in a later one, and threads never mix. Nothing uses the network. As a library,
:func:`run` returns the result dict that :func:`main` prints as Markdown and writes as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from av import AudioFrame, VideoFrame

from bench.children import die_with_parent
from bench.measure import (
    BenchError,
    MachineCpu,
    ProcessCpu,
    cpu_pressure_seconds,
    json_safe,
    machine,
    process_cpu_seconds,
    resident_bytes,
    run_and_report,
    thread_cpu_seconds,
    thread_run_delay_seconds,
    utc_now,
)
from recorder_bot.mixer import MediaFormat, Mixer, SourceKey
from recorder_bot.pause_clock import PauseClock
from recorder_bot.tracks import TrackRecorder
from recorder_bot.writer import EncoderSettings, RecorderPipeline, RecordingWriter
from server.library import probe

ROOT = Path(__file__).resolve().parent.parent

CAMERA_WIDTH, CAMERA_HEIGHT, CAMERA_FPS = 640, 480, 30
PAN_PIXELS = 4
AUDIO_STEP = 0.02
AUDIO_SAMPLES = 960
SPEAKER_TURN = 4.0
"""Seconds between active-speaker changes: each one moves tiles, so scaled tiles are made anew."""
FLUSH_EVERY = 10
"""Audio steps (0.2 s) between flushes when faster than real time: bounds the queue at 9 participants to
about 25 MB, well under the pipeline's 64 MB, so no frame is dropped for going fast."""
FLUSH_TIMEOUT = 120.0
LAG_PROBE = 0.01
VP8_BITRATE = 1_500_000
"""What a browser sends under Aula's REMB cap (``max_video_bitrate``)."""
CONTENTS = ("camera", "noise")

TARGET_CPU_CORES = 0.35
TARGET_CPU_PEOPLE = 4
TARGET_READY_S = 1.0
TARGET_MEMORY_GROWTH_MB = 20.0

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """One run's parameters (all recorded in the result)."""

    counts: tuple[int, ...] = (1, 4, 9)
    "Participants for the CPU and real-time-factor points."
    worst_case_counts: tuple[int, ...] = (TARGET_CPU_PEOPLE,)
    "Participants for CPU points with noise pictures, which no encoder can predict."
    warmup: float = 5.0
    window: float = 30.0
    rtf_seconds: float = 60.0
    "Media seconds recorded per real-time-factor point."
    decode_seconds: float = 10.0
    "Length of the VP8 / Opus clip each decoder decodes."
    stop_minutes: tuple[int, ...] = (1, 10, 60)
    memory_minutes: int = 30
    "Memory growth is read from minute 1 to this minute of the longest recording."
    long_people: int = 4
    long_camera_fps: int = 15
    tracks_counts: tuple[int, ...] = (1, 4)
    "Participants for the tracks points (each alone, and ``both`` beside the composite)."
    tracks_seconds: float = 30.0
    "Media seconds of each tracks point."


QUICK = Settings(
    worst_case_counts=(),
    warmup=3.0,
    window=20.0,
    rtf_seconds=15.0,
    decode_seconds=4.0,
    stop_minutes=(1, 2, 5),
    memory_minutes=5,
    tracks_seconds=10.0,
)


# -- synthetic participants ----------------------------------------------------------------------------------


class Participant:
    """One generated participant: a camera and a microphone, as frames the robot's decoders would hand over.

    ``camera`` pictures are a gradient with fine texture that pans across the frame, so every frame differs
    but motion search finds it, as with a real camera; ``noise`` pictures are windows at random places in
    a field of noise, which no motion vector predicts (the encoder's worst case). Chroma is one colour per
    participant.
    """

    def __init__(self, user_id: int, content: str) -> None:
        if content not in CONTENTS:
            raise ValueError(f"content must be one of {CONTENTS}: {content!r}")
        self.user_id = user_id
        self.content = content
        self._rng = np.random.default_rng(user_id)
        if content == "noise":
            self._luma = self._rng.integers(0, 256, (CAMERA_HEIGHT * 2, CAMERA_WIDTH * 2), dtype=np.uint8)
        else:
            yy, xx = np.mgrid[0:CAMERA_HEIGHT, 0 : CAMERA_WIDTH * 2]
            texture = self._rng.integers(0, 12, (CAMERA_HEIGHT, CAMERA_WIDTH * 2))
            gradient = (xx * 0.2 + yy * 0.3 + user_id * 40) % 200 + 30
            self._luma = (gradient + texture).astype(np.uint8)
        self._u = 64 + (user_id * 37) % 128
        self._v = 64 + (user_id * 71) % 128
        self._frequency = 180.0 + 55.0 * (user_id % 12)

    def video(self, index: int) -> VideoFrame:
        """Camera frame ``index`` (yuv420p, 640x480)."""
        planes = np.empty((CAMERA_HEIGHT * 3 // 2, CAMERA_WIDTH), dtype=np.uint8)
        if self.content == "noise":
            y = int(self._rng.integers(0, CAMERA_HEIGHT))
            x = int(self._rng.integers(0, CAMERA_WIDTH))
        else:
            y, x = 0, (index * PAN_PIXELS) % CAMERA_WIDTH
        planes[:CAMERA_HEIGHT] = self._luma[y : y + CAMERA_HEIGHT, x : x + CAMERA_WIDTH]
        quarter = CAMERA_HEIGHT // 4  # each chroma plane fills a quarter of the luma's rows here
        planes[CAMERA_HEIGHT : CAMERA_HEIGHT + quarter] = self._u
        planes[CAMERA_HEIGHT + quarter :] = self._v
        return VideoFrame.from_ndarray(planes, format="yuv420p")

    def audio(self, index: int) -> AudioFrame:
        """Microphone frame ``index``: 20 ms of the participant's tone, stereo s16 at 48 kHz."""
        samples = np.arange(index * AUDIO_SAMPLES, (index + 1) * AUDIO_SAMPLES)
        phase = 2 * np.pi * self._frequency * samples / 48_000
        wave: npt.NDArray[np.int16] = (3000 * np.sin(phase)).astype(np.int16)
        frame = AudioFrame.from_ndarray(np.repeat(wave, 2)[None, :], format="s16", layout="stereo")
        frame.sample_rate = 48_000
        return frame


class Classroom:
    """N participants on one timeline: camera frames, 20 ms audio frames and active-speaker changes.

    :meth:`send_due` hands the pipeline everything stamped up to a moment, whoever calls it: an asyncio
    loop at wall-clock pace, or a loop running as fast as the pipeline takes frames.
    """

    def __init__(self, people: int, content: str, camera_fps: int = CAMERA_FPS) -> None:
        if people < 1:
            raise ValueError(f"a classroom needs at least one participant: {people}")
        self.people = [Participant(user_id, content) for user_id in range(1, people + 1)]
        self.camera_fps = camera_fps
        self._video = 0
        self._audio = 0
        self._turn = 0

    def introduce(self, pipeline: RecorderPipeline) -> None:
        pipeline.set_names({p.user_id: f"Participant {p.user_id}" for p in self.people})

    def next_due(self) -> float:
        """The recording-clock time of the next frame or speaker change not yet sent."""
        return min(self._video / self.camera_fps, self._audio * AUDIO_STEP, self._turn * SPEAKER_TURN)

    def send_due(self, pipeline: RecorderPipeline, now: float) -> None:
        """Send every frame and speaker change stamped at or before ``now`` (seconds)."""
        while (t := self._video / self.camera_fps) <= now:
            for person in self.people:
                pipeline.add_video(SourceKey(person.user_id, "camera"), person.video(self._video), t)
            self._video += 1
        while (t := self._audio * AUDIO_STEP) <= now:
            for person in self.people:
                pipeline.add_audio(SourceKey(person.user_id, "microphone"), person.audio(self._audio), t)
            self._audio += 1
        while (t := self._turn * SPEAKER_TURN) <= now:
            pipeline.set_active_speaker(self.people[self._turn % len(self.people)].user_id, t)
            self._turn += 1


def _pipeline(directory: Path, clock: Callable[[], float] | None) -> RecorderPipeline:
    """The robot's pipeline at its defaults, writing ``recording.mp4`` into ``directory``."""
    fmt = MediaFormat()
    writer = RecordingWriter(directory, "recording.mp4", fmt, EncoderSettings())
    return RecorderPipeline(Mixer(fmt, "Benchmark"), writer, clock=clock)


def _record_fast(
    classroom: Classroom,
    pipeline: RecorderPipeline,
    seconds: float,
    on_minute: Callable[[int], None] | None = None,
) -> None:
    """Record ``seconds`` as fast as the pipeline goes, rendering as the robot does ("now minus the delay")
    every 20 ms; ``on_minute`` is called after each whole media minute, with the queue drained."""
    steps = round(seconds / AUDIO_STEP)
    per_minute = round(60 / AUDIO_STEP)
    for step in range(1, steps + 1):
        now = step * AUDIO_STEP
        classroom.send_due(pipeline, now)
        pipeline.advance(now - pipeline.delay)
        if step % FLUSH_EVERY == 0 or step == steps:
            if not pipeline.flush(FLUSH_TIMEOUT):
                raise BenchError(f"the pipeline stalled or failed at {now:.1f} s: {pipeline.error}")
            if on_minute is not None and step % per_minute == 0:
                on_minute(step // per_minute)


def _worker_tid() -> int:
    """The native id of the (only) running pipeline's worker thread."""
    for thread in threading.enumerate():
        if thread.name == "recorder-pipeline" and thread.native_id is not None:
            return thread.native_id
    raise BenchError("the pipeline's worker thread is not running")


def _mb(value: float) -> float:
    return value / 1e6


def _load_average() -> float:
    return os.getloadavg()[0]


# -- CPU in real time ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    """Counters read at one moment; two readings give a window."""

    wall: float
    process: ProcessCpu
    worker: float
    feeder: float
    worker_waiting: float
    feeder_waiting: float
    pressure: float
    machine: MachineCpu
    late: int
    dropped: int

    @classmethod
    def take(cls, pipeline: RecorderPipeline, worker: int, feeder: int) -> _Reading:
        pid = os.getpid()
        stats = pipeline.stats()
        return cls(
            wall=time.monotonic(),
            process=ProcessCpu.read(pid),
            worker=thread_cpu_seconds(pid, worker),
            feeder=thread_cpu_seconds(pid, feeder),
            worker_waiting=thread_run_delay_seconds(pid, worker),
            feeder_waiting=thread_run_delay_seconds(pid, feeder),
            pressure=cpu_pressure_seconds(),
            machine=MachineCpu.read(),
            late=stats.late_video_frames + stats.late_audio_frames,
            dropped=stats.dropped_queue_full,
        )


async def _feed_in_real_time(classroom: Classroom, pipeline: RecorderPipeline, start: float) -> None:
    """Send each frame when the wall clock reaches its time, as decoded frames reach the robot."""
    while True:
        await asyncio.sleep(max(0.0, start + classroom.next_due() - time.time()))
        classroom.send_due(pipeline, time.time() - start)


async def _sample_lag(lags: list[float]) -> None:
    """How late a 10 ms sleep wakes up: the time the loop was kept from its other work."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(LAG_PROBE)
        lags.append(time.monotonic() - before - LAG_PROBE)


async def _realtime(people: int, content: str, warmup: float, window: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aula-recording-bench-") as directory:
        start = time.time()
        # The robot's clock: wall time since the recording started, rendering 0.4 s behind it.
        pipeline = _pipeline(Path(directory), clock=lambda: time.time() - start)
        classroom = Classroom(people, content)
        classroom.introduce(pipeline)
        pipeline.start()
        worker, feeder = _worker_tid(), threading.get_native_id()
        lags: list[float] = []
        tasks = [
            asyncio.create_task(_feed_in_real_time(classroom, pipeline, start)),
            asyncio.create_task(_sample_lag(lags)),
        ]
        try:
            await asyncio.sleep(warmup)
            load = _load_average()
            before = _Reading.take(pipeline, worker, feeder)
            first_lag = len(lags)
            await asyncio.sleep(window)
            after = _Reading.take(pipeline, worker, feeder)
            window_lags = sorted(lags[first_lag:])
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        stopping = time.perf_counter()
        stats = await asyncio.to_thread(pipeline.stop)
        stop_s = time.perf_counter() - stopping
    span = after.wall - before.wall

    def share(used: float) -> float:
        return 100 * used / span

    process = share(after.process.total - before.process.total)
    worker_share = share(after.worker - before.worker)
    feeder_share = share(after.feeder - before.feeder)
    return {
        "participants": people,
        "content": content,
        "window_s": span,
        "worker_cpu_percent": worker_share,
        "process_cpu_percent": process,
        "process_user_percent": share(after.process.user - before.process.user),
        "process_system_percent": share(after.process.system - before.process.system),
        "feeder_cpu_percent": feeder_share,
        # Clock-tick rounding can leave a hair below zero when no other thread ran.
        "other_threads_cpu_percent": max(0.0, process - worker_share - feeder_share),
        "loop_lag_ms": {
            "p50": 1000 * statistics.median(window_lags),
            "p99": 1000 * window_lags[int(len(window_lags) * 0.99)],
            "max": 1000 * window_lags[-1],
        },
        "late_frames": after.late - before.late,
        "dropped_frames": after.dropped - before.dropped,
        "worker_waiting_for_cpu_percent": share(after.worker_waiting - before.worker_waiting),
        "feeder_waiting_for_cpu_percent": share(after.feeder_waiting - before.feeder_waiting),
        "cpu_pressure_percent": share(after.pressure - before.pressure),
        "machine_busy_percent": after.machine.busy_percent_since(before.machine),
        "load_average": load,
        "resident_mb": _mb(resident_bytes(os.getpid())),
        "stop_s": stop_s,
        "rendered_s": stats.rendered_seconds,
    }


def realtime_point(people: int, content: str, warmup: float, window: float) -> dict[str, Any]:
    """CPU of recording ``people`` participants fed at real time, over ``window`` s after ``warmup`` s."""
    return asyncio.run(_realtime(people, content, warmup, window))


# -- real-time factor ----------------------------------------------------------------------------------------


def rtf_point(people: int, seconds: float) -> dict[str, Any]:
    """How fast ``people`` participants can be recorded: media seconds per wall second, CPU per media s."""
    with tempfile.TemporaryDirectory(prefix="aula-recording-bench-") as directory:
        pipeline = _pipeline(Path(directory), clock=None)
        classroom = Classroom(people, "camera")
        classroom.introduce(pipeline)
        pipeline.start()
        pid, worker = os.getpid(), _worker_tid()
        load, pressure = _load_average(), cpu_pressure_seconds()
        wall, process = time.monotonic(), process_cpu_seconds(pid)
        worker_cpu = thread_cpu_seconds(pid, worker)
        _record_fast(classroom, pipeline, seconds)
        stats = pipeline.stats()
        wall = time.monotonic() - wall
        process = process_cpu_seconds(pid) - process
        worker_cpu = thread_cpu_seconds(pid, worker) - worker_cpu
        pressure = cpu_pressure_seconds() - pressure
        pipeline.stop(seconds)
    media = stats.rendered_seconds
    return {
        "participants": people,
        "media_s": media,
        "wall_s": wall,
        "real_time_factor": media / wall,
        "worker_cpu_s_per_media_s": worker_cpu / media,
        "process_cpu_s_per_media_s": process / media,
        "cpu_bound_real_time_factor": media / worker_cpu,
        "cpu_pressure_percent": 100 * pressure / wall,
        "dropped_frames": stats.dropped_queue_full,
        "late_frames": stats.late_video_frames + stats.late_audio_frames,
        "load_average": load,
    }


# -- decoding, measured apart --------------------------------------------------------------------------------


def _vp8_clip(seconds: float) -> tuple[list[tuple[bytes, int]], float]:
    """A camera encoded as a browser would send it (aiortc's VP8 encoder at 1.5 Mbit/s), as the frames
    aiortc's jitter buffer hands its decoder (depayloaded, whole frames), and its bitrate."""
    encoder = Vp8Encoder()
    encoder.target_bitrate = VP8_BITRATE
    camera = Participant(1, "camera")
    clip = []
    for index in range(round(seconds * CAMERA_FPS)):
        frame = camera.video(index)
        frame.pts, frame.time_base = index * 3000, Fraction(1, 90_000)
        payloads, timestamp = encoder.encode(frame)
        clip.append((b"".join(vp8_depayload(payload) for payload in payloads), timestamp))
    return clip, sum(len(data) for data, _ in clip) * 8 / seconds


def _opus_clip(seconds: float) -> list[tuple[bytes, int]]:
    """A microphone as a browser would send it: aiortc's Opus encoder, one packet per 20 ms."""
    encoder = OpusEncoder()
    microphone = Participant(1, "camera")
    clip: list[tuple[bytes, int]] = []
    for index in range(round(seconds / AUDIO_STEP)):
        frame = microphone.audio(index)
        frame.pts, frame.time_base = index * AUDIO_SAMPLES, Fraction(1, 48_000)
        payloads, timestamp = encoder.encode(frame)
        clip.extend((payload, timestamp) for payload in payloads)
    return clip


def decode_point(counts: Sequence[int], seconds: float) -> dict[str, Any]:
    """CPU of decoding N camera (VP8 640x480 30 fps) and N microphone (Opus) streams, with aiortc's decoders.

    The robot decodes every source before the pipeline sees it (a decoder per track, on aiortc's threads);
    here N fresh decoders take the same clip frame by frame, as if N participants sent at once, and the
    process's CPU time over the clip's length is the share of a core they would need.
    """
    pid = os.getpid()
    video, bitrate = _vp8_clip(seconds)
    audio = _opus_clip(seconds)
    points = []
    for count in counts:
        vp8 = [Vp8Decoder() for _ in range(count)]
        used = process_cpu_seconds(pid)
        for data, timestamp in video:
            for vp8_decoder in vp8:
                vp8_decoder.decode(JitterFrame(data, timestamp))
        vp8_used = process_cpu_seconds(pid) - used
        opus = [OpusDecoder() for _ in range(count)]
        used = process_cpu_seconds(pid)
        for data, timestamp in audio:
            for opus_decoder in opus:
                opus_decoder.decode(JitterFrame(data, timestamp))
        opus_used = process_cpu_seconds(pid) - used
        points.append(
            {
                "participants": count,
                "vp8_cpu_percent": 100 * vp8_used / seconds,
                "opus_cpu_percent": 100 * opus_used / seconds,
                "cpu_percent": 100 * (vp8_used + opus_used) / seconds,
            }
        )
    return {"clip_s": seconds, "vp8_bitrate": bitrate, "points": points}


# -- per-participant tracks ---------------------------------------------------------------------------------


def _track_writer_tid() -> int:
    for thread in threading.enumerate():
        if thread.name == "track-writer" and thread.native_id is not None:
            return thread.native_id
    raise BenchError("the track writer thread is not running")


async def _tracks(people: int, seconds: float, with_composite: bool) -> dict[str, Any]:
    video, bitrate = _vp8_clip(seconds)
    audio = _opus_clip(seconds)
    with tempfile.TemporaryDirectory(prefix="aula-tracks-bench-") as directory:
        start = time.time()
        tracks = TrackRecorder(Path(directory), "bench", start, PauseClock(), report=lambda started: None)
        tracks.start()
        pipeline = None
        feeding = None
        if with_composite:
            pipeline = _pipeline(Path(directory), clock=lambda: time.time() - start)
            classroom = Classroom(people, "camera")
            classroom.introduce(pipeline)
            pipeline.start()
            feeding = asyncio.ensure_future(_feed_in_real_time(classroom, pipeline, start))
        pid, writer = os.getpid(), _track_writer_tid()
        used, written = process_cpu_seconds(pid), thread_cpu_seconds(pid, writer)
        frames = [(index / CAMERA_FPS, "camera", data) for index, (data, _) in enumerate(video)]
        frames += [(index * AUDIO_STEP, "microphone", data) for index, (data, _) in enumerate(audio)]
        for t, source, data in sorted(frames, key=lambda frame: frame[0]):
            await asyncio.sleep(max(0.0, start + t - time.time()))
            for user_id in range(1, people + 1):
                codec = "vp8" if source == "camera" else "opus"
                tracks.write(user_id, source, codec, data, t)  # type: ignore[arg-type]
        wall = time.time() - start
        used, written = process_cpu_seconds(pid) - used, thread_cpu_seconds(pid, writer) - written
        if feeding is not None:
            feeding.cancel()
        finished = await asyncio.to_thread(tracks.stop)
        if pipeline is not None:
            await asyncio.to_thread(pipeline.stop)
    count = len(finished)
    media_minutes = seconds / 60
    return {
        "participants": people,
        "with_composite": with_composite,
        "tracks": count,
        "media_s": seconds,
        "wall_s": wall,
        "vp8_bitrate": bitrate,
        "bytes_written": sum(track.size_bytes for track in finished),
        "dropped_frames": tracks.dropped,
        "process_cpu_percent": 100 * used / wall,
        "writer_cpu_percent": 100 * written / wall,
        "cpu_s_per_track_per_media_minute": used / count / media_minutes if count else None,
        "writer_cpu_s_per_track_per_media_minute": written / count / media_minutes if count else None,
    }


def tracks_point(people: int, seconds: float, with_composite: bool) -> dict[str, Any]:
    """CPU of writing N participants' tracks (a VP8 640x480 30 fps camera and an Opus microphone each,
    as aiortc's jitter buffer hands them over) in real time, with the composite of the same class
    beside them (``both``) or not (``tracks``). Process CPU includes the feeding loop, which stands in for
    the robot's stamping of each frame; aiortc's network side is not included, decoding (``both``) is
    measured apart (``decode_point``)."""
    return asyncio.run(_tracks(people, seconds, with_composite))


# -- long recordings: stop to ready, memory ------------------------------------------------------------------


def long_recording(minutes: int, people: int, camera_fps: int) -> dict[str, Any]:
    """Record ``minutes`` faster than real time, reading memory each minute; then time stop to ready."""
    seconds = minutes * 60.0
    pid = os.getpid()
    with tempfile.TemporaryDirectory(prefix="aula-recording-bench-") as directory, asyncio.Runner() as runner:
        pipeline = _pipeline(Path(directory), clock=None)
        path = pipeline.writer.path
        classroom = Classroom(people, "camera", camera_fps)
        classroom.introduce(pipeline)
        pipeline.start()
        resident = [(0, _mb(resident_bytes(pid)))]
        recording_started = time.monotonic()
        _record_fast(
            classroom, pipeline, seconds, lambda minute: resident.append((minute, _mb(resident_bytes(pid))))
        )
        recorded_in = time.monotonic() - recording_started
        load, pressure, cpu = _load_average(), cpu_pressure_seconds(), process_cpu_seconds(pid)
        # What happens between Stop and "ready": the robot finishes its file, then the server's _settle.
        synced = pipeline.writer.stats.fsync_seconds_total
        stopping = time.perf_counter()
        stats = pipeline.stop(seconds)
        stopped = time.perf_counter()
        synced = pipeline.writer.stats.fsync_seconds_total - synced
        # A clean finish: the server reads only the file's start (the robot reports the length).
        found = runner.run(probe.probe(path, whole=False))
        size = path.stat().st_size
        probed = time.perf_counter()
        thumbnail = runner.run(
            probe.thumbnail(path, path.with_suffix(".jpg"), at_seconds=min(2.0, stats.rendered_seconds / 2))
        )
        ready = time.perf_counter()
        cpu = process_cpu_seconds(pid) - cpu
        pressure = cpu_pressure_seconds() - pressure
    return {
        "minutes": minutes,
        "participants": people,
        "camera_fps": camera_fps,
        "recorded_in_s": recorded_in,
        "real_time_factor": seconds / recorded_in,
        "file_mb": _mb(size),
        "length_s": stats.rendered_seconds,
        "fragments": stats.fragments,
        "dropped_frames": stats.dropped_queue_full,
        "late_frames": stats.late_video_frames + stats.late_audio_frames,
        "fsync_max_s": stats.fsync_seconds_max,
        "stop_s": stopped - stopping,
        "stop_fsync_s": synced,
        "probe_s": probed - stopped,
        "thumbnail_s": ready - probed,
        "ready_s": ready - stopping,
        "ready_cpu_s": cpu,
        "ready_cpu_pressure_percent": 100 * pressure / (ready - stopping),
        "load_average": load,
        "probe": asdict(found),
        "thumbnail_written": thumbnail,
        "resident_mb": resident,
    }


# -- running it all ------------------------------------------------------------------------------------------


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _prepare_measuring_process() -> None:
    """Runs first in each measuring process: it ends with the benchmark, and cleans up when it does.

    The kernel sends SIGTERM if the benchmark dies, even by SIGKILL; SIGTERM (that, or the pool ending it
    after Ctrl-C) unwinds as an exit, so its temporary recording directory is removed.
    """
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    die_with_parent()


def _isolated(function: Callable[..., T], args: tuple[Any, ...], timeout: float) -> T:
    """``function(*args)`` in a fresh process (see the module's docstring for why), within ``timeout`` s."""
    pool = multiprocessing.get_context("spawn").Pool(1, initializer=_prepare_measuring_process)
    try:
        result: T = pool.apply_async(function, args).get(timeout)
        # Let it exit on its own: terminating it here could land SIGTERM in its interpreter's shutdown.
        pool.close()
        pool.join()
    except multiprocessing.TimeoutError as exc:
        raise BenchError(f"{function.__name__}{args} took over {timeout:.0f} s") from exc
    except Exception as exc:  # the recorder failed in the measuring process (e.g. RecordingError)
        raise BenchError(f"{function.__name__}{args} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        pool.terminate()  # only does something if the point failed, timed out or was interrupted
    return result


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _recording_lengths(settings: Settings) -> list[int]:
    """The recordings to make: one per stop-to-ready length, and a longer one only if memory needs it."""
    lengths = set(settings.stop_minutes)
    if settings.memory_minutes > max(lengths):
        lengths.add(settings.memory_minutes)
    return sorted(lengths)


def _memory(recording: dict[str, Any], minutes: int) -> dict[str, Any]:
    by_minute = dict(recording["resident_mb"])
    first, last = by_minute[1], by_minute[minutes]
    return {
        "from_recording_minutes": recording["minutes"],
        "minutes": minutes,
        "resident_mb_before_media": by_minute[0],
        "resident_mb_at_minute_1": first,
        "resident_mb_at_memory_minutes": last,
        "growth_mb": last - first,
        "growth_mb_to_end": by_minute[recording["minutes"]] - first,
        "peak_mb": max(by_minute.values()),
    }


def _validate(settings: Settings) -> None:
    if not settings.counts or min(settings.counts) < 1:
        raise ValueError("participant counts must be positive")
    if not settings.stop_minutes or min(settings.stop_minutes) < 1:
        raise ValueError("stop-to-ready lengths must be whole minutes, at least 1")
    if settings.memory_minutes < 2:
        raise ValueError("the memory run needs at least 2 minutes (growth is read from minute 1)")
    if settings.window <= 1 or settings.warmup < 0 or settings.rtf_seconds < 1 or settings.decode_seconds < 1:
        raise ValueError("window, warm-up and lengths must be positive")


def _cpu_points(settings: Settings) -> list[dict[str, Any]]:
    budget = settings.warmup + settings.window + 120
    points = []
    for content, counts in (("camera", settings.counts), ("noise", settings.worst_case_counts)):
        for people in counts:
            point = _isolated(realtime_point, (people, content, settings.warmup, settings.window), budget)
            _progress(
                f"cpu: {people} x {content}: worker {point['worker_cpu_percent']:.1f}%, "
                f"process {point['process_cpu_percent']:.1f}% of a core"
            )
            points.append(point)
    return points


def _rtf_points(settings: Settings) -> list[dict[str, Any]]:
    points = []
    for people in settings.counts:
        point = _isolated(rtf_point, (people, settings.rtf_seconds), settings.rtf_seconds * 2 + 120)
        _progress(f"real-time factor: {people}: {point['real_time_factor']:.2f}")
        points.append(point)
    return points


def _decoding(settings: Settings) -> dict[str, Any]:
    counts = sorted({*settings.counts, *settings.worst_case_counts})
    seconds = settings.decode_seconds
    decoding: dict[str, Any] = _isolated(decode_point, (counts, seconds), seconds * 30 + 120)
    points = ", ".join(f"{p['participants']}: {p['cpu_percent']:.1f}%" for p in decoding["points"])
    _progress(f"decoding: {points}")
    return decoding


def _track_points(settings: Settings) -> list[dict[str, Any]]:
    points = []
    for with_composite in (False, True):
        for people in settings.tracks_counts if not with_composite else (TARGET_CPU_PEOPLE,):
            args = (people, settings.tracks_seconds, with_composite)
            point = _isolated(tracks_point, args, settings.tracks_seconds * 10 + 120)
            _progress(
                f"tracks: {people} {'with the composite' if with_composite else 'alone'}: "
                f"{point['process_cpu_percent']:.1f}% of a core, "
                f"{point['cpu_s_per_track_per_media_minute']:.2f} CPU s per track per media minute"
            )
            points.append(point)
    return points


def _recordings(settings: Settings) -> list[dict[str, Any]]:
    recordings = []
    for minutes in _recording_lengths(settings):
        args = (minutes, settings.long_people, settings.long_camera_fps)
        recording = _isolated(long_recording, args, minutes * 60 + 600)
        _progress(
            f"stop to ready after {minutes} min: {recording['ready_s'] * 1000:.0f} ms "
            f"(recorded in {recording['recorded_in_s']:.0f} s)"
        )
        recordings.append(recording)
    return recordings


def run(settings: Settings | None = None) -> dict[str, Any]:
    """Measure everything in ``settings`` (default: the full run) and return the result dict."""
    settings = settings or Settings()
    _validate(settings)
    started, load_at_start = utc_now(), os.getloadavg()
    cpu = _cpu_points(settings)
    rtf = _rtf_points(settings)
    decode = _decoding(settings)
    tracks = _track_points(settings)
    recordings = _recordings(settings)
    memory = _memory(recordings[-1], settings.memory_minutes)
    target_point = next(
        (p for p in cpu if p["participants"] == TARGET_CPU_PEOPLE and p["content"] == "camera"), None
    )
    stop_points = [r for r in recordings if r["minutes"] in settings.stop_minutes]
    verdict = {
        "composite_cpu_within_target": None
        if target_point is None
        else target_point["worker_cpu_percent"] <= 100 * TARGET_CPU_CORES,
        "stop_to_ready_within_target": all(r["ready_s"] < TARGET_READY_S for r in stop_points),
        "memory_growth_within_target": memory["growth_mb"] < TARGET_MEMORY_GROWTH_MB,
        "kept_up_in_real_time": all(p["late_frames"] == 0 and p["dropped_frames"] == 0 for p in cpu),
    }
    result: dict[str, Any] = json_safe(
        {
            "benchmark": "recording",
            "started_at": started,
            "finished_at": utc_now(),
            "machine": machine(load_average_at_start=load_at_start, load_average_at_end=os.getloadavg()),
            "settings": asdict(settings),
            "output": {**asdict(MediaFormat()), **asdict(EncoderSettings())},
            "targets": {
                "composite_cpu_cores_max": TARGET_CPU_CORES,
                "composite_participants": TARGET_CPU_PEOPLE,
                "stop_to_ready_s_max": TARGET_READY_S,
                "memory_growth_mb_max": TARGET_MEMORY_GROWTH_MB,
            },
            "cpu": cpu,
            "real_time_factor": rtf,
            "decoding": decode,
            "tracks": tracks,
            "stop_to_ready": recordings,
            "memory": memory,
            "verdict": verdict,
        }
    )
    return result


def run_tracks(settings: Settings | None = None) -> dict[str, Any]:
    """Only the tracks points (and decoding for the ``both`` class): ``--tracks-only``."""
    settings = settings or Settings()
    _validate(settings)
    started, load_at_start = utc_now(), os.getloadavg()
    tracks = _track_points(settings)
    decode: dict[str, Any] = _isolated(
        decode_point, ([TARGET_CPU_PEOPLE], settings.decode_seconds), settings.decode_seconds * 30 + 120
    )
    result: dict[str, Any] = json_safe(
        {
            "benchmark": "recording-tracks",
            "started_at": started,
            "finished_at": utc_now(),
            "machine": machine(load_average_at_start=load_at_start, load_average_at_end=os.getloadavg()),
            "settings": asdict(settings),
            "decoding": decode,
            "tracks": tracks,
        }
    )
    return result


# -- output --------------------------------------------------------------------------------------------------


def tracks_table(result: dict[str, Any]) -> list[str]:
    """The tracks section: CPU per written track per media minute, and both modes for a class of four."""
    decoding = {p["participants"]: p for p in result["decoding"]["points"]}
    seconds = result["settings"]["tracks_seconds"]
    rows = []
    for p in result["tracks"]:
        n = p["participants"]
        both = p["with_composite"]
        decode = decoding.get(n) if both else None
        total = p["process_cpu_percent"] + (decode["cpu_percent"] if decode else 0.0)
        rows.append(
            [
                str(n),
                "both (composite + tracks)" if both else "tracks",
                str(p["tracks"]),
                _f(p["process_cpu_percent"]),
                _f(p["writer_cpu_percent"]),
                "n/a (with the composite)" if both else _f(p["cpu_s_per_track_per_media_minute"], 3),
                _f(decode["cpu_percent"]) if decode else "none",
                f"**{_f(total)}**",
                str(p["dropped_frames"]),
            ]
        )
    header = [
        "people",
        "mode",
        "tracks",
        "process CPU %",
        "track writer %",
        "CPU s per track per media min",
        "decoding %",
        "total %",
        "dropped",
    ]
    return [
        f"**Per-participant tracks** ({_f(seconds, 0)} media s each, in real time; % of one core, from CPU "
        "time): a VP8 640x480 30 fps camera and an Opus microphone per person, as aiortc's jitter buffer "
        "hands them over, stream-copied into WebM on the track writer thread. Tracks mode decodes nothing; "
        "'both' also runs the composite (its pipeline, fed synthetic decoded frames) in the same process and "
        "adds aiortc's decoding measured apart.",
        "",
        *_rows(header, rows),
    ]


def table_tracks_only(result: dict[str, Any]) -> str:
    machine = result["machine"]
    lines = [
        f"Recorder benchmark (tracks), {result['started_at']}: {machine['cpus']} cores, load average "
        f"{_f(machine['load_average_at_start'][0], 2)} at the start, "
        f"{_f(machine['load_average_at_end'][0], 2)} at the end (the machine is shared).",
        "",
        *tracks_table(result),
    ]
    return "\n".join(lines)


def _f(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def table(result: dict[str, Any]) -> str:
    """The result as Markdown: CPU and real-time factor by N, stop to ready by length, memory, verdicts."""
    settings, machine = result["settings"], result["machine"]
    decoding = {p["participants"]: p for p in result["decoding"]["points"]}
    rtf = {p["participants"]: p for p in result["real_time_factor"]}
    lines = [
        f"Recorder benchmark, {result['started_at']}: {machine['cpus']} cores, load average "
        f"{_f(machine['load_average_at_start'][0], 2)} at the start, "
        f"{_f(machine['load_average_at_end'][0], 2)} at the end (the machine is shared).",
        "",
        f"**CPU while recording in real time** ({_f(settings['window'], 0)} s window after "
        f"{_f(settings['warmup'], 0)} s warm-up; % of one core, from CPU time):",
        "",
    ]
    cpu_rows = []
    for p in result["cpu"]:
        n = p["participants"]
        decode = decoding.get(n)
        lag = p["loop_lag_ms"]
        cpu_rows.append(
            [
                str(n),
                p["content"],
                f"**{_f(p['worker_cpu_percent'])}**",
                f"{_f(p['process_cpu_percent'])} ({_f(p['feeder_cpu_percent'])} feeder)",
                _f(decode["cpu_percent"]) if decode else "n/a",
                _f(p["worker_cpu_percent"] + decode["cpu_percent"]) if decode else "n/a",
                f"{_f(lag['p50'])} / {_f(lag['p99'])} / {_f(lag['max'], 0)}",
                f"{p['late_frames']} / {p['dropped_frames']}",
                f"{_f(p['worker_waiting_for_cpu_percent'])} / {_f(p['feeder_waiting_for_cpu_percent'])}",
                f"{_f(p['cpu_pressure_percent'], 0)} / {_f(p['load_average'], 2)}",
            ]
        )
    lines += _rows(
        (
            "N",
            "pictures",
            "composite: worker thread %",
            "whole process % (of it: feeder)",
            "decoding N VP8+Opus % (apart)",
            "worker + decoding %",
            "loop lag p50 / p99 / max ms",
            "late / dropped frames",
            "waited for a CPU %: worker / feeder",
            "CPU pressure % / load",
        ),
        cpu_rows,
    )
    lines += [
        "",
        f"**Real-time factor** (same sources fed as fast as the pipeline takes them, "
        f"{_f(settings['rtf_seconds'], 0)} media s):",
        "",
    ]
    lines += _rows(
        (
            "N",
            "media s per wall s",
            "worker CPU s per media s",
            "process CPU s per media s",
            "bound by the worker's CPU",
            "dropped",
            "CPU pressure % / load",
        ),
        [
            [
                str(n),
                f"**{_f(p['real_time_factor'], 2)}**",
                _f(p["worker_cpu_s_per_media_s"], 3),
                _f(p["process_cpu_s_per_media_s"], 3),
                _f(p["cpu_bound_real_time_factor"], 1),
                str(p["dropped_frames"]),
                f"{_f(p['cpu_pressure_percent'], 0)} / {_f(p['load_average'], 2)}",
            ]
            for n, p in rtf.items()
        ],
    )
    lines += [
        "",
        f"**Stop to ready** ({settings['long_people']} participants, cameras at "
        f"{settings['long_camera_fps']} fps, recorded faster than real time; times in ms):",
        "",
    ]
    lines += _rows(
        (
            "recorded",
            "recorded in",
            "file MB",
            "pipeline.stop (fsync)",
            "probe",
            "thumbnail",
            "stop to ready",
            "CPU in it",
            "ready as (length: the robot's)",
        ),
        [
            [
                f"{r['minutes']} min",
                f"{_f(r['recorded_in_s'], 0)} s ({_f(r['real_time_factor'])}x)",
                _f(r["file_mb"]),
                f"{_f(1000 * r['stop_s'], 0)} ({_f(1000 * r['stop_fsync_s'], 0)})",
                _f(1000 * r["probe_s"], 0),
                _f(1000 * r["thumbnail_s"], 0),
                f"**{_f(1000 * r['ready_s'], 0)}**",
                _f(1000 * r["ready_cpu_s"], 0),
                # After a clean finish the probe reads only the file's start: its duration is not the length.
                f"{'playable' if r['probe']['playable'] else 'NOT playable'}, {_f(r['length_s'], 1)} s",
            ]
            for r in result["stop_to_ready"]
        ],
    )
    memory = result["memory"]
    minutes = memory["minutes"]
    lines += [
        "",
        f"**Memory** (resident, of the {memory['from_recording_minutes']}-minute recording, faster than real "
        "time; MB):",
        "",
    ]
    lines += _rows(
        ("before media", "minute 1", f"minute {minutes}", f"growth 1 → {minutes}", "growth 1 → end", "peak"),
        [
            [
                _f(memory["resident_mb_before_media"]),
                _f(memory["resident_mb_at_minute_1"]),
                _f(memory["resident_mb_at_memory_minutes"]),
                f"**{memory['growth_mb']:+.1f}**",
                f"{memory['growth_mb_to_end']:+.1f}",
                _f(memory["peak_mb"]),
            ]
        ],
    )
    verdict = result["verdict"]

    def met(flag: bool | None) -> str:
        return "n/a" if flag is None else "met" if flag else "MISSED"

    lines += [
        "",
        f"- Targets: {TARGET_CPU_PEOPLE}-person composite at most {TARGET_CPU_CORES} of a core: "
        f"{met(verdict['composite_cpu_within_target'])}; stop to ready under {TARGET_READY_S:g} s at every "
        f"length: {met(verdict['stop_to_ready_within_target'])}; memory growth under "
        f"{TARGET_MEMORY_GROWTH_MB:g} MB: {met(verdict['memory_growth_within_target'])}; no late or dropped "
        f"frame in real time: {met(verdict['kept_up_in_real_time'])}.",
        "- The composite is the pipeline's worker thread (mix, scale, libx264 + AAC, mux, fsync). The feeder "
        "makes the synthetic frames in place of the robot's decoders; decoding with aiortc's decoders was "
        f"measured apart (VP8 at {_f(result['decoding']['vp8_bitrate'] / 1e6, 2)} Mbit/s), so "
        "'worker + decoding' is the robot's media cost without its network side.",
        "- Late: frames that reached the pipeline more than its 0.4 s delay after their time; dropped: "
        "frames refused because its 64 MB queue was full. 'Waited for a CPU': share of the window each "
        "thread was ready to run but not running (schedstat): held back by the machine, not slow itself.",
        "- Real-time factor is wall-clock, so it falls with the machine's load; 'bound by the worker's CPU' "
        "(media s per worker CPU s) is what the worker thread alone would allow on a free core.",
        "- Stop to ready = pipeline.stop() + the server's probe (the file's start) + thumbnail, in "
        "wall time; 'CPU in it' is the CPU time spent, which load does not inflate. Not included: the "
        "robot's WebRTC teardown and exit, and the database commit. CPU pressure: share of the window in "
        "which some task on the machine waited for a CPU (Linux PSI).",
    ]
    if result.get("tracks"):
        lines += ["", *tracks_table(result)]
    return "\n".join(lines)


# -- command line --------------------------------------------------------------------------------------------


def _counts(text: str) -> tuple[int, ...]:
    try:
        return tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of whole numbers: {text!r}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke version (20 s windows, 1/2/5 min)")
    parser.add_argument("--counts", type=_counts, help="participants for CPU and real-time factor (1,4,9)")
    parser.add_argument(
        "--worst-case-counts", type=_counts, help="participants with noise pictures ('' skips)"
    )
    parser.add_argument("--warmup", type=float, help="seconds before each CPU window")
    parser.add_argument("--window", type=float, help="seconds of each CPU window")
    parser.add_argument("--rtf-seconds", type=float, help="media seconds per real-time-factor point")
    parser.add_argument("--stop-minutes", type=_counts, help="recording lengths for stop to ready (1,10,60)")
    parser.add_argument("--memory-minutes", type=int, help="minutes of the memory run (30)")
    parser.add_argument("--out", type=Path, help="JSON path (default bench/results/recording-<date>.json)")
    parser.add_argument("--tracks-only", action="store_true", help="only the per-participant tracks points")
    parser.add_argument("--tracks-seconds", type=float, help="media seconds of each tracks point (30)")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Settings()
    overrides = {
        name: value
        for name in ("counts", "worst_case_counts", "warmup", "window", "rtf_seconds", "stop_minutes")
        if (value := getattr(args, name)) is not None
    }
    if args.memory_minutes is not None:
        overrides["memory_minutes"] = args.memory_minutes
    if args.tracks_seconds is not None:
        overrides["tracks_seconds"] = args.tracks_seconds
    settings = dataclasses.replace(base, **overrides)
    try:
        _validate(settings)
    except ValueError as error:
        parser.error(str(error))
    if args.tracks_only:
        return run_and_report(
            "recording-tracks",
            lambda: run_tracks(settings),
            table_tracks_only,
            args.out,
            "its measuring process was ended",
        )
    return run_and_report(
        "recording", lambda: run(settings), table, args.out, "its measuring process was ended"
    )


if __name__ == "__main__":
    sys.exit(main())
