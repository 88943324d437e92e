"""Recording a 4-person class: Aula's robot next to Janus's recorder plus the post-processing it needs.

    bench/netns.sh .venv/bin/python -m bench.recording_vs_janus            # 120 s of media each, ~14 min
    bench/netns.sh .venv/bin/python -m bench.recording_vs_janus --quick    # 30 s of media each, ~6 min
    bench/netns.sh .venv/bin/python -m bench.recording_vs_janus --systems aula,aula-tracks,aula-both

The same class for both systems, inside the loopback-only network namespace: four people, each its own
process (so their CPU is never the one measured), each with a synthetic 640x480 30 fps VP8 camera
(``tests.synthetic_media``'s scrolling noise, held at 1.5 Mbit/s by the server's REMB) and an Opus
microphone (a tone, one pitch per person). The systems run in turn, each with a fresh server. After a
warm-up, the server's CPU is read over a baseline window with everyone publishing and nothing recorded;
then the class is recorded for ``--seconds`` of media and stopped. CPU is CPU *time* from the kernel
(``/proc/<pid>/stat``, every thread; ``wait4`` for a finished child), never wall time.

- **Aula**: ``aula serve`` (started as ``bench/forwarding.py`` does), a teacher and three students
  publishing with :class:`recorder_bot.client.ClassroomClient` (they receive each other too, counted but not
  decoded: a browser's decoding is no server's cost). The teacher presses REC
  (``POST /api/classrooms/{id}/recording``) and Stop (``.../recording/stop``) over the HTTP API. The robot is
  the server's child process that holds the MP4 open (the standby robot the server keeps ready). Its CPU is
  read over the recording window, and its whole life (start-up as the standby, join, recording, finishing)
  from the server's reaped-children CPU (cutime + cstime) once the robot has exited (the server waits for
  that before Stop answers). The server's share is its CPU with REC on minus its baseline (it now also
  forwards the 8 sources to the robot), plus its CPU during the Stop call (probe, thumbnail). Stop to
  playable: the Stop call, which answers with the recording ``ready``.
- **Aula's recording modes** (``aula-tracks``, ``aula-both``): the same, measured by the same function,
  with REC's ``"mode": "tracks"`` or ``"both"``. Tracks mode writes each participant's own tracks (a
  ``.webm`` per camera and per microphone, in the recordings folder) and no MP4, decoding nothing: the
  robot is the child holding a track open, the media minutes are the recording's ``duration_ms`` (the
  robot's length, from the API), and every track is decoded with PyAV (:func:`inspect_tracks`); its CPU per
  track per media minute is its whole cost over its tracks. Both modes: the composite as above, plus the
  tracks. Their ratios to the composite are taken from the printed figures of the same run.
- **Janus** 1.1.2 (``bench/janus.py``: a private config, VideoRoom and HTTP transport only, its candidate on
  an ``ifb`` device): a VideoRoom with ``bitrate`` 1.5 Mbit/s and a ``rec_dir``, the same four people
  publishing. ``enable_recording`` starts one ``.mjr`` file per stream (8); Janus's CPU with recording on
  minus its baseline is its recording share. Stop: the people unpublish and leave, Janus closes the files
  (none left open in ``/proc/<janus>/fd``), and :class:`PostProcessing` runs what a school needs to get one
  file like the robot's (``janus-pp-rec`` per file, then one ``ffmpeg`` mix, see there). Stop to playable:
  from the unpublishing to the mixed MP4 written.

Per system: CPU while recording (% of one core), CPU seconds per media minute (recording plus finishing or
post-processing, over the output's length), Stop to playable, and the output opened with PyAV (streams,
length from its last packets, its last 3 s decoded after a seek, and every video frame decoded to see how
much of the picture shows people: see :func:`_pictures`). The ratios are Janus's figures over Aula's, and
the tracks and both modes over the composite; the targets: Aula cheaper per media minute, and playable
within 1 s of Stop. A run is flagged when a camera
fell under 90% of its rate (the machine starved the class) or an output shows nobody in more than 2% of
its frames (a recorder lost its inputs): such costs are not those of a complete recording.

What still differs: the robot lays out speaker and strip with names drawn (``recorder_bot/layout.py``), the
ffmpeg mix a plain 2x2 grid of the same size; ffmpeg's libx264 picks its own thread count where the robot's
writer uses one thread (a script would not limit it; threads spread the same work, they do not remove it).
The people's encoders share the machine's 2 cores with what is measured, so the table shows how busy the
machine was. As a library, :func:`run` returns the result dict that :func:`main` prints and writes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection

from bench import janus
from bench.children import Child, die_with_parent, serve, stdin_lines, tail
from bench.forwarding import Settings as ForwardingSettings
from bench.forwarding import _classroom, _server
from bench.measure import (
    CLOCK_TICKS,
    BenchError,
    MachineCpu,
    ProcessCpu,
    cpu_pressure_seconds,
    json_safe,
    machine,
    process_cpu_seconds,
    run_and_report,
    thread_cpu_seconds,
    thread_run_delay_seconds,
    utc_now,
)
from bench.peers import CountedVideoTrack, ReceivedVideo, video_codecs
from recorder_bot.client import ClassroomClient, RemoteSource
from tests.netns import only_loopback
from tests.synthetic_media import SyntheticAudioTrack

TARGET_READY_S = 1.0
SUSTAINED_SHARE = 0.9
"A run counts when every camera kept this share of its frame rate: below it, the machine starved the people."
TONES = (330.0, 440.0, 550.0, 660.0)
"One microphone tone per person, so the mixed audio holds distinct voices."


@dataclass(frozen=True)
class Settings:
    """One run's parameters (all recorded in the result)."""

    seconds: float = 120.0
    "Media recorded by each system."
    warmup: float = 10.0
    "Seconds of publishing before the baseline window, so every encoder has reached its rate."
    baseline: float = 20.0
    "Seconds of the server's CPU measured with everyone publishing and nothing recorded."
    people: int = 4
    "A teacher and three students; the ffmpeg mix's grid is 2x2, made for four."
    width: int = 640
    height: int = 480
    fps: int = 30
    bitrate: int = 1_500_000
    "Each camera's cap, sent as REMB by both servers (Aula's default max_video_bitrate)."
    setup_timeout: float = 60.0
    systems: tuple[str, ...] = ("aula", "aula-tracks", "aula-both", "janus")
    "Measured in this order, each with a fresh server: Aula's modes (:data:`MODES`) and Janus."
    keep: str | None = None
    "A folder to copy the output files to (aula.mp4, aula-both.mp4, the tracks, janus.mp4), to look at them."


QUICK = Settings(seconds=30.0, warmup=5.0, baseline=10.0)


# -- the publishers (child processes) ------------------------------------------------------------------------


class Publisher:
    """One person: a synthetic camera and microphone, publishing to Aula or to Janus.

    Against Aula the person also receives the others (the server sends every source to every seat);
    those tracks are counted but never decoded, as in ``bench.peers``: a browser's decoding is no
    server's cost, and on two shared cores it would only add contention.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.camera = CountedVideoTrack(config["width"], config["height"], config["fps"])
        self.microphone = SyntheticAudioTrack(config["tone"])
        self.client: ClassroomClient | None = None
        self.received: list[ReceivedVideo] = []
        self.http: aiohttp.ClientSession | None = None
        self.session: janus.JanusSession | None = None
        self.handle: janus.JanusHandle | None = None
        self.janus_pc: RTCPeerConnection | None = None

    @property
    def pc(self) -> RTCPeerConnection | None:
        return self.client.pc if self.client is not None else self.janus_pc

    async def start(self) -> None:
        if self.config["system"] == "aula":
            tracks = {"camera": self.camera, "microphone": self.microphone}
            self.client = ClassroomClient(
                self.config["url"], {"Cookie": self.config["cookie"]}, tracks, self._received
            )
            await self.client.connect()
            await self.client.join(self.config["classroom_id"])
            await self.client.start_media()
        else:
            self.janus_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            video = self.janus_pc.addTransceiver(self.camera, direction="sendonly")
            video.setCodecPreferences(video_codecs())
            self.janus_pc.addTransceiver(self.microphone, direction="sendonly")
            self.http = aiohttp.ClientSession()
            self.session = await janus.JanusSession.create(self.http, self.config["url"])
            feed = self.config["feed"]
            self.handle = await janus.publish(
                self.session, self.config["room"], self.janus_pc, feed, f"person{feed}"
            )

    def _received(self, source: RemoteSource) -> None:
        self.received.append(ReceivedVideo(source.receiver, decode=False))

    async def report(self) -> dict[str, Any]:
        pc = self.pc
        sent = {"video": 0, "audio": 0}
        for sender in [] if pc is None else pc.getSenders():
            if sender.track is None:
                continue
            for stats in (await sender.getStats()).values():
                if stats.type == "outbound-rtp":
                    sent[sender.track.kind] += stats.bytesSent
        return {
            "connected": pc is not None and pc.connectionState == "connected",
            "frames": self.camera.frames,
            "video_bytes_sent": sent["video"],
            "audio_bytes_sent": sent["audio"],
        }

    async def close(self) -> None:
        """Leave: against Janus, unpublish first, which is what makes Janus close this person's files."""
        for received in self.received:
            received.close()
        if self.client is not None:
            await self.client.close()
        if self.handle is not None:
            with contextlib.suppress(janus.JanusError, aiohttp.ClientError, TimeoutError):
                await self.handle.message({"request": "unpublish"})
        if self.session is not None:
            await self.session.destroy()
        if self.janus_pc is not None:
            await self.janus_pc.close()
        if self.http is not None:
            await self.http.close()


async def _peer() -> None:
    """The child's side: one JSON line of configuration, then one JSON report per line until stdin ends."""
    commands = await stdin_lines()
    await serve(Publisher(json.loads(await commands.readline())), commands)


class Person(Child):
    """The orchestrator's handle on one publisher process."""

    @classmethod
    async def start(cls, name: str, config: dict[str, Any], logs: Path) -> Person:
        command = [sys.executable, "-m", "bench.recording_vs_janus", "--peer"]
        return await cls.launch(name, command, config, logs)


async def _publishing(people: list[Person], within: float) -> list[dict[str, Any]]:
    """Wait until every person sends both video and audio; their reports."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        reports = await asyncio.gather(*(person.report() for person in people))
        if all(r["connected"] and r["video_bytes_sent"] > 0 and r["audio_bytes_sent"] > 0 for r in reports):
            return reports
        if asyncio.get_running_loop().time() > deadline:
            raise BenchError(f"not every person publishes: {reports}")
        await asyncio.sleep(0.5)


def _sent_rates(before: list[dict[str, Any]], after: list[dict[str, Any]], rate: int) -> dict[str, Any]:
    """The slowest camera's fps, mean video Mbit/s and audio kbit/s per person between two rounds of reports.

    ``sustained``: every camera kept :data:`SUSTAINED_SHARE` of ``rate``, i.e. the class was really there.
    """
    fps: list[float] = []
    video: list[float] = []
    audio: list[float] = []
    for a, b in zip(before, after, strict=True):
        dt = b["t"] - a["t"]
        fps.append((b["frames"] - a["frames"]) / dt)
        video.append(8e-6 * (b["video_bytes_sent"] - a["video_bytes_sent"]) / dt)
        audio.append(8e-3 * (b["audio_bytes_sent"] - a["audio_bytes_sent"]) / dt)
    return {
        "camera_fps_min": min(fps),
        "video_mbit_s_mean": sum(video) / len(video),
        "audio_kbit_s_mean": sum(audio) / len(audio),
        "sustained": min(fps) >= SUSTAINED_SHARE * rate,
    }


# -- reading processes ---------------------------------------------------------------------------------------


def _children_cpu_seconds(pid: int) -> float:
    """CPU time of the children ``pid`` has waited for (cutime + cstime): a reaped child's whole life."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as stat:
            if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _run_delay_seconds(pid: int) -> float:
    """Time the threads of ``pid`` alive now have spent ready to run but waiting for a CPU."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            total += thread_run_delay_seconds(pid, int(tid))
    return total


def _open_files(pid: int) -> list[str]:
    names = []
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                names.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return names


@dataclass(frozen=True)
class Reading:
    """One edge of a window: wall time, the measured process's CPU, the machine's."""

    time: float
    cpu: ProcessCpu
    machine: MachineCpu
    pressure: float

    @classmethod
    def take(cls, pid: int) -> Reading:
        return cls(time.monotonic(), ProcessCpu.read(pid), MachineCpu.read(), cpu_pressure_seconds())


def _window(before: Reading, after: Reading) -> dict[str, float]:
    elapsed = after.time - before.time
    return {
        "seconds": elapsed,
        "cpu_seconds": after.cpu.total - before.cpu.total,
        "cpu_percent": 100 * (after.cpu.total - before.cpu.total) / elapsed,
        "machine_busy_percent": after.machine.busy_percent_since(before.machine),
        "cpu_pressure_percent": 100 * (after.pressure - before.pressure) / elapsed,
    }


# -- the output file -----------------------------------------------------------------------------------------


def inspect(path: Path, tail: float = 3.0) -> dict[str, Any]:
    """What a player sees: the streams, the length (from the last packets), and the last seconds decoded.

    The file is demuxed to its end (a fragmented MP4 has no total duration in its header), then the last
    ``tail`` seconds of every stream are decoded: a file that plays to its end decodes there.
    """
    with av.open(str(path)) as container:
        streams: dict[int, dict[str, Any]] = {}
        for video in container.streams.video:
            context = video.codec_context
            streams[video.index] = {"type": "video", "codec": context.name}
            streams[video.index] |= {"width": context.width, "height": context.height}
        for audio in container.streams.audio:
            sound = audio.codec_context
            streams[audio.index] = {"type": "audio", "codec": sound.name}
            streams[audio.index] |= {"sample_rate": sound.sample_rate, "channels": sound.channels}
        ends: dict[int, float] = {}
        starts: dict[int, float] = {}
        for packet in container.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            at = float(packet.pts * packet.time_base)
            starts[packet.stream.index] = min(starts.get(packet.stream.index, at), at)
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            ends[packet.stream.index] = max(ends.get(packet.stream.index, 0.0), end)
    decoded: dict[str, int] = {}
    if ends:
        with av.open(str(path)) as container:
            end = max(ends.values())
            container.seek(int(max(0.0, end - tail) * av.time_base), any_frame=False)
            for frame in container.decode(*container.streams):
                if frame.time is not None and frame.time >= end - tail:
                    kind = "video" if isinstance(frame, av.VideoFrame) else "audio"
                    decoded[kind] = decoded.get(kind, 0) + 1
    duration = max(ends.values()) - min(starts.values()) if ends else 0.0
    for index, described in streams.items():
        described["seconds"] = ends.get(index, 0.0) - starts.get(index, 0.0)
    return {
        "file_mb": path.stat().st_size / 1e6,
        "duration_s": duration,
        "streams": [streams[index] for index in sorted(streams)],
        f"decoded_in_last_{tail:g}_s": decoded,
        "playable": decoded.get("video", 0) > 0 and decoded.get("audio", 0) > 0,
        **_pictures(path),
    }


BLOCK = 16
TEXTURED = 20.0
"A block whose luma spread (standard deviation) is above this shows a camera: the synthetic ones are noise."
NOBODY = 0.05
MOSTLY_SHOWN = 0.01
"An output counts as complete when at most this share of its frames after the first picture shows nobody."


def _pictures(path: Path) -> dict[str, Any]:
    """How much of the picture shows people, frame by frame: every video frame decoded.

    The cameras are luma noise, so a 16x16 block with a large luma spread is camera picture, and a flat one
    is background (the idle card's title and the name labels are a few blocks). A frame under 5% such
    blocks shows nobody (a title card, or black). ``first_picture_s``: when the first person appears (the
    robot's file starts before its first video arrives, Janus's with its first packet);
    ``frames_showing_nobody``: the share of the frames after that which show nobody, i.e. the recorder lost
    every camera; ``picture_share_mean``: the mean share of camera blocks over those frames. The layouts
    differ (speaker and strip; a 2x2 grid with side bars), so that share compares one file's frames with
    each other better than the two files: a tile that goes missing lowers it.
    """
    shares: list[float] = []
    with av.open(str(path)) as container:
        rate = float(container.streams.video[0].average_rate or 15)
        for frame in container.decode(video=0):
            luma = frame.to_ndarray(format="gray").astype(np.float32)
            rows, columns = luma.shape[0] // BLOCK, luma.shape[1] // BLOCK
            blocks = luma[: rows * BLOCK, : columns * BLOCK].reshape(rows, BLOCK, columns, BLOCK)
            shares.append(float((blocks.std(axis=(1, 3)) > TEXTURED).mean()))
    first = next((i for i, share in enumerate(shares) if share >= NOBODY), None)
    if first is None:
        return {
            "video_frames": len(shares),
            "first_picture_s": None,
            "picture_share_mean": 0.0,
            "frames_showing_nobody": 1.0,
            "seconds_showing_nobody": len(shares) / rate,
        }
    shown = shares[first:]
    nobody = sum(share < NOBODY for share in shown)
    return {
        "video_frames": len(shares),
        "first_picture_s": first / rate,
        "picture_share_mean": sum(shown) / len(shown),
        "frames_showing_nobody": nobody / len(shown),
        "seconds_showing_nobody": nobody / rate,
    }


def inspect_track(path: Path) -> dict[str, Any]:
    """One participant's track (tracks and both modes) as a player sees it: its stream, its length from
    its packets, and every packet decoded with PyAV. ``decodes``: frames came out and no packet failed."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        codec = stream.codec_context.name
        described: dict[str, Any] = {"file": path.name, "kind": stream.type, "codec": codec}
        start: float | None = None
        end = 0.0
        frames = failures = 0
        for packet in container.demux(stream):
            if packet.pts is not None and packet.time_base is not None:
                at = float(packet.pts * packet.time_base)
                start = at if start is None else min(start, at)
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            try:
                frames += len(packet.decode())
            except av.FFmpegError:
                failures += 1
    return described | {
        "bytes": path.stat().st_size,
        "seconds": end - start if start is not None else 0.0,
        "frames_decoded": frames,
        "packets_failing_to_decode": failures,
        "decodes": frames > 0 and failures == 0,
    }


def inspect_tracks(paths: Sequence[Path]) -> dict[str, Any]:
    """Every track file of a recording: how many, of which kinds, their bytes, whether each decodes."""
    tracks = [inspect_track(path) for path in paths]
    kinds: dict[str, int] = {}
    for track in tracks:
        key = f"{track['kind']} {track['codec']}"
        kinds[key] = kinds.get(key, 0) + 1
    return {
        "count": len(tracks),
        "kinds": kinds,
        "total_bytes": sum(track["bytes"] for track in tracks),
        "every_one_decodes": bool(tracks) and all(track["decodes"] for track in tracks),
        "shortest_s": min((track["seconds"] for track in tracks), default=0.0),
        "longest_s": max((track["seconds"] for track in tracks), default=0.0),
        "tracks": tracks,
    }


# -- Aula ----------------------------------------------------------------------------------------------------


MODES = {"aula": "composite", "aula-tracks": "tracks", "aula-both": "both"}
"Aula's systems: the REC body's ``mode`` each measures (the composite, per-participant tracks, both)."
LABELS = {
    "composite": "Aula: recorder robot (decode, mix, libx264 + AAC, fragmented MP4)",
    "tracks": "Aula, tracks mode: recorder robot (each participant's tracks copied to WebM, none decoded)",
    "both": "Aula, both modes: recorder robot (the composite MP4 and each participant's WebM tracks)",
}


def _robot(server_pid: int) -> int | None:
    """The server's robot process waiting for REC (the standby the server keeps), if it is there."""
    for pid in _children(server_pid):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if b"recorder_bot" in cmdline.read():
                return pid
    return None


def _recording_robot(server_pid: int, recordings: Path, suffixes: tuple[str, ...] = (".mp4",)) -> int | None:
    """The server's child that holds a file under ``recordings`` open (its MP4, or in tracks mode a
    track's ``.webm`` / ``.mp4``): the robot writing the recording."""
    for pid in _children(server_pid):
        if any(name.startswith(str(recordings)) and name.endswith(suffixes) for name in _open_files(pid)):
            return pid
    return None


def _keep(path: Path, settings: Settings, name: str) -> None:
    if settings.keep is not None:
        Path(settings.keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(settings.keep) / name)


async def _wait_for(what: str, condition: Callable[[], Awaitable[Any]], within: float) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while not (result := await condition()):
        if asyncio.get_running_loop().time() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
    return result


async def measure_aula(settings: Settings, logs: Path, system: str = "aula") -> dict[str, Any]:
    """A fresh ``aula serve``, four people publishing, the teacher's REC (in ``system``'s mode, see
    :data:`MODES`) and Stop over the HTTP API.

    Tracks mode writes no MP4: the robot is the child holding a track's file open, the media minutes are
    the recording's ``duration_ms`` (the robot's length, as the API gives it), and the output is the track
    files (``*.webm`` in the recordings folder), each decoded with PyAV. Both modes: the MP4 as for the
    composite, plus the tracks."""
    mode = MODES[system]
    admin_password = secrets.token_urlsafe(16)
    env = {"AULA_ADMIN_PASSWORD": admin_password, "AULA_LOG_FORMAT": "text"}
    people: list[Person] = []
    async with _server("aula", f"{system}-rec", logs, ForwardingSettings(), env) as server:
        server_pid = server.process.pid
        recordings = (logs / f"{system}-rec-data").resolve()
        try:
            classroom_id, teacher, students = await _classroom(
                server.url, admin_password, settings.people - 1
            )
            for i, cookie in enumerate([teacher, *students]):
                config = {
                    "system": "aula",
                    "url": server.url,
                    "cookie": cookie,
                    "classroom_id": classroom_id,
                    "width": settings.width,
                    "height": settings.height,
                    "fps": settings.fps,
                    "tone": TONES[i % len(TONES)],
                }
                people.append(await Person.start(f"aula-person{i}", config, logs))
            await _publishing(people, settings.setup_timeout)

            async def standby() -> int | None:
                return _robot(server_pid)

            robot = await _wait_for("the server's standby robot", standby, settings.setup_timeout)
            await asyncio.sleep(settings.warmup)
            opening = Reading.take(server_pid)
            await asyncio.sleep(settings.baseline)
            baseline = _window(opening, Reading.take(server_pid))

            async with aiohttp.ClientSession(headers={"Cookie": teacher}) as http:
                base = f"{server.url}/api/classrooms/{classroom_id}/recording"
                robot_before_rec = process_cpu_seconds(robot)
                reaped_before = _children_cpu_seconds(server_pid)
                pressed = Reading.take(server_pid)
                rec_body = {"name": "bench"} if mode == "composite" else {"name": "bench", "mode": mode}
                async with http.post(base, json=rec_body) as response:
                    if response.status != 201:
                        raise BenchError(f"REC: {response.status} {await response.text()}")

                async def recording() -> bool:
                    async with http.get(base) as response:
                        state = (await response.json())["recording"]["state"]
                    if state not in ("starting", "recording"):
                        raise BenchError(f"the recording is {state}")
                    return bool(state == "recording")

                await _wait_for("the recording to start", recording, settings.setup_timeout)
                recording_at = time.monotonic()
                # Tracks mode is "recording" once the robot has joined; its files open with the first
                # frames (video from a keyframe), so the robot is found by them a moment later.
                suffixes = (".webm", ".mp4") if mode == "tracks" else (".mp4",)

                async def holder() -> int | None:
                    return _recording_robot(server_pid, recordings, suffixes)

                recorder = await _wait_for(
                    "a robot process to hold the recording open", holder, settings.setup_timeout
                )
                started = Reading.take(server_pid)
                robot_started = ProcessCpu.read(recorder)
                loop_started = thread_cpu_seconds(recorder, recorder)
                waited_started = _run_delay_seconds(recorder)
                people_before = sum(person.cpu_seconds() for person in people)
                sent_before = await asyncio.gather(*(person.report() for person in people))
                await asyncio.sleep(settings.seconds)
                robot_stopping = ProcessCpu.read(recorder)
                loop_stopping = thread_cpu_seconds(recorder, recorder)
                waited_stopping = _run_delay_seconds(recorder)
                people_after = sum(person.cpu_seconds() for person in people)
                sent_after = await asyncio.gather(*(person.report() for person in people))
                stopping = Reading.take(server_pid)
                async with http.post(f"{base}/stop") as response:
                    stopped = Reading.take(server_pid)
                    body = await response.json()
                    if response.status != 200:
                        raise BenchError(f"Stop: {response.status} {body}")
                done = body["recording"]

                async def robot_gone() -> bool:
                    return recorder not in _children(server_pid)

                # The server waits for the robot's exit before Stop answers; should it ever answer
                # sooner, the robot's whole life is only in the server's children's CPU once it is reaped.
                await _wait_for("the robot to exit", robot_gone, settings.setup_timeout)
                reaped = _children_cpu_seconds(server_pid) - reaped_before
                listed: list[dict[str, Any]] = []
                if mode != "composite":
                    async with http.get(f"{server.url}/api/recordings/{done['id']}/tracks") as response:
                        if response.status != 200:
                            raise BenchError(f"tracks: {response.status} {await response.text()}")
                        listed = (await response.json())["tracks"]
            # The robot's log lines (its stderr is the server's): a VP8 frame that fails to decode is one
            # that arrived incomplete, and the picture waits for the next keyframe.
            robot_decode_failures = sum(
                "robot WARNING" in line and "failed to decode" in line
                for line in server.log.read_text(errors="replace").splitlines()
            )
            files = sorted(recordings.rglob("*.mp4"))
            track_files = sorted(recordings.rglob("*.webm"))
            if len(files) != (0 if mode == "tracks" else 1):
                raise BenchError(f"expected {0 if mode == 'tracks' else 1} MP4 file, found {files}")
            if mode != "composite" and len(track_files) != len(listed):
                raise BenchError(f"the API lists {len(listed)} tracks, the folder holds {track_files}")
        except BenchError as error:
            raise BenchError(f"aula: {error}\nserver log:\n{tail(server.log)}") from None
        finally:
            await asyncio.gather(*(person.stop() for person in people))
    if recorder != robot:
        raise BenchError(f"aula: the standby robot was {robot}, the recording one {recorder}")
    output = await asyncio.to_thread(inspect, files[0]) if files else None
    tracks = await asyncio.to_thread(inspect_tracks, track_files) if mode != "composite" else None
    if files:
        await asyncio.to_thread(_keep, files[0], settings, f"{system}.mp4")
    for track in track_files:
        await asyncio.to_thread(_keep, track, settings, f"{system}-{track.name}")
    window = _window(started, stopping)
    stop = _window(stopping, stopped)
    server_extra = window["cpu_percent"] - baseline["cpu_percent"]
    recording_span = stopping.time - pressed.time
    # The robot's whole life: start-up as the standby, join, record, finish. Its exit was waited for
    # by the server before Stop answered, so the kernel has added all of it to the server's children.
    robot_total = reaped
    server_share = max(0.0, server_extra) * recording_span / 100 + stop["cpu_seconds"]
    # The media's length: the composite file's, or (tracks mode, no file) the robot's, from the API.
    media_s = output["duration_s"] if output is not None else (done["duration_ms"] or 0) / 1000
    minutes = media_s / 60
    count = tracks["count"] if tracks is not None else 0
    per_minute = (robot_total + server_share) / minutes if minutes > 0 else math.nan
    return {
        "system": system,
        "mode": mode,
        "label": LABELS[mode],
        "recording_state": done["state"],
        "robot_duration_ms": done["duration_ms"],
        "recording_size_bytes": done["size_bytes"],
        "media_s": media_s,
        "output": output,
        "tracks": tracks,
        "tracks_count": count,
        "tracks_expected": 0 if mode == "composite" else 2 * settings.people,
        "tracks_listed": listed,
        "publishers": _sent_rates(sent_before, sent_after, settings.fps),
        "people_cpu_percent": 100 * (people_after - people_before) / window["seconds"],
        "baseline": baseline,
        "recording_window": window,
        "robot_cpu_percent": 100 * (robot_stopping.total - robot_started.total) / window["seconds"],
        "robot_user_percent": 100 * (robot_stopping.user - robot_started.user) / window["seconds"],
        # The robot's main thread runs its event loop: socket.io, ICE, SRTP, RTP and the jitter buffers of
        # every incoming stream, RTCP, and handing frames to the pipeline. The other threads decode (one
        # per incoming stream), mix, encode and write.
        "robot_loop_thread_cpu_percent": 100 * (loop_stopping - loop_started) / window["seconds"],
        # Ready to run but kept off a CPU, summed over its threads: a robot held back this way falls behind
        # its 0.4 s delay, and frames that come later than that are left out of the picture.
        "robot_waited_for_cpu_percent": 100 * (waited_stopping - waited_started) / window["seconds"],
        "server_cpu_percent": window["cpu_percent"],
        "server_extra_cpu_percent": server_extra,
        "recording_cpu_percent": 100 * (robot_stopping.total - robot_started.total) / window["seconds"]
        + max(0.0, server_extra),
        "robot_cpu_s_before_rec": robot_before_rec,
        "robot_cpu_s_whole_life": robot_total,
        "robot_cpu_s_after_stop": robot_total - (robot_stopping.total),
        "server_cpu_s_share": server_share,
        "stop_server_cpu_s": stop["cpu_seconds"],
        "stop_to_playable_s": stop["seconds"],
        "total_cpu_s": robot_total + server_share,
        "cpu_s_per_media_minute": per_minute,
        # Tracks mode only: the whole cost shared among the tracks written (both modes' is mostly the
        # composite's, compared with it in the run's ratios instead).
        "cpu_s_per_track_per_media_minute": per_minute / count if mode == "tracks" and count else None,
        "rec_to_recording_s": recording_at - pressed.time,
        "robot_vp8_decode_failures": robot_decode_failures,
    }


# -- Janus ---------------------------------------------------------------------------------------------------


ROOM = 1234
POSTPROCESS_TIMEOUT = 600.0
_FEED = re.compile(r"-user-(\d+)-")


def _open_recordings(pid: int, rec_dir: Path) -> list[str]:
    return [name for name in _open_files(pid) if name.startswith(str(rec_dir)) and name.endswith(".mjr")]


def mjr_header(mjr: Path) -> dict[str, Any]:
    """The JSON header of a Janus recording (``MJR00002``, a 16-bit big-endian length, the JSON).

    ``t`` is ``v`` or ``a``, ``c`` the codec, ``s`` when the file was created and ``u`` when its first
    packet was written (microseconds of real time). Read here rather than with ``janus-pp-rec -j``: a
    script needs only these bytes, and a process per file would cost more than reading them.
    """
    with mjr.open("rb") as recording:
        magic = recording.read(8)
        if magic != b"MJR00002":
            raise BenchError(f"{mjr.name}: not a Janus recording of the version 2 format ({magic!r})")
        length = int.from_bytes(recording.read(2), "big")
        header: dict[str, Any] = json.loads(recording.read(length))
    return header


def _feed_order(mjr: Path) -> tuple[int, str]:
    """Recordings by person (the feed id in Janus's file name), so the grid's tiles follow the feeds."""
    match = _FEED.search(mjr.name)
    return (int(match[1]) if match else 0, mjr.name)


class PostProcessing:
    """What a school runs after a Janus recording to get one file like the robot's, with its CPU time.

    Every ``.mjr`` becomes a playable file with ``janus-pp-rec`` (video → ``.webm``, audio → ``.opus``),
    as many at once as there are cores; each file's header gives the time its first packet was written,
    which aligns the people in the mix. Then one ``ffmpeg`` puts the videos
    in a 2x2 grid at 1280x720 and 15 fps, mixes the voices (``amix``) and encodes as the robot's writer
    does (libx264 ultrafast, zerolatency, CRF 26 capped at 1.5 Mbit/s with a 3 Mbit buffer, a keyframe
    every 2 s; AAC 96 kbit/s mono at 48 kHz; fragmented MP4 with a fragment a second). Each child's CPU time
    comes from ``wait4`` (its own rusage), so no other process of the benchmark is counted.
    """

    def __init__(self, rec_dir: Path, work: Path, settings: Settings) -> None:
        self.rec_dir = rec_dir
        self.work = work
        self.settings = settings
        self.log = work / "postprocessing.log"
        self.output = work / "class.mp4"
        self.cpu_seconds: dict[str, float] = {"convert": 0.0, "mix": 0.0}
        self.wall_seconds: dict[str, float] = {}
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._cancelled = False

    def _run(self, args: Sequence[str], step: str) -> bytes:
        """Run one tool to its end; its stdout. Its CPU time (user + system) is added to ``step``."""
        with self.log.open("ab") as log, self._lock:
            if self._cancelled:
                raise BenchError("post-processing cancelled")
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                preexec_fn=die_with_parent,
            )
            self._running.add(process)
        try:
            assert process.stdout is not None
            out = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        finally:
            with self._lock:
                self._running.discard(process)
        with self._lock:
            self.cpu_seconds[step] += usage.ru_utime + usage.ru_stime
        if process.returncode != 0:
            raise BenchError(f"{Path(args[0]).name} exited with {process.returncode}:\n{tail(self.log)}")
        return out

    def cancel(self) -> None:
        """Kill whatever runs now, and start nothing more (the benchmark was interrupted)."""
        with self._lock:
            self._cancelled = True
            for process in self._running:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()

    def _convert(self, mjr: Path) -> tuple[Path, float]:
        header = mjr_header(mjr)
        target = self.work / (mjr.stem + (".webm" if header["t"] == "v" else ".opus"))
        self._run(["janus-pp-rec", str(mjr), str(target)], "convert")
        first_written: float = header.get("u") or header["s"]
        return target, first_written / 1e6

    def run(self) -> dict[str, Any]:
        began = time.monotonic()
        recordings = sorted(self.rec_dir.glob("*.mjr"), key=_feed_order)
        if len(recordings) != 2 * self.settings.people:
            raise BenchError(f"expected {2 * self.settings.people} .mjr files, found {len(recordings)}")
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            converted = list(pool.map(self._convert, recordings))
        self.wall_seconds["convert"] = time.monotonic() - began
        videos = [(path, t) for path, t in converted if path.suffix == ".webm"]
        voices = [(path, t) for path, t in converted if path.suffix == ".opus"]
        if len(videos) != self.settings.people or len(voices) != self.settings.people:
            raise BenchError(f"expected {self.settings.people} videos and voices: {converted}")
        first = min(t for _, t in converted)
        inputs: list[str] = []
        for path, t in [*videos, *voices]:
            inputs += ["-itsoffset", f"{t - first:.3f}", "-i", str(path)]
        n = self.settings.people
        tiles = ";".join(
            f"[{i}:v]fps=15,scale=640:360:force_original_aspect_ratio=decrease,"
            f"pad=640:360:(ow-iw)/2:(oh-ih)/2,setsar=1[v{i}]"
            for i in range(n)
        )
        grid = "".join(f"[v{i}]" for i in range(n)) + f"xstack=inputs={n}:layout=0_0|w0_0|0_h0|w0_h0[v]"
        voices_in = "".join(f"[{n + i}:a]" for i in range(n)) + f"amix=inputs={n}:duration=longest[a]"
        mixing = time.monotonic()
        self._run(
            [
                "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *inputs,
                "-filter_complex", f"{tiles};{grid};{voices_in}", "-map", "[v]", "-map", "[a]",
                "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-crf", "26",
                "-maxrate", "1500k", "-bufsize", "3000k", "-g", "30", "-pix_fmt", "yuv420p", "-r", "15",
                "-c:a", "aac", "-b:a", "96k", "-ac", "1", "-ar", "48000",
                "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "1000000",
                str(self.output),
            ],
            "mix",
        )  # fmt: skip
        finished = time.monotonic()
        self.wall_seconds["mix"] = finished - mixing
        self.wall_seconds["total"] = finished - began
        return {
            "mjr_files": len(recordings),
            "mjr_mb": sum(p.stat().st_size for p in recordings) / 1e6,
            "parallel_conversions": os.cpu_count(),
            "start_offsets_s": [round(t - first, 3) for _, t in converted],
            "cpu_s": dict(self.cpu_seconds),
            "cpu_s_total": sum(self.cpu_seconds.values()),
            "wall_s": dict(self.wall_seconds),
        }


async def measure_janus(settings: Settings, logs: Path) -> dict[str, Any]:
    """A fresh Janus VideoRoom, the same four people publishing, recording on, then off and post-processed."""
    rec_dir = (logs / "janus-recordings").resolve()
    rec_dir.mkdir()
    work = logs / "janus-postprocessing"
    work.mkdir()
    people: list[Person] = []
    async with janus.running_janus(logs / "janus") as server, aiohttp.ClientSession() as http:
        pid = server.pid
        admin = await janus.JanusSession.create(http, server.url)
        try:
            room = await admin.attach()
            await janus.create_room(
                room, ROOM, settings.bitrate, publishers=settings.people, record=False, rec_dir=rec_dir
            )
            for i in range(settings.people):
                config = {
                    "system": "janus",
                    "url": server.url,
                    "room": ROOM,
                    "feed": i + 1,
                    "width": settings.width,
                    "height": settings.height,
                    "fps": settings.fps,
                    "tone": TONES[i % len(TONES)],
                }
                people.append(await Person.start(f"janus-person{i}", config, logs))
            await _publishing(people, settings.setup_timeout)
            await asyncio.sleep(settings.warmup)
            opening = Reading.take(pid)
            await asyncio.sleep(settings.baseline)
            baseline = _window(opening, Reading.take(pid))

            pressed = Reading.take(pid)
            await room.message({"request": "enable_recording", "room": ROOM, "record": True})

            async def recording() -> bool:
                return len(_open_recordings(pid, rec_dir)) == 2 * settings.people

            await _wait_for("Janus to open every recording", recording, settings.setup_timeout)
            started = Reading.take(pid)
            people_before = sum(person.cpu_seconds() for person in people)
            sent_before = await asyncio.gather(*(person.report() for person in people))
            await asyncio.sleep(settings.seconds)
            people_after = sum(person.cpu_seconds() for person in people)
            sent_after = await asyncio.gather(*(person.report() for person in people))
            stopping = Reading.take(pid)
            # Stop: everyone unpublishes and leaves; Janus closes each recording as its publisher goes,
            # and post-processing starts once every file is closed (the people's processes may still be
            # ending meanwhile).
            leaving = asyncio.ensure_future(asyncio.gather(*(person.stop() for person in people)))

            async def closed() -> bool:
                return not _open_recordings(pid, rec_dir)

            await _wait_for("Janus to close the recordings", closed, settings.setup_timeout)
            files_closed = Reading.take(pid)
            post = PostProcessing(rec_dir, work, settings)
            try:
                async with asyncio.timeout(POSTPROCESS_TIMEOUT):
                    processed = await asyncio.to_thread(post.run)
            except BaseException:
                post.cancel()
                raise
            playable_at = time.monotonic()
            await leaving
        except BenchError as error:
            raise BenchError(f"janus: {error}\nJanus log:\n{server.log_tail()}") from None
        finally:
            await asyncio.gather(*(person.stop() for person in people))
            await admin.destroy()
    output = await asyncio.to_thread(inspect, post.output)
    await asyncio.to_thread(_keep, post.output, settings, "janus.mp4")
    window = _window(started, stopping)
    closing = _window(stopping, files_closed)
    janus_extra = window["cpu_percent"] - baseline["cpu_percent"]
    recording_span = stopping.time - pressed.time
    janus_share = max(0.0, janus_extra) * recording_span / 100 + closing["cpu_seconds"]
    total = janus_share + processed["cpu_s_total"]
    whole = window["cpu_percent"] * recording_span / 100 + closing["cpu_seconds"] + processed["cpu_s_total"]
    minutes = output["duration_s"] / 60
    return {
        "system": "janus",
        "label": f"Janus {server.version} VideoRoom recording (.mjr) + janus-pp-rec + ffmpeg mix",
        "media_s": output["duration_s"],
        "output": output,
        "publishers": _sent_rates(sent_before, sent_after, settings.fps),
        "people_cpu_percent": 100 * (people_after - people_before) / window["seconds"],
        "baseline": baseline,
        "recording_window": window,
        "janus_cpu_percent": window["cpu_percent"],
        "janus_extra_cpu_percent": janus_extra,
        "recording_cpu_percent": max(0.0, janus_extra),
        "janus_cpu_s_closing": closing["cpu_seconds"],
        "janus_cpu_s_share": janus_share,
        "postprocessing": processed,
        "postprocessing_cpu_s": processed["cpu_s_total"],
        "stop_to_files_closed_s": closing["seconds"],
        "stop_to_playable_s": playable_at - stopping.time,
        "total_cpu_s": total,
        "cpu_s_per_media_minute": total / minutes if minutes > 0 else math.nan,
        "cpu_s_per_media_minute_whole_janus": whole / minutes if minutes > 0 else math.nan,
        "rec_to_recording_s": started.time - pressed.time,
    }


# -- the whole run -------------------------------------------------------------------------------------------


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0 or math.isnan(numerator):
        return None
    return numerator / denominator


PRINTED_DIGITS = 2
"CPU s per media minute as the table prints it; the modes' ratios are computed from these printed figures."


def _printed(value: float | None, digits: int = PRINTED_DIGITS) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def _modes(systems: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Tracks and both modes over the composite, measured side by side in this run: CPU s per media minute
    (from the printed figures), CPU while recording, and what the tracks add to the composite in both."""
    composite = systems.get("aula")
    if composite is None or not ({"aula-tracks", "aula-both"} & systems.keys()):
        return None
    base = _printed(composite["cpu_s_per_media_minute"])
    ratios: dict[str, Any] = {"composite_cpu_s_per_media_minute": base}
    for system, mode in (("aula-tracks", "tracks"), ("aula-both", "both")):
        measured = systems.get(system)
        if measured is None:
            continue
        figure = _printed(measured["cpu_s_per_media_minute"])
        ratios[mode] = {
            "cpu_s_per_media_minute": figure,
            "cpu_s_per_media_minute_over_composite": _ratio(figure, base),
            "recording_cpu_percent_over_composite": _ratio(
                _printed(measured["recording_cpu_percent"], 1),
                _printed(composite["recording_cpu_percent"], 1),
            ),
            "tracks": measured["tracks_count"],
        }
        count = measured["tracks_count"]
        if mode == "both" and figure is not None and base is not None and count:
            ratios[mode]["added_to_composite_cpu_s_per_track_per_media_minute"] = (figure - base) / count
    return ratios


def _comparison(systems: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Janus's figures over Aula's (above 1: Aula is cheaper or faster), the recording modes over the
    composite, and the targets."""
    aula, other = systems.get("aula"), systems.get("janus")
    outputs = [system["output"] for system in systems.values() if system.get("output") is not None]
    verdict: dict[str, Any] = {
        "every_class_sustained": all(system["publishers"]["sustained"] for system in systems.values()),
        "every_output_shows_people": all(
            output["frames_showing_nobody"] <= MOSTLY_SHOWN for output in outputs
        ),
    }
    if aula is not None:
        verdict["aula_ready_and_playable"] = aula["recording_state"] == "ready" and aula["output"]["playable"]
        verdict["aula_ready_within_target"] = aula["stop_to_playable_s"] < TARGET_READY_S
    for system in ("aula-tracks", "aula-both"):
        measured = systems.get(system)
        if measured is None:
            continue
        tracks = measured["tracks"]
        verdict[f"{measured['mode']}_ready_and_playable"] = (
            measured["recording_state"] == "ready"
            and (measured["output"] is None or measured["output"]["playable"])
            and tracks["every_one_decodes"]
            and tracks["count"] == measured["tracks_expected"]
        )
        verdict[f"{measured['mode']}_ready_within_target"] = measured["stop_to_playable_s"] < TARGET_READY_S
    modes = _modes(systems)
    if aula is None or other is None:
        return {"verdict": verdict} | ({"modes_over_composite": modes} if modes else {})
    verdict["janus_playable"] = other["output"]["playable"]
    verdict["aula_cheaper_per_media_minute"] = (
        aula["cpu_s_per_media_minute"] < other["cpu_s_per_media_minute"]
    )
    return {
        "janus_over_aula": {
            "cpu_s_per_media_minute": _ratio(other["cpu_s_per_media_minute"], aula["cpu_s_per_media_minute"]),
            "cpu_s_per_media_minute_whole_janus": _ratio(
                other["cpu_s_per_media_minute_whole_janus"], aula["cpu_s_per_media_minute"]
            ),
            "stop_to_playable_s": _ratio(other["stop_to_playable_s"], aula["stop_to_playable_s"]),
            "recording_cpu_percent": _ratio(other["recording_cpu_percent"], aula["recording_cpu_percent"]),
        },
        "verdict": verdict,
    } | ({"modes_over_composite": modes} if modes else {})


async def run(settings: Settings) -> dict[str, Any]:
    """Measure each system in turn, each with its own server and people, in a scratch folder."""
    if not only_loopback():
        raise BenchError("run it in the loopback-only network namespace: bench/netns.sh")
    started = utc_now()
    systems: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="aula-bench-rec-") as logs:
        for system in settings.systems:
            budget = settings.warmup + settings.baseline + 2 * settings.seconds + 3 * settings.setup_timeout
            async with asyncio.timeout(budget + POSTPROCESS_TIMEOUT):
                if system in MODES:
                    measured = await measure_aula(settings, Path(logs), system)
                else:
                    measured = await measure_janus(settings, Path(logs))
                systems[system] = json_safe(measured)
            print(_row(systems[system]), file=sys.stderr, flush=True)
    result: dict[str, Any] = json_safe(
        {
            "benchmark": "recording-vs-janus",
            "started_at": started,
            "finished_at": utc_now(),
            "machine": machine(ffmpeg=_first_line(["ffmpeg", "-version"])),
            "settings": asdict(settings),
            "targets": {"aula_cheaper_per_media_minute": True, "aula_stop_to_playable_max_s": TARGET_READY_S},
            "systems": systems,
            **_comparison(systems),
        }
    )
    return result


def _first_line(args: list[str]) -> str:
    out = subprocess.run(args, capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else ""


# -- output --------------------------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _output(output: dict[str, Any]) -> str:
    streams = ", ".join(
        f"{s['codec']} {s['width']}x{s['height']}"
        if s["type"] == "video"
        else f"{s['codec']} {s['channels']} ch"
        for s in output["streams"]
    )
    plays = "plays to its end" if output["playable"] else "does NOT play to its end"
    nobody = 100 * output["frames_showing_nobody"]
    return (
        f"{_f(output['duration_s'])} s, {streams}, {_f(output['file_mb'])} MB, {plays}; "
        f"first person at {_f(output['first_picture_s'])} s, then nobody in {_f(nobody)}% of frames "
        f"({_f(output['seconds_showing_nobody'])} s), "
        f"picture share {_f(100 * output['picture_share_mean'], 0)}%"
    )


def _tracks(tracks: dict[str, Any]) -> str:
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(tracks["kinds"].items()))
    decodes = "every one decodes" if tracks["every_one_decodes"] else "NOT every one decodes"
    return (
        f"{tracks['count']} tracks ({kinds}), {_f(tracks['total_bytes'] / 1e6)} MB, {decodes} "
        f"(PyAV, every packet), {_f(tracks['shortest_s'])} to {_f(tracks['longest_s'])} s"
    )


COLUMNS = (
    "system",
    "while recording, % of one core",
    "of it",
    "after Stop, CPU s",
    "**CPU s per media minute**",
    "tracks",
    "**CPU s per track per media minute**",
    "**Stop to playable, s**",
    "output (PyAV)",
    "slowest camera, fps",
    "people's processes % / machine busy % / CPU pressure %",
)


def _row(s: dict[str, Any]) -> str:
    window = s["recording_window"]
    if s["system"] in MODES:
        of_it = (
            f"robot {_f(s['robot_cpu_percent'])} (event loop {_f(s.get('robot_loop_thread_cpu_percent'))}) "
            f"+ server {s['server_extra_cpu_percent']:+.1f} "
            f"({_f(s['baseline']['cpu_percent'])} → {_f(s['server_cpu_percent'])})"
        )
        after = f"robot {_f(s['robot_cpu_s_after_stop'], 2)} + server {_f(s['stop_server_cpu_s'], 2)}"
        if s.get("robot_waited_for_cpu_percent") is not None:
            of_it += f"; robot waited for a CPU {_f(s['robot_waited_for_cpu_percent'])}%"
        state = s["recording_state"]
        output = "no MP4 (tracks only)" if s["output"] is None else _output(s["output"])
        if s.get("tracks") is not None:
            output += f"; {_tracks(s['tracks'])}; robot's length {_f(s['robot_duration_ms'] / 1000)} s"
    else:
        of_it = (
            f"Janus {s['janus_extra_cpu_percent']:+.1f} "
            f"({_f(s['baseline']['cpu_percent'])} → {_f(s['janus_cpu_percent'])})"
        )
        cpu = s["postprocessing"]["cpu_s"]
        after = (
            f"Janus {_f(s['janus_cpu_s_closing'], 2)} + janus-pp-rec {_f(cpu['convert'], 2)} "
            f"+ ffmpeg {_f(cpu['mix'], 2)}"
        )
        state = "mixed"
        output = _output(s["output"])
    per_track = s.get("cpu_s_per_track_per_media_minute")
    cells = [
        s["system"],
        _f(s["recording_cpu_percent"]),
        of_it,
        after,
        f"**{_f(s['cpu_s_per_media_minute'], PRINTED_DIGITS)}**",
        str(s["tracks_count"]) if s.get("tracks_count") else "-",
        "-" if per_track is None else f"**{_f(per_track, 3)}**",
        f"**{_f(s['stop_to_playable_s'], 2)}**",
        f"{state}: {output}",
        f"{_f(s['publishers']['camera_fps_min'])}{'' if s['publishers']['sustained'] else ' (starved)'}",
        f"{_f(s['people_cpu_percent'], 0)} / {_f(window['machine_busy_percent'], 0)} / "
        f"{_f(window['cpu_pressure_percent'], 0)}",
    ]
    return "| " + " | ".join(cells) + " |"


def table(result: dict[str, Any]) -> str:
    """The result as Markdown: one row per system, then the ratios against the targets."""
    rows = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    rows += [_row(system) for system in result["systems"].values()]
    lines = ["\n".join(rows), ""]
    settings = result["settings"]
    aula, other = result["systems"].get("aula"), result["systems"].get("janus")
    ratios = result.get("janus_over_aula")
    verdict = result["verdict"]

    def met(flag: bool | None) -> str:
        return "n/a" if flag is None else "met" if flag else "MISSED"

    if not verdict["every_class_sustained"]:
        lines.append(
            f"- **Not a valid comparison**: a camera fell under {SUSTAINED_SHARE:.0%} of "
            f"{settings['fps']} fps, so the machine starved the class; run it again on a quieter machine."
        )
    if not verdict["every_output_shows_people"]:
        lines.append(
            f"- **An output lost its picture**: after its first picture, more than {MOSTLY_SHOWN:.0%} of its "
            "frames show nobody "
            "(see the output column; for Aula, the robot's VP8 decode failures: "
            f"{aula['robot_vp8_decode_failures'] if aula else 'n/a'}), so its costs are not those of a "
            "complete recording."
        )
    if ratios is not None and aula is not None and other is not None:
        lines.append(
            f"- Janus + post-processing over Aula: **{_f(ratios['cpu_s_per_media_minute'], 2)}x the CPU per "
            f"media minute** ({_f(ratios['cpu_s_per_media_minute_whole_janus'], 2)}x counting the whole "
            f"Janus process while recording, {_f(other['cpu_s_per_media_minute_whole_janus'], 2)} CPU s), "
            f"**{_f(ratios['stop_to_playable_s'], 1)}x the time from Stop to a playable file** "
            f"({_f(other['stop_to_playable_s'], 2)} s against {_f(aula['stop_to_playable_s'], 2)} s; "
            f"post-processing {_f(other['postprocessing']['wall_s']['total'], 2)} s of it)."
        )
    if aula is not None:
        lines.append(
            f"- Targets for Aula: cheaper than Janus + post-processing per media minute: "
            f"{met(verdict.get('aula_cheaper_per_media_minute'))}; Stop to playable under "
            f"{TARGET_READY_S:g} s: {met(verdict['aula_ready_within_target'])} (state "
            f"{aula['recording_state']}, robot's length {_f(aula['robot_duration_ms'] / 1000)} s)."
        )
    measured = result["systems"]
    modes = result.get("modes_over_composite")
    if modes is not None:
        said = []
        if "tracks" in modes:
            t = modes["tracks"]
            said.append(
                f"tracks mode **{_f(t['cpu_s_per_media_minute_over_composite'], 2)}x the composite's CPU per "
                f"media minute** ({_f(t['cpu_s_per_media_minute'], 2)} against "
                f"{_f(modes['composite_cpu_s_per_media_minute'], 2)} CPU s, i.e. "
                f"{_f(measured['aula-tracks']['cpu_s_per_track_per_media_minute'], 3)} per track per media "
                f"minute over its {t['tracks']} tracks; {_f(t['recording_cpu_percent_over_composite'], 2)}x "
                "its CPU while recording)"
            )
        if "both" in modes:
            b = modes["both"]
            said.append(
                f"both modes **{_f(b['cpu_s_per_media_minute_over_composite'], 2)}x** "
                f"({_f(b['cpu_s_per_media_minute'], 2)} CPU s; its {b['tracks']} tracks add "
                f"{_f(b.get('added_to_composite_cpu_s_per_track_per_media_minute'), 3)} CPU s per track per "
                f"media minute to the composite; {_f(b['recording_cpu_percent_over_composite'], 2)}x its CPU "
                "while recording)"
            )
        standby = ", ".join(
            f"{name} {_f(measured[name]['robot_cpu_s_before_rec'], 2)}" for name in MODES if name in measured
        )
        lines.append(
            "- Recording modes side by side in this run (the same class, a fresh server each; ratios from "
            f"the printed figures): {'; '.join(said)}. Every mode's whole cost includes the robot's start-up "
            f"as the standby, CPU s before REC: {standby}."
        )
    for system, title in (("aula-tracks", "Tracks mode"), ("aula-both", "Both modes")):
        if system in measured:
            mode = measured[system]["mode"]
            lines.append(
                f"- {title}: ready with all {measured[system]['tracks_expected']} tracks "
                f"written and each decoding{' and its MP4 playing' if mode == 'both' else ''}: "
                f"{met(verdict.get(f'{mode}_ready_and_playable'))}; "
                f"Stop to ready under {TARGET_READY_S:g} s: "
                f"{met(verdict.get(f'{mode}_ready_within_target'))} "
                f"({_f(measured[system]['stop_to_playable_s'], 2)} s)."
            )
    lines += [
        f"- {settings['people']} people, each a {settings['width']}x{settings['height']} "
        f"{settings['fps']} fps VP8 camera capped at {settings['bitrate'] / 1e6:g} Mbit/s and an Opus tone; "
        f"{_f(settings['seconds'], 0)} s recorded by each system in turn.",
        "- While recording: the robot process's CPU over the window (of it, its event-loop thread: "
        "signalling, ICE, SRTP, RTP and jitter buffers, RTCP), plus the server's CPU with REC on minus "
        "its CPU with the same people and no recording (the baseline window); for Janus, its process's CPU "
        "with recording on minus off. 'Waited for a CPU': the robot's threads ready to run but kept off a "
        "CPU, summed (schedstat). CPU s per media minute: the robot's whole life (start-up as the "
        "standby, join, record, finish) and the server's extra, or Janus's extra and every post-processing "
        "child's CPU (wait4), over the output file's length.",
        "- Stop to playable: Aula, the Stop call (it answers once the recording is ready: file finished, "
        "probed, thumbnail made); Janus, from the people unpublishing to the mixed MP4 written. Both files "
        "are then opened with PyAV, demuxed to the end, their last 3 s decoded after a seek, and every "
        "video frame decoded: a frame under 5% camera texture shows nobody (title card or black); picture "
        "share: the mean share of camera texture after the first picture (the layouts differ).",
        "- Tracks (aula-tracks: REC's mode tracks; aula-both: both): the robot's `.webm` files in the "
        "recordings folder, as many as `GET /api/recordings/{id}/tracks` lists, every packet decoded with "
        "PyAV. Tracks mode writes no MP4: its media minutes are the recording's `duration_ms` (the robot's "
        "length) and its CPU per track per media minute is its whole cost (robot's whole life + server's "
        "share) over its tracks. The robot decodes nothing in tracks mode, yet still receives every source "
        "(ICE, SRTP, RTP, jitter buffers) and starts as the standby.",
        "- Over the recording window: the four people's processes (% of one core: encoding, and for Aula "
        "receiving each other), the whole machine's busy share (100 = both cores) and its CPU pressure "
        "(share of the window in which some task waited for a CPU): they run on the same 2 cores.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list == ["--peer"]:
        asyncio.run(_peer())
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s of media, shorter warm-up and baseline")
    parser.add_argument("--seconds", type=float, help="media seconds recorded by each system (120)")
    parser.add_argument(
        "--systems", help="comma-separated, measured in this order (aula,aula-tracks,aula-both,janus)"
    )
    parser.add_argument("--keep", type=Path, help="copy the output files to this folder")
    parser.add_argument(
        "--out", type=Path, help="JSON path (default bench/results/recording-vs-janus-<date>.json)"
    )
    args = parser.parse_args(args_list)
    settings = QUICK if args.quick else Settings()
    if args.seconds is not None:
        settings = dataclasses.replace(settings, seconds=args.seconds)
    if args.keep is not None:
        settings = dataclasses.replace(settings, keep=str(args.keep))
    if args.systems:
        systems = tuple(name.strip() for name in args.systems.split(",") if name.strip())
        known = (*MODES, "janus")
        if not systems or not set(systems) <= set(known) or len(set(systems)) != len(systems):
            parser.error(f"--systems takes distinct names among {', '.join(known)}: {args.systems!r}")
        settings = dataclasses.replace(settings, systems=systems)
    return run_and_report(
        "recording-vs-janus", lambda: asyncio.run(run(settings)), table, args.out, "every process was stopped"
    )


if __name__ == "__main__":
    sys.exit(main())
