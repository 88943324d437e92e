"""Runs one Session Recorder Robot process per recording on this machine and follows it to the end.

The robot is a separate program (``python -m recorder_bot``) that joins the classroom like a browser;
this module hands it its job on stdin, reads its progress as JSON lines on stdout, and moves the
recording through its states: ``recording`` when the robot has written its first fragment, ``finishing``
on Stop, ``ready`` or ``failed`` when the process has ended and the file has been probed. Because the
file is written progressively, a robot that crashes still leaves a recording that plays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import av.codec
import av.error
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.config import Config
from server.db.models import Recording, RecordingState
from server.library import probe
from server.library.files import path_under
from server.library.recordings import DISK_FULL_SUFFIX, add_flag, all_active, transition
from server.recorders.tokens import RobotTokens
from server.storage import LocalStorage

log = logging.getLogger(__name__)

Listener = Callable[[Recording, str | None], Awaitable[None]]
MAX_LINE = 64 * 1024


@dataclass
class Robot:
    recording_id: int
    classroom_id: int
    output: Path
    process: asyncio.subprocess.Process
    started_at: float
    recording: asyncio.Event = field(default_factory=asyncio.Event)
    finished: dict[str, Any] | None = None
    stop_reason: str | None = None
    follower: asyncio.Task[None] | None = None


class RecorderSupervisor:
    def __init__(
        self,
        config: Config,
        db: async_sessionmaker[AsyncSession],
        storage: LocalStorage,
        tokens: RobotTokens,
        command: list[str] | None = None,
    ) -> None:
        self.config = config
        self._db = db
        self._storage = storage
        self._tokens = tokens
        self._command = command or [sys.executable, "-m", "recorder_bot"]
        self.server_url = ""
        self.listener: Listener | None = None
        self._robots: dict[int, Robot] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._warm: asyncio.subprocess.Process | None = None
        self._warming: asyncio.Task[None] | None = None

    @property
    def running(self) -> int:
        return len(self._robots)

    def health(self) -> dict[str, Any]:
        """Whether this machine can record: the robot's encoders exist; and how many robots run."""
        missing = []
        for name in ("libx264", "aac", "libvpx", "libopus"):
            try:
                av.codec.Codec(name, "w" if name in ("libx264", "aac") else "r")
            except (av.error.FFmpegError, ValueError):
                missing.append(name)
        if missing:
            return {"ok": False, "running": self.running, "detail": f"missing codecs: {', '.join(missing)}"}
        return {"ok": True, "running": self.running}

    def robot_of(self, recording_id: int) -> Robot | None:
        return self._robots.get(recording_id)

    async def start(self, recording: Recording, classroom_name: str) -> None:
        """Launch the robot for a recording that is ``starting``."""
        assert recording.file_name is not None
        assert recording.classroom_id is not None
        output = path_under(self._storage.recordings, recording.file_name)
        rec = self.config.recording
        job = {
            "server_url": self.server_url,
            "token": self._tokens.issue(recording.id, recording.classroom_id),
            "classroom_id": recording.classroom_id,
            "classroom_name": classroom_name,
            "output": str(output),
            "storage_root": str(self._storage.recordings),
            "width": rec.video_width,
            "height": rec.video_height,
            "fps": rec.video_fps,
            "video_bitrate": rec.video_bitrate,
            "audio_bitrate": rec.audio_bitrate,
        }
        process = self._take_warm() or await self._spawn()
        self.prepare()
        assert process.stdin is not None
        process.stdin.write(json.dumps(job).encode() + b"\n")
        await process.stdin.drain()
        process.stdin.close()
        loop = asyncio.get_running_loop()
        robot = Robot(recording.id, recording.classroom_id, output, process, loop.time())
        self._robots[recording.id] = robot
        robot.follower = asyncio.create_task(self._follow(robot))
        self._ensure_watcher()
        await self._notify(recording, None)
        log.info("robot started", extra={"recording_id": recording.id, "pid": process.pid})

    def prepare(self) -> None:
        """Start a robot process that waits for its job, if configured and none is waiting."""
        if (
            self.config.recording.warm_robots
            and self._warm is None
            and (self._warming is None or self._warming.done())
        ):
            self._warming = asyncio.create_task(self._keep_warm())

    async def _keep_warm(self) -> None:
        self._warm = await self._spawn()

    def _take_warm(self) -> asyncio.subprocess.Process | None:
        process, self._warm = self._warm, None
        return process if process is not None and process.returncode is None else None

    async def _spawn(self) -> asyncio.subprocess.Process:
        # The robot loads its libraries first, then waits for its job on stdin.
        return await asyncio.create_subprocess_exec(
            *self._command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=MAX_LINE
        )

    async def stop(self, recording_id: int, reason: str = "stopped") -> None:
        """Ask the robot to finish its file (SIGTERM); the follower takes it to ready."""
        robot = self._robots.get(recording_id)
        async with self._db() as db:
            recording = await db.get(Recording, recording_id)
            if recording is not None and RecordingState(recording.state) in (
                RecordingState.STARTING,
                RecordingState.RECORDING,
            ):
                transition(recording, RecordingState.FINISHING)
                await db.commit()
                await self._notify(recording, reason)
        if robot is None:
            return
        robot.stop_reason = reason
        # A robot still starting up has no file yet: let it begin writing, so Stop right after REC
        # still leaves a valid (short) recording instead of a failed one.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(robot.recording.wait(), self.config.recording.robot_start_timeout)
        if robot.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                robot.process.send_signal(signal.SIGTERM)

    async def wait(self, recording_id: int) -> None:
        robot = self._robots.get(recording_id)
        if robot is not None and robot.follower is not None:
            await asyncio.shield(robot.follower)

    async def close(self) -> None:
        """Server shutdown: every robot finishes its file; nothing recorded is lost."""
        for recording_id in list(self._robots):
            await self.stop(recording_id, "server_stopping")
        followers = [r.follower for r in self._robots.values() if r.follower is not None]
        if followers:
            await asyncio.gather(*followers, return_exceptions=True)
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._warming is not None:
            with contextlib.suppress(Exception):
                await self._warming
        waiting = self._take_warm()
        if waiting is not None:
            if waiting.stdin is not None:
                waiting.stdin.close()  # else its transport outlives the loop, never finished
            waiting.kill()
            await waiting.wait()

    async def reconcile(self) -> None:
        """On start: a recording left active by a previous run is ready if its file plays, else failed."""
        async with self._db() as db:
            for recording in await all_active(db):
                if recording.id in self._robots:
                    continue
                if RecordingState(recording.state) != RecordingState.FINISHING:
                    transition(recording, RecordingState.FINISHING)
                await self._settle(recording, None)
                await db.commit()
                log.info(
                    "recording reconciled", extra={"recording_id": recording.id, "state": recording.state}
                )

    # -- following a robot ----------------------------------------------------------------------------

    async def _follow(self, robot: Robot) -> None:
        try:
            reader = asyncio.create_task(self._read(robot))
            try:
                await asyncio.wait_for(robot.recording.wait(), self.config.recording.robot_start_timeout)
            except TimeoutError:
                if robot.process.returncode is None and robot.stop_reason is None:
                    log.warning("robot did not start in time", extra={"recording_id": robot.recording_id})
                    robot.process.kill()
            await reader
            if robot.finished is None:
                await robot.process.wait()
        finally:
            self._robots.pop(robot.recording_id, None)
            await self._finish(robot)
        # The file is complete once the robot says so; its interpreter may take a moment more to exit.
        try:
            await asyncio.wait_for(robot.process.wait(), self.config.recording.robot_stop_timeout)
        except TimeoutError:
            robot.process.kill()
            await robot.process.wait()

    async def _read(self, robot: Robot) -> None:
        assert robot.process.stdout is not None
        async for raw in robot.process.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            event = message.get("event")
            if event == "recording":
                robot.recording.set()
                await self._mark_recording(robot)
            elif event == "finished":
                robot.finished = message
                return
            elif event == "failed":
                log.warning(
                    "robot failed", extra={"recording_id": robot.recording_id, "error": message.get("error")}
                )

    async def _mark_recording(self, robot: Robot) -> None:
        async with self._db() as db:
            recording = await db.get(Recording, robot.recording_id)
            if recording is not None and recording.state == RecordingState.STARTING:
                transition(recording, RecordingState.RECORDING)
                await db.commit()
                await self._notify(recording, None)

    async def _finish(self, robot: Robot) -> None:
        async with self._db() as db:
            recording = await db.get(Recording, robot.recording_id)
            if recording is None:
                return
            if RecordingState(recording.state) in (RecordingState.STARTING, RecordingState.RECORDING):
                transition(recording, RecordingState.FINISHING)
            await self._settle(recording, robot.finished)
            await db.commit()
            await self._notify(recording, robot.stop_reason)
        log.info(
            "recording finished",
            extra={
                "recording_id": robot.recording_id,
                "state": recording.state,
                "exit": robot.process.returncode,
            },
        )

    async def _settle(self, recording: Recording, finished: dict[str, Any] | None) -> None:
        """``finishing`` → ``ready`` if the file plays (flagged ``recovered`` after a crash), else failed.

        After a clean finish the robot's own figures are used and only the file's start is read, so the
        time from Stop to ready does not grow with the recording's length; a crashed robot's file is
        read to its end to learn how much of it survived.
        """
        path = path_under(self._storage.recordings, recording.file_name or "")
        clean = finished is not None and isinstance(finished.get("duration_ms"), int)
        if not path.exists():
            found = probe.Probe(False, 0, False, False, "no file")
        else:
            found = await probe.probe(path, whole=not clean)
        if found.playable:
            recording.duration_ms = int(finished["duration_ms"]) if finished and clean else found.duration_ms
            recording.size_bytes = path.stat().st_size
            if not clean:
                add_flag(recording, "recovered")
            at = min(2.0, recording.duration_ms / 2000)
            await probe.thumbnail(path, path.with_suffix(".jpg"), at_seconds=at)
            transition(recording, RecordingState.READY)
        else:
            recording.error = found.detail or "the recording could not be written"
            transition(recording, RecordingState.FAILED)
        if recording.stopped_at is None:
            recording.stopped_at = datetime.now(UTC)

    async def _notify(self, recording: Recording, reason: str | None) -> None:
        if self.listener is not None:
            try:
                await self.listener(recording, reason)
            except Exception:
                log.exception("recording listener failed")

    # -- disk space and length ------------------------------------------------------------------------

    def _ensure_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        rec = self.config.recording
        loop = asyncio.get_running_loop()
        while self._robots:
            await asyncio.sleep(rec.disk_check_interval)
            status = await self._storage.check()
            for robot in list(self._robots.values()):
                if robot.stop_reason is not None:
                    continue
                if not status.ok or status.free_bytes < rec.stop_free_bytes:
                    await self._stop_for_disk(robot)
                elif loop.time() - robot.started_at > rec.max_recording_hours * 3600:
                    await self.stop(robot.recording_id, "too_long")

    async def _stop_for_disk(self, robot: Robot) -> None:
        async with self._db() as db:
            recording = await db.get(Recording, robot.recording_id)
            if recording is not None and not recording.name.endswith(DISK_FULL_SUFFIX):
                recording.name = recording.name[: 200 - len(DISK_FULL_SUFFIX)] + DISK_FULL_SUFFIX
                add_flag(recording, "disk_full")
                await db.commit()
        log.warning("disk low: stopping recording", extra={"recording_id": robot.recording_id})
        await self.stop(robot.recording_id, "disk_full")
