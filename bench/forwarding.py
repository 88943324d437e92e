"""Server CPU per forwarded video stream: Aula's encoded RTP forwarding, Janus's VideoRoom, aiortc MediaRelay.

One synthetic 640x480 30 fps VP8 publisher, held at 1.5 Mbit/s by the server's REMB, and N aiortc
subscribers, against three forwarders: Aula (``aula serve``), Janus 1.1.2's VideoRoom plugin (Debian's
``janus``, a C SFU, run by ``bench/janus.py``: the room's ``bitrate`` is the REMB that holds the publisher)
and ``bench/relay_server.py``, an aiortc server forwarding with ``MediaRelay`` (decode once, encode per
subscriber). Aula and Janus run N = 1, 4, 8, 16, 32; MediaRelay N = 1, 4, 8 (beyond, its encoders saturate
two cores). The forwarders are interleaved by N (Aula, Janus, MediaRelay at each N), so a slow drift in the
machine's load hits all three alike.

For every point a fresh server is started; after a warm-up the server process's CPU (utime + stime from
``/proc/<pid>/stat``, every thread: for Janus, the ``janus`` process itself) is read over a fixed window.
The cost of one forwarded stream is the least-squares slope of that CPU over the sustained points' N; the
intercept is what the publisher's stream and the idle server cost. The comparison is made of ratios of
slopes, each pair taken over the N both forwarders sustained: Aula per Janus (target: at most 1.3) and
MediaRelay per Aula (target: at least 20). The publisher's own sending rate is reported per point, so the
three are seen to forward the same load.
Aula's event-loop lag p99 over the same window comes from its ``aula_event_loop_lag_seconds`` histogram
(the relay exposes the same histogram; Janus has no event loop to measure: n/a). The publisher and the
subscribers run in their own processes (``bench/peers.py``), so their encoding, decoding and receiving are
never counted as the server's.

Run it in the loopback-only network namespace (``bench/netns.sh``; ``--quick`` for a short smoke run); as
a library, :func:`run_forwarding` returns the result dict that ``main`` prints and writes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import os
import re
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench import janus
from bench.children import Child, die_with_parent, stop_child, tail
from bench.measure import (
    BenchError,
    Histogram,
    MachineCpu,
    ProcessCpu,
    cpu_pressure_seconds,
    json_safe,
    least_squares,
    machine,
    run_and_report,
    utc_now,
    within,
)

ROOT = Path(__file__).resolve().parent.parent
AULA = Path(sys.executable).with_name("aula")
LOOP_LAG = "aula_event_loop_lag_seconds"
FORWARDERS = {
    "aula": "Aula (encoded RTP forwarding)",
    "janus": "Janus {version} VideoRoom",
    "relay": "aiortc MediaRelay (decode once, encode per subscriber)",
}
TARGET_CPU_PER_STREAM = 0.4  # % of one core
TARGET_LOOP_LAG_P99 = 0.020  # seconds, at the largest N
TARGET_AULA_PER_JANUS = 1.3  # Aula's per-stream CPU at most this many times Janus's
TARGET_RELAY_PER_AULA = 20.0  # MediaRelay's per-stream CPU at least this many times Aula's
COMPARABLE_PUBLISHER_RATES = 1.1  # the forwarders' mean publisher rates within this factor of each other
SUSTAINED_SHARE = 0.9  # a point counts when every subscriber got this share of the publisher's frames
JANUS_ROOM = 1234
JANUS_FEED = 1


@dataclass(frozen=True)
class Settings:
    """One run's parameters (all recorded in the result)."""

    counts: tuple[int, ...] = (1, 4, 8, 16, 32)
    "Subscriber counts for Aula."
    janus_counts: tuple[int, ...] = (1, 4, 8, 16, 32)
    "Subscriber counts for Janus."
    relay_counts: tuple[int, ...] = (1, 4, 8)
    "Subscriber counts for MediaRelay: at 16 its per-subscriber encoders saturate two cores."
    warmup: float = 10.0
    window: float = 20.0
    decoders: int = 2
    "Subscribers per point that also decode (the rest count complete encoded frames; see bench/peers.py)."
    per_process: int = 8
    "Subscribers per client process."
    width: int = 640
    height: int = 480
    fps: int = 30
    bitrate: int = 1_500_000
    "The publisher's cap, sent as REMB by every server (Aula: max_video_bitrate's default; Janus: room's)."
    setup_timeout: float = 60.0


# -- child processes ----------------------------------------------------------------------------------------


class Peers(Child):
    """One ``bench.peers`` child (a publisher, a group of subscribers, or the idle loop probe)."""

    @classmethod
    async def start(cls, name: str, config: dict[str, Any], logs: Path) -> Peers:
        return await cls.launch(name, [sys.executable, "-m", "bench.peers"], config, logs)


@dataclass
class Server:
    forwarder: str
    url: str
    process: asyncio.subprocess.Process
    log: Path

    def cpu(self) -> ProcessCpu:
        return ProcessCpu.read(self.process.pid)

    async def lag(self, http: aiohttp.ClientSession) -> Histogram | None:
        """The server's loop-lag histogram so far; None for Janus, which has no event loop to time."""
        if self.forwarder == "janus":
            return None
        async with http.get(f"{self.url}/metrics") as response:
            response.raise_for_status()
            return Histogram.parse(await response.text(), LOOP_LAG)


@contextlib.asynccontextmanager
async def _server(
    forwarder: str, name: str, logs: Path, settings: Settings, env: dict[str, str]
) -> AsyncIterator[Server]:
    """Start a fresh forwarder (own data dir) on a free loopback port; yields once it answers."""
    if forwarder == "janus":
        async with janus.running_janus(logs / f"{name}-janus") as running:
            yield Server(forwarder, running.url, running.process, running.log)
        return
    log = logs / f"{name}-server.log"
    if forwarder == "aula":
        data = str(logs / f"{name}-data")
        args = [str(AULA), "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", data]
        pattern = re.compile(r"Aula is running at (\S+)")
    else:
        args = [sys.executable, "-m", "bench.relay_server", "--port", "0", "--bitrate", str(settings.bitrate)]
        pattern = re.compile(r"Relay is running at (\S+)")
    # Output goes to the log file, never a pipe that could fill; the URL is read back from it.
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *args,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            preexec_fn=die_with_parent,
        )
    try:
        url = ""
        async with asyncio.timeout(30):
            while not url:
                if process.returncode is not None:
                    raise BenchError(f"{forwarder} server exited:\n{tail(log)}")
                match = pattern.search(log.read_text(errors="replace"))
                if match:
                    url = match.group(1).rstrip("/")
                else:
                    await asyncio.sleep(0.1)
        yield Server(forwarder, url, process, log)
    finally:
        await stop_child(process)


# -- Aula accounts ------------------------------------------------------------------------------------------


async def _login(url: str, username: str, password: str) -> str:
    """A session cookie header for ``username``, as a browser would hold after logging in."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{url}/api/auth/login", json={"username": username, "password": password}) as r:
            if r.status != 200:
                raise BenchError(f"login as {username}: {r.status} {await r.text()}")
        return "; ".join(f"{cookie.key}={cookie.value}" for cookie in http.cookie_jar)


async def _classroom(url: str, admin_password: str, students: int) -> tuple[int, str, list[str]]:
    """A classroom with a teacher and ``students`` distinct students (one seat per user, so N users).

    Returns the classroom id, the teacher's cookie and one cookie per student.
    """
    password = secrets.token_urlsafe(16)
    names = [f"student{i:02d}" for i in range(1, students + 1)]
    admin = await _login(url, "admin", admin_password)
    async with aiohttp.ClientSession(headers={"Cookie": admin}) as http:
        for name, role in [("teacher", "teacher"), *((n, "student") for n in names)]:
            body = {"username": name, "password": password, "role": role}
            async with http.post(f"{url}/api/users", json=body) as r:
                if r.status != 201:
                    raise BenchError(f"creating {name}: {r.status} {await r.text()}")
        room = {
            "name": "Forwarding bench",
            "seat_limit": students + 1,
            "moderators": ["teacher"],
            "students": names,
        }
        async with http.post(f"{url}/api/classrooms", json=room) as r:
            if r.status != 201:
                raise BenchError(f"creating the classroom: {r.status} {await r.text()}")
            classroom_id: int = (await r.json())["classroom"]["id"]
    cookies = await asyncio.gather(*(_login(url, name, password) for name in ["teacher", *names]))
    return classroom_id, cookies[0], list(cookies[1:])


async def _janus_room(url: str, bitrate: int) -> None:
    """The VideoRoom the Janus points use; its ``bitrate`` is the REMB that holds the publisher's rate."""
    async with aiohttp.ClientSession() as http:
        session = await janus.JanusSession.create(http, url)
        try:
            await janus.create_room(await session.attach(), JANUS_ROOM, bitrate=bitrate)
        finally:
            await session.destroy()


# -- one measurement point ----------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Everything read at one edge of the window."""

    time: float
    server_cpu: ProcessCpu
    publisher_cpu: float
    subscribers_cpu: float
    machine: MachineCpu
    cpu_pressure: float
    lag: Histogram | None
    control_lag: Histogram
    publisher: dict[str, Any]
    subscribers: list[tuple[float, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Clients:
    """The point's child processes: the publisher, the subscriber groups and the idle loop probe."""

    publisher: Peers
    subscribers: list[Peers]
    probe: Peers


async def _snapshot(http: aiohttp.ClientSession, server: Server, clients: Clients, opening: bool) -> Snapshot:
    async def reports() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        probe, publisher, *subscribers = await asyncio.gather(
            clients.probe.report(), clients.publisher.report(), *(s.report() for s in clients.subscribers)
        )
        return probe, publisher, subscribers

    def cpu() -> tuple[float, ProcessCpu, float, float, MachineCpu, float]:
        return (
            asyncio.get_running_loop().time(),
            server.cpu(),
            clients.publisher.cpu_seconds(),
            sum(s.cpu_seconds() for s in clients.subscribers),
            MachineCpu.read(),
            cpu_pressure_seconds(),
        )

    # Scrapes and reports stay outside the CPU window on both edges.
    if opening:
        lag = await server.lag(http)
        probe, publisher, subscribers = await reports()
        now, server_cpu, publisher_cpu, subscribers_cpu, machine, pressure = cpu()
    else:
        now, server_cpu, publisher_cpu, subscribers_cpu, machine, pressure = cpu()
        probe, publisher, subscribers = await reports()
        lag = await server.lag(http)
    return Snapshot(
        time=now,
        server_cpu=server_cpu,
        publisher_cpu=publisher_cpu,
        subscribers_cpu=subscribers_cpu,
        machine=machine,
        cpu_pressure=pressure,
        lag=lag,
        control_lag=Histogram.parse(probe["metrics"], LOOP_LAG),
        publisher=publisher,
        subscribers=[(report["t"], one) for report in subscribers for one in report["subscribers"]],
    )


def _point(forwarder: str, count: int, before: Snapshot, after: Snapshot) -> dict[str, Any]:
    elapsed = after.time - before.time
    pub_elapsed = after.publisher["t"] - before.publisher["t"]
    fps: list[float] = []
    decoded: list[float] = []
    mbits: list[float] = []
    received = lost = retransmitted = 0
    for (t0, a), (t1, b) in zip(before.subscribers, after.subscribers, strict=True):
        dt = t1 - t0
        fps.append((b["frames"] - a["frames"]) / dt)
        mbits.append(8e-6 * (b["bytes"] - a["bytes"]) / dt)
        if b["decoded"] is not None:
            decoded.append((b["decoded"] - a["decoded"]) / dt)
        received += b["packets_received"] - a["packets_received"]
        lost += b["packets_lost"] - a["packets_lost"]
        retransmitted += b["packets_retransmitted"] - a["packets_retransmitted"]
    if len(fps) != count:
        raise BenchError(f"{forwarder}: {len(fps)} of {count} subscribers receive video")
    lag = after.lag.since(before.lag) if after.lag is not None and before.lag is not None else None
    control_lag = after.control_lag.since(before.control_lag)
    publisher_fps = (after.publisher["frames"] - before.publisher["frames"]) / pub_elapsed
    return {
        "forwarder": forwarder,
        "subscribers": count,
        "window_s": round(elapsed, 3),
        "server_cpu_percent": 100 * (after.server_cpu.total - before.server_cpu.total) / elapsed,
        "server_user_percent": 100 * (after.server_cpu.user - before.server_cpu.user) / elapsed,
        "server_system_percent": 100 * (after.server_cpu.system - before.server_cpu.system) / elapsed,
        "publisher_process_cpu_percent": 100 * (after.publisher_cpu - before.publisher_cpu) / elapsed,
        "subscriber_processes_cpu_percent": 100 * (after.subscribers_cpu - before.subscribers_cpu) / elapsed,
        "machine_busy_percent": after.machine.busy_percent_since(before.machine),
        "publisher_mbit_s": 8e-6
        * (after.publisher["bytes_sent"] - before.publisher["bytes_sent"])
        / pub_elapsed,
        "publisher_fps": publisher_fps,
        "publisher_target_bitrate": after.publisher["target_bitrate"],
        "subscriber_fps_min": min(fps),
        "subscriber_fps_mean": sum(fps) / len(fps),
        "decoded_fps_min": min(decoded) if decoded else None,
        "decoding_subscribers": len(decoded),
        "subscriber_mbit_s_mean": sum(mbits) / len(mbits),
        "packet_loss_percent": 100 * lost / (received + lost) if received + lost > 0 else math.nan,
        "packets_retransmitted": retransmitted,
        "sustained": min(fps) >= SUSTAINED_SHARE * publisher_fps,
        "loop_lag_p99_bound_s": lag.quantile_bound(0.99) if lag is not None else None,
        "loop_lag_max_bound_s": lag.quantile_bound(1.0) if lag is not None else None,
        "loop_lag_mean_s": lag.mean if lag is not None else None,
        "loop_lag_samples": int(lag.count) if lag is not None else None,
        "control_loop_lag_p99_bound_s": control_lag.quantile_bound(0.99),
        "control_loop_lag_max_bound_s": control_lag.quantile_bound(1.0),
        "cpu_pressure_percent": 100 * (after.cpu_pressure - before.cpu_pressure) / elapsed,
    }


async def _wait_until(what: str, condition: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


def _split(items: Sequence[Any], per_process: int) -> list[list[Any]]:
    chunks = max(1, math.ceil(len(items) / per_process))
    return [list(items[i::chunks]) for i in range(chunks)]


async def measure_point(forwarder: str, count: int, settings: Settings, logs: Path) -> dict[str, Any]:
    """Start a fresh ``forwarder`` server, one publisher and ``count`` subscribers; measure one window."""
    admin_password = secrets.token_urlsafe(16)
    env = {"AULA_ADMIN_PASSWORD": admin_password, "AULA_LOG_FORMAT": "text"} if forwarder == "aula" else {}
    children: list[Peers] = []
    media: dict[str, Any] = {
        "forwarder": forwarder,
        "width": settings.width,
        "height": settings.height,
        "fps": settings.fps,
    }
    async with (
        _server(forwarder, f"{forwarder}{count}", logs, settings, env) as server,
        aiohttp.ClientSession() as http,
    ):
        try:
            media["url"] = server.url
            if forwarder == "aula":
                classroom_id, teacher, students = await _classroom(server.url, admin_password, count)
                media["classroom_id"] = classroom_id
                publisher_config = {"role": "publisher", "cookie": teacher, **media}
                chunks = _split(students, settings.per_process)
                groups: list[dict[str, Any]] = [{"cookies": c, "count": len(c)} for c in chunks]
            else:
                if forwarder == "janus":
                    await _janus_room(server.url, settings.bitrate)
                    media.update(room=JANUS_ROOM, feed=JANUS_FEED)
                publisher_config = {"role": "publisher", **media}
                groups = [{"count": len(chunk)} for chunk in _split(range(count), settings.per_process)]
            subscriber_configs: list[dict[str, Any]] = []
            decoders = settings.decoders
            for group in groups:
                decoding = min(decoders, group["count"])
                subscriber_configs.append({"role": "subscribers", "decoders": decoding, **group, **media})
                decoders -= decoding

            probe = await Peers.start(f"{forwarder}{count}-probe", {"role": "probe"}, logs)
            children.append(probe)
            publisher = await Peers.start(f"{forwarder}{count}-publisher", publisher_config, logs)
            children.append(publisher)

            async def publishing() -> bool:
                report = await publisher.report()
                return bool(report["connected"] and report["bytes_sent"] > 0)

            await _wait_until("the publisher to send", publishing, settings.setup_timeout)
            subscribers: list[Peers] = []
            for i, config in enumerate(subscriber_configs):
                subscribers.append(await Peers.start(f"{forwarder}{count}-subscribers{i}", config, logs))
                children.append(subscribers[-1])

            async def receiving() -> bool:
                reports = await asyncio.gather(*(s.report() for s in subscribers))
                frames = [one["frames"] for report in reports for one in report["subscribers"]]
                return len(frames) == count and min(frames) > 0

            await _wait_until(f"{count} subscribers to receive video", receiving, settings.setup_timeout)
            await asyncio.sleep(settings.warmup)
            clients = Clients(publisher, subscribers, probe)
            before = await _snapshot(http, server, clients, opening=True)
            await asyncio.sleep(settings.window)
            after = await _snapshot(http, server, clients, opening=False)
            return _point(forwarder, count, before, after)
        except BenchError as error:
            raise BenchError(f"{forwarder} N={count}: {error}\nserver log:\n{tail(server.log)}") from None
        finally:
            await asyncio.gather(*(child.stop() for child in reversed(children)))


# -- the whole run ------------------------------------------------------------------------------------------


def _summary(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-stream slope over the points the forwarder sustained (a saturated one says too little)."""
    cpu = [(p["subscribers"], p["server_cpu_percent"]) for p in points if p["sustained"]]
    slope, intercept = least_squares(cpu) if len({n for n, _ in cpu}) > 1 else (math.nan, math.nan)
    largest = max(points, key=lambda p: p["subscribers"])
    # Over the points the slope uses: a collapsed point's keyframe storm says nothing of the rate held.
    rates = [p["publisher_mbit_s"] for p in points if p["sustained"]] or [
        p["publisher_mbit_s"] for p in points
    ]
    return {
        "cpu_percent_per_stream": slope,
        "cpu_percent_intercept": intercept,
        "slope_over_n": [n for n, _ in cpu],
        "all_points_sustained": all(p["sustained"] for p in points),
        "unsustained_n": [p["subscribers"] for p in points if not p["sustained"]],
        "publisher_mbit_s_mean": sum(rates) / len(rates),
        "largest_n": largest["subscribers"],
        "loop_lag_p99_bound_s_at_largest_n": largest["loop_lag_p99_bound_s"],
        "control_loop_lag_p99_bound_s_at_largest_n": largest["control_loop_lag_p99_bound_s"],
    }


def _slope_over(points: list[dict[str, Any]], counts: set[int]) -> float:
    """The per-stream slope over the points at ``counts`` (NaN with fewer than two of them)."""
    cpu = [(p["subscribers"], p["server_cpu_percent"]) for p in points if p["subscribers"] in counts]
    return least_squares(cpu)[0] if len({n for n, _ in cpu}) > 1 else math.nan


def _ratio(forwarders: dict[str, dict[str, Any]], numerator: str, denominator: str) -> dict[str, Any]:
    """One forwarder's per-stream CPU over another's, both slopes taken over the N that both sustained.

    The same N on both sides: a point one of them could not sustain would otherwise weigh on one slope
    only. The ratio is None when either slope is missing or the denominator is not positive.
    """
    if numerator not in forwarders or denominator not in forwarders:
        return {"ratio": None, "over_n": []}
    top, bottom = forwarders[numerator]["points"], forwarders[denominator]["points"]
    common = {p["subscribers"] for p in top if p["sustained"]} & {
        p["subscribers"] for p in bottom if p["sustained"]
    }
    top_slope, bottom_slope = _slope_over(top, common), _slope_over(bottom, common)
    valid = not (math.isnan(top_slope) or math.isnan(bottom_slope)) and bottom_slope > 0
    return {
        "ratio": top_slope / bottom_slope if valid else None,
        "over_n": sorted(common),
        f"{numerator}_cpu_percent_per_stream": top_slope,
        f"{denominator}_cpu_percent_per_stream": bottom_slope,
    }


def _comparison(forwarders: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The slopes' ratios against their targets, and whether the publisher was held alike everywhere."""
    aula_janus = _ratio(forwarders, "aula", "janus")
    relay_aula = _ratio(forwarders, "relay", "aula")
    aula_per_janus, relay_per_aula = aula_janus["ratio"], relay_aula["ratio"]
    rates = {name: f["publisher_mbit_s_mean"] for name, f in forwarders.items()}
    return {
        "aula_per_janus": aula_per_janus,
        "aula_per_janus_within_target": None
        if aula_per_janus is None
        else aula_per_janus <= TARGET_AULA_PER_JANUS,
        "aula_per_janus_slopes": aula_janus,
        "relay_per_aula": relay_per_aula,
        "relay_per_aula_within_target": None
        if relay_per_aula is None
        else relay_per_aula >= TARGET_RELAY_PER_AULA,
        "relay_per_aula_slopes": relay_aula,
        "publisher_mbit_s_mean": rates,
        "publisher_rates_comparable": max(rates.values()) <= COMPARABLE_PUBLISHER_RATES * min(rates.values())
        if rates
        else None,
    }


async def run(settings: Settings) -> dict[str, Any]:
    """Measure every point, interleaving the forwarders by N so slow drifts in machine load hit all alike."""
    if not janus.in_private_namespace():
        raise BenchError("run it in the loopback-only network namespace: bench/netns.sh")
    started = utc_now()
    schedule = {"aula": settings.counts, "janus": settings.janus_counts, "relay": settings.relay_counts}
    order = sorted({count for counts in schedule.values() for count in counts})
    points: dict[str, list[dict[str, Any]]] = {name: [] for name in schedule}
    janus_version = janus.janus_version() if settings.janus_counts else None
    with tempfile.TemporaryDirectory(prefix="aula-bench-") as logs:
        for count in order:
            for forwarder, counts in schedule.items():
                if count not in counts:
                    continue
                budget = settings.warmup + settings.window + 2 * settings.setup_timeout + 60
                async with asyncio.timeout(budget):
                    point = json_safe(await measure_point(forwarder, count, settings, Path(logs)))
                print(_row(point), file=sys.stderr, flush=True)
                points[forwarder].append(point)
    forwarders = {
        name: {
            "label": FORWARDERS[name].format(version=janus_version),
            "points": measured,
            **_summary(measured),
        }
        for name, measured in points.items()
        if measured
    }
    comparison = _comparison(forwarders)
    aula = forwarders.get("aula")
    verdict: dict[str, Any] = {}
    if aula is not None:
        per_stream, lag = aula["cpu_percent_per_stream"], aula["loop_lag_p99_bound_s_at_largest_n"]
        verdict = {
            "cpu_per_stream_within_target": not math.isnan(per_stream)
            and per_stream <= TARGET_CPU_PER_STREAM,
            "loop_lag_p99_within_target": within(lag, TARGET_LOOP_LAG_P99),
            # The idle probe over the target too: the machine, not the server, set the lag.
            "loop_lag_machine_bound": not within(
                aula["control_loop_lag_p99_bound_s_at_largest_n"], TARGET_LOOP_LAG_P99
            ),
            "all_points_sustained": aula["all_points_sustained"],
            "aula_per_janus_within_target": comparison["aula_per_janus_within_target"],
            "relay_per_aula_within_target": comparison["relay_per_aula_within_target"],
        }
    result: dict[str, Any] = json_safe(
        {
            "benchmark": "forwarding",
            "started_at": started,
            "finished_at": utc_now(),
            "machine": machine(janus=janus_version),
            "settings": asdict(settings),
            "targets": {
                "cpu_percent_per_stream_max": TARGET_CPU_PER_STREAM,
                "loop_lag_p99_max_s": TARGET_LOOP_LAG_P99,
                "aula_per_janus_max": TARGET_AULA_PER_JANUS,
                "relay_per_aula_min": TARGET_RELAY_PER_AULA,
                "publisher_rates_within_factor": COMPARABLE_PUBLISHER_RATES,
            },
            "forwarders": forwarders,
            "comparison": comparison,
            "verdict": verdict,
        }
    )
    return result


def run_forwarding(settings: Settings | None = None) -> dict[str, Any]:
    """The importable entry point (for a ``make bench`` runner): measure and return the result dict."""
    return asyncio.run(run(settings or Settings()))


# -- output -------------------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _lag(value: float | None) -> str:
    """A histogram bound: the quantile is at most this (null: no samples, or over the last bucket)."""
    return "n/a" if value is None else f"≤ {value * 1000:g} ms"


COLUMNS = (
    "forwarder",
    "N",
    "server CPU, % of one core (user + system)",
    "publisher Mbit/s",
    "subscriber fps (min / mean)",
    "decoded fps, min (decoders)",
    "Mbit/s per subscriber",
    "packet loss %",
    "loop lag p99: server / idle probe",
    "machine busy %",
    "CPU pressure %",
    "sustained",
)


def _row(p: dict[str, Any]) -> str:
    decoders = p["decoding_subscribers"]
    cells = [
        p["forwarder"],
        str(p["subscribers"]),
        f"{_fmt(p['server_cpu_percent'])} ({_fmt(p['server_user_percent'], 1)} + "
        f"{_fmt(p['server_system_percent'], 1)})",
        _fmt(p["publisher_mbit_s"]),
        f"{_fmt(p['subscriber_fps_min'], 1)} / {_fmt(p['subscriber_fps_mean'], 1)}",
        f"{_fmt(p['decoded_fps_min'], 1)} ({decoders})" if decoders else "n/a",
        _fmt(p["subscriber_mbit_s_mean"]),
        _fmt(p["packet_loss_percent"]),
        f"{_lag(p['loop_lag_p99_bound_s'])} / {_lag(p['control_loop_lag_p99_bound_s'])}",
        _fmt(p["machine_busy_percent"], 0),
        _fmt(p["cpu_pressure_percent"], 0),
        "yes" if p["sustained"] else "no",
    ]
    return "| " + " | ".join(cells) + " |"


def _met(flag: bool | None) -> str:
    return "not measured" if flag is None else "met" if flag else "MISSED"


def _scale_curve(forwarders: dict[str, dict[str, Any]]) -> list[str]:
    """Server CPU against N, one column per forwarder, and the slope under each column."""
    names = list(forwarders)
    by_n: dict[int, dict[str, dict[str, Any]]] = {}
    for name, forwarder in forwarders.items():
        for p in forwarder["points"]:
            by_n.setdefault(p["subscribers"], {})[name] = p
    rows = [
        "| N | " + " | ".join(f"{name}: server CPU %" for name in names) + " |",
        "|" + "---|" * (len(names) + 1),
    ]
    for n in sorted(by_n):
        cells = []
        for name in names:
            point = by_n[n].get(name)
            if point is None:
                cells.append("")
            else:
                cells.append(
                    _fmt(point["server_cpu_percent"]) + ("" if point["sustained"] else " (not sustained)")
                )
        rows.append(f"| {n} | " + " | ".join(cells) + " |")
    slopes = [f"**{_fmt(forwarders[name]['cpu_percent_per_stream'], 3)}**" for name in names]
    rows.append("| % per stream (slope) | " + " | ".join(slopes) + " |")
    return rows


def table(result: dict[str, Any]) -> str:
    """The result as Markdown: one row per point, the scale curve, the slopes and ratios against targets."""
    rows = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for forwarder in result["forwarders"].values():
        rows.extend(_row(p) for p in forwarder["points"])
    lines = ["\n".join(rows), "", "\n".join(_scale_curve(result["forwarders"])), ""]
    for name, forwarder in result["forwarders"].items():
        counts = ",".join(str(n) for n in forwarder["slope_over_n"])
        per_stream = _fmt(forwarder["cpu_percent_per_stream"], 3)
        intercept = _fmt(forwarder["cpu_percent_intercept"])
        lag = _lag(forwarder["loop_lag_p99_bound_s_at_largest_n"])
        unsustained = forwarder["unsustained_n"]
        cost = (
            f"**{per_stream}% of one core per forwarded stream**"
            if per_stream != "n/a"
            else "**no per-stream cost** (it needs two sustained N)"
        )
        lines.append(
            f"- {forwarder['label']} (`{name}`): {cost} (slope over N = {counts}; intercept {intercept}%), "
            f"publisher {_fmt(forwarder['publisher_mbit_s_mean'])} Mbit/s on average, "
            f"loop lag p99 {lag} at N = {forwarder['largest_n']}"
            + (f"; not sustained at N = {','.join(map(str, unsustained))}." if unsustained else ".")
        )
    comparison = result["comparison"]
    for key, label, digits, target in (
        ("aula_per_janus", "Aula / Janus", 2, f"at most {TARGET_AULA_PER_JANUS:g}"),
        ("relay_per_aula", "MediaRelay / Aula", 1, f"at least {TARGET_RELAY_PER_AULA:g}"),
    ):
        over = ",".join(str(n) for n in comparison[f"{key}_slopes"]["over_n"]) or "none"
        lines.append(
            f"- {label} per stream: **{_fmt(comparison[key], digits)}** (slopes over the N both sustained: "
            f"{over}; target {target}: {_met(comparison[f'{key}_within_target'])})."
        )
    rates = ", ".join(f"{name} {_fmt(rate)}" for name, rate in comparison["publisher_mbit_s_mean"].items())
    comparable = comparison["publisher_rates_comparable"]
    lines.append(
        f"- Publisher Mbit/s, mean over the sustained points: {rates} "
        f"({'comparable' if comparable else 'NOT comparable'}: within {COMPARABLE_PUBLISHER_RATES:g}x)."
    )
    verdict = result["verdict"]
    if verdict:
        cpu = _met(verdict["cpu_per_stream_within_target"])
        lag = _met(verdict["loop_lag_p99_within_target"])
        if not verdict["loop_lag_p99_within_target"] and verdict["loop_lag_machine_bound"]:
            lag += " (inconclusive: an idle process on this machine lagged as much)"
        lines.append(
            f"- Targets for Aula: at most {TARGET_CPU_PER_STREAM}% of one core per stream: {cpu}; "
            f"loop lag p99 under {TARGET_LOOP_LAG_P99 * 1000:g} ms at the largest N: {lag}."
        )
    lines.append(
        f"- sustained: every subscriber got at least {SUSTAINED_SHARE:.0%} of the publisher's frames; "
        "points that were not are left out of the slope. Machine busy: all cores, every process. "
        "CPU pressure: share of the window in which some task waited for a CPU (Linux PSI). "
        "Loop lag is n/a for Janus (no event loop)."
    )
    return "\n".join(lines)


def _counts(text: str) -> tuple[int, ...]:
    counts = tuple(sorted({int(c) for c in text.split(",") if c.strip()}))
    if any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError("subscriber counts must be positive")
    return counts


QUICK = Settings(counts=(1, 4), janus_counts=(1, 4), relay_counts=(1, 4), warmup=5.0, window=10.0)
"A smoke run (about 3 minutes): the same two N for every forwarder, so every ratio has its slopes."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: N = 1,4 for each forwarder, 5 s warm-up, 10 s window"
    )
    parser.add_argument("--counts", type=_counts, help="Aula's N (default 1,4,8,16,32; '' to skip)")
    parser.add_argument("--janus-counts", type=_counts, help="Janus's N (default: Aula's; '' to skip)")
    parser.add_argument("--relay-counts", type=_counts, help="MediaRelay's N (default 1,4,8; '' to skip)")
    parser.add_argument("--warmup", type=float, help="seconds before the window (default 10)")
    parser.add_argument("--window", type=float, help="seconds measured per point (default 20)")
    parser.add_argument("--decoders", type=int, help="decoding subscribers per point (default 2)")
    parser.add_argument("--per-process", type=int, help="subscribers per client process (default 8)")
    parser.add_argument("--out", type=Path, help="JSON path (default bench/results/forwarding-<date>.json)")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Settings()
    chosen = {
        name: value
        for name in ("counts", "janus_counts", "relay_counts", "warmup", "window", "decoders", "per_process")
        if (value := getattr(args, name)) is not None
    }
    if args.janus_counts is None and args.counts is not None:
        chosen["janus_counts"] = args.counts
    settings = dataclasses.replace(base, **chosen)
    return run_and_report(
        "forwarding", lambda: run_forwarding(settings), table, args.out, "every server and client was stopped"
    )


if __name__ == "__main__":
    sys.exit(main())
