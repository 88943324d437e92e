"""Each participant's own tracks, written as they were sent: no decoding, no encoding.

For every source the robot receives (a participant's microphone, camera or screen) the encoded frames
aiortc's jitter buffer assembles (depayloaded Opus, VP8 or H.264) are taken before its decoder
(``server.media.adapter.tap_encoded_frames``) and stream-copied into a file of their own: Opus and VP8 in
WebM, H.264 in fragmented MP4 (the mov muxer turns the annex-B frames into its own form, with the SPS/PPS
of the first keyframe as extradata). One participant's source keeps one file: someone who leaves and
comes back continues it after a gap (a codec change, after a renegotiation, begins its next file,
``...-camera-2.webm``, reported with a TrackStarted of its own).

Every track lies on the composite's timeline: a frame's RTP timestamp gives its publisher's wall-clock
time through the sender reports (:class:`recorder_bot.rtp_clock.StreamClock`), the publisher's clock is
placed on the robot's by the same :class:`server.media.ntp.PublisherClock` the composite uses, and the
recording time goes through the same :class:`recorder_bot.pause_clock.PauseClock` (nothing captured
while paused is kept; the paused span is cut out). A track's ``offset_ms`` is the file time of its first
packet and its packets' pts (milliseconds) count from there. Media before a stream's first sender report
has no time and is dropped; video starts at a keyframe, asked of the publisher when a track starts,
after a resume and whenever a frame had to be dropped.

Files are created exclusively inside the storage root and written progressively (a WebM cluster or an
MP4 fragment about every second, each handed to the file at once), so a robot killed mid-class leaves
tracks that play up to their last second. Muxing and file I/O run on one worker thread for all tracks
behind a queue bounded in frames and bytes: the event loop only stamps and enqueues bytes.

A placed frame waits ``delay`` seconds (the robot: ``PAUSE_LATENESS`` and then some) on the loop's side
before it goes to the writer: a Pause (or Stop) is the server's instant, heard a moment later, and
:meth:`TrackRecorder.cut` then drops the frames placed after it, as the composite's pipeline does, so
a track keeps nothing captured in the pause and continues at the resume on the composite's timeline.
A participant's stream that ends is forgotten (:meth:`TrackRecorder.remove`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from av.container import OutputContainer
from av.stream import Stream

from recorder_bot.client import RemoteSource
from recorder_bot.job import SourceName, TrackFinished, TrackStarted
from recorder_bot.pause_clock import PauseClock
from recorder_bot.rtp_clock import StreamClock
from recorder_bot.writer import safe_path
from server.media import adapter
from server.media.ntp import PublisherClock

log = logging.getLogger(__name__)

Codec = Literal["opus", "vp8", "h264"]
CODECS: dict[str, tuple[Literal["audio", "video"], str]] = {
    "opus": ("audio", "webm"),
    "vp8": ("video", "webm"),
    "h264": ("video", "mp4"),
}
"""Codec (aiortc's name, lower case) → the track's kind and file format."""
FILE_NAME_MAX = 160
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.(webm|mp4)")
QUEUE_ITEMS = 4096
QUEUE_BYTES = 64 << 20
"""Frames waiting for the writer thread (all tracks): about 40 s of a class of four, at most 64 MiB, far
more than a busy disk needs; when full, frames are dropped (video then waits for its next keyframe)."""
LOG_EVERY = 10.0
"""Seconds between two log lines of one repeated failure (a broken frame handler)."""
CLUSTER_MS = 1000
"""A WebM cluster (what a kill may lose) lasts at most this long."""
FRAGMENT_SECONDS = 1.0
KEYFRAME_RETRY = 0.5
"""Seconds between two keyframe requests to one publisher while a video track waits for one."""
OPUS_FRAME_MS = 20
AUDIO_SLACK_MS = 10
"""An audio packet placed up to this much before the end of the one before it follows it instead (a
track's sound is then at most this much late); one placed earlier than that is dropped."""
HOLD_SECONDS = 0.5
HOLD_BYTES = 8 << 20
"""While paused, the last ``HOLD_SECONDS`` of frames (at most ``HOLD_BYTES``) are held, as the composite
holds its decoded ones: those captured after the resume but received before the robot heard of it are
still written."""
_TIME_BASE = Fraction(1, 1000)
_WRAP = 0xFFFFFFFF


class TrackError(Exception):
    """A track file could not be written."""


def track_user(user_id: int) -> str:
    """A participant's id as written in track file names: a replay's negative id is ``r<id>``."""
    return f"r{-user_id}" if user_id < 0 else str(user_id)


def track_file_name(prefix: str, user_id: int, source: str, codec: str, part: int = 1) -> str:
    """A track's file name; ``part`` 2 on: the files that follow the first after a codec change."""
    _kind, extension = CODECS[codec]
    suffix = "" if part == 1 else f"-{part}"
    return f"{prefix}-{track_user(user_id)}-{source}{suffix}.{extension}"


def track_path(storage_root: Path, file_name: str) -> Path:
    """``storage_root / file_name``, refusing anything but a plain, safe track name directly inside it."""
    return safe_path(storage_root, file_name, _SAFE_NAME, FILE_NAME_MAX, "track")


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded frame starts a picture on its own (every Opus frame does)."""
    if codec == "vp8":
        return bool(data) and not data[0] & 1  # frame tag: P bit 0 = key frame
    if codec == "h264":
        return any(nal == 5 for nal in _nal_types(data))
    return True


def _nal_types(data: bytes) -> list[int]:
    types = []
    at = data.find(b"\x00\x00\x01")
    while at != -1 and at + 3 < len(data):
        types.append(data[at + 3] & 0x1F)
        at = data.find(b"\x00\x00\x01", at + 3)
    return types


def _vp8_size(data: bytes) -> tuple[int, int]:
    """Width and height from a VP8 key frame's header (RFC 6386 section 9.1)."""
    if len(data) < 10 or data[3:6] != b"\x9d\x01\x2a":
        raise TrackError("VP8 key frame without its start code")
    return int.from_bytes(data[6:8], "little") & 0x3FFF, int.from_bytes(data[8:10], "little") & 0x3FFF


def _h264_size(data: bytes) -> tuple[int, int]:
    """Width and height of an H.264 keyframe: its SPS decoded once (the only decoding a track does)."""
    decoder = av.CodecContext.create("h264", "r")
    for packet in (av.Packet(data), None):
        for frame in decoder.decode(packet):
            if isinstance(frame, av.VideoFrame):
                return frame.width, frame.height
    raise TrackError("H.264 keyframe that does not decode")


class _Sink:
    """The track file as PyAV sees it: every write goes straight to the descriptor (no buffering)."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor
        self.written = 0
        self.position = 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            done = os.pwrite(self.descriptor, view, self.position)
            view = view[done:]
            self.position += done
        self.written = max(self.written, self.position)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self.position = offset
        elif whence == os.SEEK_CUR:
            self.position += offset
        else:
            self.position = self.written + offset
        return self.position

    def tell(self) -> int:
        return self.position


class TrackFile:
    """One track file, written packet by packet (on the writer thread; or directly, in tests).

    The file is created at once (exclusively: never replacing one), the container's header is written
    with the first packet, which for video must be a keyframe (its size comes from it)."""

    def __init__(self, storage_root: Path, file_name: str, codec: str) -> None:
        if codec not in CODECS:
            raise TrackError(f"no track for codec {codec!r}")
        self.codec = codec
        self.kind, self.format = CODECS[codec]
        self.file_name = file_name
        self.path = track_path(storage_root, file_name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self._descriptor = os.open(self.path, flags, 0o640)
        except FileExistsError as exc:
            raise TrackError(f"{file_name} already exists") from exc
        self._sink = _Sink(self._descriptor)
        self._container: OutputContainer | None = None
        self._stream: Stream | None = None
        self.packets = 0
        self.last_pts: int | None = None
        self.closed = False

    @property
    def size_bytes(self) -> int:
        return self._sink.written

    @property
    def duration_ms(self) -> int:
        if self.last_pts is None:
            return 0
        return self.last_pts + (OPUS_FRAME_MS if self.kind == "audio" else 0)

    def _open(self, data: bytes) -> tuple[OutputContainer, Stream]:
        options = {"flush_packets": "1"}
        if self.format == "webm":
            options |= {"cluster_time_limit": str(CLUSTER_MS), "cluster_size_limit": str(1 << 20)}
        else:
            options |= {
                "movflags": "frag_keyframe+empty_moov+default_base_moof",
                "frag_duration": str(int(FRAGMENT_SECONDS * 1_000_000)),
            }
        container = av.open(self._sink, mode="w", format=self.format, container_options=options)
        stream: Stream
        if self.codec == "opus":
            # An Opus encoder context, opened but never fed, gives the OpusHead (CodecPrivate) players need.
            stream = container.add_stream("libopus", rate=48_000, layout="stereo")
        elif self.codec == "vp8":
            width, height = _vp8_size(data)
            stream = container.add_mux_stream("vp8", width=width, height=height)
        else:
            width, height = _h264_size(data)
            stream = container.add_mux_stream("h264", width=width, height=height)
        stream.time_base = _TIME_BASE
        return container, stream

    def write(self, data: bytes, pts_ms: int, keyframe: bool) -> None:
        """Mux one encoded frame at ``pts_ms`` (milliseconds from the track's first, increasing)."""
        if self.last_pts is not None and pts_ms <= self.last_pts:
            raise TrackError(f"pts {pts_ms} not after {self.last_pts}")
        if self._container is None:
            if self.kind == "video" and not keyframe:
                raise TrackError("a video track starts at a keyframe")
            self._container, self._stream = self._open(data)
        assert self._stream is not None
        packet = av.Packet(data)
        packet.stream = self._stream
        packet.time_base = _TIME_BASE
        packet.pts = packet.dts = pts_ms
        packet.is_keyframe = keyframe
        self._container.mux(packet)
        self.packets += 1
        self.last_pts = pts_ms

    def close(self) -> TrackFinished:
        """Finish the file (trailer, index, sync); its name, duration and size."""
        if not self.closed:
            self.closed = True
            try:
                if self._container is not None:
                    self._container.close()
                os.fsync(self._descriptor)
            finally:
                os.close(self._descriptor)
        return TrackFinished(
            file_name=self.file_name, duration_ms=self.duration_ms, size_bytes=self.size_bytes
        )

    def abandon(self) -> None:
        """Close the descriptor without finishing the container (after a write failed)."""
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                if self._container is not None:
                    self._container.close()
            os.close(self._descriptor)


@dataclass
class _Track:
    """One participant's source on the event loop's side: where its file stands."""

    user_id: int
    source: SourceName
    kind: Literal["audio", "video"]
    codec: str | None = None
    file_name: str | None = None
    offset_ms: int | None = None
    last_pts: int | None = None
    "The last pts placed (held or written)."
    queued_pts: int | None = None
    "The last pts handed to the writer: a cut goes back no further."
    waiting_keyframe: bool = True
    gap: bool = False
    "A frame was dropped on its way to the writer: video waits for a keyframe."
    part: int = 1
    "Which of the source's files: a codec change (after a renegotiation) begins the next one."


@dataclass
class _Source:
    """One received stream of a track (a participant who comes back brings a new one)."""

    track: _Track
    remote: RemoteSource
    clock: StreamClock
    publisher: PublisherClock
    names: Mapping[int, str]
    tap: adapter.EncodedFrameTap | None = None
    asked_keyframe: float = field(default=-KEYFRAME_RETRY)


@dataclass(frozen=True)
class _HeldFrame:
    """A frame received while paused, kept a moment in case it was captured after the resume."""

    source: _Source
    codec: str
    data: bytes
    recorded: float
    arrived: float


@dataclass(frozen=True)
class _Open:
    started: TrackStarted
    codec: str


@dataclass(frozen=True)
class _Packet:
    file_name: str
    data: bytes
    pts_ms: int
    keyframe: bool


@dataclass(frozen=True)
class _Placed:
    """A frame (or a track's opening) placed in its track, waiting ``delay`` before going to the writer."""

    track: _Track
    item: _Open | _Packet
    at_ms: int
    due: float
    source: _Source | None


_STOP = object()
Report = Callable[[TrackStarted], None]


class TrackRecorder:
    """Writes every source the robot receives into its participant's own track file.

    ``decode``: the composite is recorded too (``both``), so frames also go on to aiortc's decoder;
    otherwise nothing is decoded."""

    def __init__(
        self,
        storage_root: Path,
        prefix: str,
        recording_start: float,
        pauses: PauseClock,
        report: Report,
        decode: bool = False,
        lateness: float = 0.25,
        names: Mapping[int, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.storage_root = storage_root
        self.prefix = prefix
        self.recording_start = recording_start
        self.pauses = pauses
        self.report = report
        self.decode = decode
        self.lateness = lateness
        self.names: Mapping[int, str] = names or {}
        self.dropped = 0
        self._tracks: dict[tuple[int, str], _Track] = {}
        self._sources: list[_Source] = []
        self._heard: dict[int, float] = {}
        self.delay = delay
        self._queue: queue.Queue[_Open | _Packet | object] = queue.Queue()
        self._queued_bytes = 0
        self._queued_lock = threading.Lock()
        self._placed: collections.deque[_Placed] = collections.deque()
        self._flushing: asyncio.TimerHandle | None = None
        self._logged: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="track-writer", daemon=True)
        self._finished: list[TrackFinished] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._keyframe_tasks: set[asyncio.Future[None]] = set()
        self._held: collections.deque[_HeldFrame] = collections.deque()
        self._held_bytes = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    # -- event loop side ----------------------------------------------------------------------------------

    def add(
        self,
        remote: RemoteSource,
        clock: StreamClock,
        publisher: PublisherClock,
        names: Mapping[int, str] | None = None,
    ) -> None:
        """Record ``remote`` (its stream's sender reports already feed ``clock``); ``names``: the
        classroom's display names, looked up when the track starts."""
        if remote.source not in ("microphone", "camera", "screen"):
            return
        source_name: SourceName = remote.source  # type: ignore[assignment]
        kind: Literal["audio", "video"] = "video" if remote.track.kind == "video" else "audio"
        key = (remote.user_id, remote.source)
        track = self._tracks.get(key)
        if track is None:
            track = self._tracks[key] = _Track(remote.user_id, source_name, kind)
        track.waiting_keyframe = kind == "video"
        source = _Source(track, remote, clock, publisher, names or self.names)
        source.tap = adapter.tap_encoded_frames(
            remote.receiver,
            lambda codec, data, timestamp: self._frame_safely(source, codec, data, timestamp),
            decode=self.decode,
        )
        self._sources = [s for s in self._sources if s.remote.receiver is not remote.receiver]
        self._sources.append(source)
        if kind == "video":
            self._ask_keyframe(source)

    def remove(self, remote: RemoteSource) -> None:
        """``remote``'s stream ended (its participant left, or the connection went): it is forgotten (no
        keyframe is asked of it any more); the track continues if its participant comes back."""
        self._sources = [s for s in self._sources if s.remote.receiver is not remote.receiver]
        self._held = collections.deque(
            h for h in self._held if h.source.remote.receiver is not remote.receiver
        )
        self._held_bytes = sum(len(h.data) for h in self._held)

    def cut(self, t: float) -> None:
        """A pause (or the end) from file time ``t`` (seconds): the frames placed after it, still
        waiting to go to the writer, are dropped, and every track continues from no later than ``t``."""
        cut_ms = round(t * 1000)
        kept: collections.deque[_Placed] = collections.deque()
        cut_tracks: set[int] = set()
        for placed in self._placed:
            if placed.at_ms > cut_ms:
                cut_tracks.add(id(placed.track))
                if isinstance(placed.item, _Open):
                    placed.track.file_name = placed.track.offset_ms = None
            else:
                kept.append(placed)
        self._placed = kept
        for track in self._tracks.values():
            if id(track) not in cut_tracks:
                continue
            last = track.queued_pts
            for placed in kept:
                if (
                    placed.track is track
                    and isinstance(placed.item, _Packet)
                    and placed.item.file_name == track.file_name
                ):
                    last = placed.item.pts_ms
            track.last_pts = last if track.file_name is not None else None
            track.waiting_keyframe = track.kind == "video"
        for track in self._tracks.values():
            if track.offset_ms is None or track.queued_pts is None:
                continue
            late_ms = track.offset_ms + track.queued_pts - cut_ms
            if late_ms > 0:
                log.warning(
                    "pause heard after a track's frames past it were written",
                    extra={"file": track.file_name, "late_ms": late_ms},
                )

    def resumed(self) -> None:
        """After a resume: the frames held while paused that were captured after it are written (like
        the composite's, see ``recorder_bot.robot.HOLD_SECONDS``), and every video track continues at a
        keyframe, asked for now."""
        held, self._held, self._held_bytes = self._held, collections.deque(), 0
        for source in self._sources:
            if source.track.kind == "video" and not any(h.source is source for h in held):
                source.track.waiting_keyframe = True
            if source.track.kind == "video":
                self._ask_keyframe(source)
        for frame in held:
            t = self.pauses.file_time(frame.recorded, arrived=frame.arrived)
            if t is not None and t >= 0:
                self._place(frame.source.track, frame.codec, frame.data, t, frame.source)

    def receiving(self, window: float) -> list[int]:
        """Users whose media arrived in the last ``window`` seconds."""
        since = time.time() - window
        return sorted(user for user, heard in self._heard.items() if heard >= since)

    def _ask_keyframe(self, source: _Source) -> None:
        now = time.monotonic()
        if source.tap is None or now - source.asked_keyframe < KEYFRAME_RETRY:
            return
        source.asked_keyframe = now
        task = asyncio.ensure_future(source.tap.request_keyframe())
        self._keyframe_tasks.add(task)
        task.add_done_callback(self._keyframe_asked)

    def _keyframe_asked(self, task: asyncio.Future[None]) -> None:
        self._keyframe_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("keyframe request failed", extra={"error": str(task.exception())})

    def _frame_safely(self, source: _Source, codec: str, data: bytes, timestamp: int) -> None:
        try:
            self._frame(source, codec, data, timestamp)
        except Exception as exc:  # never break aiortc's packet handling; logged now and then
            self._log_now_and_then("encoded frame not placed", exc)

    def _log_now_and_then(self, message: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._logged.get(message, -LOG_EVERY) >= LOG_EVERY:
            self._logged[message] = now
            log.warning(message, extra={"error": f"{type(exc).__name__}: {exc}"})

    def _frame(self, source: _Source, codec: str, data: bytes, timestamp: int) -> None:
        """One encoded frame of ``source`` (aiortc's timestamp: RTP less the stream's origin)."""
        arrival = time.time()
        track = source.track
        self._heard[track.user_id] = arrival
        if self._stopping or codec not in CODECS:
            return
        if track.codec is None:
            track.codec = codec
        elif codec != track.codec:
            # A file holds one codec: another one (after a renegotiation) begins the source's next file,
            # with a TrackStarted of its own.
            if CODECS[codec][0] != track.kind:
                return
            log.warning(
                "a track's codec changed: its next file begins",
                extra={"file": track.file_name, "codec": track.codec, "new_codec": codec},
            )
            track.codec, track.part = codec, track.part + 1
            track.file_name = track.offset_ms = track.last_pts = track.queued_pts = None
            track.waiting_keyframe, track.gap = track.kind == "video", False
        video = track.kind == "video"
        origin = adapter.rtp_origin(source.remote.receiver)
        wall = None if origin is None else source.clock.wall_time((timestamp + origin) & _WRAP)
        if wall is None:  # before the stream's first sender report: no time, not placed
            track.waiting_keyframe = video
            return
        source.publisher.observe(wall, arrival)
        recorded = source.publisher.local(wall) - self.recording_start
        arrived = arrival - self.recording_start - self.lateness
        t = self.pauses.file_time(recorded, arrived=arrived)
        if t is None or t < 0:  # while paused, or before the recording began
            track.waiting_keyframe = video
            if t is None and self.pauses.paused:
                self._hold(_HeldFrame(source, codec, data, recorded, arrived))
            return
        self._place(source.track, codec, data, t, source)

    def write(self, user_id: int, source: SourceName, codec: str, data: bytes, t: float) -> None:
        """Write one encoded frame at file time ``t`` (seconds) into ``user_id``'s ``source`` track, as
        if received (for the benchmark, which has no network)."""
        track = self._tracks.get((user_id, source))
        if track is None:
            kind, _format = CODECS[codec]
            track = self._tracks[(user_id, source)] = _Track(user_id, source, kind)
        if not self._stopping:
            self._place(track, codec, data, t)

    def _hold(self, held: _HeldFrame) -> None:
        self._held.append(held)
        self._held_bytes += len(held.data)
        while self._held and (
            self._held_bytes > HOLD_BYTES or self._held[0].recorded < held.recorded - HOLD_SECONDS
        ):
            self._held_bytes -= len(self._held.popleft().data)

    def _place(self, track: _Track, codec: str, data: bytes, t: float, source: _Source | None = None) -> None:
        """Write a frame at file time ``t`` (seconds) into its track (``source``: where it came from, asked
        for a keyframe if the track needs one)."""
        if self._stopping or (track.codec is not None and codec != track.codec):
            return  # (a frame held while paused in a codec the source has left since)
        video = track.kind == "video"
        keyframe = is_keyframe(codec, data)
        if track.waiting_keyframe:
            if not keyframe:
                if source is not None:
                    self._ask_keyframe(source)
                return
            track.waiting_keyframe = False
        at_ms = round(t * 1000)
        if track.file_name is None:
            file_name = track_file_name(self.prefix, track.user_id, track.source, codec, track.part)
            names = self.names if source is None else source.names
            name = names.get(track.user_id) or f"Participant {track_user(track.user_id)}"
            started = TrackStarted(
                file_name=file_name,
                user_id=track.user_id,
                display_name=name[:80],
                source=track.source,
                kind=track.kind,
                codec=codec,
                offset_ms=at_ms,
            )
            track.file_name, track.offset_ms = file_name, at_ms
            self._enqueue(_Placed(track, _Open(started, codec), at_ms, 0.0, source))
        assert track.offset_ms is not None
        pts = at_ms - track.offset_ms
        if track.last_pts is not None:
            if video:
                pts = max(pts, track.last_pts + 1)
            else:
                # Sound is played sample after sample: a packet must not overlap the one before. One
                # that would by more than AUDIO_SLACK_MS (its publisher's clock was just placed earlier)
                # is dropped, as the composite drops late sound, so the track stays on its timeline.
                if pts < track.last_pts + OPUS_FRAME_MS - AUDIO_SLACK_MS:
                    return
                pts = max(pts, track.last_pts + OPUS_FRAME_MS)
        track.last_pts = pts
        self._enqueue(_Placed(track, _Packet(track.file_name, data, pts, keyframe), at_ms, 0.0, source))

    def _enqueue(self, placed: _Placed) -> None:
        """Hold a placed frame ``delay`` seconds, then hand it to the writer."""
        now = time.monotonic()
        self._placed.append(_Placed(placed.track, placed.item, placed.at_ms, now + self.delay, placed.source))
        self._flush(now)
        if self._placed and self._flushing is None and self._loop is not None and not self._stopping:
            self._flushing = self._loop.call_later(self.delay / 2 or 0.01, self._flush_later)

    def _flush_later(self) -> None:
        self._flushing = None
        if self._stopping:
            return
        self._flush(time.monotonic())
        if self._placed and self._loop is not None:
            self._flushing = self._loop.call_later(self.delay / 2 or 0.01, self._flush_later)

    def _flush(self, now: float | None) -> None:
        """Hand the writer every placed frame due by ``now`` (None: all of them)."""
        while self._placed and (now is None or self._placed[0].due <= now):
            placed = self._placed.popleft()
            track, item = placed.track, placed.item
            if isinstance(item, _Open):
                self._queue.put(item)  # tiny, never refused: the track's packets may follow
                continue
            if track.gap and not (track.kind == "audio" or item.keyframe):
                continue
            with self._queued_lock:
                full = self._queue.qsize() >= QUEUE_ITEMS or self._queued_bytes + len(item.data) > QUEUE_BYTES
                if not full:
                    self._queued_bytes += len(item.data)
            if full:
                self.dropped += 1
                track.gap = True
                if placed.source is not None and track.kind == "video":
                    self._ask_keyframe(placed.source)
                continue
            track.gap = False
            self._queue.put(item)
            track.queued_pts = item.pts_ms

    def stop(self) -> tuple[TrackFinished, ...]:
        """Finish every track file (blocking: call it off the event loop); what was written."""
        self._stopping = True
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        self._flush(None)
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        return tuple(self._finished)

    def _started(self, started: TrackStarted) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
                self._loop.call_soon_threadsafe(self.report, started)

    # -- writer thread ------------------------------------------------------------------------------------

    def _run(self) -> None:
        files: dict[str, TrackFile] = {}
        pending: dict[str, TrackStarted] = {}
        failed: set[str] = set()
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            if isinstance(item, _Open):
                name = item.started.file_name
                try:
                    files[name] = TrackFile(self.storage_root, name, item.codec)
                    pending[name] = item.started
                except (OSError, ValueError, TrackError) as exc:
                    failed.add(name)
                    log.error("track file not created", extra={"file": name, "error": str(exc)})
            elif isinstance(item, _Packet):
                with self._queued_lock:
                    self._queued_bytes -= len(item.data)
                if item.file_name not in files:
                    continue
                track = files[item.file_name]
                try:
                    track.write(item.data, item.pts_ms, item.keyframe)
                except (OSError, av.FFmpegError, TrackError) as exc:
                    log.error("track write failed", extra={"file": item.file_name, "error": str(exc)})
                    track.abandon()
                    del files[item.file_name]
                    if pending.pop(item.file_name, None) is not None:
                        _unlink(track)  # never reported: no row would name it
                        continue
                    self._finished.append(
                        TrackFinished(
                            file_name=track.file_name,
                            duration_ms=track.duration_ms,
                            size_bytes=track.size_bytes,
                        )
                    )
                    continue
                started = pending.pop(item.file_name, None)
                if started is not None:
                    self._started(started)
        for track in files.values():
            if track.file_name in pending:  # not one frame written: no row names it
                track.abandon()
                _unlink(track)
                continue
            try:
                self._finished.append(track.close())
            except (OSError, av.FFmpegError) as exc:
                log.error("track not finished", extra={"file": track.file_name, "error": str(exc)})
                self._finished.append(
                    TrackFinished(
                        file_name=track.file_name, duration_ms=track.duration_ms, size_bytes=track.size_bytes
                    )
                )


def _unlink(track: TrackFile) -> None:
    try:
        track.path.unlink(missing_ok=True)
    except OSError as exc:
        log.error("track file not removed", extra={"file": track.file_name, "error": str(exc)})
