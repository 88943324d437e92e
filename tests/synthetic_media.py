"""Generated media for tests and benchmarks: a noisy video that keeps the encoder busy, and a tone."""

from __future__ import annotations

import asyncio
import fractions
import math
import os
import time

from aiortc import MediaStreamTrack
from av import AudioFrame, VideoFrame

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_SAMPLES = 960  # 20 ms


class SyntheticVideoTrack(MediaStreamTrack):
    """Moving noise: hard to compress, so the encoder really runs at its target bitrate."""

    kind = "video"

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        # Scrolling noise in luma keeps libvpx at its rate cap (1.5 Mbit/s for aiortc's
        # encoder at 640x480); chroma stays flat, as sharp chroma edges overshoot the cap 2.5x.
        self._luma = os.urandom(width * height * 2)
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._index / self.fps
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        size = self.width * self.height
        shift = (self._index * self.width * 3) % size
        frame = VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(self._luma[shift : shift + size])
        tint = 96 + (self._index // self.fps) % 64
        frame.planes[1].update(bytes([tint]) * frame.planes[1].buffer_size)
        frame.planes[2].update(bytes([224 - tint]) * frame.planes[2].buffer_size)
        frame.pts = self._index * VIDEO_CLOCK // self.fps
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._index += 1
        return frame


class SyntheticAudioTrack(MediaStreamTrack):
    """A 440 Hz tone, loud enough for the audio-level extension to mark a speaker."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: int = 8000) -> None:
        super().__init__()
        self._samples = 0
        self._start: float | None = None
        step = 2 * math.pi * frequency / AUDIO_RATE
        period = [int(amplitude * math.sin(step * i)) for i in range(AUDIO_RATE // 10)]
        self._pcm = b"".join(v.to_bytes(2, "little", signed=True) for v in period) * 2

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._samples / AUDIO_RATE
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        offset = (self._samples % (AUDIO_RATE // 10)) * 2
        frame = AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        frame.planes[0].update(self._pcm[offset : offset + AUDIO_SAMPLES * 2])
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._samples += AUDIO_SAMPLES
        return frame


class FlashingVideoTrack(MediaStreamTrack):
    """Black frames, then white frames for 200 ms from ``flash_at`` seconds after the first frame."""

    kind = "video"

    def __init__(
        self, start: float, flash_at: float, width: int = 320, height: int = 240, fps: int = 15
    ) -> None:
        super().__init__()
        self.start, self.flash_at, self.fps = start, flash_at, fps
        self.width, self.height = width, height
        self._index = 0

    async def recv(self) -> VideoFrame:
        t = self._index / self.fps
        await asyncio.sleep(max(0.0, self.start + t - time.time()))
        level = 235 if self.flash_at <= t < self.flash_at + 0.2 else 16
        frame = VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(bytes([level]) * frame.planes[0].buffer_size)
        frame.planes[1].update(bytes([128]) * frame.planes[1].buffer_size)
        frame.planes[2].update(bytes([128]) * frame.planes[2].buffer_size)
        frame.pts = self._index * VIDEO_CLOCK // self.fps
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._index += 1
        return frame


class BeepingAudioTrack(MediaStreamTrack):
    """Silence, then a 1 kHz beep for 200 ms from ``beep_at`` seconds; paced on the same ``start``."""

    kind = "audio"

    def __init__(self, start: float, beep_at: float) -> None:
        super().__init__()
        self.start, self.beep_at = start, beep_at
        self._samples = 0

    async def recv(self) -> AudioFrame:
        t = self._samples / AUDIO_RATE
        await asyncio.sleep(max(0.0, self.start + t - time.time()))
        first = round(self.beep_at * AUDIO_RATE)
        pcm = bytearray()
        for n in range(self._samples, self._samples + AUDIO_SAMPLES):
            on = first <= n < first + AUDIO_RATE // 5
            value = int(12000 * math.sin(2 * math.pi * 1000 * n / AUDIO_RATE)) if on else 0
            pcm += value.to_bytes(2, "little", signed=True)
        frame = AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        frame.planes[0].update(bytes(pcm))
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._samples += AUDIO_SAMPLES
        return frame
