"""Class capacity: one teacher, fifty students and the recorder robot on one Aula server.

    bench/netns.sh .venv/bin/python -m bench.capacity            # the full class: 50 students, 30 s window
    bench/netns.sh .venv/bin/python -m bench.capacity --quick    # a smoke version: 10 students, 10 s

The scenario is a real lesson. A fresh server (``aula serve``, own data dir) and a classroom made through
the HTTP API. The teacher publishes a synthetic 640x480 30 fps VP8 camera (scrolling luma noise that holds
aiortc's encoder at the server's 1.5 Mbit/s cap) and a 440 Hz Opus microphone, then presses REC
(``POST /api/classrooms/{id}/recording``), so the server starts its recorder robot, which joins, decodes
every source and writes one fragmented MP4. Then the students arrive, staggered at ``--join-rate`` per
second, each a :class:`recorder_bot.client.ClassroomClient` (the page's socket.io protocol) publishing a
microphone only and receiving the teacher's camera and everyone's microphones. As in a real class most
students are silent: ``--speakers`` of them send a tone; the others, by ``--silent``, either send nothing
on their published microphone (``paused``, the default: what the page does when muted, it takes the track
off its m-line, and the server gives the others no leg for a source that never sent a packet) or
Opus-coded digital silence at 50 packets/s (``silence``: what a muted ``track.enabled = false`` track
would send without Opus DTX, which the server would forward to every participant: N^2 audio legs).
Students run ``--per-process`` to a child process
(``bench/students.py``), the teacher in its own, so no client CPU is counted as the server's; see that
module for how received media is counted (complete encoded frames where aiortc hands them to the decoder;
only ``--decoders`` students decode the video, none decodes audio).

Measured:

- **Join to first frame**, per student: from the moment it starts joining (socket.io connect) to its first
  complete teacher video frame (encoded, handed to the decoder), on the machine's monotonic clock.
  p50 / p95 / max over the class, and the signalling part of it (connect, ``join``, ``media_join`` and the
  first answer acknowledged); the join rate achieved is reported beside the one asked for. A join the
  client library gives up on (its 10 s acknowledgement timeout) is reported, not fatal: that student
  ranks as "never" in the percentiles and the class goes on without it.
- **Server and robot CPU**: after every student has video and a warm-up, over a fixed window, CPU *time*
  (utime + stime from ``/proc/<pid>/stat``, every thread) of the ``aula serve`` process and, apart, of the
  robot (the server's child process that holds the recording file open), in % of one core. The server's
  CPU and loop lag while the class was joining are reported too, and for both phases how long the server's
  event-loop thread was ready to run but waiting for a CPU (``schedstat``): high, the machine was too
  busy to give the server what it asked for, and its lag and the students' frame rates say more about
  the machine than about the server. The clients are not free: on two cores 50 aiortc receivers (about
  3% of a core each), the teacher's encoder and the robot compete with the server.
- **Event-loop lag** p99 of the server over the window, from its ``aula_event_loop_lag_seconds`` histogram
  (a bucket bound: "at most"), beside an idle probe process's own lag (``bench/peers.py``), which tells the
  machine's share of a spike.
- **What the students got** over the window: teacher video fps (min / mean), decoded fps of the decoding
  ones, audio packets per second against what the class's sending microphones make (50 per second each),
  packet loss; the machine's busy share (all cores, every process) and CPU pressure (Linux PSI).
- **The recording**: stopped after the window (``POST .../recording/stop``, which answers once it is
  ready), then opened with PyAV: its streams, its length, every video frame decoded.

Targets: server under one core, loop lag p99 under 20 ms, join-to-first-frame p95 under 700 ms. As a
library, :func:`run` returns the result dict that :func:`main` prints as Markdown and writes as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import av
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from bench.children import spawn, tail
from bench.forwarding import LOOP_LAG, Peers, _classroom, _server, _split
from bench.forwarding import Settings as ForwardingSettings
from bench.measure import (
    BenchError,
    Histogram,
    MachineCpu,
    ProcessCpu,
    cpu_pressure_seconds,
    json_safe,
    machine,
    run_and_report,
    thread_run_delay_seconds,
    utc_now,
    within,
)
from bench.students import SILENT_MODES
from tests.netns import only_loopback

TARGET_SERVER_CPU = 100.0  # % of one core
TARGET_LOOP_LAG_P99 = 0.020  # seconds
TARGET_FIRST_FRAME_P95 = 0.700  # seconds
AUDIO_PACKETS_PER_S = 50  # one Opus packet per 20 ms
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Settings:
    """One run's parameters (all recorded in the result)."""

    students: int = 50
    window: float = 30.0
    warmup: float = 10.0
    join_rate: float = 5.0
    "Students starting to join per second, across all client processes."
    per_process: int = 10
    "Students per client process."
    speakers: int = 2
    "Students whose microphone sends a tone (the first to join)."
    silent: str = "paused"
    "What the other students' microphones send: nothing (paused) or Opus silence at 50 packets/s."
    decoders: int = 2
    "Students that also decode the teacher's video."
    width: int = 640
    height: int = 480
    fps: int = 30
    setup_timeout: float = 60.0


QUICK = {"students": 10, "window": 10.0, "warmup": 5.0}


# -- processes ----------------------------------------------------------------------------------------------


async def _start_child(name: str, logs: Path) -> Peers:
    """A ``bench.students`` child, once it has loaded its libraries (it says so before its configuration)."""
    log = logs / f"{name}.log"
    process = await spawn([sys.executable, "-m", "bench.students"], log)
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT)
    except TimeoutError:
        line = b""
    child = Peers(name, process, log)
    if not line:
        await child.stop()
        raise BenchError(f"{name} did not start:\n{tail(log)}")
    return child


async def _configure(child: Peers, config: dict[str, Any]) -> None:
    assert child.process.stdin is not None
    child.process.stdin.write(json.dumps(config).encode() + b"\n")
    await child.process.stdin.drain()


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _robot_pid(server_pid: int, data_dir: Path) -> int | None:
    """The server's child that holds an MP4 file of the server's data dir open: the recording robot.

    The server also keeps a warm robot waiting for the next REC, a child too, which holds no file.
    """
    for child in _children_of(server_pid):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{child}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = Path(os.readlink(fd))
                    if target.suffix == ".mp4" and target.is_relative_to(data_dir):
                        return child
    return None


# -- the recording ------------------------------------------------------------------------------------------


async def _recording_call(
    http: aiohttp.ClientSession, method: str, url: str, cookie: str, expect: int
) -> dict[str, Any]:
    async with http.request(method, url, headers={"Cookie": cookie}, json={}) as response:
        if response.status != expect:
            raise BenchError(f"{method} {url}: {response.status} {await response.text()}")
        body: dict[str, Any] = await response.json()
        return body


def probe_recording(path: Path) -> dict[str, Any]:
    """The file as a player sees it: streams, container length, and every video frame decoded."""
    with av.open(str(path)) as container:
        streams = []
        for stream in container.streams:
            described: dict[str, Any] = {"type": stream.type, "codec": stream.codec_context.name}
            if isinstance(stream, VideoStream):
                described["size"] = f"{stream.codec_context.width}x{stream.codec_context.height}"
            elif isinstance(stream, AudioStream):
                described["sample_rate"] = stream.codec_context.sample_rate
            streams.append(described)
        container_s = container.duration / av.time_base if container.duration else math.nan
        frames = 0
        first = last = math.nan
        for frame in container.decode(video=0):
            if frame.time is not None:
                first = frame.time if frames == 0 else first
                last = frame.time
            frames += 1
    return {
        "size_bytes": path.stat().st_size,
        "streams": streams,
        "container_duration_s": container_s,
        "video_frames_decoded": frames,
        "video_span_s": last - first,
    }


# -- one run ------------------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Everything read at one edge of a window."""

    time: float
    server_cpu: ProcessCpu
    server_run_delay: float
    "How long the server's event-loop thread has waited for a CPU while ready to run."
    robot_cpu: ProcessCpu
    teacher_cpu: float
    students_cpu: float
    machine: MachineCpu
    cpu_pressure: float
    lag: Histogram = field(default_factory=lambda: Histogram({}, 0, 0))
    probe_lag: Histogram = field(default_factory=lambda: Histogram({}, 0, 0))
    teacher: dict[str, Any] = field(default_factory=dict)
    students: list[tuple[float, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Class:
    """The run's processes: server, robot, teacher, student groups and the idle loop probe."""

    http: aiohttp.ClientSession
    url: str
    server_pid: int
    robot_pid: int
    teacher: Peers
    groups: list[Peers]
    probe: Peers

    async def students(self) -> list[tuple[float, dict[str, Any]]]:
        reports = await asyncio.gather(*(group.report() for group in self.groups))
        return [(report["t"], one) for report in reports for one in report["students"]]

    def _cpu(self) -> Snapshot:
        try:
            robot = ProcessCpu.read(self.robot_pid)
        except OSError:
            raise BenchError("the recorder robot is gone") from None
        return Snapshot(
            time=time.monotonic(),
            server_cpu=ProcessCpu.read(self.server_pid),
            server_run_delay=thread_run_delay_seconds(self.server_pid, self.server_pid),
            robot_cpu=robot,
            teacher_cpu=self.teacher.cpu_seconds(),
            students_cpu=sum(group.cpu_seconds() for group in self.groups),
            machine=MachineCpu.read(),
            cpu_pressure=cpu_pressure_seconds(),
        )

    async def _reports(
        self,
    ) -> tuple[Histogram, Histogram, dict[str, Any], list[tuple[float, dict[str, Any]]]]:
        async with self.http.get(f"{self.url}/metrics") as response:
            response.raise_for_status()
            lag = Histogram.parse(await response.text(), LOOP_LAG)
        probe, teacher = await asyncio.gather(self.probe.report(), self.teacher.report())
        return lag, Histogram.parse(probe["metrics"], LOOP_LAG), teacher, await self.students()

    async def snapshot(self, opening: bool) -> Snapshot:
        """Scrapes and reports stay outside the CPU window on both edges."""
        if opening:
            reports = await self._reports()
            snapshot = self._cpu()
        else:
            snapshot = self._cpu()
            reports = await self._reports()
        snapshot.lag, snapshot.probe_lag, snapshot.teacher, snapshot.students = reports
        return snapshot


def _percent(before: float, after: float, elapsed: float) -> float:
    return 100 * (after - before) / elapsed


def _load(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """What the server, the robot and the machine did between two snapshots."""
    elapsed = after.time - before.time
    lag = after.lag.since(before.lag)
    probe_lag = after.probe_lag.since(before.probe_lag)
    return {
        "seconds": round(elapsed, 3),
        "server_cpu_percent": _percent(before.server_cpu.total, after.server_cpu.total, elapsed),
        "server_user_percent": _percent(before.server_cpu.user, after.server_cpu.user, elapsed),
        "server_system_percent": _percent(before.server_cpu.system, after.server_cpu.system, elapsed),
        "server_loop_thread_run_delay_percent": _percent(
            before.server_run_delay, after.server_run_delay, elapsed
        ),
        "robot_cpu_percent": _percent(before.robot_cpu.total, after.robot_cpu.total, elapsed),
        "teacher_process_cpu_percent": _percent(before.teacher_cpu, after.teacher_cpu, elapsed),
        "student_processes_cpu_percent": _percent(before.students_cpu, after.students_cpu, elapsed),
        "machine_busy_percent": after.machine.busy_percent_since(before.machine),
        "cpu_pressure_percent": _percent(before.cpu_pressure, after.cpu_pressure, elapsed),
        "loop_lag_p99_bound_s": lag.quantile_bound(0.99),
        "loop_lag_max_bound_s": lag.quantile_bound(1.0),
        "loop_lag_mean_s": lag.mean,
        "probe_loop_lag_p99_bound_s": probe_lag.quantile_bound(0.99),
    }


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


def _joining(students: list[dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """Join-to-first-frame over the class, split at the first answer (signalling, then ICE/DTLS/keyframe).

    A student that never got video counts as slower than every other in the percentiles.
    """
    starts = sorted(s["join_started"] for s in students)
    waits = [_since(s, "first_frame_at") for s in students]
    signalling = [_since(s, "media_started") for s in students]
    span = starts[-1] - starts[0]
    return {
        "join_rate_requested_per_s": settings.join_rate,
        "join_rate_achieved_per_s": (len(starts) - 1) / span if span > 0 else math.nan,
        "students_with_video": sum(1 for w in waits if math.isfinite(w)),
        "join_errors": [s["error"] for s in students if s["error"]],
        "first_frame_p50_s": _nearest_rank(waits, 0.50),
        "first_frame_p95_s": _nearest_rank(waits, 0.95),
        "first_frame_max_s": max(waits),
        "signalling_p50_s": _nearest_rank(signalling, 0.50),
        "signalling_p95_s": _nearest_rank(signalling, 0.95),
        "first_frame_s": [round(w, 4) for w in waits],
        "signalling_s": [round(w, 4) for w in signalling],
    }


def _since(student: dict[str, Any], moment: str) -> float:
    at = student[moment]
    return math.inf if at is None else float(at - student["join_started"])


def _media(before: Snapshot, after: Snapshot, settings: Settings) -> dict[str, Any]:
    """What the teacher sent and the students got over the window."""
    teacher_elapsed = after.teacher["t"] - before.teacher["t"]
    # The teacher, and every student who got media going and sends (speaking, or silence frames).
    sending = 1 + sum(
        1
        for _, b in after.students
        if b["media_started"] is not None and (b["speaking"] or settings.silent == "silence")
    )
    fps: list[float] = []
    decoded: list[float] = []
    audio_share: list[float] = []
    audio_rate: list[float] = []
    video = [0, 0, 0]  # received, lost, retransmitted
    audio = [0, 0]
    for (t0, a), (t1, b) in zip(before.students, after.students, strict=True):
        if a["first_frame_at"] is None:
            continue
        dt = t1 - t0
        fps.append((b["frames"] - a["frames"]) / dt)
        if b["decoded"] is not None:
            decoded.append((b["decoded"] - a["decoded"]) / dt)
        video[0] += b["packets_received"] - a["packets_received"]
        video[1] += b["packets_lost"] - a["packets_lost"]
        video[2] += b["packets_retransmitted"] - a["packets_retransmitted"]
        audio[0] += b["audio_packets_received"] - a["audio_packets_received"]
        audio[1] += b["audio_packets_lost"] - a["audio_packets_lost"]
        rate = (b["audio_packets_received"] - a["audio_packets_received"]) / dt
        own = 1 if b["speaking"] or settings.silent == "silence" else 0
        audio_rate.append(rate)
        audio_share.append(rate / (AUDIO_PACKETS_PER_S * (sending - own)))

    if not fps:
        raise BenchError("no student receives the teacher's video")

    def loss(received: int, lost: int) -> float:
        return 100 * lost / (received + lost) if received + lost > 0 else math.nan

    return {
        # A connection the server closed (ICE consent not answered in time) ends that media for good:
        # these clients, like aiortc, do not start a new peer connection.
        "teacher_connected_at_end": after.teacher["connected"],
        "students_connected_at_end": sum(1 for _, b in after.students if b["connected"]),
        "teacher_fps": (after.teacher["frames"] - before.teacher["frames"]) / teacher_elapsed,
        "teacher_mbit_s": 8e-6
        * (after.teacher["bytes_sent"] - before.teacher["bytes_sent"])
        / teacher_elapsed,
        "teacher_target_bitrate": after.teacher["target_bitrate"],
        "student_fps_min": min(fps),
        "student_fps_mean": sum(fps) / len(fps),
        "decoded_fps_min": min(decoded) if decoded else None,
        "decoding_students": len(decoded),
        "video_packet_loss_percent": loss(video[0], video[1]),
        "video_packets_retransmitted": video[2],
        "sending_microphones": sending,
        "student_audio_packets_per_s_min": min(audio_rate),
        "student_audio_packets_per_s_mean": sum(audio_rate) / len(audio_rate),
        "student_audio_share_min": min(audio_share),
        "audio_packet_loss_percent": loss(audio[0], audio[1]),
    }


async def _wait_for_class(klass: Class, count: int, within: float) -> list[dict[str, Any]]:
    """Poll the student groups until every student has a teacher frame or has given up joining.

    A join that fails (the client library's 10 s acknowledgement timeout) is a result, not an abort:
    the class goes on without that student, as it would without a browser that gave up.
    """
    deadline = time.monotonic() + within
    while True:
        students = [one for _, one in await klass.students()]
        settled = sum(1 for s in students if s["first_frame_at"] is not None or s["error"])
        if settled == count or time.monotonic() > deadline:
            return students
        await asyncio.sleep(0.5)


async def measure(settings: Settings, logs: Path) -> dict[str, Any]:
    """Start the server and the class, join everyone, measure one window, stop and check the recording."""
    admin_password = secrets.token_urlsafe(16)
    env = {"AULA_ADMIN_PASSWORD": admin_password, "AULA_LOG_FORMAT": "text"}
    children: list[Peers] = []
    async with (
        _server("aula", "capacity", logs, ForwardingSettings(), env) as server,
        aiohttp.ClientSession() as http,
    ):
        try:
            classroom_id, teacher_cookie, cookies = await _classroom(
                server.url, admin_password, settings.students
            )
            probe = await Peers.start("probe", {"role": "probe"}, logs)
            children.append(probe)
            seat_groups = _split(list(range(settings.students)), settings.per_process)
            started = await asyncio.gather(
                _start_child("teacher", logs),
                *(_start_child(f"students{i}", logs) for i in range(len(seat_groups))),
                return_exceptions=True,
            )
            children.extend(child for child in started if isinstance(child, Peers))
            for outcome in started:
                if isinstance(outcome, BaseException):
                    raise outcome
            teacher, *groups = children[1:]
            common = {"url": server.url, "classroom_id": classroom_id}
            await _configure(
                teacher,
                {
                    "role": "teacher",
                    "cookie": teacher_cookie,
                    "width": settings.width,
                    "height": settings.height,
                    "fps": settings.fps,
                    **common,
                },
            )
            deadline = time.monotonic() + settings.setup_timeout
            while not ((report := await teacher.report())["connected"] and report["bytes_sent"] > 0):
                if time.monotonic() > deadline:
                    raise BenchError("timed out waiting for the teacher to send video")
                await asyncio.sleep(0.5)

            rec_url = f"{server.url}/api/classrooms/{classroom_id}/recording"
            await _recording_call(http, "POST", rec_url, teacher_cookie, 201)
            data_dir = (logs / "capacity-data").resolve()  # where bench.forwarding's _server puts it
            robot_pid = None
            while robot_pid is None:
                state = (await _recording_call(http, "GET", rec_url, teacher_cookie, 200))["recording"]
                if state is None or state["state"] not in ("starting", "recording"):
                    raise BenchError(f"the recording did not start: {state}")
                if state["state"] == "recording":
                    robot_pid = _robot_pid(server.process.pid, data_dir)
                if time.monotonic() > deadline + settings.setup_timeout:
                    raise BenchError("timed out waiting for the robot to record")
                await asyncio.sleep(0.5)
            klass = Class(http, server.url, server.process.pid, robot_pid, teacher, groups, probe)

            joins_start = time.monotonic() + 1.0
            decoders = settings.decoders
            for group, seats in zip(groups, seat_groups, strict=True):
                decoding = min(decoders, len(seats))
                config = {
                    "role": "students",
                    "silent": settings.silent,
                    "decoders": decoding,
                    "seats": [
                        {
                            "cookie": cookies[i],
                            "join_at": joins_start + i / settings.join_rate,
                            "speaking": i < settings.speakers,
                            "frequency": 300 + 40 * i,
                        }
                        for i in seats
                    ],
                    **common,
                }
                decoders -= decoding
                await _configure(group, config)
            joining_before = await klass.snapshot(opening=True)
            joined = await _wait_for_class(
                klass, settings.students, settings.students / settings.join_rate + settings.setup_timeout
            )
            joining_after = await klass.snapshot(opening=False)

            await asyncio.sleep(settings.warmup)
            before = await klass.snapshot(opening=True)
            await asyncio.sleep(settings.window)
            after = await klass.snapshot(opening=False)

            stop_pressed = time.monotonic()
            stopped = (await _recording_call(http, "POST", f"{rec_url}/stop", teacher_cookie, 200))[
                "recording"
            ]
            stop_to_ready = time.monotonic() - stop_pressed
            files = sorted(data_dir.rglob("*.mp4"))
            if stopped["state"] != "ready" or len(files) != 1:
                raise BenchError(f"the recording is not ready after stop: {stopped}, files {files}")
            recording = {
                "state": stopped["state"],
                "duration_ms": stopped["duration_ms"],
                "stop_to_ready_s": stop_to_ready,
                **await asyncio.to_thread(probe_recording, files[0]),
            }
            return {
                "joining": {**_joining(joined, settings), **_load(joining_before, joining_after)},
                "window": {**_load(before, after), **_media(before, after, settings)},
                "recording": recording,
            }
        except BenchError as error:
            raise BenchError(f"{error}\nserver log:\n{tail(server.log)}") from None
        finally:
            await asyncio.gather(*(child.stop() for child in reversed(children)))


async def run(settings: Settings, logs: Path | None = None) -> dict[str, Any]:
    """Measure the class once and judge it against the targets; keep every process's log in ``logs``."""
    if not only_loopback():
        raise BenchError("run it in the loopback-only network namespace: bench/netns.sh")
    started = utc_now()
    budget = 3 * settings.setup_timeout + settings.students / settings.join_rate + settings.warmup
    with contextlib.ExitStack() as stack:
        if logs is None:
            logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aula-capacity-")))
        else:
            logs.mkdir(parents=True, exist_ok=True)
        async with asyncio.timeout(budget + settings.window + 120):
            measured = await measure(settings, logs)
    window, joining = measured["window"], measured["joining"]
    verdict = {
        "server_cpu_within_target": window["server_cpu_percent"] < TARGET_SERVER_CPU,
        "loop_lag_p99_within_target": within(window["loop_lag_p99_bound_s"], TARGET_LOOP_LAG_P99),
        # The idle probe over the target too: the machine, not the server, set the lag.
        "loop_lag_machine_bound": not within(window["probe_loop_lag_p99_bound_s"], TARGET_LOOP_LAG_P99),
        "first_frame_p95_within_target": joining["first_frame_p95_s"] < TARGET_FIRST_FRAME_P95,
        "recording_ready": measured["recording"]["state"] == "ready",
        "all_students_joined": joining["students_with_video"] == settings.students,
    }
    result: dict[str, Any] = json_safe(
        {
            "benchmark": "capacity",
            "started_at": started,
            "finished_at": utc_now(),
            "machine": machine(),
            "settings": asdict(settings),
            "targets": {
                "server_cpu_percent_max": TARGET_SERVER_CPU,
                "loop_lag_p99_max_s": TARGET_LOOP_LAG_P99,
                "first_frame_p95_max_s": TARGET_FIRST_FRAME_P95,
            },
            **measured,
            "verdict": verdict,
        }
    )
    return result


def run_capacity(settings: Settings | None = None, logs: Path | None = None) -> dict[str, Any]:
    """The importable entry point (for a ``make bench`` runner): measure and return the result dict."""
    return asyncio.run(run(settings or Settings(), logs))


# -- output -------------------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _ms(value: float | None) -> str:
    """A join time; null: a student who never got video is at this rank."""
    return "never" if value is None else f"{value * 1000:.0f} ms"


def _lag(value: float | None) -> str:
    """A histogram bound: the quantile is at most this (null: no samples, or over the last bucket)."""
    return "n/a" if value is None else f"≤ {value * 1000:g} ms"


def _status(met: bool) -> str:
    return "met" if met else "MISSED"


def table(result: dict[str, Any]) -> str:
    """The result as Markdown: one row per figure, with its target where it has one."""
    s, j, w, r, v = (result[k] for k in ("settings", "joining", "window", "recording", "verdict"))
    lag_status = _status(v["loop_lag_p99_within_target"])
    if not v["loop_lag_p99_within_target"] and v["loop_lag_machine_bound"]:
        lag_status += " (the idle probe lagged as much: machine-bound)"
    streams = ", ".join(f"{x['type']} {x['codec']}" for x in r["streams"])
    rows = [
        ("students with the teacher's video / in the class; join rate asked / achieved per s",
         f"{j['students_with_video']} / {s['students']}; "
         f"{_fmt(j['join_rate_requested_per_s'])} / {_fmt(j['join_rate_achieved_per_s'])}",
         "all", _status(v["all_students_joined"])),
        ("join to first teacher frame p50 / p95 / max",
         f"{_ms(j['first_frame_p50_s'])} / {_ms(j['first_frame_p95_s'])} / {_ms(j['first_frame_max_s'])}",
         f"p95 < {TARGET_FIRST_FRAME_P95 * 1000:.0f} ms", _status(v["first_frame_p95_within_target"])),
        ("of which signalling (connect to first answer) p50 / p95",
         f"{_ms(j['signalling_p50_s'])} / {_ms(j['signalling_p95_s'])}", "", ""),
        ("server CPU, % of one core (user + system)",
         f"{_fmt(w['server_cpu_percent'])} ({_fmt(w['server_user_percent'])} + "
         f"{_fmt(w['server_system_percent'])})",
         f"< {TARGET_SERVER_CPU:.0f}", _status(v["server_cpu_within_target"])),
        ("recorder robot CPU, % of one core", _fmt(w["robot_cpu_percent"]), "", ""),
        ("server's loop thread ready but waiting for a CPU, % of the time: window / joining",
         f"{_fmt(w['server_loop_thread_run_delay_percent'])} / "
         f"{_fmt(j['server_loop_thread_run_delay_percent'])}", "", ""),
        ("server loop lag p99 (max) / idle probe p99",
         f"{_lag(w['loop_lag_p99_bound_s'])} ({_lag(w['loop_lag_max_bound_s'])}) / "
         f"{_lag(w['probe_loop_lag_p99_bound_s'])}",
         f"< {TARGET_LOOP_LAG_P99 * 1000:.0f} ms", lag_status),
        ("while joining: server CPU % / robot CPU % / loop lag p99, server / idle probe",
         f"{_fmt(j['server_cpu_percent'])} / {_fmt(j['robot_cpu_percent'])} / "
         f"{_lag(j['loop_lag_p99_bound_s'])} / {_lag(j['probe_loop_lag_p99_bound_s'])} "
         f"over {_fmt(j['seconds'])} s", "", ""),
        ("teacher sends fps / Mbit/s", f"{_fmt(w['teacher_fps'])} / {_fmt(w['teacher_mbit_s'], 2)}", "", ""),
        ("media connected at the window's end: teacher / students",
         f"{'yes' if w['teacher_connected_at_end'] else 'NO'} / {w['students_connected_at_end']}", "", ""),
        ("students' teacher video fps min / mean",
         f"{_fmt(w['student_fps_min'])} / {_fmt(w['student_fps_mean'])}", "", ""),
        ("decoded fps, min (decoding students)",
         f"{_fmt(w['decoded_fps_min'])} ({w['decoding_students']})", "", ""),
        ("students' audio packets/s min / mean (sending microphones)",
         f"{_fmt(w['student_audio_packets_per_s_min'])} / {_fmt(w['student_audio_packets_per_s_mean'])} "
         f"({w['sending_microphones']}; least share received {_fmt(100 * w['student_audio_share_min'])}%)",
         "", ""),
        ("packet loss %, video / audio",
         f"{_fmt(w['video_packet_loss_percent'], 2)} / {_fmt(w['audio_packet_loss_percent'], 2)}", "", ""),
        ("client processes CPU %: teacher / students",
         f"{_fmt(w['teacher_process_cpu_percent'])} / {_fmt(w['student_processes_cpu_percent'])}", "", ""),
        ("machine busy % (all cores) / CPU pressure %",
         f"{_fmt(w['machine_busy_percent'], 0)} / {_fmt(w['cpu_pressure_percent'], 0)}", "", ""),
        ("recording after stop: state, length (server / file), streams",
         f"{r['state']}, {_fmt(r['duration_ms'] / 1000)} s / {_fmt(r['container_duration_s'])} s, {streams}; "
         f"{r['video_frames_decoded']} video frames decoded; "
         f"ready {_fmt(r['stop_to_ready_s'], 2)} s after stop",
         "ready, plays", _status(v["recording_ready"])),
    ]  # fmt: skip
    lines = ["| measure | value | target | |", "|---|---|---|---|"]
    lines += [f"| {name} | {value} | {target} | {status} |" for name, value, target, status in rows]
    lines.append("")
    if j["join_errors"]:
        lines.append(f"- {len(j['join_errors'])} students failed to join, e.g. {j['join_errors'][0]}")
    lines.append(
        f"- 1 teacher (camera {s['width']}x{s['height']} {s['fps']} fps VP8 + microphone), {s['students']} "
        f"students publishing a microphone ({s['speakers']} speaking, the others {s['silent']}), REC on; "
        f"window {_fmt(w['seconds'])} s after a {s['warmup']:g} s warm-up. CPU: time from /proc over the "
        "window. Loop lag: histogram bucket bounds. Machine busy: all cores, every process; CPU pressure: "
        "share of the window in which some task waited for a CPU (Linux PSI)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 students, 10 s window, 5 s warm-up")
    parser.add_argument("--students", type=int, help=f"class size (default {defaults.students})")
    parser.add_argument("--window", type=float, help=f"seconds measured (default {defaults.window:g})")
    parser.add_argument(
        "--warmup", type=float, help=f"seconds after all joined (default {defaults.warmup:g})"
    )
    parser.add_argument(
        "--join-rate", type=float, help=f"students per second (default {defaults.join_rate:g})"
    )
    parser.add_argument(
        "--per-process", type=int, help=f"students a process (default {defaults.per_process})"
    )
    parser.add_argument("--speakers", type=int, help=f"students sending a tone (default {defaults.speakers})")
    parser.add_argument("--silent", choices=SILENT_MODES, help=f"the others send (default {defaults.silent})")
    parser.add_argument("--decoders", type=int, help=f"students decoding video (default {defaults.decoders})")
    parser.add_argument("--out", type=Path, help="JSON path (default bench/results/capacity-<date>.json)")
    parser.add_argument(
        "--logs", type=Path, help="keep the server's and clients' logs in this (empty) folder"
    )
    args = parser.parse_args(argv)
    chosen = {
        name: value
        for name in (
            "students",
            "window",
            "warmup",
            "join_rate",
            "per_process",
            "speakers",
            "silent",
            "decoders",
        )
        if (value := getattr(args, name)) is not None
    }
    settings = replace(defaults, **{**(QUICK if args.quick else {}), **chosen})
    if settings.students < 1 or settings.per_process < 1 or settings.join_rate <= 0:
        parser.error("--students, --per-process and --join-rate must be positive")
    if not 0 <= settings.speakers <= settings.students:
        parser.error("--speakers must be between 0 and --students")
    return run_and_report(
        "capacity",
        lambda: run_capacity(settings, args.logs),
        table,
        args.out,
        "the server and every client were stopped",
    )


if __name__ == "__main__":
    sys.exit(main())
