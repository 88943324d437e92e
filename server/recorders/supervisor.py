"""Runs one Session Recorder Robot per recording on this machine and takes each recording to its end.

Each robot is a :class:`~server.recorders.robot_run.RobotRun` (the process, its progress, the stop asked
of it); this module keeps the map of runs and moves the recordings through their states in the
database: ``recording`` when the robot has written its first fragment, ``finishing`` on Stop, ``ready``
or ``failed`` when the robot is done and the file has been probed. Every ending stores its
:class:`~server.db.models.StopReason`: the reason given to :meth:`RecorderSupervisor.stop` (Stop, disk
full, too long, server stopping, classroom deleted), ``robot_failed`` when the robot could not start or
ended unasked, ``recovered`` for a recording a previous run of the server left open. Because the file
is written progressively, a robot that crashes still leaves a recording that plays.

A running recording may be paused and resumed (:meth:`RecorderSupervisor.pause`, ``resume``): the
instant is stored on the recording (``paused_at``, ``paused_ms``, see ``server.library.media_clock``) and
the same instant is sent to the robot, which cuts the paused span out of the file; Stop while paused ends
the file at the pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import av
import av.codec
import av.error
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recorder_bot.job import Finished, JobClassroom, Pause, Resume, RobotJob, Stop, TrackStarted
from server.config import Config
from server.db.models import Recording, RecordingMode, RecordingState, RecordingTrack, StopReason, User
from server.errors import Conflict, NotFound
from server.library import probe
from server.library.files import path_under, tracks_prefix
from server.library.media_clock import MediaClock, as_utc, media_origin
from server.library.recordings import DISK_FULL_SUFFIX, add_flag, all_active, is_active, transition
from server.library.tracks import has_tracks, settle_tracks, settle_tracks_only
from server.live import LiveClassrooms, NoLiveClassrooms
from server.recorders.robot_run import ROBOT_COMMAND, RobotExit, RobotRun, RunState, hand_over, spawn_robot
from server.recorders.tokens import RobotGrant, RobotTokens, new_grant
from server.storage import LocalStorage

log = logging.getLogger(__name__)

Listener = Callable[[Recording, StopReason | None], Awaitable[None]]
"""Told of every change of a recording's state, with the stop reason when it is stopping or has ended."""
_STOPPABLE = (RecordingState.STARTING, RecordingState.RECORDING)


class TimelineWriter(Protocol):
    """What a pause needs of the class timeline (``server.library.timeline.Timeline``)."""

    async def refresh(self, classroom_id: int) -> None: ...

    async def note_recording(
        self, recording_id: int, type: str, at: datetime, media_ms: int, **data: Any
    ) -> None: ...


class RecorderSupervisor:
    def __init__(
        self,
        config: Config,
        db: async_sessionmaker[AsyncSession],
        storage: LocalStorage,
        tokens: RobotTokens,
        command: Sequence[str] = ROBOT_COMMAND,
    ) -> None:
        self.config = config
        self._db = db
        self._storage = storage
        self._tokens = tokens
        self._command = tuple(command)
        self.server_url = ""
        self.listener: Listener | None = None
        self.live: LiveClassrooms = NoLiveClassrooms()
        "Told what each robot receives (the namespace, once attached)."
        self._runs: dict[int, RobotRun] = {}
        self._followers: dict[int, asyncio.Task[None]] = {}
        self._exiting: set[asyncio.Task[None]] = set()
        # Recordings whose robot is being handed its job; set once it has a run (or could not start).
        self._launching: dict[int, asyncio.Event] = {}
        # A session's recordings stopped together, and whose robots are done writing: each one's is
        # settled once its siblings' robots are done too, so the session's recordings are ready together.
        self._stopped_together: dict[int, frozenset[int]] = {}
        self._written: dict[int, asyncio.Event] = {}
        # One pause, resume or stop of a recording at a time: two Pause presses never both pause it.
        self._pausing: dict[int, asyncio.Lock] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._warm: asyncio.subprocess.Process | None = None
        self._warming: asyncio.Task[None] | None = None

    @property
    def running(self) -> int:
        return len(self._runs)

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
        font = self.config.recording.label_font
        if not font.is_file():
            # It still records, with names in Pillow's built-in font (no accents, Latin only).
            return {"ok": True, "running": self.running, "detail": f"label font missing: {font}"}
        return {"ok": True, "running": self.running}

    def robot_of(self, recording_id: int) -> RobotRun | None:
        return self._runs.get(recording_id)

    async def start(self, recording: Recording, classroom_name: str) -> None:
        """Launch the robot for a recording that is ``starting``.

        Its secret is stored before its token exists, so the robot can never connect ahead of it. A robot
        that cannot be started fails the recording (``robot_failed``) instead of raising.
        """
        assert recording.file_name is not None
        assert recording.classroom_id is not None
        grant = new_grant(recording.id, recording.classroom_id)
        # Known to be launching before the first await: a Stop meanwhile waits to see whether a robot
        # came of it (and stops it) or not (and settles the recording itself).
        launched = self._launching[recording.id] = asyncio.Event()
        try:
            async with self._db() as db:
                row = await db.get(Recording, recording.id)
                if row is None or row.state != RecordingState.STARTING:
                    return
                row.robot_secret = grant.secret
                await db.commit()
                # A Stop between the read and the commit: no robot for a recording that has ended.
                await db.refresh(row)
                if row.state != RecordingState.STARTING:
                    return
                # A composite session's robot joins every classroom the recording covers, each with a
                # token naming that classroom (and the recording's one secret).
                more = tuple(
                    JobClassroom(
                        classroom_id=covered.classroom_id,
                        classroom_name=covered.classroom_name,
                        token=self._tokens.issue(
                            RobotGrant(recording.id, covered.classroom_id, grant.secret)
                        ),
                    )
                    for covered in row.covers[1:]
                    if covered.classroom_id is not None
                )
            rec = self.config.recording
            job = RobotJob(
                server_url=self.server_url,
                token=self._tokens.issue(grant),
                classroom_id=grant.classroom_id,
                classroom_name=classroom_name,
                storage_root=self._storage.recordings,
                file_name=recording.file_name,
                width=rec.video_width,
                height=rec.video_height,
                fps=rec.video_fps,
                video_bitrate=rec.video_bitrate,
                audio_bitrate=rec.audio_bitrate,
                label_font=rec.label_font,
                origin=media_origin(recording),
                mode=RecordingMode(recording.mode).value,
                tracks_prefix=tracks_prefix(recording.file_name),
                more_classrooms=more,
            )
            try:
                process = await self._launch(job)
            except OSError as exc:
                log.exception("robot could not be started", extra={"recording_id": recording.id})
                await self._end_without_robot(recording.id, f"the robot could not be started: {exc}")
                return
            run = RobotRun(
                recording.id,
                grant.classroom_id,
                process,
                start_timeout=rec.robot_start_timeout,
                stop_timeout=rec.robot_stop_timeout,
                on_first_fragment=functools.partial(self._mark_recording, recording.id),
                on_receiving=functools.partial(self.live_media, grant.classroom_id, recording.id),
                on_track=functools.partial(self._track_started, recording.id),
            )
            self._runs[recording.id] = run
            self._written[recording.id] = asyncio.Event()
            self._followers[recording.id] = asyncio.create_task(self._follow(run))
        finally:
            del self._launching[recording.id]
            launched.set()
            self.prepare()
        self._ensure_watcher()
        async with self._db() as db:
            fresh = await db.get(Recording, recording.id)
        if fresh is not None and fresh.state == RecordingState.STARTING:
            await self._notify(fresh, None)  # as it is now (a Stop meanwhile has told its own state)
        log.info("robot started", extra={"recording_id": recording.id, "pid": process.pid})

    async def stop(self, recording_id: int, reason: StopReason) -> None:
        """End a recording for ``reason``: it is ``finishing`` at once, with its reason stored, and its
        robot is asked to finish the file; the follower takes it to ready. The first reason given is kept.

        A recording of a session over several classrooms stops with every other recording of its session
        still running, for the same reason and at the same instant: each file ends at the same moment.
        """
        together = await self._session_of(recording_id)
        stopping: dict[int, Recording] = {}
        recording: Recording | None = None
        async with contextlib.AsyncExitStack() as locks:
            for one in sorted(together):  # always in the same order: two Stops never wait on each other
                await locks.enter_async_context(self._pause_lock(one))
            async with self._db() as db:
                at = datetime.now(UTC)
                for one in together:
                    row = await db.get(Recording, one)
                    if one == recording_id:
                        recording = row
                    if row is not None and RecordingState(row.state) in _STOPPABLE:
                        row.stopped_at = at
                        transition(row, RecordingState.FINISHING)
                        row.stop_reason = reason.value
                        _end_pause(row)
                        stopping[one] = row
                        if reason == StopReason.DISK_FULL and one != recording_id:
                            _mark_disk_full(row)  # the session's recordings keep one name
                if stopping:
                    await db.commit()
                # The files end at this instant, however long the classrooms take to hear of it.
                for one in stopping:
                    run = self._runs.get(one)
                    if run is not None:
                        await run.send(Stop(at=at.timestamp()))
                if len(stopping) > 1:
                    for one in stopping:
                        self._stopped_together[one] = frozenset(stopping)
                for row in stopping.values():
                    await self._notify(row, reason)
        others = [one for one in stopping if one != recording_id]
        await asyncio.gather(
            self._stop_robot(recording_id, recording, reason),
            *(self._stop_robot(one, stopping[one], reason) for one in others),
        )

    async def _session_of(self, recording_id: int) -> list[int]:
        """``recording_id`` and the other recordings of its session, if it belongs to one."""
        async with self._db() as db:
            session_id = await db.scalar(select(Recording.session_id).where(Recording.id == recording_id))
            if session_id is None:
                return [recording_id]
            ids = await db.scalars(select(Recording.id).where(Recording.session_id == session_id))
            return [recording_id, *(one for one in ids if one != recording_id)]

    async def _stop_robot(self, recording_id: int, recording: Recording | None, reason: StopReason) -> None:
        launched = self._launching.get(recording_id)
        if launched is not None:
            await launched.wait()  # its robot is being handed its job: a moment
        run = self._runs.get(recording_id)
        if run is not None:
            await run.request_stop(reason)
        elif recording is not None and RecordingState(recording.state) == RecordingState.FINISHING:
            # No robot on this machine will ever finish it (it never started): settle it now.
            await self._end_without_robot(recording_id, None)

    async def pause(
        self, recording_id: int, by: User | None, timeline: TimelineWriter | None = None
    ) -> Recording:
        """Pause a running recording now: nothing of the class is kept until :meth:`resume`.

        Raises ``Conflict`` if it is already paused or is stopping, ``NotFound`` if it does not exist."""
        return await self._pause_or_resume(recording_id, by, timeline, pausing=True)

    async def resume(
        self, recording_id: int, by: User | None, timeline: TimelineWriter | None = None
    ) -> Recording:
        """Resume a paused recording now; the file continues where the pause cut it.

        Raises ``Conflict`` if it is not paused or is stopping, ``NotFound`` if it does not exist."""
        return await self._pause_or_resume(recording_id, by, timeline, pausing=False)

    async def _pause_or_resume(
        self, recording_id: int, by: User | None, timeline: TimelineWriter | None, *, pausing: bool
    ) -> Recording:
        """Pause or resume the recording and, for a session, every other recording of it still running,
        at the same instant (as :meth:`stop` does): the session's files keep one timeline."""
        together = await self._session_of(recording_id)
        changed: list[tuple[Recording, int]] = []
        async with contextlib.AsyncExitStack() as locks:
            for one in sorted(together):  # the same order as stop's: they never wait on each other
                await locks.enter_async_context(self._pause_lock(one))
            for one in together:
                launched = self._launching.get(one)
                if launched is not None:
                    await launched.wait()  # its robot is being handed its job: it must hear this too
            async with self._db() as db:
                recording = await db.get(Recording, recording_id)
                if recording is None:
                    raise NotFound(f"recording {recording_id} does not exist")
                if RecordingState(recording.state) not in _STOPPABLE:
                    raise Conflict("this recording is stopping: it can no longer be paused or resumed")
                clock = MediaClock.of(recording)
                if pausing and clock.paused:
                    raise Conflict("the recording is already paused")
                rows = [recording]
                for one in together[1:]:
                    row = await db.get(Recording, one)
                    if row is not None and RecordingState(row.state) in _STOPPABLE:
                        rows.append(row)
                if pausing and any(row.state == RecordingState.STARTING for row in rows):
                    # Its file has no fragment yet: a robot paused now would never write one.
                    raise Conflict("the recording is still starting: pause it once it records")
                if not pausing and not clock.paused:
                    raise Conflict("the recording is not paused")
                at = datetime.now(UTC)
                for row in rows:
                    clock = MediaClock.of(row)
                    if clock.paused == pausing:
                        continue  # a recording of the session already as asked
                    if pausing:
                        media_ms = clock.media_ms(at) or 0
                        row.paused_at = at
                    else:
                        # Where the pause cut the file, to the millisecond of the ``paused`` event.
                        assert clock.paused_at is not None
                        media_ms = clock.resume(clock.paused_at).media_ms(clock.paused_at) or 0
                        row.paused_at, row.paused_ms = None, clock.resume(at).paused_ms
                    changed.append((row, media_ms))
                # The robots hear it first, at once: what they receive after ``at`` must follow it,
                # however long the database takes. Should the commit fail, they are told the opposite
                # at the same instant, which leaves their files as the recordings say.
                command, undo = (Pause, Resume) if pausing else (Resume, Pause)
                runs = [run for row, _ in changed if (run := self._runs.get(row.id)) is not None]
                for run in runs:
                    await run.send(command(at=at.timestamp()))
                try:
                    await db.commit()
                except BaseException:
                    for run in runs:
                        await run.send(undo(at=at.timestamp()))
                    raise
            for row, media_ms in changed:
                if timeline is not None:
                    # Every classroom it covers keeps its events by the new clock.
                    covered = {c.classroom_id for c in row.covers if c.classroom_id is not None}
                    if row.classroom_id is not None:
                        covered.add(row.classroom_id)
                    for classroom_id in sorted(covered):
                        await timeline.refresh(classroom_id)
                    who = {"id": by.id, "display_name": by.display_name} if by is not None else None
                    await timeline.note_recording(
                        row.id, "paused" if pausing else "resumed", at, media_ms, by=who
                    )
                await self._notify(row, None)
                log.info(
                    "recording paused" if pausing else "recording resumed",
                    extra={"recording_id": row.id, "media_ms": media_ms},
                )
        return recording

    def _pause_lock(self, recording_id: int) -> asyncio.Lock:
        return self._pausing.setdefault(recording_id, asyncio.Lock())

    async def wait(self, recording_id: int) -> None:
        """Until the recording's robot is done and the recording is ready or failed."""
        follower = self._followers.get(recording_id)
        if follower is not None:
            await asyncio.shield(follower)

    def prepare(self) -> None:
        """Start a robot process that waits for its job, if configured and none is waiting."""
        if (
            self.config.recording.warm_robots
            and self._warm is None
            and (self._warming is None or self._warming.done())
        ):
            self._warming = asyncio.create_task(self._keep_warm())

    async def close(self) -> None:
        """Server shutdown: every robot finishes its file; nothing recorded is lost."""
        for recording_id in list(self._runs):
            await self.stop(recording_id, StopReason.SERVER_STOPPING)
        await asyncio.gather(*self._followers.values(), return_exceptions=True)
        await asyncio.gather(*self._exiting, return_exceptions=True)
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
        """On start: a recording left active by a previous run is ready if its file plays, else failed;
        either way it ended because the server stopped under it (``recovered``)."""
        async with self._db() as db:
            for recording in await all_active(db):
                if recording.id in self._runs:
                    continue
                if RecordingState(recording.state) != RecordingState.FINISHING:
                    transition(recording, RecordingState.FINISHING)
                if recording.stop_reason is None:
                    recording.stop_reason = StopReason.RECOVERED.value
                await self._settle(db, recording, None, None)
                await db.commit()
                log.info(
                    "recording reconciled", extra={"recording_id": recording.id, "state": recording.state}
                )

    # -- robot processes ------------------------------------------------------------------------------

    async def _launch(self, job: RobotJob) -> asyncio.subprocess.Process:
        """A robot with its job: the waiting one if it is still alive, else a new one."""
        warm = self._take_warm()
        if warm is not None:
            try:
                await hand_over(warm, job)
            except (BrokenPipeError, ConnectionResetError):
                log.warning("the waiting robot had died; starting another")
                with contextlib.suppress(ProcessLookupError):
                    warm.kill()
                await warm.wait()
            else:
                return warm
        process = await spawn_robot(self._command)
        try:
            await hand_over(process, job)
        except (BrokenPipeError, ConnectionResetError):
            await process.wait()
            raise
        return process

    async def _keep_warm(self) -> None:
        try:
            self._warm = await spawn_robot(self._command)
        except OSError:
            log.exception("no robot can be started")

    def _take_warm(self) -> asyncio.subprocess.Process | None:
        process, self._warm = self._warm, None
        return process if process is not None and process.returncode is None else None

    # -- following a robot ----------------------------------------------------------------------------

    async def _follow(self, run: RobotRun) -> None:
        try:
            try:
                await run.follow()
                await self._siblings_written(run.recording_id)
            finally:
                await self._finish(run.recording_id, run.exit_report)
        finally:
            written = self._written.pop(run.recording_id, None)
            if written is not None:
                written.set()  # no sibling waits for it any longer
            self._stopped_together.pop(run.recording_id, None)
            self._runs.pop(run.recording_id, None)
            self._followers.pop(run.recording_id, None)
            self._pausing.pop(run.recording_id, None)
            # The file is complete once the robot says so, and the recording ready: Stop answers now.
            # The robot's interpreter may take a moment more to exit (it leaves the classroom).
            exiting = asyncio.create_task(run.reap())
            self._exiting.add(exiting)
            exiting.add_done_callback(self._exiting.discard)

    async def _siblings_written(self, recording_id: int) -> None:
        """Its robot is done: wait (a robot's stop timeout at most) for the robots of the recordings of its
        session stopped with it, so they are all settled, and ready, together."""
        written = self._written.get(recording_id)
        if written is not None:
            written.set()
        waiting = [
            event.wait()
            for one in self._stopped_together.get(recording_id, ())
            if (event := self._written.get(one)) is not None and not event.is_set()
        ]
        if waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*waiting), timeout=self.config.recording.robot_stop_timeout
                )

    async def live_media(self, classroom_id: int, recording_id: int, receiving: list[int]) -> None:
        await self.live.recording_media(classroom_id, recording_id, receiving)

    async def _track_started(self, recording_id: int, track: TrackStarted) -> None:
        """The robot has begun a participant's track file: listed from now on (its file plays)."""
        try:
            inside = await asyncio.to_thread(path_under, self._storage.recordings, track.file_name)
        except ValueError:
            inside = None
        if (
            inside is None
            or track.file_name != inside.name
            or not (track.file_name.startswith(tracks_prefix(await self._file_name(recording_id)) + "-"))
        ):
            log.warning("robot named a track outside its recording", extra={"recording_id": recording_id})
            return
        async with self._db() as db:
            db.add(
                RecordingTrack(
                    recording_id=recording_id,
                    user_id=track.user_id,
                    display_name=track.display_name,
                    source=track.source,
                    kind=track.kind,
                    codec=track.codec,
                    file_name=track.file_name,
                    offset_ms=track.offset_ms,
                )
            )
            await db.commit()

    async def _file_name(self, recording_id: int) -> str:
        async with self._db() as db:
            recording = await db.get(Recording, recording_id)
            return recording.file_name or "" if recording is not None else ""

    async def _mark_recording(self, recording_id: int) -> None:
        async with self._db() as db:
            recording = await db.get(Recording, recording_id)
            if recording is not None and recording.state == RecordingState.STARTING:
                transition(recording, RecordingState.RECORDING)
                await db.commit()
                await self._notify(recording, None)

    async def _finish(self, recording_id: int, ending: RobotExit) -> None:
        async with self._db() as db:
            recording = await db.get(Recording, recording_id)
            if recording is None or not is_active(recording):
                return
            if RecordingState(recording.state) in _STOPPABLE:
                transition(recording, RecordingState.FINISHING)
            if recording.stop_reason is None:
                recording.stop_reason = ending.reason.value
            await self._settle(db, recording, ending.finished, ending.error)
            await db.commit()
            await self._notify(recording, StopReason(recording.stop_reason))
        log.info(
            "recording finished",
            extra={
                "recording_id": recording_id,
                "state": recording.state,
                "stop_reason": recording.stop_reason,
                "exit": ending.returncode,
            },
        )

    async def _end_without_robot(self, recording_id: int, error: str | None) -> None:
        """Settle a recording no robot is recording (``robot_failed`` unless it was stopped first)."""
        await self._finish(recording_id, RobotExit(StopReason.ROBOT_FAILED, None, error, None))

    async def _settle(
        self, db: AsyncSession, recording: Recording, finished: Finished | None, error: str | None
    ) -> None:
        """``finishing`` → ``ready`` if the file plays (flagged ``recovered`` after a crash), else failed.

        After a clean finish the robot's own figures are used and only the file's start is read, so the
        time from Stop to ready does not grow with the recording's length; a crashed robot's file is
        read to its end to learn how much of it survived. The robot's secret goes: its token admits no
        one any more. Tracks (``tracks``, ``both``) get their lengths the same way; a ``tracks``
        recording, which has no mixed file, is ready once one of its tracks plays.
        """
        recording.robot_secret = None
        _end_pause(recording)
        if has_tracks(recording):
            settled = await settle_tracks(db, recording, finished, self._storage.recordings)
            if RecordingMode(recording.mode) == RecordingMode.TRACKS:
                settle_tracks_only(recording, finished, settled, error)
                if recording.stopped_at is None:
                    recording.stopped_at = datetime.now(UTC)
                return
        path = await asyncio.to_thread(path_under, self._storage.recordings, recording.file_name or "")
        if not await asyncio.to_thread(path.exists):
            found = probe.Probe(False, 0, False, False, "no file")
        else:
            found = await probe.probe(path, whole=finished is None)
        if found.playable:
            recording.duration_ms = finished.duration_ms if finished is not None else found.duration_ms
            recording.size_bytes = (await asyncio.to_thread(path.stat)).st_size
            if finished is None:
                add_flag(recording, "recovered")
            at = min(2.0, recording.duration_ms / 2000)
            await probe.thumbnail(path, path.with_suffix(".jpg"), at_seconds=at)
            transition(recording, RecordingState.READY)
        else:
            recording.error = error or found.detail or "the recording could not be written"
            transition(recording, RecordingState.FAILED)
        if recording.stopped_at is None:
            recording.stopped_at = datetime.now(UTC)

    async def _notify(self, recording: Recording, reason: StopReason | None) -> None:
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
        loop = asyncio.get_running_loop()
        while self._runs:
            rec = self.config.recording
            await asyncio.sleep(rec.disk_check_interval)
            status = await self._storage.check()
            for run in list(self._runs.values()):
                if run.state not in (RunState.STARTING, RunState.RECORDING):
                    continue
                if not status.ok or status.free_bytes < rec.stop_free_bytes:
                    await self._stop_for_disk(run.recording_id)
                elif loop.time() - run.started_at > rec.max_recording_hours * 3600:
                    await self.stop(run.recording_id, StopReason.TOO_LONG)

    async def _stop_for_disk(self, recording_id: int) -> None:
        async with self._db() as db:
            recording = await db.get(Recording, recording_id)
            if recording is not None and _mark_disk_full(recording):
                await db.commit()
        log.warning("disk low: stopping recording", extra={"recording_id": recording_id})
        await self.stop(recording_id, StopReason.DISK_FULL)


def _mark_disk_full(recording: Recording) -> bool:
    """Name and flag a recording stopped for lack of space (False if it already is)."""
    if recording.name.endswith(DISK_FULL_SUFFIX):
        return False
    recording.name = recording.name[: 200 - len(DISK_FULL_SUFFIX)] + DISK_FULL_SUFFIX
    add_flag(recording, "disk_full")
    return True


def _end_pause(recording: Recording) -> None:
    """A recording that ends while paused ends where the pause began: the pause closes at its stop, so
    its media time there is the file's end and it no longer shows as paused."""
    if recording.paused_at is None:
        return
    end = as_utc(recording.stopped_at) if recording.stopped_at is not None else datetime.now(UTC)
    closed = MediaClock.of(recording).resume(end)
    recording.paused_at, recording.paused_ms = None, closed.paused_ms
