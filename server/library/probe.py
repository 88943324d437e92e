"""What is in a recording file: whether it plays, how long it is, and a thumbnail. Runs in a thread."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import av
import av.error


@dataclass(frozen=True)
class Probe:
    playable: bool
    duration_ms: int
    has_video: bool
    has_audio: bool
    detail: str = ""


def _probe(path: Path, whole: bool) -> Probe:
    """Open the file and decode its first video frame; with ``whole``, demux it all to find its length.

    A fragmented MP4 cut by a crash has no total duration in its header: only its last packet tells it.
    """
    try:
        with av.open(str(path)) as container:
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            ends: dict[int, float] = {}
            decoded = False
            for packet in container.demux():
                if packet.pts is None or packet.time_base is None:
                    continue
                finish = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                ends[packet.stream.index] = max(ends.get(packet.stream.index, 0.0), finish)
                if not decoded and video is not None and packet.stream is video:
                    decoded = bool(packet.decode())
                if decoded and not whole:
                    break
            if video is not None and not decoded:
                return Probe(False, 0, True, audio is not None, "no decodable video frame")
            # The video's end is the recording's length (AAC adds encoder padding at the end).
            end = ends.get(video.index, 0.0) if video is not None else max(ends.values(), default=0.0)
            return Probe(end > 0 or decoded, int(end * 1000), video is not None, audio is not None)
    except (OSError, av.error.FFmpegError) as exc:
        return Probe(False, 0, False, False, f"{type(exc).__name__}: {exc}")


async def probe(path: Path, whole: bool = True) -> Probe:
    return await asyncio.to_thread(_probe, path, whole)


def _thumbnail(path: Path, out: Path, at_seconds: float, width: int) -> bool:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            chosen = None
            for frame in container.decode(stream):
                chosen = frame
                if frame.time is not None and frame.time >= at_seconds:
                    break
            if chosen is None:
                return False
            height = max(2, int(chosen.height * width / chosen.width) // 2 * 2)
            small = chosen.reformat(width=width, height=height, format="yuvj420p")
            with av.open(str(out), "w", format="image2") as image:
                encoder = image.add_stream("mjpeg")
                encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
                small.pts = None
                for packet in encoder.encode(small):
                    image.mux(packet)
                for packet in encoder.encode(None):
                    image.mux(packet)
            return True
    except (OSError, IndexError, av.error.FFmpegError):
        return False


async def thumbnail(path: Path, out: Path, at_seconds: float = 2.0, width: int = 320) -> bool:
    """A JPEG of the frame at ``at_seconds`` (or the last one before the end)."""
    return await asyncio.to_thread(_thumbnail, path, out, at_seconds, width)
