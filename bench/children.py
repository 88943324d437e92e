"""The benchmarks' child processes: they die with the benchmark, talk in JSON lines, and are always stopped.

Servers, media clients and robots under measurement run as children so their CPU is read apart from the
benchmark's own. Every child is started with :func:`die_with_parent` (the kernel sends it SIGTERM when
the benchmark dies, however it dies), and stopped by :func:`stop_child` (stdin closed, then SIGTERM, then
SIGKILL, each bounded). A :class:`Child` is configured by one JSON line on its stdin and answers every
further line with one JSON report on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, Self

from bench.measure import BenchError, process_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
REPORT_TIMEOUT = 10.0
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """For ``preexec_fn``: the kernel sends the child SIGTERM when the benchmark dies, however it dies."""
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def spawn(args: Sequence[str], log: Path) -> asyncio.subprocess.Process:
    """A child talking through stdin/stdout, run from the checkout; its stderr goes to ``log``."""
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            *args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=output,
            preexec_fn=die_with_parent,
        )


async def stop_child(process: asyncio.subprocess.Process) -> None:
    """Close stdin (the benchmark's clients exit on it), then SIGTERM, then SIGKILL: bounded, never left."""
    if process.stdin is not None:
        process.stdin.close()
    for action in (None, process.terminate, process.kill):
        if process.returncode is not None:
            return
        if action is not None:
            with contextlib.suppress(ProcessLookupError):
                action()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 5)


def tail(log: Path, lines: int = 30) -> str:
    """The end of a child's log, for an error message."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Child:
    """One child configured by one JSON line, then answering one JSON report per request."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @classmethod
    async def launch(cls, name: str, command: Sequence[str], config: dict[str, Any], logs: Path) -> Self:
        log = logs / f"{name}.log"
        process = await spawn(command, log)
        assert process.stdin is not None
        process.stdin.write(json.dumps(config).encode() + b"\n")
        return cls(name, process, log)

    async def report(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        try:
            self.process.stdin.write(b"report\n")
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), REPORT_TIMEOUT)
        except (ConnectionError, TimeoutError):
            line = b""
        if not line:
            raise BenchError(f"{self.name} stopped answering:\n{tail(self.log)}")
        report: dict[str, Any] = json.loads(line)
        return report

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    async def stop(self) -> None:
        await stop_child(self.process)


# -- the child's side ---------------------------------------------------------------------------------------


class Reporting(Protocol):
    """What a child runs: something that joins, reports its counters, and leaves."""

    async def start(self) -> None: ...

    async def report(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


async def stdin_lines() -> asyncio.StreamReader:
    """The child's stdin as an asyncio stream (the orchestrator's configuration and report requests)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def say(message: dict[str, Any]) -> None:
    """One JSON line to the orchestrator."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def serve(peer: Reporting, commands: asyncio.StreamReader) -> None:
    """Start ``peer``, answer each stdin line with its report (on the monotonic clock), leave at EOF.

    Reports are answered while it is still starting too (with what exists so far), so the orchestrator
    waits for media with its own deadline; a failed start ends the process at the next report.
    """
    starting = asyncio.ensure_future(peer.start())
    try:
        while await commands.readline():
            if starting.done():
                starting.result()
            say({"t": time.monotonic(), **await peer.report()})
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await peer.close()
