"""One replay publisher process per classroom at most: started, paused and resumed on its stdin, stopped.

A replay lives in this process's memory only (a server restart ends it, like the live classroom it plays
into). It is in the map from the moment it is asked for, before any ``await``, so two starts never both
win; it leaves the map the moment it stops, which is also when its grant stops admitting its process
(``allowed``). Every change is passed to ``listener`` (the namespace sends ``replay_state`` and, at the end,
takes the publisher's socket out).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from recorder_bot.replay_job import (
    ReplayCommand,
    ReplayEnded,
    ReplayFailed,
    ReplayJob,
    ReplayPlaying,
    parse_replay_progress,
)
from server.errors import Conflict, NotFound
from server.recorders.robot_run import MAX_LINE, ROBOT_CWD, robot_environment
from server.replay.grant import ReplayGrant, ReplayTokens, new_replay_grant, replay_user_id
from server.timefmt import iso

log = logging.getLogger(__name__)

REPLAY_COMMAND = (sys.executable, "-I", "-m", "recorder_bot.replay")
STOP_TIMEOUT = 5.0
EMPTY_GRACE = 60.0
"Seconds a replay plays on in a classroom nobody is in (a reload or a reconnect is not the end)."
ReplayStateName = Literal["starting", "playing", "paused"]


@dataclass
class Replay:
    classroom_id: int
    recording_id: int
    name: str
    bookmark_id: int | None
    loop: bool
    started_by_id: int
    started_by_name: str
    grant: ReplayGrant
    state: ReplayStateName = "starting"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    process: asyncio.subprocess.Process | None = None
    error: str | None = None

    @property
    def user_id(self) -> int:
        return replay_user_id(self.classroom_id)

    @property
    def display_name(self) -> str:
        return f"Replay: {self.name}"

    def json(self) -> dict[str, Any]:
        return {
            "recording_id": self.recording_id,
            "name": self.name,
            "bookmark_id": self.bookmark_id,
            "loop": self.loop,
            "state": self.state,
            "started_by": {"id": self.started_by_id, "display_name": self.started_by_name},
            "started_at": iso(self.started_at),
        }


Listener = Callable[[int, Replay | None], Awaitable[None]]
By = dict[str, Any] | None
"Who did it, as the timeline names them (``{id, display_name}``); None: the replay itself (it ended)."
Ended = Callable[[Replay, By], Awaitable[None]]


class ReplaySupervisor:
    def __init__(
        self,
        tokens: ReplayTokens,
        server_url: Callable[[], str],
        command: Sequence[str] = REPLAY_COMMAND,
    ) -> None:
        self._tokens = tokens
        self._server_url = server_url
        self._command = tuple(command)
        self._replays: dict[int, Replay] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: set[asyncio.Task[None]] = set()
        "Replays in empty classrooms waiting out ``empty_grace`` (cancelled at shutdown)."
        self.empty_grace = EMPTY_GRACE
        self._warm: asyncio.subprocess.Process | None = None
        self._warming: asyncio.Task[None] | None = None
        self.listener: Listener | None = None
        self.on_ended: Ended | None = None
        "Told when a replay ends by itself (played out, failed) or is stopped: the timeline notes it."

    def prepare(self) -> None:
        """Have a publisher waiting with its libraries loaded (about a second of CPU, several on a busy
        machine), so Play starts the picture sooner; done when a moderator's page asks for the replay
        state, i.e. opens a classroom. At most one waits."""
        alive = self._warm is not None and self._warm.returncode is None
        if alive or (self._warming is not None and not self._warming.done()):
            return
        self._warming = asyncio.ensure_future(self._spawn_warm())

    async def _spawn_warm(self) -> None:
        try:
            self._warm = await self._spawn()
        except OSError:
            log.exception("no replay publisher could be made ready")

    async def _spawn(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROBOT_CWD,
            env=robot_environment(os.environ),
            limit=MAX_LINE,
        )

    async def _process(self) -> asyncio.subprocess.Process:
        """The waiting publisher if it is still alive, else a new one."""
        if self._warming is not None and not self._warming.done():
            await self._warming
        warm, self._warm = self._warm, None
        if warm is not None and warm.returncode is None:
            return warm
        return await self._spawn()

    def get(self, classroom_id: int) -> Replay | None:
        return self._replays.get(classroom_id)

    def allowed(self, grant: ReplayGrant) -> Replay | None:
        """The live replay ``grant`` admits: same classroom, same recording, same secret."""
        replay = self._replays.get(grant.classroom_id)
        if replay is None or replay.recording_id != grant.recording_id:
            return None
        if not hmac.compare_digest(replay.grant.secret.encode(), grant.secret.encode()):
            return None
        return replay

    async def start(
        self,
        *,
        classroom_id: int,
        recording_id: int,
        name: str,
        path: Path,
        start_ms: int,
        end_ms: int | None,
        bookmark_id: int | None,
        loop: bool,
        by: tuple[int, str],
    ) -> Replay:
        """Launch the publisher; 409 if the classroom already has a replay."""
        if classroom_id in self._replays:
            raise Conflict("a replay is already playing in this classroom; stop it first")
        replay = Replay(
            classroom_id,
            recording_id,
            name,
            bookmark_id,
            loop,
            by[0],
            by[1],
            new_replay_grant(classroom_id, recording_id),
        )
        self._replays[classroom_id] = replay
        job = ReplayJob(
            server_url=self._server_url(),
            token=self._tokens.issue(replay.grant),
            classroom_id=classroom_id,
            path=path,
            start_ms=start_ms,
            end_ms=end_ms,
            loop=loop,
        )
        try:
            process = await self._process()
            replay.process = process
            await self._write(replay, job.line())
        except OSError as exc:
            log.exception("replay could not be started", extra={"classroom_id": classroom_id})
            self._replays.pop(classroom_id, None)
            raise NotFound(f"the replay could not be started: {exc}") from exc
        self._background(self._follow(replay))
        await self._notify(classroom_id, replay)
        return replay

    async def pause(self, classroom_id: int) -> Replay:
        replay = self._current(classroom_id)
        if replay.state == "paused":
            raise Conflict("the replay is already paused")
        await self._write(replay, ReplayCommand(command="pause").line())
        replay.state = "paused"
        await self._notify(classroom_id, replay)
        return replay

    async def resume(self, classroom_id: int) -> Replay:
        replay = self._current(classroom_id)
        if replay.state != "paused":
            raise Conflict("the replay is not paused")
        await self._write(replay, ReplayCommand(command="resume").line())
        replay.state = "playing"
        await self._notify(classroom_id, replay)
        return replay

    async def stop(self, classroom_id: int, by: By = None) -> Replay:
        """End the replay now: its grant dies, everyone hears of it, its process is told to stop."""
        replay = self._current(classroom_id)
        await self._end(replay, by)
        return replay

    def classroom_empty(self, classroom_id: int, still_empty: Callable[[], bool]) -> None:
        """The last person left: if nobody is back within ``empty_grace`` seconds, the replay (perhaps
        looping) stops instead of playing on into an empty classroom."""
        replay = self._replays.get(classroom_id)
        if replay is not None:
            task = asyncio.ensure_future(self._end_if_still_empty(replay, still_empty))
            self._waiting.add(task)
            task.add_done_callback(self._waiting.discard)

    async def _end_if_still_empty(self, replay: Replay, still_empty: Callable[[], bool]) -> None:
        await asyncio.sleep(self.empty_grace)
        if still_empty():
            await self._end(replay, None)

    async def stop_replays_of(self, recording_id: int) -> None:
        """A recording was deleted: wherever it plays, it stops."""
        for replay in [r for r in self._replays.values() if r.recording_id == recording_id]:
            await self._end(replay, None)

    async def close(self) -> None:
        for task in list(self._waiting):
            task.cancel()
        for replay in list(self._replays.values()):
            await self._end(replay, None)
        if self._warming is not None:
            with contextlib.suppress(Exception):
                await self._warming
        warm, self._warm = self._warm, None
        if warm is not None and warm.returncode is None:
            warm.kill()
            await warm.wait()
            if warm.stdin is not None:
                warm.stdin.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _current(self, classroom_id: int) -> Replay:
        replay = self._replays.get(classroom_id)
        if replay is None:
            raise NotFound("nothing is being replayed in this classroom")
        return replay

    async def _end(self, replay: Replay, by: By) -> None:
        if self._replays.get(replay.classroom_id) is not replay:
            return
        del self._replays[replay.classroom_id]
        process = replay.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            self._background(self._reap(process))
        await self._notify(replay.classroom_id, None)
        if self.on_ended is not None:
            try:
                await self.on_ended(replay, by)
            except Exception:
                log.exception("replay end not noted", extra={"classroom_id": replay.classroom_id})

    async def _write(self, replay: Replay, line: str) -> None:
        process = replay.process
        if process is None or process.stdin is None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            process.stdin.write(line.encode())
            await process.stdin.drain()

    async def _follow(self, replay: Replay) -> None:
        process = replay.process
        assert process is not None
        assert process.stdout is not None
        while True:
            try:
                raw = await process.stdout.readline()
            except ValueError:
                continue
            if not raw:
                break
            match parse_replay_progress(raw):
                case ReplayPlaying():
                    if replay.state == "starting" and self._replays.get(replay.classroom_id) is replay:
                        replay.state = "playing"
                        await self._notify(replay.classroom_id, replay)
                case ReplayEnded():
                    await self._end(replay, None)
                case ReplayFailed(error=error):
                    replay.error = error
                    log.warning("replay failed", extra={"classroom_id": replay.classroom_id, "error": error})
                case _:
                    pass
        await self._end(replay, None)

    async def _reap(self, process: asyncio.subprocess.Process) -> None:
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            log.warning("replay did not exit: killed")
            process.kill()
            await process.wait()
        if process.stdin is not None:
            process.stdin.close()

    async def _notify(self, classroom_id: int, replay: Replay | None) -> None:
        if self.listener is None:
            return
        try:
            await self.listener(classroom_id, replay)
        except Exception:
            log.exception("replay change not passed on", extra={"classroom_id": classroom_id})

    def _background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
