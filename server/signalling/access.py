"""Live sockets follow the state their identity rests on (``server.live.LiveClassrooms``).

A socket is authorised when it connects and joins, and again whenever what that rested on changes: its
account deleted or changed, its login session revoked or expired, its classroom's members changed or the
classroom deleted. A socket that may no longer be where it is gets ``removed`` (and is disconnected when its
session is gone); one whose rights changed gets ``rights_changed`` and everyone sees the new participant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update

from server.auth.permissions import can_see, is_moderator, student_media_defaults
from server.auth.sessions import session_alive
from server.classrooms import described_classroom
from server.db.models import Classroom, RecordingClassroom, StopReason, User
from server.library.recordings import active_recording, described
from server.replay.supervisor import Replay
from server.services import Services
from server.signalling.membership import MembershipEvents, rights_for
from server.signalling.namespace_core import (
    Connection,
    participant_model,
    room_name,
)
from server.signalling.protocol import (
    LeaveReason,
    RecordingState,
    RemovedReason,
    ReplayModel,
    ReplayState,
    RightsChanged,
)

log = logging.getLogger(__name__)


class AccessUpdates(MembershipEvents):
    def __init__(self, svc: Services) -> None:
        super().__init__(svc)
        self._sweeper: asyncio.Task[None] | None = None

    def start_sweeping(self) -> None:
        """Re-check every person's socket now and then, so one that only listens still ends when its
        session expires (the others are re-checked as they send, and at once on every change)."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    async def stop_sweeping(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep(self) -> None:
        recheck = self.svc.config.classroom.session_recheck_seconds
        while True:
            await asyncio.sleep(recheck / 2)
            now = time.monotonic()
            for sid, conn in list(self._connections.items()):
                if conn.session_id is not None and now - conn.checked_at > recheck:
                    try:
                        await self.reauthorise(sid)
                    except Exception:
                        log.exception("re-checking a socket failed", extra={"sid": sid})

    async def users_changed(self, user_ids: Iterable[int]) -> None:
        changed = set(user_ids)
        async with self.svc.db() as db:
            existing = set(await db.scalars(select(User.id).where(User.id.in_(changed))))
        for user_id in changed - existing:
            self.forget_user(user_id)
        for sid in self.sids_of(changed):
            await self.reauthorise(sid)

    async def sessions_ended(self, session_ids: Iterable[str]) -> None:
        ended = set(session_ids)
        for sid, conn in list(self._connections.items()):
            if conn.session_id in ended:
                await self.end_socket(sid, RemovedReason.SESSION_ENDED)

    async def classroom_changed(self, classroom_id: int) -> None:
        self.access_changed(classroom_id)
        room = self.svc.presence.room(classroom_id)
        if room is not None:
            async with self.svc.db() as db:
                classroom = await db.get(Classroom, classroom_id)
                if classroom is not None:
                    room.student_media = frozenset(student_media_defaults(classroom))
        for participant in list(room.participants.values()) if room else ():
            if not participant.robot:
                await self.reauthorise(participant.sid)
        # The students' defaults may have changed: everyone still inside sends only what they may now.
        room = self.svc.presence.room(classroom_id)
        if room is not None:
            for participant in list(room.participants.values()):
                await self.apply_media_rights(room, participant)
        await self.notify_watchers(classroom_id, refresh=True)

    async def classroom_deleted(self, classroom_id: int) -> None:
        """Everyone inside is sent away; a recording in progress stops and is kept."""
        # A replay goes with its classroom, also one still starting (its publisher not yet inside).
        if self.svc.replays.get(classroom_id) is not None:
            await self.svc.replays.stop(classroom_id)
        # Its recording stops whether or not its robot is inside yet (and so lets go of the classroom).
        async with self.svc.db() as db:
            recording = await active_recording(db, classroom_id)
        if recording is not None:
            await self.svc.recorders.stop(recording.id, StopReason.CLASSROOM_DELETED)
        async with self.svc.db() as db:
            # The gone classroom's id is free at once: a new classroom reusing it is not being recorded.
            await db.execute(
                update(RecordingClassroom)
                .where(
                    RecordingClassroom.active_classroom_id == classroom_id,
                    RecordingClassroom.classroom_id.is_(None),
                )
                .values(active_classroom_id=None)
            )
            await db.commit()
        for participant in self.svc.presence.close(classroom_id):
            if participant.robot and (recording is None or -participant.user_id != recording.id):
                await self.svc.recorders.stop(-participant.user_id, StopReason.CLASSROOM_DELETED)
            await self.send_away(classroom_id, participant, RemovedReason.CLASSROOM_DELETED)
        await self.notify_watchers(classroom_id, refresh=True)

    async def recheck_session(self, sid: str, conn: Connection) -> None:
        conn.checked_at = time.monotonic()
        await self.reauthorise(sid)

    async def reauthorise(self, sid: str) -> None:
        """Check one person's socket against their session, account and classroom as they are now."""
        conn = self._connections.get(sid)
        if conn is None or conn.robot is not None or conn.replay is not None:
            return
        conn.generation += 1
        async with self.svc.db() as db:
            user = await session_alive(db, conn.session_id) if conn.session_id else None
            if user is None or user.id != conn.user_id:
                deleted = await db.get(User, conn.user_id) is None
                await self.end_socket(
                    sid, RemovedReason.ACCOUNT_DELETED if deleted else RemovedReason.SESSION_ENDED
                )
                return
            conn.username, conn.display_name, conn.role = user.username, user.display_name, user.role
            conn.checked_at = time.monotonic()
            found = self.svc.presence.participant(sid)
            if found is None:
                return
            room, participant = found
            classroom = await db.get(Classroom, room.classroom_id)
            if classroom is None or not can_see(user, classroom):
                self.svc.presence.leave(sid)
                await self.send_away(room.classroom_id, participant, RemovedReason.ACCESS_REVOKED)
                log.info(
                    "participant lost access",
                    extra={"classroom_id": room.classroom_id, "user_id": user.id},
                )
                return
            moderator = is_moderator(user, classroom)
            changed = (participant.moderator, participant.display_name, participant.role) != (
                moderator,
                user.display_name,
                user.role,
            )
            if not changed:
                return
            participant.moderator = moderator
            participant.display_name = user.display_name
            participant.role = user.role
            # A moderator made student sends only what students may (and the other way round).
            await self.apply_media_rights(room, participant, announce=False)
            body = await described_classroom(db, self.svc.presence, classroom, user)
            rights = rights_for(user, classroom)
            recording = await active_recording(db, classroom.id)
            # Rights on the recording in progress (may they stop it?) changed with theirs.
            recording_body = await described(db, recording, user) if recording else None
        await self.send(
            RightsChanged(self=participant_model(participant), rights=rights, classroom=body), to=sid
        )
        if recording_body is not None:
            await self.send(RecordingState(recording=recording_body, reason=None), to=sid)
        await self.announce_update(room.classroom_id, participant)

    async def end_socket(self, sid: str, reason: RemovedReason) -> None:
        """The identity behind this socket is gone: out of its classroom, then disconnected."""
        left = self.svc.presence.leave(sid)
        if left is not None:
            classroom_id, participant = left
            await self.send_away(classroom_id, participant, reason)
        log.info("socket ended", extra={"sid": sid, "reason": reason.value})
        await self.disconnect(sid)

    async def replay_changed(self, classroom_id: int, replay: Replay | None) -> None:
        """Everyone inside hears of each change of the classroom's replay; an ended one's socket goes."""
        body = ReplayModel.model_validate(replay.json()) if replay is not None else None
        await self.send(ReplayState(replay=body), room=room_name(classroom_id))
        if replay is None:
            await self.end_replay(classroom_id)

    async def replay_ended(self, replay: Replay, by: dict[str, Any] | None) -> None:
        await self.svc.timeline.note(
            replay.classroom_id, "replay_stopped", recording_id=replay.recording_id, by=by
        )

    async def end_replay(self, classroom_id: int) -> None:
        """A replay ended: its grant is dead and its publisher's socket goes (its tile with it)."""
        for sid, conn in list(self._connections.items()):
            if conn.replay is not None and conn.replay.classroom_id == classroom_id:
                left = self.svc.presence.leave(sid)
                if left is not None:
                    await self.svc.media.leave(left[0], left[1].user_id)
                    await self.leave_room(sid, room_name(left[0]))
                    await self.announce_left(left[0], left[1].user_id, LeaveReason.LEFT)
                await self.disconnect(sid)

    async def end_robot(self, recording_id: int) -> None:
        """A recording left its active states: its robot's token is dead and its socket goes."""
        for sid, conn in list(self._connections.items()):
            if conn.robot is not None and conn.robot.recording_id == recording_id:
                left = self.svc.presence.leave(sid)
                if left is not None:
                    await self.svc.media.leave(left[0], left[1].user_id)
                    await self.leave_room(sid, room_name(left[0]))
                    await self.announce_left(left[0], left[1].user_id, LeaveReason.RECORDING_ENDED)
                await self.disconnect(sid)
