"""Writes the recording: H.264 + AAC in fragmented MP4, on disk fragment by fragment.

The file starts with an empty ``moov`` and gains a ``moof``+``mdat`` pair about every second, each written
in one piece and synced, so a robot that is killed leaves a file that plays up to its last fragment, and
closing is only the last fragment: nothing at the end is proportional to the length (no remux, no index
rewrite). The file is created exclusively (never overwriting) under the storage root only.

``RecorderPipeline`` runs the mixer and this writer on one worker thread behind a bounded queue, so the
robot's event loop only enqueues frames. A thread is enough: scaling, encoding and muxing are C code that
releases the GIL (see ``bench/recording.py`` for the measured cost and event-loop lag).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av import AudioFrame, VideoFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream

from recorder_bot.mixer import MediaFormat, Mixer, Rendered, SourceKey

log = logging.getLogger(__name__)

FILE_NAME_MAX = 120
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.mp4")
IO_BUFFER = 4 << 20
"""PyAV's output buffer: larger than a fragment, so each fragment reaches the file in one write() and a
kill cannot leave half of one behind."""


class RecordingError(Exception):
    """The recording could not be written (the file exists, the disk is full, the encoder failed, ...)."""


def recording_path(storage_root: Path, file_name: str) -> Path:
    """``storage_root / file_name``, refusing anything but a plain, safe ``.mp4`` name directly inside it."""
    return safe_path(storage_root, file_name, _SAFE_NAME, FILE_NAME_MAX, "recording")


def safe_path(storage_root: Path, file_name: str, pattern: re.Pattern[str], longest: int, what: str) -> Path:
    """``storage_root / file_name`` for a ``file_name`` of at most ``longest`` characters matching
    ``pattern`` whole, directly inside ``storage_root``; ``ValueError`` naming ``what`` otherwise."""
    if len(file_name) > longest or not pattern.fullmatch(file_name) or ".." in file_name:
        raise ValueError(f"not a safe {what} file name: {file_name!r}")
    root = storage_root.resolve(strict=True)
    path = root / file_name
    if path.parent != root:
        raise ValueError(f"{file_name!r} is outside {root}")
    return path


@dataclass(frozen=True)
class EncoderSettings:
    """How the recording is encoded; the defaults suit a 720p classroom at 15 fps on one core."""

    video_bitrate: int = 1_500_000
    """Ceiling (VBV): a still picture costs far less, as quality (CRF) decides below it."""
    audio_bitrate: int = 96_000
    preset: str = "ultrafast"
    crf: int = 26
    keyframe_seconds: float = 2.0
    fragment_seconds: float = 1.0
    fsync: bool = True
    """Sync every fragment: a kill only needs the write, a power cut needs the sync; it costs little."""
    threads: int = 1


@dataclass
class WriterStats:
    bytes_written: int = 0
    fragments: int = 0
    video_frames: int = 0
    audio_frames: int = 0
    fsync_seconds_total: float = 0.0
    fsync_seconds_max: float = 0.0


class _FragmentSink:
    """The file as PyAV sees it: write-only and not seekable, so the muxer can never go back and rewrite."""

    def __init__(
        self, descriptor: int, stats: WriterStats, sync: bool, on_fragment: Callable[[], None]
    ) -> None:
        self._descriptor = descriptor
        self._stats = stats
        self._sync = sync
        self._on_fragment = on_fragment

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            written = os.write(self._descriptor, view)
            view = view[written:]
        self._stats.bytes_written += len(data)
        if self._sync:
            started = time.perf_counter()
            os.fsync(self._descriptor)
            spent = time.perf_counter() - started
            self._stats.fsync_seconds_total += spent
            self._stats.fsync_seconds_max = max(self._stats.fsync_seconds_max, spent)
        if data[4:8] == b"moof":
            self._stats.fragments += 1
            self._on_fragment()
        return len(data)


class RecordingWriter:
    """Encodes mixer output into a new fragmented MP4 file under ``storage_root``.

    The file is created when the writer is (exclusively: an existing file is an error, never replaced);
    its header is written with the first frame. ``on_fragment`` is called on the writing thread after
    each fragment is on disk (the robot reports "recording" after the first).
    """

    def __init__(
        self,
        storage_root: Path,
        file_name: str,
        fmt: MediaFormat | None = None,
        settings: EncoderSettings | None = None,
        on_fragment: Callable[[WriterStats], None] | None = None,
    ) -> None:
        self.fmt = fmt or MediaFormat()
        self.settings = settings or EncoderSettings()
        self.stats = WriterStats()
        self.path = recording_path(storage_root, file_name)
        self._on_fragment = on_fragment
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self._descriptor = os.open(self.path, flags, 0o640)
        except FileExistsError as exc:
            raise RecordingError(f"{self.path.name} already exists") from exc
        try:
            self._container, self._video, self._audio = self._open()
        except Exception:
            os.close(self._descriptor)
            self.path.unlink()  # the empty file just made, so a retry can use the name
            raise
        self._closed = False

    def _open(self) -> tuple[OutputContainer, VideoStream, AudioStream]:
        fmt, settings = self.fmt, self.settings
        sink = _FragmentSink(self._descriptor, self.stats, settings.fsync, self._fragment_written)
        container = av.open(
            sink,
            mode="w",
            format="mp4",
            buffer_size=IO_BUFFER,
            container_options={
                "movflags": "frag_keyframe+empty_moov+default_base_moof",
                "frag_duration": str(int(settings.fragment_seconds * 1_000_000)),
                # Hand each finished fragment to the file at once instead of keeping it in the buffer.
                "flush_packets": "1",
            },
        )
        video = container.add_stream(
            "libx264",
            rate=fmt.fps,
            options={
                "preset": settings.preset,
                "tune": "zerolatency",
                "crf": str(settings.crf),
                "maxrate": str(settings.video_bitrate),
                "bufsize": str(settings.video_bitrate * 2),
                "threads": str(settings.threads),
            },
        )
        video.width, video.height, video.pix_fmt = fmt.width, fmt.height, "yuv420p"
        video.codec_context.gop_size = max(1, round(fmt.fps * settings.keyframe_seconds))
        video.codec_context.time_base = Fraction(1, fmt.fps)
        audio = container.add_stream("aac", rate=fmt.sample_rate, layout=fmt.audio_layout)
        audio.bit_rate = settings.audio_bitrate
        return container, video, audio

    def _fragment_written(self) -> None:
        if self._on_fragment is not None:
            self._on_fragment(self.stats)

    def write(self, rendered: Rendered) -> None:
        """Encode and mux one batch of mixer output (video and audio of the same span)."""
        for video_frame in rendered.video:
            self.write_video(video_frame)
        for audio_frame in rendered.audio:
            self.write_audio(audio_frame)

    def write_video(self, frame: VideoFrame) -> None:
        self._container.mux(self._video.encode(frame))
        self.stats.video_frames += 1

    def write_audio(self, frame: AudioFrame) -> None:
        self._container.mux(self._audio.encode(frame))
        self.stats.audio_frames += 1

    def close(self) -> None:
        """Drain the encoders and write the last fragment. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.mux(self._video.encode(None))
            self._container.mux(self._audio.encode(None))
            self._container.close()
            os.fsync(self._descriptor)
        finally:
            os.close(self._descriptor)

    def abandon(self) -> None:
        """Close without finishing (after a failure): the fragments already written stay playable."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._container.close()
        os.close(self._descriptor)


# -- the worker --------------------------------------------------------------------------------------------


Command = Callable[[Mixer], None]


@dataclass(frozen=True)
class _Advance:
    until: float


@dataclass(frozen=True)
class _Stop:
    end: float | None


@dataclass(frozen=True)
class _Barrier:
    reached: threading.Event


@dataclass(frozen=True)
class _Command:
    size: int
    "Bytes of frame it holds, counted against the queue's limit."
    command: Command
    user_id: int | None = None
    "Whose frame it carries, if any."


Item = _Command | _Advance | _Stop | _Barrier


@dataclass(frozen=True)
class PipelineStats:
    """A snapshot for logs and progress lines."""

    queued_bytes: int
    dropped_queue_full: int
    late_video_frames: int
    late_audio_frames: int
    rejected_frames: int
    rendered_seconds: float
    bytes_written: int
    fragments: int
    fsync_seconds_max: float


class RecorderPipeline:
    """Feeds a :class:`Mixer` and a :class:`RecordingWriter` on one worker thread.

    The event loop calls the ``add_*`` and ``set_*`` methods, which only enqueue and never block; when the
    queue holds ``max_queued_bytes`` of frames, new frames are dropped and counted rather than letting
    memory grow. With a ``clock`` (seconds on the recording clock) the worker renders up to
    ``clock() - delay`` on its own, so frames may arrive up to ``delay`` late and still be placed exactly;
    without one it renders only when told to with :meth:`advance` (tests, faster than real time).
    """

    TICK = 0.02

    def __init__(
        self,
        mixer: Mixer,
        writer: RecordingWriter,
        clock: Callable[[], float] | None = None,
        delay: float = 0.4,
        max_queued_bytes: int = 64 << 20,
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay must not be negative: {delay}")
        self.mixer = mixer
        self.writer = writer
        self.clock = clock
        self.delay = delay
        self.max_queued_bytes = max_queued_bytes
        self.error: BaseException | None = None
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued_bytes = 0
        self._dropped = 0
        # When each user's latest frame reached the mixer (monotonic seconds).
        self._reached: dict[int, float] = {}
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="recorder-pipeline", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- the event loop's side: enqueue only --------------------------------------------------------------

    def add_video(self, key: SourceKey, frame: VideoFrame, t: float) -> bool:
        """Queue a decoded video frame stamped ``t``; False if it was dropped (queue full, or stopped)."""
        size = frame.width * frame.height * 3 // 2
        return self._submit(size, lambda mixer: mixer.add_video(key, frame, t), user_id=key.user_id)

    def add_audio(self, key: SourceKey, frame: AudioFrame, t: float) -> bool:
        """Queue a decoded audio frame stamped ``t``; False if it was dropped."""
        size = frame.samples * len(frame.layout.channels) * 4
        return self._submit(size, lambda mixer: mixer.add_audio(key, frame, t), user_id=key.user_id)

    def set_names(self, names: Mapping[int, str], room: int = 0) -> None:
        copied = dict(names)
        self._submit(0, lambda mixer: mixer.set_names(copied, room), always=True)

    def set_active_speaker(self, user_id: int | None, t: float | None = None, room: int = 0) -> None:
        at = self._now(t)
        self._submit(0, lambda mixer: mixer.set_active_speaker(user_id, at, room), always=True)

    def remove_source(self, key: SourceKey, t: float | None = None) -> None:
        at = self._now(t)
        self._submit(0, lambda mixer: mixer.remove_source(key, at), always=True)

    def cut(self, t: float) -> None:
        """Drop what is queued or buffered for the file from ``t`` on (see :meth:`Mixer.cut`), in order
        with the frames queued before this call."""
        self._submit(0, lambda mixer: mixer.cut(t), always=True)

    def heard_from(self, user_id: int) -> None:
        """A frame of ``user_id`` arrived that is not recorded (paused): they still count as received."""
        with self._lock:
            self._reached[user_id] = time.monotonic()

    def advance(self, until: float) -> None:
        """Render everything up to ``until`` seconds (for a pipeline without a clock)."""
        self._queue.put(_Advance(until))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the worker has handled everything queued so far; False on timeout or failure.

        Blocking: lets a producer that runs faster than real time (tests, benchmarks) pace itself
        instead of overflowing the queue.
        """
        reached = threading.Event()
        self._queue.put(_Barrier(reached))
        return reached.wait(timeout) and self.error is None

    def receiving(self, within: float, now: float | None = None) -> list[int]:
        """Users whose audio or video frames reached the mixer in the last ``within`` seconds (monotonic
        clock; ``now`` for tests)."""
        since = (time.monotonic() if now is None else now) - within
        with self._lock:
            return sorted(user_id for user_id, at in self._reached.items() if at >= since)

    def stats(self) -> PipelineStats:
        mixer, writer = self.mixer.stats, self.writer.stats
        return PipelineStats(
            queued_bytes=self._queued_bytes,
            dropped_queue_full=self._dropped,
            late_video_frames=mixer.late_video_frames,
            late_audio_frames=mixer.late_audio_frames,
            rejected_frames=mixer.rejected_video_frames + mixer.rejected_audio_frames,
            rendered_seconds=self.mixer.rendered,
            bytes_written=writer.bytes_written,
            fragments=writer.fragments,
            fsync_seconds_max=writer.fsync_seconds_max,
        )

    def stop(self, end: float | None = None, timeout: float = 30.0) -> PipelineStats:
        """Render up to ``end`` (default: the clock's now, or what was last advanced to), close the file.

        Blocking (the last frames are encoded and synced): call it with ``asyncio.to_thread``. Raises
        :class:`RecordingError` if the worker failed; the fragments already written still play.
        """
        with self._lock:
            self._stopping = True
        if self._thread.ident is None:
            self.start()  # stopped before it started: still leave a valid (empty) recording
        self._queue.put(_Stop(end))
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RecordingError(f"the recording did not finish within {timeout} s")
        if self.error is not None:
            raise RecordingError(f"recording failed: {self.error}") from self.error
        return self.stats()

    def _now(self, t: float | None) -> float | None:
        if t is not None or self.clock is None:
            return t
        return self.clock()

    def _submit(self, size: int, command: Command, always: bool = False, user_id: int | None = None) -> bool:
        with self._lock:
            if self._stopping or self.error is not None:
                return False
            if not always and self._queued_bytes + size > self.max_queued_bytes:
                self._dropped += 1
                return False
            self._queued_bytes += size
        self._queue.put(_Command(size, command, user_id))
        return True

    # -- the worker's side --------------------------------------------------------------------------------

    def _run(self) -> None:
        rendered_at = time.monotonic()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=self.TICK if self.clock is not None else None)
                except queue.Empty:
                    item = None
                if isinstance(item, _Stop):
                    self._finish(item.end)
                    return
                if isinstance(item, _Barrier):
                    item.reached.set()
                elif isinstance(item, _Advance):
                    self._render(item.until)
                elif item is not None:
                    with self._lock:
                        self._queued_bytes -= item.size
                        if item.user_id is not None:
                            self._reached[item.user_id] = time.monotonic()
                    item.command(self.mixer)
                # Catch up with the queue first, so frames waiting in it are not counted late; but render
                # at least every tick even when frames never stop coming.
                due = self._queue.empty() or time.monotonic() - rendered_at > self.TICK
                if self.clock is not None and due:
                    self._render(self.clock() - self.delay)
                    rendered_at = time.monotonic()
        except BaseException as exc:
            log.exception("recording pipeline failed")
            self.error = exc
            self.writer.abandon()
            self._release_waiters()

    def _release_waiters(self) -> None:
        """After a failure nothing more is rendered; whoever waits in :meth:`flush` must not hang."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Barrier):
                item.reached.set()

    def _render(self, until: float) -> None:
        if until > self.mixer.rendered:
            self.writer.write(self.mixer.render(until))

    def _finish(self, end: float | None) -> None:
        if end is None:
            end = self.clock() if self.clock is not None else self.mixer.rendered
        self.writer.write(self.mixer.finish(end))
        self.writer.close()
