"""What a benchmark reads off the machine: process and machine CPU from /proc, Prometheus histograms, slopes.

CPU comes from the kernel's own accounting (``/proc/<pid>/stat`` utime + stime, all threads of the process),
not from sampling, so a fixed window after warm-up gives the process's mean load without instrumenting it.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessCpu:
    """CPU time (every thread) a process has used so far, in user space and in the kernel.

    The split matters for a forwarder: each forwarded packet is one ``sendto`` system call, so kernel time
    grows with the number of subscribers as much as the Python work does.
    """

    user: float
    system: float

    @classmethod
    def read(cls, pid: int) -> ProcessCpu:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name may hold spaces and parentheses: fields start after the last ")".
            fields = stat.read().rsplit(")", 1)[1].split()
        return cls(user=int(fields[11]) / CLOCK_TICKS, system=int(fields[12]) / CLOCK_TICKS)

    @property
    def total(self) -> float:
        return self.user + self.system


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) the process ``pid`` has used so far."""
    return ProcessCpu.read(pid).total


def thread_cpu_seconds(pid: int, tid: int) -> float:
    """CPU time (user + system) one thread of process ``pid`` has used so far.

    Tells a worker thread's own cost apart from the threads that feed it, inside one process.
    """
    with open(f"/proc/{pid}/task/{tid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_run_delay_seconds(pid: int, tid: int) -> float:
    """Time one thread of process ``pid`` has spent ready to run but waiting for a CPU so far.

    From ``/proc/<pid>/task/<tid>/schedstat``. Over a window it tells whether a late or stalled thread was
    kept off the CPU by other work on the machine, or was slow on its own.
    """
    with open(f"/proc/{pid}/task/{tid}/schedstat") as schedstat:
        return int(schedstat.read().split()[1]) / 1e9


def resident_bytes(pid: int) -> int:
    """Resident memory (``VmRSS``) of the process ``pid`` now: what it really holds in RAM."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for process {pid}")


@dataclass(frozen=True)
class MachineCpu:
    """The whole machine's busy and total CPU time so far (every core), from ``/proc/stat``."""

    busy: float
    total: float

    @classmethod
    def read(cls) -> MachineCpu:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal (guest time is already counted in user).
        idle = values[3] + values[4]
        total = sum(values[:8])
        return cls(busy=(total - idle) / CLOCK_TICKS, total=total / CLOCK_TICKS)

    def busy_percent_since(self, earlier: MachineCpu) -> float:
        """Busy share of all cores between two readings, in % of the whole machine (100 = every core)."""
        total = self.total - earlier.total
        return 100 * (self.busy - earlier.busy) / total if total > 0 else math.nan


def cpu_pressure_seconds() -> float:
    """Time so far during which at least one runnable task waited for a CPU (Linux PSI), or NaN.

    Its growth over a window says how contended the machine was, whoever caused it: on a shared machine
    that is what makes a loop-lag spike the machine's rather than the server's.
    """
    try:
        with open("/proc/pressure/cpu") as pressure:
            some = pressure.readline().split()
    except OSError:
        return math.nan
    fields = dict(item.split("=") for item in some[1:])
    return int(fields["total"]) / 1e6


@dataclass(frozen=True)
class Histogram:
    """A Prometheus histogram's cumulative bucket counts, keyed by upper bound (``le``)."""

    buckets: dict[float, float]
    count: float
    total: float

    @classmethod
    def parse(cls, text: str, name: str) -> Histogram:
        """Read histogram ``name`` (without the ``_bucket`` suffix) from the Prometheus text format."""
        for family in text_string_to_metric_families(text):
            if family.name != name:
                continue
            buckets: dict[float, float] = {}
            count = total = 0.0
            for sample in family.samples:
                if sample.name == f"{name}_bucket":
                    buckets[float(sample.labels["le"])] = sample.value
                elif sample.name == f"{name}_count":
                    count = sample.value
                elif sample.name == f"{name}_sum":
                    total = sample.value
            return cls(buckets, count, total)
        raise ValueError(f"no histogram {name!r} in the metrics")

    def since(self, earlier: Histogram) -> Histogram:
        """The observations made between ``earlier`` and this reading."""
        return Histogram(
            {le: n - earlier.buckets.get(le, 0.0) for le, n in self.buckets.items()},
            self.count - earlier.count,
            self.total - earlier.total,
        )

    def quantile_bound(self, q: float) -> float:
        """The smallest bucket bound holding at least the fraction ``q`` of the observations.

        Buckets only bound a quantile from above: the answer reads "the q-quantile is at most this".
        """
        if self.count <= 0:
            return math.nan
        for le in sorted(self.buckets):
            if self.buckets[le] >= q * self.count:
                return le
        return math.inf

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count > 0 else math.nan


def least_squares(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through ``points`` (at least two distinct x)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        raise ValueError("a slope needs at least two different x values")
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


RESULTS_DIR = Path(__file__).resolve().parent / "results"


class BenchError(RuntimeError):
    """A benchmark could not measure: something did not come up, or stalled, in time."""


def run_and_report(
    name: str,
    run: Callable[[], dict[str, Any]],
    table: Callable[[dict[str, Any]], str],
    out: Path | None,
    interrupted: str,
) -> int:
    """Run one benchmark as a command: write its JSON (``<name>-<date>.json``) and print its table.

    SIGTERM (a CI timeout) unwinds like Ctrl-C, so the benchmark's own clean-up runs.
    """
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result = run()
    except BenchError as error:
        print(f"{name} benchmark failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{name} benchmark interrupted; {interrupted}", file=sys.stderr)
        return 130
    path = out or RESULTS_DIR / f"{name}-{result['started_at'][:10]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\nwritten to {path}")
    return 0


def machine(**extra: Any) -> dict[str, Any]:
    """What every result records of where it ran: cores, Python, aiortc and PyAV versions (plus ``extra``)."""
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "aiortc": metadata.version("aiortc"),
        "av": metadata.version("av"),
        **extra,
    }


def within(value: float | None, limit: float) -> bool:
    """A measured figure at most ``limit`` (no figure is not within)."""
    return value is not None and value <= limit


def json_safe(value: Any) -> Any:
    """NaN and infinity (no data, or past the last histogram bucket) become null: strict JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
