"""One robot process from its job to its exit: started, first fragment, asked to stop (and why), ended.

The robot is the installed ``recorder_bot`` package run in isolated mode (``python -I``), from ``/`` and
with an environment chosen here rather than inherited: a ``recorder_bot`` directory planted where the
server happens to run is never imported, and the robot never sees the server's secrets
(``AULA_ADMIN_PASSWORD``, database credentials). It reads one :class:`~recorder_bot.job.RobotJob` on
stdin, then commands (pause, resume) on the same pipe, and writes its progress on stdout
(``recorder_bot.job``).

A :class:`RobotRun` follows one such process; the supervisor owns the map of runs and the recordings'
state in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from recorder_bot.job import (
    Command,
    Failed,
    Finished,
    FirstFragment,
    Joined,
    Receiving,
    RobotJob,
    TrackStarted,
    parse_progress,
)
from server.db.models import StopReason

log = logging.getLogger(__name__)

ROBOT_COMMAND = (sys.executable, "-I", "-m", "recorder_bot")
ROBOT_CWD = "/"
MAX_LINE = 64 * 1024
COMMAND_TIMEOUT = 2.0
"""Seconds a command may wait for room in the robot's stdin pipe (it reads at once unless it is stuck)."""
# Passed through from the server's environment when set; nothing else is. PyAV (with its own FFmpeg
# libraries) and aiortc need none of it: locale and zone only keep the robot's log lines like the
# server's.
ROBOT_ENVIRONMENT = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")


def robot_environment(server_environment: Mapping[str, str]) -> dict[str, str]:
    """The robot's whole environment, given the server's."""
    environment = {"PATH": os.defpath}
    for name in ROBOT_ENVIRONMENT:
        value = server_environment.get(name)
        if value is not None:
            environment[name] = value
    return environment


async def spawn_robot(command: Sequence[str] = ROBOT_COMMAND) -> asyncio.subprocess.Process:
    """Start a robot process; it loads its libraries, then waits for its job on stdin."""
    return await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROBOT_CWD,
        # The one place the server's environment is read: to leave nearly all of it behind.
        env=robot_environment(os.environ),
        limit=MAX_LINE,
    )


async def hand_over(process: asyncio.subprocess.Process, job: RobotJob) -> None:
    """Give a waiting robot its job (raises ``BrokenPipeError`` or ``ConnectionResetError`` if it died).

    stdin stays open: the run's commands follow on it (:meth:`RobotRun.send`)."""
    assert process.stdin is not None
    process.stdin.write(job.line().encode())
    await process.stdin.drain()


class RunState(enum.StrEnum):
    STARTING = "starting"
    "The job is handed over; the file has no fragment yet."
    RECORDING = "recording"
    "The file has its first fragment."
    STOPPING = "stopping"
    "Asked to finish its file (SIGTERM, sent once it records or gives up starting)."
    ENDED = "ended"
    "The robot finished its file or its process ended."


@dataclass(frozen=True)
class RobotExit:
    """How a run ended."""

    reason: StopReason
    "The stop asked of it, or ``robot_failed`` if it ended unasked."
    finished: Finished | None
    "The robot's own report of its complete file; None if it never finished it."
    error: str | None
    "What went wrong, in the robot's words (``Failed``) or the supervisor's (did not start in time)."
    returncode: int | None


class RobotRun:
    """One robot process recording one recording, from its job to its exit report."""

    def __init__(
        self,
        recording_id: int,
        classroom_id: int,
        process: asyncio.subprocess.Process,
        *,
        start_timeout: float,
        stop_timeout: float,
        on_first_fragment: Callable[[], Awaitable[None]],
        on_receiving: Callable[[list[int]], Awaitable[None]] | None = None,
        on_track: Callable[[TrackStarted], Awaitable[None]] | None = None,
    ) -> None:
        self.recording_id = recording_id
        self.classroom_id = classroom_id
        self.process = process
        self.state = RunState.STARTING
        self.stop_reason: StopReason | None = None
        self.started_at = asyncio.get_running_loop().time()
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._on_first_fragment = on_first_fragment
        self._on_receiving = on_receiving
        self._on_track = on_track
        # Set at the first fragment, or when the robot's output ends without one: either way, there is
        # no more waiting for the robot to start.
        self._started_or_gone = asyncio.Event()
        self._finished: Finished | None = None
        self._error: str | None = None

    @property
    def exit_report(self) -> RobotExit:
        """The report so far; final once :meth:`follow` has returned."""
        return RobotExit(
            reason=self.stop_reason or StopReason.ROBOT_FAILED,
            finished=self._finished,
            error=self._error,
            returncode=self.process.returncode,
        )

    async def follow(self) -> RobotExit:
        """Follow the robot until its file is finished or its process has ended.

        A robot that has not written its first fragment within the start timeout, and was not asked to
        stop meanwhile, is killed.
        """
        reader = asyncio.create_task(self._read())
        try:
            try:
                await asyncio.wait_for(self._started_or_gone.wait(), self._start_timeout)
            except TimeoutError:
                if self.process.returncode is None and self.stop_reason is None:
                    self._error = f"the robot did not start recording within {self._start_timeout:g} s"
                    log.warning(self._error, extra={"recording_id": self.recording_id})
                    self.process.kill()
            await reader
            if self._finished is None:
                await self.process.wait()
        finally:
            if not reader.done():
                reader.cancel()
            self.state = RunState.ENDED
        return self.exit_report

    async def request_stop(self, reason: StopReason) -> None:
        """Ask the robot to finish its file (SIGTERM). The first reason asked is the one kept.

        A robot still starting has no file yet: it is let begin writing first (up to the start timeout),
        so Stop right after REC still leaves a valid short recording instead of a failed one.
        """
        if self.stop_reason is None:
            self.stop_reason = reason
        if self.state in (RunState.STARTING, RunState.RECORDING):
            self.state = RunState.STOPPING
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._started_or_gone.wait(), self._start_timeout)
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    async def send(self, command: Command) -> bool:
        """Write one command on the robot's stdin without holding the event loop; False if the robot is
        gone, has finished, or did not take it within ``COMMAND_TIMEOUT`` (logged)."""
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing() or self.process.returncode is not None:
            return False
        if self.state is RunState.ENDED:
            return False
        try:
            stdin.write(command.line().encode())
            await asyncio.wait_for(stdin.drain(), COMMAND_TIMEOUT)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            log.warning(
                "robot did not take its command",
                extra={"recording_id": self.recording_id, "command": command.command},
            )
            return False
        return True

    async def reap(self) -> None:
        """Wait for the process to exit (its interpreter may outlive the file a moment), else kill it."""
        if self.process.stdin is not None:
            self.process.stdin.close()  # no more commands: the file is finished
        try:
            await asyncio.wait_for(self.process.wait(), self._stop_timeout)
        except TimeoutError:
            log.warning("robot did not exit: killed", extra={"recording_id": self.recording_id})
            self.process.kill()
            await self.process.wait()

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                try:
                    raw = await stdout.readline()
                except ValueError:  # longer than MAX_LINE: asyncio drops it
                    log.warning("robot wrote an over-long line", extra={"recording_id": self.recording_id})
                    continue
                if not raw:
                    return
                match parse_progress(raw):
                    case FirstFragment():
                        await self._first_fragment()
                    case Finished() as finished:
                        self._finished = finished
                        return
                    case Failed(error=error):
                        self._error = error
                        log.warning("robot failed", extra={"recording_id": self.recording_id, "error": error})
                    case Receiving(receiving=receiving):
                        await self._receiving(list(receiving))
                    case TrackStarted() as track:
                        await self._track(track)
                    case Joined():
                        log.info("robot joined", extra={"recording_id": self.recording_id})
                    case None:
                        pass
        finally:
            self._started_or_gone.set()

    async def _receiving(self, user_ids: list[int]) -> None:
        if self._on_receiving is None or self.state not in (RunState.STARTING, RunState.RECORDING):
            return
        try:
            await self._on_receiving(user_ids)
        except Exception:
            log.exception("robot media report not passed on", extra={"recording_id": self.recording_id})

    async def _track(self, track: TrackStarted) -> None:
        if self._on_track is None:
            return
        try:
            await self._on_track(track)
        except Exception:
            log.exception("robot track not stored", extra={"recording_id": self.recording_id})

    async def _first_fragment(self) -> None:
        if self._started_or_gone.is_set():
            return
        self._started_or_gone.set()
        if self.state is RunState.STARTING:
            self.state = RunState.RECORDING
        try:
            await self._on_first_fragment()
        except Exception:
            log.exception(
                "recording could not be marked as recording", extra={"recording_id": self.recording_id}
            )
