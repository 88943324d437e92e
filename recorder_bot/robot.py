"""The Session Recorder Robot: joins a classroom as a participant and records it into one file.

A composite session's robot joins each of its classrooms (one :class:`RobotSession` each, every one a
seatless participant there) and records them all into the same file, each classroom a region.

It connects like a browser (socket.io + one aiortc peer connection, publishing nothing), decodes every
source it receives, stamps each frame on the recording clock from RTP/RTCP timing, and hands it to the
recorder pipeline, which mixes, encodes and writes a fragmented MP4 on its own thread. Names, the active
speaker and screen shares come from the classroom's events; recording consent is the SFU's: a decliner's
media never reaches the robot.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from recorder_bot.client import NAMESPACE, ClassroomClient, RemoteSource
from recorder_bot.job import (
    RECEIVING_INTERVAL,
    RECEIVING_WINDOW,
    Command,
    Finished,
    FirstFragment,
    JobClassroom,
    Joined,
    Pause,
    Progress,
    Receiving,
    Resume,
    RobotJob,
    Stop,
)
from recorder_bot.layout import DEJAVU_SANS, LabelFont
from recorder_bot.mixer import MediaFormat, Mixer, SourceKey
from recorder_bot.pause_clock import PauseClock
from recorder_bot.rtp_clock import CREEP, StreamClock, rtp_timestamp
from recorder_bot.tracks import TrackRecorder
from recorder_bot.writer import EncoderSettings, RecorderPipeline, RecordingWriter, WriterStats
from server.media.adapter import watch_sender_reports
from server.media.ntp import PublisherClock
from server.signalling.protocol import (
    ActiveSpeaker,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantModel,
    ParticipantUpdated,
    RobotJoinAck,
)

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
Report = Callable[[Progress], None]
HOLD_SECONDS = 0.5
HOLD_BYTES = 32 << 20
"""While paused, the last ``HOLD_SECONDS`` of frames (at most ``HOLD_BYTES`` of them) are held: those
captured after the resume but received before the robot heard of it then still reach the file."""
PAUSE_LATENESS = 0.25
"""Seconds after its stamp a frame may arrive and still count as captured before a pause that began
meanwhile (video arrives 0.1-0.2 s after its stamp); one later than that is taken as captured in the
pause."""
TRACK_DELAY = 2 * PAUSE_LATENESS
"""Seconds a frame placed in a track waits before it is written: a Pause or Stop heard this long after
its instant still cuts what came after it out of the tracks, as it does out of the composite."""


class RobotSession:
    """The robot inside one classroom: what it hears and sees goes into ``pipeline``.

    A composite session has one per classroom, all into the one pipeline: ``classroom`` is one of the
    job's ``more_classrooms`` (None: the job's own), ``room`` its index in the mixer's rooms (its region).
    """

    def __init__(
        self,
        job: RobotJob,
        pipeline: RecorderPipeline | None,
        recording_start: float,
        pauses: PauseClock | None = None,
        *,
        room: int = 0,
        classroom: JobClassroom | None = None,
        tracks: TrackRecorder | None = None,
    ) -> None:
        self.job = job
        self.pipeline = pipeline
        "None: tracks mode, no composite (nothing is decoded)."
        self.tracks = tracks
        "Each participant's own tracks (modes tracks and both)."
        self.recording_start = recording_start
        self.pauses = pauses or PauseClock()
        self.room = room
        self.classroom_id = job.classroom_id if classroom is None else classroom.classroom_id
        token = job.token if classroom is None else classroom.token
        self.client = ClassroomClient(
            job.server_url, {}, {}, on_source=self._source, auth={"robot_token": token}
        )
        self.disconnected = asyncio.Event()
        self._closing = False
        self._names: dict[int, str] = {}
        self._publishers: dict[int, PublisherClock] = {}
        self._readers: set[asyncio.Task[None]] = set()
        self._held: collections.deque[_Held] = collections.deque()
        self._held_bytes = 0
        sio = self.client.sio
        sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        sio.on("participant_joined", self._on_arrival, namespace=NAMESPACE)
        sio.on("participant_updated", self._on_participant, namespace=NAMESPACE)
        sio.on("participant_left", self._on_left, namespace=NAMESPACE)
        sio.on("active_speaker", self._on_speaker, namespace=NAMESPACE)

    async def start(self) -> None:
        await self.client.connect()
        joined = RobotJoinAck.model_validate(await self.client.join(self.classroom_id))
        for participant in joined.participants:
            self._know(participant)
        await self.client.start_media()

    async def close(self) -> None:
        self._closing = True
        for task in list(self._readers):
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self.client.close()

    # -- classroom events ---------------------------------------------------------------------------------

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnected.set()
        if self._closing or self.pipeline is None:
            return  # the file ends where the recording does, not where the robot began to leave
        # Its media ends with it (a still screen would otherwise stay in the picture).
        for user_id in self._names:
            for source in ("microphone", "camera", "screen"):
                self.pipeline.remove_source(SourceKey(user_id, source, self.room))

    async def _on_arrival(self, data: dict[str, Any]) -> None:
        self._know(ParticipantJoined.model_validate(data).participant)

    async def _on_participant(self, data: dict[str, Any]) -> None:
        self._know(ParticipantUpdated.model_validate(data).participant)

    async def _on_left(self, data: dict[str, Any]) -> None:
        user_id = ParticipantLeft.model_validate(data).user_id
        if self.pipeline is None:
            return  # a track goes on after a gap if its participant comes back
        for source in ("microphone", "camera", "screen"):
            self.pipeline.remove_source(SourceKey(user_id, source, self.room))

    async def _on_speaker(self, data: dict[str, Any]) -> None:
        if self.pipeline is None:
            return
        self.pipeline.set_active_speaker(ActiveSpeaker.model_validate(data).user_id, room=self.room)

    def _know(self, participant: ParticipantModel) -> None:
        if participant.robot or self.pipeline is None:
            if not participant.robot:
                self._names[participant.user_id] = participant.display_name
            return
        if self._names.get(participant.user_id) != participant.display_name:
            self._names[participant.user_id] = participant.display_name
            self.pipeline.set_names(self._names, room=self.room)
        if not participant.screen_sharing:
            self.pipeline.remove_source(SourceKey(participant.user_id, "screen", self.room))

    # -- media --------------------------------------------------------------------------------------------

    def _source(self, remote: RemoteSource) -> None:
        task = asyncio.create_task(self._read(remote))
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    async def _read(self, remote: RemoteSource) -> None:
        video = remote.track.kind == "video"
        clock = StreamClock(VIDEO_CLOCK if video else AUDIO_CLOCK)
        watch_sender_reports(remote.receiver, clock.sender_report)
        publisher = self._publishers.setdefault(remote.user_id, PublisherClock(creep=CREEP))
        key = SourceKey(remote.user_id, remote.source, self.room)
        if self.tracks is not None:
            self.tracks.add(remote, clock, publisher, self._names)
        if self.pipeline is None:  # tracks only: nothing is decoded, the track ends with the stream
            with contextlib.suppress(MediaStreamError):
                while True:  # only a frame decoded before the tap was in place can come
                    await remote.track.recv()
            if self.tracks is not None:
                self.tracks.remove(remote)
            return
        try:
            while True:
                frame = await remote.track.recv()
                arrival = time.time()
                if frame.pts is None or not isinstance(frame, AudioFrame | VideoFrame):
                    continue
                rtp = rtp_timestamp(remote.receiver, frame.pts)
                wall = None if rtp is None else clock.wall_time(rtp)
                if wall is None:
                    continue  # no sender report yet: its time is unknown, so it is not placed
                publisher.observe(wall, arrival)
                recorded = publisher.local(wall) - self.recording_start
                arrived = arrival - self.recording_start - PAUSE_LATENESS
                t = self.pauses.file_time(recorded, arrived=arrived)
                if t is None:  # captured while paused: nothing of it is kept
                    self.pipeline.heard_from(remote.user_id)
                    if self.pauses.paused:
                        self._hold(_Held(recorded, arrived, key, frame))
                    continue
                self._add(key, frame, t)
        except MediaStreamError:
            self.pipeline.remove_source(key)
            if self.tracks is not None:
                self.tracks.remove(remote)

    def _add(self, key: SourceKey, frame: AudioFrame | VideoFrame, t: float) -> None:
        assert self.pipeline is not None
        if isinstance(frame, VideoFrame):
            self.pipeline.add_video(key, frame, t)
        else:
            self.pipeline.add_audio(key, frame, t)

    def _hold(self, held: _Held) -> None:
        self._held.append(held)
        self._held_bytes += held.size
        while self._held and (
            self._held_bytes > HOLD_BYTES or self._held[0].recorded < held.recorded - HOLD_SECONDS
        ):
            self._held_bytes -= self._held.popleft().size

    def release_held(self) -> None:
        """After a resume: the held frames captured since it go to the file, the rest are dropped."""
        if self.tracks is not None:
            self.tracks.resumed()
        held, self._held, self._held_bytes = self._held, collections.deque(), 0
        for frame in held:
            t = self.pauses.file_time(frame.recorded, arrived=frame.arrived)
            if t is not None:
                self._add(frame.key, frame.frame, t)


def _sessions(
    job: RobotJob,
    pipeline: RecorderPipeline | None,
    recording_start: float,
    pauses: PauseClock,
    tracks: TrackRecorder | None,
) -> list[RobotSession]:
    """One session per classroom: a composite session's robot is in each, every one into the same
    pipeline (None in tracks mode) and track recorder."""
    return [RobotSession(job, pipeline, recording_start, pauses, tracks=tracks)] + [
        RobotSession(job, pipeline, recording_start, pauses, room=room, classroom=more, tracks=tracks)
        for room, more in enumerate(job.more_classrooms, start=1)
    ]


async def _join_all(sessions: list[RobotSession]) -> None:
    """Join every classroom at once; if any refuses, the recording fails (with the first refusal)."""
    results = await asyncio.gather(*(session.start() for session in sessions), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _until_all_left(sessions: list[RobotSession], gone: asyncio.Event) -> None:
    """Set ``gone`` once every session is disconnected. A composite session goes on recording the
    classrooms still connected when one goes (its region turns to its title card), and ends only when the
    robot is out of all of them: the server stops the whole session itself when it means to.

    Chosen over ending the whole recording (which would cut every other classroom's class short for one
    dropped connection): the loss is logged as a warning, once per classroom, naming the recording's
    classroom and the one lost, on the robot's stderr, which the server's process inherits (its log)."""
    waiting = {asyncio.ensure_future(session.disconnected.wait()): session for session in sessions}
    try:
        pending = set(waiting)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if pending:
                for future in done:
                    lost = waiting[future]
                    log.warning(
                        "lost one classroom of the session: its region shows its title card from now on; "
                        "recording the others",
                        extra={
                            "classroom_id": lost.classroom_id,
                            "recording_classroom_id": sessions[0].classroom_id,
                            "still_connected": len(pending),
                        },
                    )
        gone.set()
    finally:
        for future in waiting:
            future.cancel()


def _release_held(sessions: list[RobotSession]) -> None:
    for session in sessions:
        session.release_held()


async def report_receiving(pipeline: RecorderPipeline, report: Report) -> None:
    """Tell the server whose media reaches the recording, every second until cancelled."""
    while True:
        report(Receiving(receiving=tuple(pipeline.receiving(RECEIVING_WINDOW))))
        await asyncio.sleep(RECEIVING_INTERVAL)


@dataclass(frozen=True)
class _Held:
    """A frame received while paused, kept a moment in case it was captured after the resume."""

    recorded: float
    arrived: float
    key: SourceKey
    frame: AudioFrame | VideoFrame

    @property
    def size(self) -> int:
        if isinstance(self.frame, VideoFrame):
            return self.frame.width * self.frame.height * 3 // 2
        return self.frame.samples * len(self.frame.layout.channels) * 4


@dataclass
class Orders:
    """What the server said beyond pauses: where the file ends (``Stop.at``, recording time)."""

    recording: asyncio.Event
    "Set once the file has its first fragment."
    stop_at: float | None = None
    resumed: Callable[[], None] | None = None
    "Called after each resume (the session releases the frames it held)."


async def obey(
    commands: AsyncIterator[Command],
    pauses: PauseClock,
    pipeline: RecorderPipeline | None,
    origin: float,
    orders: Orders,
    tracks: TrackRecorder | None = None,
) -> None:
    """Apply the server's pauses and resumes, at the server's instants, until its commands end."""
    async for command in commands:
        match command:
            case Stop(at=at):
                orders.stop_at = at - origin
                if orders.recording.is_set():
                    # Nothing after Stop is kept, even if SIGTERM comes late; a file still without its
                    # first fragment is let write it, so Stop right after REC leaves a valid one.
                    _pause(pauses, pipeline, orders.stop_at, tracks)
            case Pause(at=at):
                _pause(pauses, pipeline, at - origin, tracks)
            case Resume(at=at):
                length = pauses.resume(at - origin)
                if length is not None:
                    if orders.resumed is not None:
                        orders.resumed()
                    log.info("resumed", extra={"paused_seconds": round(length, 3)})


def _pause(
    pauses: PauseClock, pipeline: RecorderPipeline | None, t: float, tracks: TrackRecorder | None = None
) -> None:
    cut = pauses.pause(t)
    if cut is None:
        return
    if tracks is not None:  # the tracks' frames placed after the pause go too
        tracks.cut(cut)
    if pipeline is None:
        return
    # Frames stamped after the pause that reached the pipeline before this command did go.
    pipeline.cut(cut)
    late = pipeline.mixer.rendered - cut
    log.info("paused", extra={"file_time": round(cut, 3)})
    if late > 0:
        log.warning("pause heard after its moment was written", extra={"late": round(late, 3)})


async def record(
    job: RobotJob, stop: asyncio.Event, report: Report, commands: AsyncIterator[Command] | None = None
) -> None:
    """Record until ``stop`` is set or the server goes away; the file is complete when this returns.

    ``commands`` are the server's pauses and resumes (what is captured while paused is not recorded, and
    the file continues at the resume: ``recorder_bot.pause_clock``) and the instant of its Stop.
    """
    if job.mode == "tracks":
        await record_tracks(job, stop, report, commands)
        return
    recording_start = job.origin if job.origin is not None else time.time()
    pauses = PauseClock()
    loop = asyncio.get_running_loop()
    first_fragment = asyncio.Event()

    def fragment_written(stats: WriterStats) -> None:  # on the pipeline's thread
        loop.call_soon_threadsafe(first_fragment.set)

    fmt = MediaFormat(width=job.width, height=job.height, fps=job.fps)
    writer = RecordingWriter(
        job.storage_root,
        job.file_name,
        fmt,
        EncoderSettings(video_bitrate=job.video_bitrate, audio_bitrate=job.audio_bitrate),
        on_fragment=fragment_written,
    )
    font = LabelFont(job.label_font or DEJAVU_SANS)
    rooms = [job.classroom_name, *(more.classroom_name for more in job.more_classrooms)]
    pipeline = RecorderPipeline(
        Mixer(fmt, job.classroom_name, font=font, rooms=rooms),
        writer,
        clock=lambda: pauses.now(time.time() - recording_start),
    )
    pipeline.start()
    tracks = None if job.mode == "composite" else _track_recorder(job, recording_start, pauses, report)
    obeying = None
    orders = Orders(first_fragment)
    if commands is not None:
        obeying = asyncio.create_task(obey(commands, pauses, pipeline, recording_start, orders, tracks))
    # From the start, joining included: a moderator hears within seconds that nobody's media arrives.
    receiving = asyncio.create_task(report_receiving(pipeline, report))
    sessions = _sessions(job, pipeline, recording_start, pauses, tracks)
    orders.resumed = functools.partial(_release_held, sessions)
    gone = asyncio.Event()  # set once the robot is out of every classroom
    following = asyncio.create_task(_until_all_left(sessions, gone))
    try:
        await _join_all(sessions)
        report(Joined())
        waiting = [asyncio.ensure_future(e.wait()) for e in (first_fragment, stop, gone)]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if first_fragment.is_set():
            report(FirstFragment())
        ending = [asyncio.ensure_future(e.wait()) for e in (stop, gone)]
        await asyncio.wait(ending, return_when=asyncio.FIRST_COMPLETED)
        for future in (*waiting, *ending):
            future.cancel()
    finally:
        # The file first: Stop answers when it is complete. Leaving the classroom (closing the peer
        # connection joins aiortc's decoder threads, which takes a while on a busy machine) goes on beside
        # it; frames still decoded meanwhile are refused by the stopping pipeline.
        receiving.cancel()
        following.cancel()
        if obeying is not None:
            obeying.cancel()
        leaving = asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)
        try:
            # The file ends at the server's Stop if it said when (a pause then ends it at the pause).
            end = None if orders.stop_at is None else pauses.now(orders.stop_at)
            stats, written = await asyncio.gather(
                asyncio.to_thread(pipeline.stop, end),
                asyncio.to_thread(tracks.stop) if tracks is not None else asyncio.sleep(0, ()),
            )
            report(
                Finished(
                    duration_ms=int(stats.rendered_seconds * 1000),
                    size_bytes=stats.bytes_written,
                    fragments=stats.fragments,
                    dropped=stats.dropped_queue_full,
                    late_frames=stats.late_video_frames + stats.late_audio_frames,
                    tracks=written,
                )
            )
        finally:
            with contextlib.suppress(Exception):
                await leaving


def _track_recorder(
    job: RobotJob, recording_start: float, pauses: PauseClock, report: Report
) -> TrackRecorder:
    if job.tracks_prefix is None:
        raise ValueError(f"a {job.mode} recording needs tracks_prefix")
    tracks = TrackRecorder(
        job.storage_root,
        job.tracks_prefix,
        recording_start,
        pauses,
        report,
        decode=job.mode == "both",
        lateness=PAUSE_LATENESS,
        delay=TRACK_DELAY,
    )
    tracks.start()
    return tracks


async def report_receiving_tracks(tracks: TrackRecorder, report: Report) -> None:
    """Tracks mode: whose media reaches a track, every second until cancelled."""
    while True:
        report(Receiving(receiving=tuple(tracks.receiving(RECEIVING_WINDOW))))
        await asyncio.sleep(RECEIVING_INTERVAL)


async def record_tracks(
    job: RobotJob, stop: asyncio.Event, report: Report, commands: AsyncIterator[Command] | None = None
) -> None:
    """Tracks mode: only each participant's own tracks (``recorder_bot.tracks``), nothing decoded, no
    composite file. The recording plays from the moment the robot is in: FirstFragment follows Joined."""
    recording_start = job.origin if job.origin is not None else time.time()
    pauses = PauseClock()
    tracks = _track_recorder(job, recording_start, pauses, report)
    joined = asyncio.Event()
    orders = Orders(joined)
    obeying = None
    if commands is not None:
        obeying = asyncio.create_task(obey(commands, pauses, None, recording_start, orders, tracks))
    receiving = asyncio.create_task(report_receiving_tracks(tracks, report))
    sessions = _sessions(job, None, recording_start, pauses, tracks)
    orders.resumed = functools.partial(_release_held, sessions)
    gone = asyncio.Event()
    following = asyncio.create_task(_until_all_left(sessions, gone))
    try:
        await _join_all(sessions)
        report(Joined())
        joined.set()
        report(FirstFragment())
        ending = [asyncio.ensure_future(e.wait()) for e in (stop, gone)]
        await asyncio.wait(ending, return_when=asyncio.FIRST_COMPLETED)
        for future in ending:
            future.cancel()
    finally:
        receiving.cancel()
        following.cancel()
        if obeying is not None:
            obeying.cancel()
        leaving = asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)
        try:
            # Like the composite: the recording's length is up to the server's Stop (less paused time).
            stopped_at = orders.stop_at if orders.stop_at is not None else time.time() - recording_start
            end = pauses.now(stopped_at)
            if orders.stop_at is None or not pauses.paused:
                _pause(pauses, None, stopped_at, tracks)  # nothing after the end is kept
            written = await asyncio.to_thread(tracks.stop)
            report(
                Finished(
                    duration_ms=max(0, int(end * 1000)),
                    size_bytes=sum(track.size_bytes for track in written),
                    dropped=tracks.dropped,
                    tracks=written,
                )
            )
        finally:
            with contextlib.suppress(Exception):
                await leaving
