"""A/V offset and drift in a long recording: flashes and beeps through the whole system, read in the MP4.

    bench/netns.sh .venv/bin/python -m bench.sync            # 30 minutes of recording (about 33 minutes)
    bench/netns.sh .venv/bin/python -m bench.sync --quick    # 2 minutes

What runs is the real system, in the loopback-only network namespace: ``aula serve`` with its recorder robot,
a classroom, and two aiortc publishers (``recorder_bot.client.ClassroomClient``, each in its own process),
the teacher and a student. Each sends a 320x240 camera at 30 fps, black but for a white flash of 200 ms, and
a microphone, silent but for a 200 ms beep that starts on the flash's first frame: the same instant on the
publisher's clock (one frame index drives both, so capture times are exact). The reference publisher flashes
and beeps at 1 kHz every ``--interval`` seconds; the other does so at 1.5 kHz half an interval later, so each
event is one publisher's and the audio tells which. The second publisher's clock runs fast by ``--skew-ppm``
(+50 ppm by default): its frames are paced, timestamped and reported (RTCP sender reports, via aiortc's
``clock`` module) on a clock that gains 3 ms a minute on the machine's, as a real laptop's may; it shows
whether the recorder holds sync and real time when a publisher's clock is off.

The publishers' RTCP sender reports pair an RTP timestamp with the capture time of its frame, as browsers'
do (``--sender-reports capture``, the default). aiortc's own pair it with the moment the packet left
(``--sender-reports send``): after encoding and any event-loop lag, so on a busy machine one report can be
hundreds of milliseconds off. The robot takes each publisher's smallest ``arrival − capture`` as its offset
and lets it rise by only 1 ms a second, so one such report places that publisher's media early for minutes,
and beyond the pipeline's 0.4 s delay every frame of it is dropped as late: ``send`` shows that.

The teacher presses REC through the HTTP API (``POST /api/classrooms/{id}/recording``), the recording runs
``--minutes`` minutes of wall time, the teacher stops it (``.../recording/stop``) and the MP4 is read from
the server's data dir.

The analysis decodes the file with PyAV. Audio: each beep's onset is the first sample reaching half of the
beep's peak (a sine starting at zero phase gets there within 0.1 ms), so its time is exact to a sample; its
frequency names the publisher. Video: a flash is the first output frame in which at least 1.5% of the
picture newly turned white (a strip tile is 3%), wherever the layout put the publisher's tile. The robot
writes 15 fps and shows each input frame in the output frame nearest its moment, so the first white frame
alone places the flash only to ±33 ms. For a finer time each of the flash's input frames has its own white
level (235, 219, 203, ...): the level seen says which input frame the output frame shows, and that places
the flash's first input frame within one input frame (±17 ms at 30 fps, the estimate being the middle). Each
event moves the camera's frame grid by another fraction of a frame (``Schedule``), so that rounding differs
from event to event and averages out. The offset is beep − flash on that estimate; what a viewer sees (beep −
first white frame, to ±33 ms) is reported beside it.

Reported per publisher: events found against expected (every scheduled event from 2 s after the start to 1 s
before the end), offset mean, min, max, p95 of |offset|, drift as the least-squares slope of offset against
recording time (ms per minute, with its standard error: the ±17 ms step of one camera frame makes a 2-minute
slope say little, a 30-minute one to about 0.1 ms/min) and the change of the mean offset from the first to
the last 5 minutes (a quarter of the recording when it is shorter than 20 minutes). Where the events landed
against the machine's clock, per publisher: the slope (ppm) and the spread (ms) of recording time against
scheduled time, which A/V sync does not see (audio and video move together) but two people talking do. The
recording's length (video, audio, the server's figure) against the wall time from REC to Stop, and the
regularity of the video's frame timestamps (the first interval apart: the MP4 muxer shifts every frame but
the first by the AAC encoder's 1024-sample priming, audio alike, so the first frame lasts 21 ms longer).
Targets: |offset| under 40 ms (p95 and max), no drift (|slope| under 1 ms/min and a first-to-last change
under 20 ms), every event found. Measurements are media timestamps in the file, set on the robot's
recording clock; no wall-clock interval is the result. As a library, :func:`run` returns the result dict
that :func:`main` prints and writes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import fractions
import json
import math
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc import clock as aiortc_clock
from av import AudioFrame, VideoFrame

from bench import forwarding
from bench.children import Child, tail
from bench.measure import BenchError, json_safe, least_squares, machine, run_and_report, utc_now
from recorder_bot.client import ClassroomClient
from server.media.ntp import unix_to_ntp
from tests.netns import only_loopback

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_SAMPLES = 960  # 20 ms, as a browser sends
BLACK = 16
FLASH_LEVELS = (235, 219, 203, 187, 171, 155)
"""Luma of the flash's input frames 0, 1, 2...: the level read back tells which one an output frame shows."""
LEVEL_STEP = FLASH_LEVELS[0] - FLASH_LEVELS[1]
FLASH_SECONDS = 0.2
BEEP_AMPLITUDE = 12_000
FREQUENCIES = (1000.0, 1500.0)
"""Beep of the reference publisher, and of the one with the skewed clock."""
ROLES = ("reference", "skewed")
GOLDEN_RATIO = (math.sqrt(5) - 1) / 2

WHITE = 100
"""Luma above which an output pixel counts as part of a flash (dark tiles are 16, flashes at least 155)."""
NEW_WHITE_SHARE = 0.015
"""Share of the picture that must newly turn white for a flash (a strip tile is 3%, a name label 0.3%)."""
LOUD = 0.1
"""Audio level (full scale 1) that marks a beep; the beeps peak at 0.37 as sent, about 0.26 in the file."""
DEBOUNCE = 1.0
"""Seconds after an onset in which another is part of the same event (a tile growing when its speaker
becomes featured, the beep's own waveform)."""
PAIRING = 0.5
"""A beep and a flash further apart than this are not one event."""
PITCH_TOLERANCE = 0.1
"""A beep's measured pitch is within this share of its publisher's (it counts 20 ms of zero crossings)."""
EXPECT_FROM, EXPECT_UNTIL = 2.0, 1.0
"""Seconds after the recording's start and before its end between which every scheduled event is expected:
the robot places nothing before a publisher's first sender report."""
EDGE_MINUTES = 5.0

TARGET_OFFSET_MS = 40.0
TARGET_SLOPE_MS_PER_MIN = 1.0
TARGET_CHANGE_MS = 20.0
_SENDER_TASK = "_RTCRtpSender__rtp_task"
"""The task an aiortc 1.16.0 sender sends its RTP from (name-mangled)."""
SENDER_REPORTS = ("capture", "send")
FRAME_TOLERANCE = 0.001
"""A video frame interval more than this far from 1/fps counts as irregular."""


@dataclass(frozen=True)
class Settings:
    """One run's parameters (all recorded in the result)."""

    minutes: float = 30.0
    "Wall time from REC to Stop."
    interval: float = 10.0
    "Seconds between one publisher's events; the other publisher's fall halfway between."
    skew_ppm: float = 50.0
    "How fast the second publisher's clock runs against the machine's."
    camera_fps: int = 30
    width: int = 320
    height: int = 240
    sender_reports: str = "capture"
    "RTCP sender reports: 'capture' pairs RTP with capture time (as browsers do), 'send' as aiortc does."
    warmup: float = 3.0
    "Seconds of publishing before REC."
    setup_timeout: float = 60.0
    keep: Path | None = None
    "Copy the recording here (it is deleted with the run's temporary directory otherwise)."


QUICK_MINUTES = 2.0


def _validate(settings: Settings) -> None:
    if settings.minutes <= 0:
        raise ValueError("minutes must be positive")
    if AUDIO_RATE % settings.camera_fps:
        raise ValueError(f"camera fps must divide {AUDIO_RATE}, so a frame starts on a sample")
    half = settings.interval * settings.camera_fps / 2
    if settings.interval < 4 or abs(half - round(half)) > 1e-9:
        raise ValueError("interval must be at least 4 s and a whole number of camera frames twice over")
    if settings.sender_reports not in SENDER_REPORTS:
        raise ValueError(f"sender_reports must be one of {SENDER_REPORTS}")
    if abs(settings.skew_ppm) > 1000:
        raise ValueError("skew beyond ±1000 ppm is no clock anyone has")


# -- the publishers' media ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkewedClock:
    """A publisher machine's simulated clock: agreed with ours at ``epoch``, gains ``skew`` s a second."""

    epoch: float
    skew: float = 0.0

    def now(self) -> float:
        return self.local(time.time())

    def local(self, real: float) -> float:
        return self.epoch + (real - self.epoch) * (1 + self.skew)

    def real(self, local: float) -> float:
        return self.epoch + (local - self.epoch) / (1 + self.skew)


@dataclass(frozen=True)
class Schedule:
    """When one publisher's events happen: event k starts on camera frame ``first + k * every``.

    Frame ``n`` is captured at ``epoch + n / fps`` on the publisher's clock, moved later by a fraction of a
    frame that differs from event to event (a golden-ratio sequence; it changes halfway between events).
    Without it every flash would meet the recording's 15 fps grid at the same phase, and the rounding to
    one camera frame (±17 ms) would be one constant bias, or for the skewed publisher a slow sawtooth
    that reads as drift; with it the rounding is a different fraction each time and averages out. The
    beep starts on the sample of its flash's first frame.
    """

    clock: SkewedClock
    fps: int
    first: int
    every: int
    frequency: float

    def nearest(self, index: int) -> int:
        """The event whose half of the interval either side holds camera frame ``index`` (k < 0: none)."""
        return math.floor((index - self.first) / self.every + 0.5)

    def capture(self, index: int) -> float:
        """Camera frame ``index``'s capture time, seconds after the epoch on the publisher's clock."""
        return index / self.fps + (self.nearest(index) * GOLDEN_RATIO) % 1 / self.fps

    def onset(self, k: int) -> float:
        """Event ``k``'s flash and beep, seconds after the epoch on the publisher's clock."""
        return self.capture(self.first + k * self.every)

    def real_time(self, k: int) -> float:
        """Event ``k`` on the machine's clock."""
        return self.clock.real(self.clock.epoch + self.onset(k))


class FlashTrack(MediaStreamTrack):
    """Black frames; at each event, 200 ms of white whose level steps down frame by frame (FLASH_LEVELS)."""

    kind = "video"

    def __init__(self, schedule: Schedule, width: int, height: int) -> None:
        super().__init__()
        self.schedule = schedule
        self.width, self.height = width, height
        self.frames = 0
        self.captured: float | None = None
        "When the last frame handed out was captured, on the publisher's clock."
        self._index: int | None = None
        self._flash_frames = round(FLASH_SECONDS * schedule.fps)

    async def recv(self) -> VideoFrame:
        schedule = self.schedule
        if self._index is None:
            # Start at the frame due now, so a late connection never shifts the schedule.
            self._index = max(0, math.ceil((schedule.clock.now() - schedule.clock.epoch) * schedule.fps))
        index = self._index
        captured = schedule.capture(index)
        await asyncio.sleep(max(0.0, schedule.clock.real(schedule.clock.epoch + captured) - time.time()))
        k = schedule.nearest(index)
        into = index - (schedule.first + k * schedule.every)
        on = k >= 0 and 0 <= into < self._flash_frames
        level = FLASH_LEVELS[min(into, len(FLASH_LEVELS) - 1)] if on else BLACK
        frame = VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(bytes([level]) * frame.planes[0].buffer_size)
        frame.planes[1].update(bytes([128]) * frame.planes[1].buffer_size)
        frame.planes[2].update(bytes([128]) * frame.planes[2].buffer_size)
        frame.pts = round(captured * VIDEO_CLOCK)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._index += 1
        self.frames += 1
        self.captured = schedule.clock.epoch + captured
        return frame


class BeepTrack(MediaStreamTrack):
    """Silence; at each event a 200 ms sine beep from zero phase, starting on the flash's first sample."""

    kind = "audio"

    def __init__(self, schedule: Schedule) -> None:
        super().__init__()
        self.schedule = schedule
        self.frames = 0
        self.captured: float | None = None
        "When the last frame handed out was captured, on the publisher's clock."
        self._sample: int | None = None
        self._per_frame = AUDIO_RATE // schedule.fps
        self._beep = round(FLASH_SECONDS * AUDIO_RATE)

    async def recv(self) -> AudioFrame:
        schedule, clock = self.schedule, self.schedule.clock
        if self._sample is None:
            now = math.ceil((clock.now() - clock.epoch) * AUDIO_RATE)
            self._sample = max(0, -(-now // AUDIO_SAMPLES) * AUDIO_SAMPLES)
        first = self._sample
        await asyncio.sleep(max(0.0, clock.real(clock.epoch + first / AUDIO_RATE) - time.time()))
        # The nearest event (beeps are seconds apart, never two in a frame) and each sample's place in it.
        k = schedule.nearest(first // self._per_frame)
        since = np.arange(first, first + AUDIO_SAMPLES) - round(schedule.onset(k) * AUDIO_RATE)
        on = (since >= 0) & (since < self._beep) & (k >= 0)
        wave = BEEP_AMPLITUDE * np.sin(2 * np.pi * schedule.frequency * since / AUDIO_RATE)
        pcm = np.where(on, wave, 0.0).astype(np.int16)
        frame = AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = first
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._sample = first + AUDIO_SAMPLES
        self.frames += 1
        self.captured = clock.epoch + first / AUDIO_RATE
        return frame


def _skew_aiortc_clock(clock: SkewedClock) -> None:
    """aiortc's sender reports (and every other NTP time it sends) read ``aiortc.clock.current_datetime``:
    give them this publisher's clock. Only ever done in a publisher's own process."""

    def current_datetime() -> datetime.datetime:
        return datetime.datetime.fromtimestamp(clock.now(), datetime.UTC)

    aiortc_clock.current_datetime = current_datetime


def _capture_time_reports(client: ClassroomClient, tracks: Sequence[FlashTrack | BeepTrack]) -> None:
    """Sender reports as a browser makes them: an RTP timestamp paired with its frame's capture time.

    aiortc pairs the last packet's RTP timestamp with the moment that packet was sent (after encoding,
    and after any lag of the process's event loop), reading ``aiortc.clock.current_ntp_time`` right after
    each send. Each sender sends from its own task, whose track's last frame is the one just sent: for
    that task, right after a send, the clock answers with the frame's capture time instead (the
    abs-send-time header extension, read before the send, keeps the real time).
    """
    now = aiortc_clock.current_ntp_time
    senders: dict[asyncio.Future[Any], FlashTrack | BeepTrack] = {}
    just_sent: set[asyncio.Future[Any]] = set()

    def watch(transport: Any) -> None:
        if getattr(transport, "_bench_watched", False):
            return
        send = transport._send_rtp

        async def send_rtp(data: bytes) -> None:
            await send(data)
            task = asyncio.current_task()
            if task is not None:
                just_sent.add(task)

        transport._send_rtp = send_rtp
        transport._bench_watched = True

    def current_ntp_time() -> int:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return now()
        if task is None or task not in just_sent:
            if task is not None and task not in senders and client.pc is not None:
                for sender in client.pc.getSenders():
                    sending = getattr(sender, _SENDER_TASK, None)
                    for candidate in tracks:
                        if sending is not None and sender.track is candidate:
                            senders[sending] = candidate
                            watch(sender.transport)
            return now()
        just_sent.discard(task)
        track = senders.get(task)
        if track is None or track.captured is None:
            return now()
        return unix_to_ntp(track.captured)

    aiortc_clock.current_ntp_time = current_ntp_time


async def _publish() -> None:
    """A publisher process: one JSON line of configuration on stdin, then a JSON report per further line."""
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    config = json.loads(await commands.readline())
    clock = SkewedClock(config["epoch"], config["skew_ppm"] * 1e-6)
    if clock.skew:
        _skew_aiortc_clock(clock)
    schedule = Schedule(clock, config["fps"], config["first"], config["every"], config["frequency"])
    camera = FlashTrack(schedule, config["width"], config["height"])
    microphone = BeepTrack(schedule)
    client = ClassroomClient(
        config["url"], {"Cookie": config["cookie"]}, {"camera": camera, "microphone": microphone}
    )
    if config["sender_reports"] == "capture":
        _capture_time_reports(client, (camera, microphone))

    async def start() -> None:
        await client.connect()
        await client.join(config["classroom_id"])
        await client.start_media()

    starting = asyncio.ensure_future(start())
    try:
        while await commands.readline():
            if starting.done():
                starting.result()
            connected = client.pc is not None and client.pc.connectionState == "connected"
            report = {
                "connected": connected,
                "video_frames": camera.frames,
                "audio_frames": microphone.frames,
            }
            sys.stdout.write(json.dumps(report) + "\n")
            sys.stdout.flush()
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await client.close()


# -- reading the recording ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flash:
    shown: float
    "Time of the first output frame showing it."
    level: float
    "Median luma of the pixels that turned white."
    frame: int
    "Which of the flash's input frames that output frame shows (from the level)."
    share: float


@dataclass(frozen=True)
class Beep:
    time: float
    frequency: float
    peak: float


@dataclass
class RecordedVideo:
    """The video stream's timing and the flashes in it."""

    fps: float
    frames: int
    first: float
    last: float
    first_interval: float
    "The first frame's, apart: the muxer moves every frame but the first by the AAC encoder's priming."
    interval_min: float
    interval_max: float
    irregular: int
    flashes: list[Flash]

    @property
    def duration(self) -> float:
        return self.last - self.first + 1 / self.fps


def read_video(path: Path) -> RecordedVideo:
    """Decode every picture; note frame times and every flash (a picture newly white over 1.5% of it)."""
    flashes: list[Flash] = []
    previous_white: npt.NDArray[np.bool_] | None = None
    last_onset = -math.inf
    times: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for picture in container.decode(stream):
            if picture.time is None:
                continue
            t = float(picture.time)
            times.append(t)
            plane = picture.planes[0]
            rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
            luma = rows[::4, : plane.width : 4]  # a 16th of the pixels is plenty for tiles of 192x144 and up
            white = luma > WHITE
            if previous_white is not None:
                new = white & ~previous_white
                share = float(new.mean())
                if share > NEW_WHITE_SHARE and t - last_onset > DEBOUNCE:
                    level = float(np.median(luma[new]))
                    index = min(len(FLASH_LEVELS) - 1, max(0, round((FLASH_LEVELS[0] - level) / LEVEL_STEP)))
                    flashes.append(Flash(t, level, index, share))
                if share > NEW_WHITE_SHARE:
                    last_onset = t
            previous_white = white
    if len(times) < 2:
        raise BenchError(f"the recording has {len(times)} video frames")
    intervals = np.diff(np.array(times))
    fps = 1 / float(np.median(intervals))
    return RecordedVideo(
        fps=fps,
        frames=len(times),
        first=times[0],
        last=times[-1],
        first_interval=float(intervals[0]),
        interval_min=float(intervals[1:].min()) if intervals.size > 1 else math.nan,
        interval_max=float(intervals[1:].max()) if intervals.size > 1 else math.nan,
        irregular=int(np.count_nonzero(np.abs(intervals[1:] - 1 / fps) > FRAME_TOLERANCE)),
        flashes=flashes,
    )


@dataclass
class RecordedAudio:
    sample_rate: int
    first: float
    samples: int
    gaps: int
    "Audio packets whose timestamp does not continue the one before."
    beeps: list[Beep]

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate


def _audio_chunks(path: Path, seconds: float) -> Iterator[tuple[int, float, int, npt.NDArray[np.float32]]]:
    """(first sample index, stream start, sample rate, samples) in chunks of about ``seconds``, mono."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        parts: list[npt.NDArray[np.float32]] = []
        held = 0
        index = 0
        start: float | None = None
        for sound in container.decode(stream):
            if start is None:
                start = float(sound.time or 0.0)
            pcm = np.asarray(sound.to_ndarray(), dtype=np.float32)
            parts.append(pcm.mean(axis=0) if pcm.ndim == 2 and pcm.shape[0] > 1 else pcm.reshape(-1))
            held += parts[-1].size
            if held >= seconds * rate:
                yield index, start, rate, np.concatenate(parts)
                index += held
                parts, held = [], 0
        if parts and start is not None:
            yield index, start, rate, np.concatenate(parts)


def read_audio(path: Path, chunk_seconds: float = 60.0) -> RecordedAudio:
    """Every beep: where the level first reaches half its peak, after at least ``DEBOUNCE`` s of quiet."""
    beeps: list[Beep] = []
    window = np.zeros(0, dtype=np.float32)  # samples [base, base + window.size): the chunk and 1 s before it
    base = 0
    last_loud = -(10**12)
    pending: list[int] = []  # onsets (sample index) waiting for the rest of their beep
    start, rate = 0.0, AUDIO_RATE
    for index, start, rate, pcm in _audio_chunks(path, chunk_seconds):
        kept = max(0, window.size - rate)
        base += kept
        window = np.concatenate([window[kept:], pcm])
        loud = np.flatnonzero(np.abs(pcm) > LOUD) + index
        if loud.size:
            previous = np.concatenate([[last_loud], loud[:-1]])
            pending += loud[loud - previous > DEBOUNCE * rate].tolist()
            last_loud = int(loud[-1])
        end = base + window.size
        ready = [n for n in pending if n + rate // 10 <= end]
        pending = [n for n in pending if n + rate // 10 > end]
        beeps += [_beep_at(window, n - base, rate, start + base / rate) for n in ready]
    beeps += [_beep_at(window, n - base, rate, start + base / rate) for n in pending]
    return RecordedAudio(rate, start, base + window.size, _audio_gaps(path), beeps)


def _beep_at(pcm: npt.NDArray[np.float32], at: int, rate: int, offset: float) -> Beep:
    """Refine an onset found at sample ``at`` of ``pcm`` (which starts at ``offset`` seconds)."""
    body = np.abs(pcm[at + rate // 100 : at + rate // 20])
    peak = float(body.max()) if body.size else float(abs(pcm[at]))
    lo = max(0, at - rate // 20)
    reached = np.abs(pcm[lo : at + rate // 20]) >= peak / 2
    crossing = lo + int(np.argmax(reached)) if reached.any() else at
    segment = pcm[at + rate // 200 : at + rate // 200 + rate // 50]
    crossings = int(np.count_nonzero(np.diff(np.signbit(segment))))
    frequency = crossings / 2 / (segment.size / rate) if segment.size else math.nan
    return Beep(offset + crossing / rate, frequency, peak)


def _audio_gaps(path: Path) -> int:
    """Audio packets whose timestamp does not continue the previous one (read from packets, not decoded)."""
    gaps = 0
    expected: int | None = None
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            if packet.pts is None or packet.duration is None:
                continue
            if expected is not None and packet.pts != expected:
                gaps += 1
            expected = packet.pts + packet.duration
    return gaps


# -- events -------------------------------------------------------------------------------------------------


def flash_time(flash: Flash, output_fps: float, camera_fps: int) -> float:
    """Best estimate of when the flash's first input frame sits on the recording clock.

    The output frame at ``shown`` shows the newest input frame stamped up to half an output frame after it
    (``recorder_bot.mixer``); it shows input frame ``frame`` of the flash, so the first one is
    ``frame / camera_fps`` earlier, give or take one input frame: the middle of that range is taken.
    """
    return flash.shown + 0.5 / output_fps - (flash.frame + 0.5) / camera_fps


@dataclass(frozen=True)
class Event:
    role: str
    k: int
    "Which of the publisher's scheduled events."
    time: float
    "The beep's onset on the recording clock."
    offset_ms: float
    "beep − flash (estimated to within one camera frame)."
    shown_offset_ms: float
    "beep − the first white output frame."
    flash_frame: int
    level: float


def pair(
    video: RecordedVideo, audio: RecordedAudio, camera_fps: int
) -> tuple[list[tuple[Beep, Flash]], list[Flash], list[Beep]]:
    """Each whole beep with the flash nearest it (within ``PAIRING``); the flashes and beeps left over.

    Only whole beeps are paired: a sound whose pitch is neither publisher's, or that is gone within 10 ms,
    is a beep cut by frames the robot dropped, and its onset says nothing.
    """
    pairs: list[tuple[Beep, Flash]] = []
    used: set[int] = set()
    unmatched: list[Beep] = []
    for beep in audio.beeps:
        if _role(beep) is None:
            unmatched.append(beep)
            continue
        best: int | None = None
        for i, flash in enumerate(video.flashes):
            distance = abs(flash_time(flash, video.fps, camera_fps) - beep.time)
            if i not in used and distance <= PAIRING:
                current = video.flashes[best] if best is not None else None
                if current is None or distance < abs(flash_time(current, video.fps, camera_fps) - beep.time):
                    best = i
        if best is None:
            unmatched.append(beep)
        else:
            used.add(best)
            pairs.append((beep, video.flashes[best]))
    left = [flash for i, flash in enumerate(video.flashes) if i not in used]
    return pairs, left, unmatched


def _role(beep: Beep) -> str | None:
    """Whose beep this is, from its pitch; None for a fragment (off pitch, or too quiet past its start)."""
    if beep.peak < LOUD:
        return None
    for role, frequency in zip(ROLES, FREQUENCIES, strict=True):
        if abs(beep.frequency - frequency) <= PITCH_TOLERANCE * frequency:
            return role
    return None


def events_of(
    pairs: list[tuple[Beep, Flash]], schedules: dict[str, Schedule], recording_wall: float, output_fps: float
) -> dict[str, list[Event]]:
    """Events by publisher (from the beep's pitch), each matched to its scheduled k.

    ``recording_wall`` (when REC was pressed) places recording time 0 on the machine's clock well enough to
    tell events ``interval`` apart.
    """
    events: dict[str, list[Event]] = {role: [] for role in ROLES}
    for beep, flash in pairs:
        role = _role(beep)
        if role is None:
            continue
        schedule = schedules[role]
        real = recording_wall + beep.time
        k = round(
            (schedule.clock.local(real) - schedule.clock.epoch - schedule.first / schedule.fps)
            * schedule.fps
            / schedule.every
        )
        flash_at = flash_time(flash, output_fps, schedule.fps)
        events[role].append(
            Event(
                role=role,
                k=k,
                time=beep.time,
                offset_ms=1000 * (beep.time - flash_at),
                shown_offset_ms=1000 * (beep.time - flash.shown),
                flash_frame=flash.frame,
                level=flash.level,
            )
        )
    return events


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = q * (len(ordered) - 1)
    lo = math.floor(position)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (position - lo)


def _slope(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope and its standard error (NaN with fewer than three points)."""
    if len(points) < 3 or len({x for x, _ in points}) < 2:
        return math.nan, math.nan
    slope, intercept = least_squares(points)
    mean_x = statistics.mean(x for x, _ in points)
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    residual = sum((y - slope * x - intercept) ** 2 for x, y in points) / (len(points) - 2)
    return slope, math.sqrt(residual / sxx)


def summarise(events: list[Event], schedule: Schedule, duration: float) -> dict[str, Any]:
    """Offset, drift, placement against the machine's clock, and events found against expected."""
    if not events:
        return {"found": 0, "expected": None}
    # Recording time of each scheduled event, on the recording's own line through the found ones: which
    # events should be there, and how far the recorder's placement strays from the schedule's clock.
    walls = [(schedule.real_time(e.k), e.time) for e in events]
    placed = [t - w for w, t in walls]
    if len({round(w) for w, _ in walls}) > 1:
        rate, intercept = least_squares(walls)
    else:
        rate, intercept = 1.0, statistics.median(t - w for w, t in walls)
    reach = math.ceil(duration * schedule.fps / schedule.every) + 2
    ks = range(min(e.k for e in events) - reach, max(e.k for e in events) + reach)
    window = [
        k for k in ks if EXPECT_FROM <= rate * schedule.real_time(k) + intercept <= duration - EXPECT_UNTIL
    ]
    expected = set(window)
    in_window = [e for e in events if e.k in expected]
    missing = sorted(expected - {e.k for e in events})
    duplicates = len(in_window) - len({e.k for e in in_window})
    offsets = [e.offset_ms for e in in_window]
    shown = [e.shown_offset_ms for e in in_window]
    minutes = [(e.time / 60, e.offset_ms) for e in in_window]
    slope, slope_error = _slope(minutes)
    edge = min(EDGE_MINUTES, duration / 60 / 4)
    end = duration / 60
    first = [o for m, o in minutes if m <= edge]
    last = [o for m, o in minutes if m >= end - edge]
    change = statistics.mean(last) - statistics.mean(first) if first and last else math.nan
    return {
        "found": len(expected) - len(missing),
        "duplicates": duplicates,
        "expected": len(window),
        "found_outside_window": len(events) - len(in_window),
        "missing_k": missing,
        "offset_ms_mean": statistics.mean(offsets) if offsets else math.nan,
        "offset_ms_min": min(offsets, default=math.nan),
        "offset_ms_max": max(offsets, default=math.nan),
        "offset_ms_stdev": statistics.stdev(offsets) if len(offsets) > 1 else math.nan,
        "abs_offset_ms_p95": _quantile([abs(o) for o in offsets], 0.95),
        "abs_offset_ms_max": max((abs(o) for o in offsets), default=math.nan),
        "drift_ms_per_min": slope,
        "drift_standard_error": slope_error,
        "edge_minutes": edge,
        "offset_change_ms": change,
        "shown_offset_ms_mean": statistics.mean(shown) if shown else math.nan,
        "shown_offset_ms_min": min(shown, default=math.nan),
        "shown_offset_ms_max": max(shown, default=math.nan),
        "flash_frames_seen": {str(i): sum(e.flash_frame == i for e in in_window) for i in range(6)},
        "placement_rate_ppm": (rate - 1) * 1e6,
        "placement_ms_median": 1000 * statistics.median(placed),
        "placement_wander_ms": 1000 * (max(placed) - min(placed)),
        "events": [
            [round(e.time, 3), round(e.offset_ms, 2), round(e.shown_offset_ms, 2), e.k] for e in events
        ],
    }


# -- the run ------------------------------------------------------------------------------------------------


class Publisher(Child):
    """One publisher process (``python -m bench.sync --publisher``)."""

    @classmethod
    async def start(cls, role: str, config: dict[str, Any], logs: Path) -> Publisher:
        command = [sys.executable, "-m", "bench.sync", "--publisher"]
        publisher = await cls.launch(f"publisher-{role}", command, config, logs)
        publisher.role = role
        return publisher

    role = ""


async def _recording_state(http: aiohttp.ClientSession, url: str, classroom_id: int) -> dict[str, Any] | None:
    async with http.get(f"{url}/api/classrooms/{classroom_id}/recording") as response:
        response.raise_for_status()
        recording: dict[str, Any] | None = (await response.json())["recording"]
        return recording


async def _record(settings: Settings, logs: Path) -> dict[str, Any]:
    """Start the server and the publishers, record, stop; returns what the run saw and the file's path."""
    admin_password = secrets.token_urlsafe(16)
    env = {"AULA_ADMIN_PASSWORD": admin_password, "AULA_LOG_FORMAT": "text"}
    publishers: list[Publisher] = []
    async with forwarding._server("aula", "sync", logs, forwarding.Settings(), env) as server:
        try:
            classroom_id, teacher, students = await forwarding._classroom(server.url, admin_password, 1)
            epoch = time.time() + 1.0
            every = round(settings.interval * settings.camera_fps)
            configs = {
                role: {
                    "url": server.url,
                    "cookie": cookie,
                    "classroom_id": classroom_id,
                    "epoch": epoch,
                    "skew_ppm": skew,
                    "fps": settings.camera_fps,
                    "first": every // 2 * (i + 1),
                    "every": every,
                    "frequency": FREQUENCIES[i],
                    "sender_reports": settings.sender_reports,
                    "width": settings.width,
                    "height": settings.height,
                }
                for i, (role, cookie, skew) in enumerate(
                    [("reference", teacher, 0.0), ("skewed", students[0], settings.skew_ppm)]
                )
            }
            for role, config in configs.items():
                publishers.append(await Publisher.start(role, config, logs))
            deadline = time.monotonic() + settings.setup_timeout
            while not all(
                r["connected"] and r["video_frames"] > 0 and r["audio_frames"] > 0
                for r in await asyncio.gather(*(p.report() for p in publishers))
            ):
                if time.monotonic() > deadline:
                    raise BenchError("the publishers did not start sending in time")
                await asyncio.sleep(0.5)
            await asyncio.sleep(settings.warmup)

            async with aiohttp.ClientSession(headers={"Cookie": teacher}) as http:
                pressed = time.time()
                async with http.post(f"{server.url}/api/classrooms/{classroom_id}/recording", json={}) as r:
                    if r.status != 201:
                        raise BenchError(f"REC: {r.status} {await r.text()}")
                    recording_id = (await r.json())["recording"]["id"]
                while (state := await _recording_state(http, server.url, classroom_id)) is None or state[
                    "state"
                ] != "recording":
                    if time.time() - pressed > settings.setup_timeout:
                        raise BenchError(f"the recording did not start: {state}")
                    await asyncio.sleep(0.2)
                started = time.time()
                print(f"recording since {started - pressed:.2f} s after REC", file=sys.stderr, flush=True)
                stop_at = pressed + settings.minutes * 60
                while (left := stop_at - time.time()) > 0:
                    await asyncio.sleep(min(left, 15.0))
                    await asyncio.gather(*(p.report() for p in publishers))
                    if server.process.returncode is not None:
                        raise BenchError(f"the server exited:\n{tail(server.log)}")
                    state = await _recording_state(http, server.url, classroom_id)
                    if state is None or state["state"] != "recording":
                        raise BenchError(f"the recording ended by itself: {state}")
                sent = {p.role: await p.report() for p in publishers}
                stop_pressed = time.time()
                async with http.post(f"{server.url}/api/classrooms/{classroom_id}/recording/stop") as r:
                    stop_answered = time.time()
                    if r.status != 200:
                        raise BenchError(f"Stop: {r.status} {await r.text()}")
                    stopped = (await r.json())["recording"]
                if stopped["state"] != "ready":
                    raise BenchError(f"the recording is {stopped['state']} after Stop: {stopped}")
                async with http.get(f"{server.url}/api/recordings") as r:
                    listed = [x for x in (await r.json())["recordings"] if x["id"] == recording_id]
        except BenchError as error:
            raise BenchError(f"{error}\nserver log:\n{tail(server.log)}") from None
        finally:
            await asyncio.gather(*(p.stop() for p in publishers))
    files = sorted((logs / "sync-data").rglob("*.mp4"))  # the storage dir under the data dir
    if len(files) != 1 or not listed:
        raise BenchError(f"expected one recording file, found {[f.name for f in files]}")
    return {
        "path": files[0],
        "configs": configs,
        "recording": listed[0],
        "pressed": pressed,
        "recording_after_s": started - pressed,
        "wall_s": stop_pressed - pressed,
        "stop_answer_s": stop_answered - stop_pressed,
        "publishers_sent": sent,
    }


def _schedule(config: dict[str, Any]) -> Schedule:
    clock = SkewedClock(config["epoch"], config["skew_ppm"] * 1e-6)
    return Schedule(clock, config["fps"], config["first"], config["every"], config["frequency"])


def analyse(path: Path, schedules: dict[str, Schedule], pressed: float, camera_fps: int) -> dict[str, Any]:
    """Everything the file says: flashes, beeps, the events they make, the streams' timing."""
    video = read_video(path)
    audio = read_audio(path)
    pairs, lone_flashes, lone_beeps = pair(video, audio, camera_fps)
    events = events_of(pairs, schedules, pressed, video.fps)
    duration = max(video.duration, audio.duration)
    publishers = {role: summarise(events[role], schedules[role], duration) for role in ROLES}
    reference, skewed = (publishers[role].get("placement_ms_median") for role in ROLES)
    return {
        "video": {
            "fps": video.fps,
            "frames": video.frames,
            "first_s": video.first,
            "duration_s": video.duration,
            "frames_expected": round(video.duration * video.fps),
            "first_interval_ms": 1000 * video.first_interval,
            "interval_ms_min": 1000 * video.interval_min,
            "interval_ms_max": 1000 * video.interval_max,
            "irregular_intervals": video.irregular,
            "flashes": len(video.flashes),
        },
        "audio": {
            "sample_rate": audio.sample_rate,
            "first_s": audio.first,
            "duration_s": audio.duration,
            "timestamp_gaps": audio.gaps,
            "beeps": len(audio.beeps),
        },
        "unpaired_flashes_s": [round(f.shown, 3) for f in lone_flashes],
        "unpaired_beeps_s": [round(b.time, 3) for b in lone_beeps],
        "publishers": publishers,
        "skewed_placed_after_reference_ms": (
            skewed - reference if skewed is not None and reference is not None else None
        ),
    }


async def _run(settings: Settings) -> dict[str, Any]:
    if not only_loopback():
        raise BenchError("run it in the loopback-only network namespace: bench/netns.sh")
    started = utc_now()
    with tempfile.TemporaryDirectory(prefix="aula-bench-sync-") as logs:
        run = await _record(settings, Path(logs))
        path: Path = run.pop("path")
        if settings.keep is not None:
            shutil.copyfile(path, settings.keep)
        configs = run.pop("configs")
        schedules = {role: _schedule(config) for role, config in configs.items()}
        run["schedules"] = {role: asdict(schedule) for role, schedule in schedules.items()}
        analysis = await asyncio.to_thread(analyse, path, schedules, run["pressed"], settings.camera_fps)
    publishers = analysis["publishers"]
    verdict = {
        "offset_within_target": all(
            p.get("abs_offset_ms_max", math.inf) < TARGET_OFFSET_MS for p in publishers.values()
        ),
        "no_drift": all(
            abs(p.get("drift_ms_per_min", math.inf)) < TARGET_SLOPE_MS_PER_MIN
            and abs(p.get("offset_change_ms", math.inf)) < TARGET_CHANGE_MS
            for p in publishers.values()
        ),
        "every_event_found": all(p["found"] == p["expected"] for p in publishers.values()),
    }
    result: dict[str, Any] = json_safe(
        {
            "benchmark": "sync",
            "started_at": started,
            "finished_at": utc_now(),
            "machine": machine(),
            "settings": {**asdict(settings), "keep": str(settings.keep) if settings.keep else None},
            "targets": {
                "abs_offset_ms_max": TARGET_OFFSET_MS,
                "drift_ms_per_min_max": TARGET_SLOPE_MS_PER_MIN,
                "offset_change_ms_max": TARGET_CHANGE_MS,
            },
            "run": run,
            **analysis,
            "verdict": verdict,
        }
    )
    return result


def run(settings: Settings | None = None) -> dict[str, Any]:
    """The importable entry point: record, analyse and return the result dict."""
    return asyncio.run(_run(settings or Settings()))


# -- output -------------------------------------------------------------------------------------------------


def _signed(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:+.{digits}f}"


def _plain(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _span(p: dict[str, Any], key: str) -> str:
    mean, low, high = (p.get(f"{key}_{end}") for end in ("mean", "min", "max"))
    return f"{_signed(mean)} ({_signed(low)} … {_signed(high)})"


def _drift(p: dict[str, Any]) -> str:
    return f"{_signed(p.get('drift_ms_per_min'), 2)} ± {_plain(p.get('drift_standard_error'), 2)}"


def _placement(p: dict[str, Any]) -> str:
    return f"{_signed(p.get('placement_rate_ppm'))}, {_plain(p.get('placement_wander_ms'))}"


def _found(p: dict[str, Any]) -> str:
    return f"{p['found']} / {p['expected']}"


def _p95_max(p: dict[str, Any]) -> str:
    return f"{_plain(p.get('abs_offset_ms_p95'))} / {_plain(p.get('abs_offset_ms_max'))}"


def table(result: dict[str, Any]) -> str:
    """The result as Markdown: one column per publisher, then the recording's length and frame timing."""
    publishers = [result["publishers"][role] for role in ROLES]
    edge = publishers[0].get("edge_minutes")
    measures = [
        ("events found / expected", _found, "all"),
        ("offset beep − flash, ms: mean (min … max)", lambda p: _span(p, "offset_ms"), ""),
        ("abs(offset), ms: p95 / max", _p95_max, f"< {TARGET_OFFSET_MS:g}"),
        (
            "drift, ms per minute (least-squares slope ± standard error)",
            _drift,
            f"abs < {TARGET_SLOPE_MS_PER_MIN:g}",
        ),
        (
            f"offset change, first to last {_plain(edge)} min, ms",
            lambda p: _signed(p.get("offset_change_ms")),
            f"abs < {TARGET_CHANGE_MS:g}",
        ),
        ("as shown (beep − first white frame), ms", lambda p: _span(p, "shown_offset_ms"), ""),
        ("events' placement against the machine's clock: rate ppm, wander ms", _placement, ""),
    ]
    skew = result["settings"]["skew_ppm"]
    reports = result["settings"].get("sender_reports", "send")  # results made before the option: aiortc's
    rows = [
        f"| measure ({reports}-time sender reports) | reference publisher "
        f"(1 kHz) | clock {skew:+g} ppm (1.5 kHz) | target |",
        "|---|---|---|---|",
        *(
            f"| {name} | {' | '.join(cell(p) for p in publishers)} | {target} |"
            for name, cell, target in measures
        ),
    ]
    video, audio, run_info = result["video"], result["audio"], result["run"]
    verdict = result["verdict"]
    server_s = (run_info["recording"].get("duration_ms") or 0) / 1000

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines = [
        "\n".join(rows),
        "",
        f"- Recording length: video {video['duration_s']:.3f} s, audio {audio['duration_s']:.3f} s, "
        f"the server's figure {server_s:.3f} s; wall time from REC to Stop {run_info['wall_s']:.3f} s "
        f"(recording {run_info['recording_after_s']:.2f} s after REC; Stop answered in "
        f"{run_info['stop_answer_s']:.2f} s).",
        f"- Video: {video['frames']} frames at {video['fps']:.3f} fps ({video['frames_expected']} for its "
        f"length); after the first ({video['first_interval_ms']:.2f} ms) intervals "
        f"{video['interval_ms_min']:.2f} to {video['interval_ms_max']:.2f} ms, "
        f"{video['irregular_intervals']} off 1/fps by more than {FRAME_TOLERANCE * 1000:g} ms. "
        f"Audio: {audio['timestamp_gaps']} timestamp gaps.",
        f"- The skewed publisher's events sit {_signed(result['skewed_placed_after_reference_ms'])} ms "
        "later on the recording clock than the reference's, against their schedules.",
        f"- {video['flashes']} flashes and {audio['beeps']} beeps; unpaired: "
        f"{len(result['unpaired_flashes_s'])} flashes, {len(result['unpaired_beeps_s'])} beeps.",
        f"- Targets: abs(offset) under {TARGET_OFFSET_MS:g} ms: {met(verdict['offset_within_target'])}; "
        f"no drift: {met(verdict['no_drift'])}; every event found: {met(verdict['every_event_found'])}.",
        "- The flash is placed to within one camera frame (±17 ms at 30 fps) by the white level the first "
        "white output frame shows; 'as shown' is what a viewer of the 15 fps file sees (±33 ms steps).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["--publisher"]:
        asyncio.run(_publish())
        return 0
    defaults = Settings()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, help=f"recording length (default {defaults.minutes:g})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MINUTES:g} minutes")
    parser.add_argument(
        "--interval", type=float, default=defaults.interval, help="seconds between a publisher's events"
    )
    parser.add_argument(
        "--skew-ppm", type=float, default=defaults.skew_ppm, help="the second publisher's clock error"
    )
    parser.add_argument(
        "--sender-reports",
        choices=SENDER_REPORTS,
        default=defaults.sender_reports,
        help="publishers' RTCP sender reports: on capture time (as browsers) or on send time (as aiortc)",
    )
    parser.add_argument("--keep", type=Path, help="copy the recording (MP4) here")
    parser.add_argument("--out", type=Path, help="JSON path (default bench/results/sync-<date>.json)")
    args = parser.parse_args(args_list)
    minutes = args.minutes if args.minutes is not None else QUICK_MINUTES if args.quick else defaults.minutes
    settings = dataclasses.replace(
        defaults,
        minutes=minutes,
        interval=args.interval,
        skew_ppm=args.skew_ppm,
        sender_reports=args.sender_reports,
        keep=args.keep,
    )
    try:
        _validate(settings)
    except ValueError as error:
        parser.error(str(error))
    return run_and_report(
        "sync", lambda: run(settings), table, args.out, "the server and the publishers were stopped"
    )


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
