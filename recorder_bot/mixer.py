"""Mixes a classroom's decoded sources into one picture and one sound, on the recording clock.

Every input frame arrives stamped with ``t``: seconds on the recording clock, worked out from its RTP
timestamp and the sender's RTCP reports (see ``recorder_bot/rtp_clock.py``). The mixer keeps frames until
the output reaches their moment, so audio and video that happened together come out together whatever
order they arrived in. The caller renders up to "now minus a small delay"; a frame arriving after its
moment has been rendered is dropped and counted, and a source that goes quiet is simply silence: the
output never waits for anyone.

Video is scaled once per input frame that is shown (and again only if its tile changes size), and the
canvas is composed in numpy on the yuv420p planes, so an output frame costs a few copies.

A composite session over several classrooms (``rooms``) mixes them all into the one picture and sound:
each source's :class:`SourceKey` names its classroom (``room``), each classroom has a region of the canvas
(``recorder_bot.layout.regions``) laid out like a whole canvas of its own, with its own active speaker and
screen share, and lettered with the classroom's name; the sound is every classroom's voices together.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from av import AudioFrame, AudioResampler, VideoFrame
from av.video.reformatter import Interpolation, VideoReformatter

from recorder_bot import layout
from recorder_bot.layout import Alpha, LabelFont, Rect

Samples = npt.NDArray[np.float32]
Plane = npt.NDArray[np.uint8]

SCREEN = "screen"
CAMERA = "camera"

BLACK_Y = 16
NEUTRAL_CHROMA = 128
TEXT_Y = 235
STRIP_GUTTER = 2
REGION_GUTTER = 2
"""Black pixels round each classroom's region of a session's canvas, so neighbouring regions stay apart."""


class SourceKey(NamedTuple):
    """One participant's source, as named in docs/protocol.md (``microphone``, ``camera``, ``screen``)."""

    user_id: int
    source: str
    room: int = 0
    """Which classroom of a composite session it comes from (its index in the mixer's ``rooms``; 0 is the
    recording's own): someone in two of them is two people to the mixer."""


@dataclass(frozen=True)
class MediaFormat:
    """What the mixer produces and the writer encodes: picture size and rate, sample rate and channels."""

    width: int = 1280
    height: int = 720
    fps: int = 15
    sample_rate: int = 48_000
    channels: int = 1
    audio_frame_samples: int = 1024
    """One AAC frame, so the encoder never has to re-chunk."""

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise ValueError(f"picture size must be even and at least 16x16: {self.width}x{self.height}")
        if not 1 <= self.fps <= 60:
            raise ValueError(f"fps must be 1 to 60: {self.fps}")
        if self.channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2: {self.channels}")
        if self.sample_rate <= 0 or self.audio_frame_samples <= 0:
            raise ValueError("sample_rate and audio_frame_samples must be positive")

    @property
    def audio_layout(self) -> str:
        return "mono" if self.channels == 1 else "stereo"

    @property
    def frame_duration(self) -> float:
        return 1 / self.fps


@dataclass
class MixerStats:
    """Frames the mixer had to drop: ``late`` arrived after their moment was rendered."""

    late_video_frames: int = 0
    late_audio_frames: int = 0
    rejected_video_frames: int = 0
    rejected_audio_frames: int = 0
    """Stamped implausibly far ahead of the output (a broken clock), so not buffered."""


# -- audio --------------------------------------------------------------------------------------------------


class Limiter:
    """Keeps a sum of voices under full scale by turning the whole mix down, never by clipping it.

    Each output frame's gain is at most ``ceiling / peak``, so no sample can exceed the ceiling (the gain
    drops at once, within the frame); afterwards it recovers slowly, so speech is not pumped. A single
    voice at a normal level stays at gain 1 and passes unchanged.
    """

    CEILING = 0.89
    """-1 dBFS: leaves the AAC encoder room for its own overshoot."""
    RELEASE_DB_PER_SECOND = 12.0

    def __init__(self, sample_rate: int, frame_samples: int) -> None:
        self.gain = 1.0
        self._release = 10 ** (self.RELEASE_DB_PER_SECOND * frame_samples / sample_rate / 20)

    def apply(self, mix: Samples) -> None:
        """Scale ``mix`` (one output frame) in place."""
        peak = float(np.max(np.abs(mix))) if mix.size else 0.0
        allowed = self.CEILING / peak if peak > self.CEILING else 1.0
        target = min(allowed, self.gain * self._release)
        if target == 1.0 and self.gain == 1.0:
            return
        ramp = np.linspace(self.gain, target, mix.shape[1], dtype=np.float32)
        mix *= np.minimum(ramp, np.float32(allowed))
        self.gain = target


class _Placed:
    """One source's audio waiting to be mixed: non-overlapping runs of samples, sorted by start sample.

    Frames may be placed in any order. A frame that starts within ``tolerance`` samples of where the one
    before it ends is moved to continue it exactly: stamps carry a little rounding, and closing those
    tiny gaps or overlaps avoids clicks. Larger gaps stay silent; overlaps are cut, as a sender's clock
    corrected backwards must not play the same moment twice.
    """

    def __init__(self, tolerance: int) -> None:
        self.tolerance = tolerance
        self.starts: list[int] = []
        self.runs: list[Samples] = []

    def place(self, start: int, samples: Samples) -> None:
        index = bisect.bisect_right(self.starts, start)
        if index > 0:
            previous_end = self.starts[index - 1] + self.runs[index - 1].shape[1]
            if start < previous_end:
                samples = samples[:, previous_end - start :]
                start = previous_end
            elif start - previous_end <= self.tolerance:
                start = previous_end
        if index < len(self.starts):
            samples = samples[:, : max(0, self.starts[index] - start)]
        if samples.shape[1]:
            self.starts.insert(index, start)
            self.runs.insert(index, samples)

    def end_at(self, end: int) -> None:
        """Drop everything from sample ``end`` on."""
        while self.starts and self.starts[-1] >= end:
            self.starts.pop()
            self.runs.pop()
        if self.runs:
            self.runs[-1] = self.runs[-1][:, : end - self.starts[-1]]

    def mix_into(self, mix: Samples, start: int) -> None:
        """Add the samples of ``[start, start + len(mix))`` to ``mix`` and forget them."""
        end = start + mix.shape[1]
        while self.starts and self.starts[0] < end:
            run_start, run = self.starts[0], self.runs[0]
            run_end = run_start + run.shape[1]
            lo, hi = max(run_start, start), min(run_end, end)
            if hi > lo:
                mix[:, lo - start : hi - start] += run[:, lo - run_start : hi - run_start]
            if run_end > end:
                self.starts[0], self.runs[0] = end, run[:, end - run_start :]
                return
            del self.starts[0], self.runs[0]


@dataclass
class _AudioSource:
    resampler: AudioResampler
    input_format: tuple[str, str, int]
    placed: _Placed
    ends_at: int | None = None


class AudioMixer:
    """Resamples every source to one rate and layout and sums them, placed by the recording clock."""

    CONTIGUOUS = 0.004
    """Frames this close together are joined (see ``_Placed``): enough for rounding and resampler delay,
    well under one frame (10-20 ms), so a frame that is missing stays a gap."""
    MAX_AHEAD = 10.0
    """Frames stamped further ahead of the output than this are refused, not buffered without bound."""

    def __init__(self, fmt: MediaFormat, stats: MixerStats) -> None:
        self.fmt = fmt
        self.stats = stats
        self.position = 0
        """The next sample to render: everything before it is already in the output."""
        self._sources: dict[SourceKey, _AudioSource] = {}
        self._contiguous = round(self.CONTIGUOUS * fmt.sample_rate)
        self._max_ahead = round(self.MAX_AHEAD * fmt.sample_rate)
        self._time_base = Fraction(1, fmt.sample_rate)
        self._limiter = Limiter(fmt.sample_rate, fmt.audio_frame_samples)

    def add(self, key: SourceKey, frame: AudioFrame, t: float) -> None:
        state = self._source(key, frame)
        samples = self._resample(state, frame)
        start = round(t * self.fmt.sample_rate)
        if samples.shape[1] == 0:
            return
        if start > self.position + self._max_ahead:
            self.stats.rejected_audio_frames += 1
            return
        if start + samples.shape[1] <= self.position:
            self.stats.late_audio_frames += 1
            return
        if start < self.position:
            samples = samples[:, self.position - start :]
            start = self.position
        if state.ends_at is not None:
            samples = samples[:, : max(0, state.ends_at - start)]
        state.placed.place(start, samples)

    def remove(self, key: SourceKey, t: float) -> None:
        """The source ends at ``t``: what it sent before still plays, nothing after."""
        state = self._sources.get(key)
        if state is not None:
            state.ends_at = max(self.position, round(t * self.fmt.sample_rate))
            state.placed.end_at(state.ends_at)

    def cut(self, t: float) -> None:
        """Forget every sample placed from ``t`` on, of every source (a pause began at ``t``)."""
        end = max(self.position, round(t * self.fmt.sample_rate))
        for state in self._sources.values():
            state.placed.end_at(end)

    def render(self, until: float) -> list[AudioFrame]:
        """Every whole output frame that ends at or before ``until`` seconds."""
        end = math.floor(until * self.fmt.sample_rate + 1e-6)
        size = self.fmt.audio_frame_samples
        frames = []
        while self.position + size <= end:
            frames.append(self._mix(size))
        return frames

    def finish(self, end: float) -> list[AudioFrame]:
        """Render up to ``end`` and pad the last frame with silence, so the audio lasts at least ``end``."""
        frames = self.render(end)
        if self.position < math.ceil(end * self.fmt.sample_rate - 1e-6):
            frames.append(self._mix(self.fmt.audio_frame_samples))
        return frames

    def _source(self, key: SourceKey, frame: AudioFrame) -> _AudioSource:
        input_format = (frame.format.name, frame.layout.name, frame.sample_rate)
        state = self._sources.get(key)
        if state is None or state.input_format != input_format:
            # Only the rate and sample format are converted here; channels are mixed in numpy (see
            # ``_to_output_channels``), as FFmpeg's stereo-to-mono downmix adds 3 dB to a mono voice.
            resampler = AudioResampler(format="fltp", layout=frame.layout.name, rate=self.fmt.sample_rate)
            if state is None:
                state = self._sources[key] = _AudioSource(resampler, input_format, _Placed(self._contiguous))
            else:
                # A new decoder mid-stream: keep what was already placed.
                state.resampler, state.input_format = resampler, input_format
        return state

    def _resample(self, state: _AudioSource, frame: AudioFrame) -> Samples:
        # The resampler keeps its own clock; the recording clock is ``t``, so its pts must not interfere.
        frame.pts = None
        converted = state.resampler.resample(frame)
        if not converted:
            return np.zeros((self.fmt.channels, 0), dtype=np.float32)
        parts = [np.asarray(part.to_ndarray(), dtype=np.float32) for part in converted]
        return self._to_output_channels(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))

    def _to_output_channels(self, samples: Samples) -> Samples:
        """Average the channels for mono output; copy mono to both sides for stereo (a browser's
        microphone is mono sent as two equal channels, and averaging keeps its level)."""
        if samples.shape[0] == self.fmt.channels:
            return samples
        mono = samples.mean(axis=0, keepdims=True, dtype=np.float32)
        return mono if self.fmt.channels == 1 else np.repeat(mono, self.fmt.channels, axis=0)

    def _mix(self, size: int) -> AudioFrame:
        start = self.position
        mix = np.zeros((self.fmt.channels, size), dtype=np.float32)
        for key, state in list(self._sources.items()):
            state.placed.mix_into(mix, start)
            if state.ends_at is not None and state.ends_at <= start + size:
                del self._sources[key]
        self._limiter.apply(mix)
        frame = AudioFrame.from_ndarray(mix, format="fltp", layout=self.fmt.audio_layout)
        frame.sample_rate = self.fmt.sample_rate
        frame.pts = start
        frame.time_base = self._time_base
        self.position = start + size
        return frame


# -- video --------------------------------------------------------------------------------------------------


@dataclass
class _Scaled:
    frame: VideoFrame
    width: int
    height: int
    y: Plane
    u: Plane
    v: Plane


@dataclass
class _VideoSource:
    key: SourceKey
    order: int
    reformatter: VideoReformatter = field(default_factory=VideoReformatter)
    pending: list[tuple[float, int, VideoFrame]] = field(default_factory=list)
    current: VideoFrame | None = None
    current_t: float = 0.0
    first_t: float | None = None
    removed_at: float | None = None
    scaled: _Scaled | None = None


@dataclass(order=True)
class _SpeakerChange:
    t: float
    sequence: int
    user_id: int | None = field(compare=False)
    room: int = field(default=0, compare=False)


class VideoCompositor:
    """Composes the picture: the featured source large, the others in a strip, names on every tile.

    The featured source is the newest screen share, else the active speaker's camera, else whoever was
    featured last (so the picture does not jump when nobody speaks), else the first camera to arrive.
    With several ``rooms`` (a composite session) each has a region, composed so inside it from its own
    sources, speaker and shares, its name in a band at the top left; a room sending no video shows its
    name on the title card's black.
    """

    def __init__(
        self,
        fmt: MediaFormat,
        stats: MixerStats,
        class_name: str,
        camera_hold: float,
        font: LabelFont,
        rooms: Sequence[str] = (),
    ) -> None:
        self.fmt = fmt
        self.stats = stats
        self.class_name = class_name
        self.font = font
        self.rooms = list(rooms) or [class_name]
        "The classrooms' names, by room index; one room is the whole canvas, as before sessions."
        canvas = Rect(0, 0, fmt.width, fmt.height)
        self.regions = (
            [canvas]
            if len(self.rooms) == 1
            else [_inset(r, REGION_GUTTER) for r in layout.regions(fmt.width, fmt.height, len(self.rooms))]
        )
        "Where each room's tiles go (inside its region of the canvas, less the gutter)."
        self.camera_hold = camera_hold
        """A camera that sent nothing for this long leaves the picture; a screen stays until removed, as
        a still screen may send no frames at all."""
        self.next_index = 0
        self._sources: dict[SourceKey, _VideoSource] = {}
        self._names: dict[int, dict[int, str]] = {}
        "Display names by user id, by room."
        self._changes: list[_SpeakerChange] = []
        self._speaker: dict[int, int | None] = {}
        self._featured: dict[int, SourceKey | None] = {}
        self._sequence = 0
        self._order = 0
        self._horizon = -math.inf
        self._time_base = Fraction(1, fmt.fps)
        height, width = fmt.height, fmt.width
        self._canvas = np.empty((height * 3 // 2, width), dtype=np.uint8)
        flat = self._canvas.reshape(-1)
        self._y = flat[: width * height].reshape(height, width)
        self._u = flat[width * height : width * height * 5 // 4].reshape(height // 2, width // 2)
        self._v = flat[width * height * 5 // 4 :].reshape(height // 2, width // 2)
        self._idle: npt.NDArray[np.uint8] | None = None
        # A room without video: its region's luma (black, its name in the middle), by room.
        self._idle_regions: dict[int, Plane] = {}
        # Name bands ready to copy (black, the name lettered in), by name, room and size.
        self._bands: dict[tuple[str, int, int], Plane | None] = {}

    def add(self, key: SourceKey, frame: VideoFrame, t: float) -> None:
        if t <= self._horizon:
            self.stats.late_video_frames += 1
            return
        if t > self.next_index / self.fmt.fps + AudioMixer.MAX_AHEAD or not 0 <= key.room < len(self.rooms):
            self.stats.rejected_video_frames += 1
            return
        state = self._sources.get(key)
        if state is None:
            state = self._sources[key] = _VideoSource(key, self._order)
            self._order += 1
        if state.removed_at is not None and t >= state.removed_at:
            return
        if state.first_t is None or t < state.first_t:
            state.first_t = t
        self._sequence += 1
        bisect.insort(state.pending, (t, self._sequence, frame), key=lambda item: (item[0], item[1]))

    def remove(self, key: SourceKey, t: float) -> None:
        state = self._sources.get(key)
        if state is not None:
            state.removed_at = t
            state.pending = [item for item in state.pending if item[0] < t]

    def cut(self, t: float) -> None:
        """Forget every frame waiting to be shown from ``t`` on (a pause began at ``t``)."""
        for state in self._sources.values():
            state.pending = [item for item in state.pending if item[0] < t]

    def set_names(self, names: Mapping[int, str], room: int = 0) -> None:
        self._names[room] = dict(names)

    def set_active_speaker(self, user_id: int | None, t: float, room: int = 0) -> None:
        self._sequence += 1
        bisect.insort(self._changes, _SpeakerChange(t, self._sequence, user_id, room))

    def render(self, until: float) -> list[VideoFrame]:
        """Every output frame whose time is before ``until`` seconds."""
        frames = []
        while self.next_index / self.fmt.fps < until - 1e-9:
            frames.append(self._render_frame(self.next_index))
            self.next_index += 1
        return frames

    def _render_frame(self, index: int) -> VideoFrame:
        now = index / self.fmt.fps
        # A frame is shown by the output frame nearest its moment, so video is never off by more than half
        # an output frame.
        self._horizon = now + self.fmt.frame_duration / 2
        while self._changes and self._changes[0].t <= now:
            change = self._changes.pop(0)
            self._speaker[change.room] = change.user_id
        visible = self._advance_sources(now)
        if len(self.rooms) == 1:
            tiles = self._arrange(visible, 0)
            if tiles:
                self._clear()
                self._place(tiles, self.fmt.height)
                canvas = self._canvas
            else:
                canvas = self._idle_canvas()
        else:
            canvas = self._compose_rooms(visible)
        frame = VideoFrame.from_ndarray(canvas, format="yuv420p")
        frame.pts = index
        frame.time_base = self._time_base
        return frame

    def _advance_sources(self, now: float) -> list[_VideoSource]:
        visible = []
        for key, state in list(self._sources.items()):
            if state.removed_at is not None and now >= state.removed_at:
                del self._sources[key]
                continue
            taken = 0
            while taken < len(state.pending) and state.pending[taken][0] <= self._horizon:
                taken += 1
            if taken:
                state.current_t, _, state.current = state.pending[taken - 1]
                del state.pending[:taken]
            if state.current is None:
                continue
            if key.source != SCREEN and now - state.current_t > self.camera_hold:
                state.current, state.scaled = None, None
                continue
            visible.append(state)
        return visible

    def _arrange(self, visible: list[_VideoSource], room: int) -> list[tuple[Rect, _VideoSource]]:
        """The tiles of ``room``'s ``visible`` sources (all of them in the room) inside its region."""
        if not visible:
            self._featured[room] = None
            return []
        by_key = {state.key: state for state in visible}
        screens = [state for state in visible if state.key.source == SCREEN]
        speaker = self._speaker.get(room)
        speaker_camera = SourceKey(speaker, CAMERA, room) if speaker is not None else None
        last = self._featured.get(room)
        if screens:
            featured = max(screens, key=lambda state: (state.first_t or 0.0, state.order)).key
        elif speaker_camera in by_key:
            featured = speaker_camera
        elif last in by_key:
            featured = last
        else:
            featured = min(visible, key=lambda state: state.order).key
        self._featured[room] = featured
        others = sorted((state for state in visible if state.key != featured), key=lambda state: state.order)
        ordered = [by_key[featured], *others]
        rects = layout.arrange_in(self.regions[room], len(ordered))
        return list(zip(rects, ordered, strict=True))

    def _compose_rooms(self, visible: list[_VideoSource]) -> npt.NDArray[np.uint8]:
        """A session's canvas: each room's region composed from its sources, or its title card."""
        by_room: dict[int, list[_VideoSource]] = {}
        for state in visible:
            by_room.setdefault(state.key.room, []).append(state)
        if not by_room:
            for room in range(len(self.rooms)):
                self._featured[room] = None
            return self._idle_canvas()
        self._clear()
        for room, region in enumerate(self.regions):
            tiles = self._arrange(by_room.get(room, []), room)
            if tiles:
                self._place(tiles, region.height)
                self._room_label(region, self.rooms[room])
            else:
                self._idle_region(room)
        return self._canvas

    def _clear(self) -> None:
        self._y.fill(BLACK_Y)
        self._u.fill(NEUTRAL_CHROMA)
        self._v.fill(NEUTRAL_CHROMA)

    def _place(self, tiles: list[tuple[Rect, _VideoSource]], height: int) -> None:
        """Scale each tile's picture into it and letter its name; ``height`` is the region's (label sizes
        follow it)."""
        large = True
        for rect, state in tiles:
            box = rect if large else _inset(rect, STRIP_GUTTER)
            if box.width < 2 or box.height < 2:  # a canvas too small for this many
                large = False
                continue
            assert state.current is not None
            content = layout.fit(state.current.width, state.current.height, box)
            scaled = self._scaled(state, content)
            x, y, w, h = content.x, content.y, content.width, content.height
            self._y[y : y + h, x : x + w] = scaled.y
            self._u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = scaled.u
            self._v[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = scaled.v
            self._label(content, box, self._tile_name(state.key), large, height)
            large = False

    def _scaled(self, state: _VideoSource, content: Rect) -> _Scaled:
        cached = state.scaled
        assert state.current is not None
        if (
            cached is not None
            and cached.frame is state.current
            and (cached.width, cached.height) == (content.width, content.height)
        ):
            return cached
        w, h = content.width, content.height
        # threads=1: swscale would otherwise start a thread per core for every source, whose wake-ups
        # cost more than scaling a tile on the worker thread itself.
        picture = state.reformatter.reformat(
            state.current, width=w, height=h, format="yuv420p", interpolation=Interpolation.AREA, threads=1
        )
        flat = np.asarray(picture.to_ndarray(), dtype=np.uint8).reshape(-1)
        state.scaled = _Scaled(
            state.current,
            w,
            h,
            flat[: w * h].reshape(h, w),
            flat[w * h : w * h * 5 // 4].reshape(h // 2, w // 2),
            flat[w * h * 5 // 4 :].reshape(h // 2, w // 2),
        )
        return state.scaled

    def _tile_name(self, key: SourceKey) -> str:
        name = self._names.get(key.room, {}).get(key.user_id, "")
        if name and key.source == SCREEN:
            return f"{name} (screen)"
        return name

    def _label(self, content: Rect, box: Rect, name: str, large: bool, height: int) -> None:
        """The name in a black band at the bottom left of the picture, allowed to overhang into its tile."""
        size = layout.label_size(height, large)
        pad = max(2, size // 4)
        x = min(content.x + 2 * pad, box.x + box.width - 2)
        band = self._band(name, box.x + box.width - x - 2 * pad, size, pad)
        if band is None:
            return
        band_h, band_w = min(box.height, band.shape[0]), min(box.x + box.width - x, band.shape[1])
        y = max(box.y, content.y + content.height - band_h - 2 * pad)
        self._y[y : y + band_h, x : x + band_w] = band[:band_h, :band_w]
        self._u[y // 2 : (y + band_h) // 2, x // 2 : (x + band_w) // 2] = NEUTRAL_CHROMA
        self._v[y // 2 : (y + band_h) // 2, x // 2 : (x + band_w) // 2] = NEUTRAL_CHROMA

    def _room_label(self, region: Rect, name: str) -> None:
        """The classroom's name in a black band at the top left of its region (a session's canvas)."""
        size = layout.room_label_size(region.height)
        pad = max(2, size // 4)
        band = self._band(name, region.width - 2 * pad, size, pad)
        if band is None:
            return
        band_h, band_w = min(region.height, band.shape[0]), min(region.width, band.shape[1])
        x, y = region.x, region.y
        self._y[y : y + band_h, x : x + band_w] = band[:band_h, :band_w]
        self._u[y // 2 : (y + band_h) // 2, x // 2 : (x + band_w) // 2] = NEUTRAL_CHROMA
        self._v[y // 2 : (y + band_h) // 2, x // 2 : (x + band_w) // 2] = NEUTRAL_CHROMA

    def _idle_region(self, room: int) -> None:
        """``room``'s region as the title card: black, the classroom's name in the middle (made once)."""
        region = self.regions[room]
        luma = self._idle_regions.get(room)
        if luma is None:
            luma = np.full((region.height, region.width), BLACK_Y, np.uint8)
            self._title(luma, self.rooms[room], region.height)
            self._idle_regions[room] = luma
        x, y = region.x, region.y
        self._y[y : y + region.height, x : x + region.width] = luma

    def _title(self, luma: Plane, name: str, height: int) -> None:
        """``name`` (else "Aula") lettered in the middle of ``luma``, at the title's size for ``height``."""
        text = layout.clean(name) or "Aula"
        room = int(luma.shape[1] * 0.9)
        size = layout.title_size(height)
        natural = self.font.width(text, size)
        if natural > room:
            size = max(layout.MIN_SIZE, size * room // natural)
        alpha = self.font.label(text, room, size)
        if alpha is not None:
            text_h, text_w = min(alpha.shape[0], luma.shape[0]), min(alpha.shape[1], luma.shape[1])
            x, y = (luma.shape[1] - text_w) // 2, (luma.shape[0] - text_h) // 2
            luma[y : y + text_h, x : x + text_w] = _lettered(alpha[:text_h, :text_w])

    def _band(self, name: str, max_width: int, size: int, pad: int) -> Plane | None:
        key = (name, max_width, size)
        if key not in self._bands:
            alpha = self.font.label(layout.clean(name), max_width, size)
            band = None
            if alpha is not None:
                height, width = alpha.shape
                band = np.full((_even_up(height + 2 * pad), _even_up(width + 2 * pad)), BLACK_Y, np.uint8)
                band[pad : pad + height, pad : pad + width] = _lettered(alpha)
            if len(self._bands) >= LabelFont.CACHE_SIZE:
                self._bands.clear()
            self._bands[key] = band
        return self._bands[key]

    def _idle_canvas(self) -> npt.NDArray[np.uint8]:
        """Black with the class name in the middle: nobody is sending video (in a session, every room's
        region is its title card)."""
        if self._idle is None:
            self._clear()
            if len(self.rooms) == 1:
                self._title(self._y, self.class_name, self.fmt.height)
            else:
                for room in range(len(self.rooms)):
                    self._idle_region(room)
            self._idle = self._canvas.copy()
        return self._idle


def _lettered(alpha: Alpha) -> Plane:
    """Luma of text of coverage ``alpha`` on black: anti-aliased edges blend towards the black."""
    blended = BLACK_Y + (alpha.astype(np.uint16) * (TEXT_Y - BLACK_Y) + 127) // 255
    return blended.astype(np.uint8)


def _even_up(value: int) -> int:
    return (value + 1) // 2 * 2


def _inset(rect: Rect, margin: int) -> Rect:
    return Rect(rect.x + margin, rect.y + margin, rect.width - 2 * margin, rect.height - 2 * margin)


# -- both ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """Output of one render call, each list in time order."""

    video: list[VideoFrame]
    audio: list[AudioFrame]


class Mixer:
    """The classroom's sources in, one composed picture and one mixed sound out, on the recording clock.

    Not thread-safe: one thread owns it (``RecorderPipeline`` runs it on its worker).
    """

    def __init__(
        self,
        fmt: MediaFormat | None = None,
        class_name: str = "",
        camera_hold: float = 5.0,
        font: LabelFont | None = None,
        rooms: Sequence[str] = (),
    ) -> None:
        """``rooms``: the classrooms' names of a composite session, the first being ``class_name``'s own
        (empty: one classroom, ``class_name``); a source's ``SourceKey.room`` indexes them."""
        self.fmt = fmt or MediaFormat()
        self.stats = MixerStats()
        self.audio = AudioMixer(self.fmt, self.stats)
        self.video = VideoCompositor(
            self.fmt, self.stats, class_name, camera_hold, font or LabelFont(), rooms
        )

    @property
    def rendered(self) -> float:
        """Seconds of the recording clock already rendered (the video's next frame time)."""
        return self.video.next_index / self.fmt.fps

    def add_video(self, key: SourceKey, frame: VideoFrame, t: float) -> None:
        self.video.add(key, frame, t)

    def add_audio(self, key: SourceKey, frame: AudioFrame, t: float) -> None:
        self.audio.add(key, frame, t)

    def set_names(self, names: Mapping[int, str], room: int = 0) -> None:
        """Display names by user id in ``room``, drawn on their tiles from the next output frame."""
        self.video.set_names(names, room)

    def set_active_speaker(self, user_id: int | None, t: float | None = None, room: int = 0) -> None:
        """``room``'s active speaker from ``t`` on (default: from the next output frame); None keeps the
        picture."""
        self.video.set_active_speaker(user_id, self.rendered if t is None else t, room)

    def remove_source(self, key: SourceKey, t: float | None = None) -> None:
        """``key`` ended at ``t`` (a track ended, a screen share stopped)."""
        at = self.rendered if t is None else t
        self.video.remove(key, at)
        self.audio.remove(key, at)

    def cut(self, t: float) -> None:
        """Drop whatever is waiting to be rendered from ``t`` on: a pause began there, and frames stamped
        before the robot heard of it must not fill the file where the recording resumes."""
        self.video.cut(t)
        self.audio.cut(t)

    def render(self, until: float) -> Rendered:
        """Everything up to ``until`` seconds: video frames before it, audio frames ending by it."""
        return Rendered(self.video.render(until), self.audio.render(until))

    def finish(self, end: float) -> Rendered:
        """The rest up to ``end``, at least one video frame, and audio padded to cover the last of it."""
        end = max(end, self.fmt.frame_duration)
        video = self.video.render(end)
        return Rendered(video, self.audio.finish(self.video.next_index / self.fmt.fps))
