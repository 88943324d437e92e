"""Being in a classroom: connecting, joining and leaving, seats, chat, hands and moderation."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import socketio
from aiohttp import web
from sqlalchemy import select

from server.auth.permissions import (
    can_record,
    is_moderator,
    may_publish,
    require_can_lower_hand,
    require_can_remove,
    require_can_request_mute,
    require_can_see,
    require_moderating,
    require_replay_classroom,
    require_robot_classroom,
    student_media_defaults,
)
from server.auth.sessions import authenticated
from server.auth.throttle import SlidingWindow
from server.classrooms import described_classroom, get_classroom
from server.db.models import ChatMessage, ConsentAnswer, User, UserSettings
from server.errors import NotFound, NotJoined, RateLimited
from server.library.recordings import active_recording, described
from server.names import check_message
from server.recorders.tokens import robot_allowed
from server.rooms.presence import ClassroomPresence, Participant
from server.services import Services
from server.signalling.namespace_core import (
    Connection,
    NamespaceCore,
    Rate,
    Who,
    event,
    participant_model,
    room_name,
)
from server.signalling.protocol import (
    Chat,
    ChatAck,
    ChatEvent,
    ChatMessageModel,
    ConsentInfo,
    Empty,
    Hand,
    Join,
    JoinAck,
    LeaveReason,
    Limits,
    LowerHand,
    MuteRequest,
    MuteRequested,
    Ok,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantUpdated,
    Remove,
    Removed,
    RemovedReason,
    Rights,
    RobotJoinAck,
)
from server.timefmt import iso

log = logging.getLogger(__name__)


def message_model(message: ChatMessage) -> ChatMessageModel:
    return ChatMessageModel(
        id=message.id,
        user_id=message.user_id,
        display_name=message.display_name,
        text=message.text,
        sent_at=iso(message.sent_at) or "",
    )


def set_hand(room: ClassroomPresence, participant: Participant, raised: bool) -> None:
    """Raise or lower a hand; a raised hand joins the end of the queue (strictly after every hand already
    up, so the queue's order never depends on two raises landing in the same millisecond)."""
    participant.hand_raised = raised
    if not raised:
        participant.hand_raised_at = None
        return
    # Whole milliseconds, as the wire carries them: raises within one millisecond would otherwise tie there.
    moment = datetime.now(UTC)
    now = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    latest = max((p.hand_raised_at for p in room.participants.values() if p.hand_raised_at), default=None)
    if latest is not None and now <= latest:
        now = latest + timedelta(milliseconds=1)
    participant.hand_raised_at = now


def rights_for(user: User, classroom: Any) -> Rights:
    return Rights(can_moderate=is_moderator(user, classroom), can_record=can_record(user, classroom))


class MembershipEvents(NamespaceCore):
    def __init__(self, svc: Services) -> None:
        super().__init__(svc)
        self._chat_rate = SlidingWindow(self.svc.config.classroom.chat_rate_per_minute, 60)

    # -- connection -------------------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if isinstance(auth, dict) and "robot_token" in auth:
            await self._connect_robot(sid, auth["robot_token"])
            return
        if isinstance(auth, dict) and "replay_token" in auth:
            await self._connect_replay(sid, auth["replay_token"])
            return
        request: web.Request | None = environ.get("aiohttp.request")
        found = None
        if request is not None:
            async with self.svc.db() as db:
                found = await authenticated(request, db)
        if found is None:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        user = found.user
        self._connections[sid] = Connection(
            user.id, user.username, user.display_name, user.role, found.session_id, None, time.monotonic()
        )
        self.svc.metrics.socket_connections.inc()

    async def _connect_robot(self, sid: str, token: Any) -> None:
        """The recorder robot: a seatless participant allowed into one classroom by a signed token."""
        grant = self.svc.tokens.verify(token)
        recording = None
        if grant is not None:
            async with self.svc.db() as db:
                recording = await robot_allowed(db, grant)
        if grant is None or recording is None:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        self._connections[sid] = Connection(
            -recording.id, f"robot-{recording.id}", recording.robot_name, "robot", None, grant
        )
        self.svc.metrics.socket_connections.inc()

    async def _connect_replay(self, sid: str, token: Any) -> None:
        """A replay publisher: seatless, allowed into one classroom while its replay is live."""
        grant = self.svc.replay_tokens.verify(token)
        replay = self.svc.replays.allowed(grant) if grant is not None else None
        if grant is None or replay is None:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        self._connections[sid] = Connection(
            replay.user_id, f"replay-{replay.classroom_id}", replay.display_name, "replay", replay=grant
        )
        self.svc.metrics.socket_connections.inc()

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        if self._connections.pop(sid, None) is not None:
            self.svc.metrics.socket_connections.dec()
        self.forget_rates(sid)
        await self.leave_classroom(sid, LeaveReason.DISCONNECTED)

    async def disconnect_all(self) -> None:
        """On shutdown: close every socket now, so browsers reconnect to the next server without waiting."""
        for sid in list(self._connections):
            await self.disconnect(sid)

    # -- events -----------------------------------------------------------------------------------------

    @event(
        Join,
        (JoinAck, RobotJoinAck),
        who=Who.SEEING,
        errors=("not_found", "classroom_full", "forbidden", "already_joined", "not_joined"),
        rate=Rate.BROADCAST,
        summary="take a seat in a classroom (one per user: a second tab takes over the first one's seat)",
    )
    async def on_join(self, sid: str, data: Join) -> JoinAck | RobotJoinAck:
        conn = self.connection(sid)
        if conn.robot is not None:
            return await self._join_robot(sid, conn, data.classroom_id)
        if conn.replay is not None:
            return await self._join_replay(sid, conn, data.classroom_id)
        generation = (self.access_generation(data.classroom_id), conn.generation)
        async with self.svc.db() as db:
            user = await db.get(User, conn.user_id)
            if user is None:
                raise NotFound(f"classroom {data.classroom_id} does not exist")
            classroom = await get_classroom(db, data.classroom_id)
            require_can_see(user, classroom)
            moderator = is_moderator(user, classroom)
            history = (
                await db.scalars(
                    select(ChatMessage)
                    .where(ChatMessage.classroom_id == classroom.id)
                    .order_by(ChatMessage.id.desc())
                    .limit(self.svc.config.classroom.chat_history)
                )
            ).all()
            recording = await active_recording(db, classroom.id)
            recording_body = await described(db, recording, user) if recording else None
            settings = await db.get(UserSettings, user.id)
            reminder = moderator and recording is None and bool(settings and settings.recording_reminder)
            # An answer given before a reload or reconnect still holds for this recording.
            consent = (
                await db.scalar(
                    select(ConsentAnswer.accepted)
                    .where(ConsentAnswer.recording_id == recording.id, ConsentAnswer.user_id == user.id)
                    .order_by(ConsentAnswer.id.desc())
                    .limit(1)
                )
                if recording
                else None
            )
            rights = rights_for(user, classroom)
            seat_limit = classroom.seat_limit
            defaults = frozenset(student_media_defaults(classroom))
            participant = Participant(
                sid=sid,
                user_id=user.id,
                username=user.username,
                display_name=user.display_name,
                role=user.role,
                moderator=moderator,
                recording_consent=consent,
            )
            earlier = self.svc.presence.room(classroom.id)
            participant.may_publish = list(
                may_publish(participant, defaults, earlier.media_overrides.get(user.id) if earlier else None)
            )
            await self.seat(classroom.id, seat_limit, participant, defaults)
            # Counted once seated, so the ack and the others' participant_joined agree.
            classroom_body = await described_classroom(db, self.svc.presence, classroom, user)
        if (self.access_generation(classroom.id), conn.generation) != generation:
            # Who may be here changed while this join read the database: check it against the change.
            await self.reauthorise(sid)
            if self.svc.presence.participant(sid) is None:
                raise NotFound(f"classroom {classroom.id} does not exist")
        log.info("participant joined", extra={"classroom_id": classroom.id, "user_id": user.id})
        await self.svc.timeline.note(
            classroom.id, "join", user_id=user.id, display_name=participant.display_name, role=user.role
        )
        present = self.svc.presence.room(classroom.id)
        consent_mode = self.svc.config.recording.consent
        opened_at = present.opened_at if present else participant.joined_at
        return JoinAck(
            self=participant_model(participant),
            classroom=classroom_body,
            participants=[participant_model(p) for p in present.participants.values()] if present else [],
            chat=[message_model(m) for m in reversed(history)],
            limits=Limits(chat_max_length=self.svc.config.classroom.chat_max_length),
            recording=recording_body,
            reminder=reminder,
            consent=ConsentInfo(
                mode="ask" if consent_mode == "ask" else "notice",
                text=self.svc.config.recording.consent_text,
            ),
            rights=rights,
            session_started_at=iso(opened_at) or "",
        )

    async def _join_robot(self, sid: str, conn: Connection, classroom_id: int) -> RobotJoinAck:
        assert conn.robot is not None
        require_robot_classroom(conn.robot.classroom_id, classroom_id)
        async with self.svc.db() as db:
            if await robot_allowed(db, conn.robot) is None:
                raise NotFound("this recording has ended")
            classroom = await get_classroom(db, classroom_id)
            seat_limit = classroom.seat_limit
            classroom_name = classroom.name
        participant = Participant(
            sid=sid,
            user_id=conn.user_id,
            username=conn.username,
            display_name=conn.display_name,
            role="robot",
            moderator=False,
            robot=True,
        )
        return await self._seat_seatless(classroom_id, seat_limit, classroom_name, participant)

    async def _seat_seatless(
        self, classroom_id: int, seat_limit: int, classroom_name: str, participant: Participant
    ) -> RobotJoinAck:
        """Seat the robot or a replay (neither takes a seat) and tell it who is inside."""
        await self.seat(classroom_id, seat_limit, participant)
        present = self.svc.presence.room(classroom_id)
        return RobotJoinAck(
            self=participant_model(participant),
            classroom={"id": classroom_id, "name": classroom_name},
            participants=[participant_model(p) for p in present.participants.values()] if present else [],
        )

    async def _join_replay(self, sid: str, conn: Connection, classroom_id: int) -> RobotJoinAck:
        assert conn.replay is not None
        require_replay_classroom(conn.replay.classroom_id, classroom_id)
        if self.svc.replays.allowed(conn.replay) is None:
            raise NotFound("this replay has ended")
        async with self.svc.db() as db:
            classroom = await get_classroom(db, classroom_id)
            seat_limit = classroom.seat_limit
            classroom_name = classroom.name
        participant = Participant(
            sid=sid,
            user_id=conn.user_id,
            username=conn.username,
            display_name=conn.display_name,
            role="replay",
            moderator=False,
            replay=True,
        )
        participant.may_publish = list(may_publish(participant, ()))
        return await self._seat_seatless(classroom_id, seat_limit, classroom_name, participant)

    @event(
        Empty, Ok, who=Who.JOINED, errors=("not_joined",), rate=Rate.BROADCAST, summary="leave the classroom"
    )
    async def on_leave(self, sid: str, data: Empty) -> Ok:
        self.joined(sid)
        await self.leave_classroom(sid, LeaveReason.LEFT)
        return Ok()

    @event(
        Chat,
        ChatAck,
        who=Who.PERSON,
        errors=("not_joined", "forbidden"),
        summary="send a chat message (1 to `chat_max_length` characters after trimming)",
    )
    async def on_chat(self, sid: str, data: Chat) -> ChatAck:
        room, participant = self.joined_person(sid)
        text = check_message(data.text, "text", self.svc.config.classroom.chat_max_length)
        key = str(participant.user_id)
        wait = self._chat_rate.retry_after(key)
        if wait:
            raise RateLimited(f"too many messages; wait {wait} s")
        self._chat_rate.record(key)
        async with self.svc.db() as db:
            message = ChatMessage(
                classroom_id=room.classroom_id,
                user_id=participant.user_id,
                display_name=participant.display_name,
                text=text,
            )
            db.add(message)
            await db.commit()
        body = message_model(message)
        self.svc.metrics.chat_messages.inc()
        await self.svc.timeline.note(
            room.classroom_id,
            "chat",
            user_id=participant.user_id,
            display_name=participant.display_name,
            text=text,
            message_id=message.id,
        )
        await self.send(ChatEvent(message=body), room=room_name(room.classroom_id))
        return ChatAck(message=body)

    @event(
        Hand,
        Ok,
        who=Who.PERSON,
        errors=("not_joined", "forbidden"),
        rate=Rate.BROADCAST,
        summary="raise or lower your hand",
    )
    async def on_hand(self, sid: str, data: Hand) -> Ok:
        room, participant = self.joined_person(sid)
        if participant.hand_raised != data.raised:
            set_hand(room, participant, data.raised)
            await self.note_hand(room.classroom_id, participant)
            await self.announce_update(room.classroom_id, participant)
        return Ok()

    @event(
        LowerHand,
        Ok,
        who=Who.MODERATOR,
        errors=("not_joined", "forbidden", "not_found"),
        rate=Rate.BROADCAST,
        summary="lower a participant's raised hand, or (`user_id` null) every hand",
    )
    async def on_lower_hand(self, sid: str, data: LowerHand) -> Ok:
        room, moderator = self.joined(sid)
        require_can_lower_hand(moderator)
        if data.user_id is None:
            raised = [p for p in room.participants.values() if p.hand_raised]
        else:
            _room, _moderator, target = self._moderated(sid, data.user_id)
            raised = [target] if target.hand_raised else []
        for participant in raised:
            set_hand(room, participant, False)
        for participant in raised:
            await self.note_hand(room.classroom_id, participant)
            await self.announce_update(room.classroom_id, participant)
        return Ok()

    async def note_hand(self, classroom_id: int, participant: Participant) -> None:
        """The hand's new state on the class timeline."""
        kind = "hand_raised" if participant.hand_raised else "hand_lowered"
        await self.svc.timeline.note(
            classroom_id, kind, user_id=participant.user_id, display_name=participant.display_name
        )

    # -- moderation ---------------------------------------------------------------------------------------

    @event(
        MuteRequest,
        Ok,
        who=Who.MODERATOR,
        errors=("not_joined", "forbidden", "not_found"),
        summary="ask a participant to mute their microphone or camera (only they hear of it)",
    )
    async def on_mute_request(self, sid: str, data: MuteRequest) -> Ok:
        _room, moderator, target = self._moderated(sid, data.user_id)
        require_can_request_mute(moderator, target)
        await self.send(MuteRequested(kind=data.kind, by=participant_model(moderator)), to=target.sid)
        return Ok()

    @event(
        Remove,
        Ok,
        who=Who.MODERATOR,
        errors=("not_joined", "forbidden", "not_found"),
        rate=Rate.BROADCAST,
        summary="take a participant out; they stay out until the classroom empties",
    )
    async def on_remove(self, sid: str, data: Remove) -> Ok:
        room, moderator, target = self._moderated(sid, data.user_id)
        require_can_remove(moderator, target)
        self.svc.presence.remove_user(room.classroom_id, target.user_id)
        await self.send_away(room.classroom_id, target, RemovedReason.REMOVED, participant_model(moderator))
        log.info(
            "participant removed",
            extra={"classroom_id": room.classroom_id, "user_id": target.user_id, "by": moderator.user_id},
        )
        return Ok()

    def _moderated(self, sid: str, user_id: int) -> tuple[ClassroomPresence, Participant, Participant]:
        """The moderator's classroom, the moderator and the participant a moderation action is aimed at."""
        room, moderator = self.joined(sid)
        require_moderating(moderator)
        target = room.participants.get(user_id)
        if target is None:
            raise NotFound("that participant is not in this classroom")
        return room, moderator, target

    # -- seats --------------------------------------------------------------------------------------------

    async def seat(
        self,
        classroom_id: int,
        seat_limit: int,
        participant: Participant,
        student_media: frozenset[str] | None = None,
    ) -> None:
        """Seat the socket in this classroom (leaving any other) and tell the others; ``student_media``:
        the classroom's defaults as this join read them."""
        sid = participant.sid
        if self.svc.presence.participant(sid) is not None:
            await self.leave_classroom(sid, LeaveReason.LEFT)
        # A socket that went away while its join was reading the database never takes a seat: nothing
        # would ever free it (no await between this check and the seat).
        if sid not in self._connections:
            raise NotJoined("the connection closed while joining")
        joined = self.svc.presence.join(classroom_id, seat_limit, participant)
        present = self.svc.presence.room(classroom_id)
        if present is not None and student_media is not None:
            present.student_media = student_media
        room = room_name(classroom_id)
        try:
            await self.enter_room(sid, room)
        except ValueError:  # disconnected in between: python-socketio has forgotten the socket
            await self.leave_classroom(sid, LeaveReason.DISCONNECTED)
            raise NotJoined("the connection closed while joining") from None
        if joined.replaced_sid is not None:
            await self.svc.media.leave(classroom_id, participant.user_id)
            await self.send(Removed(reason=RemovedReason.JOINED_ELSEWHERE, by=None), to=joined.replaced_sid)
            await self.leave_room(joined.replaced_sid, room)
            await self.send(ParticipantUpdated(participant=participant_model(participant)), room=room)
        else:
            await self.send(
                ParticipantJoined(
                    participant=participant_model(participant),
                    seats_used=self.svc.presence.seats_used(classroom_id),
                ),
                room=room,
                skip=sid,
            )
        self.update_gauges()
        await self.notify_watchers(classroom_id)

    async def leave_classroom(self, sid: str, reason: LeaveReason) -> None:
        left = self.svc.presence.leave(sid)
        if left is None:
            return
        classroom_id, participant = left
        await self.svc.media.leave(classroom_id, participant.user_id)
        await self.leave_room(sid, room_name(classroom_id))
        await self.announce_left(classroom_id, participant.user_id, reason)
        await self._note_leave(classroom_id, participant)
        log.info("participant left", extra={"classroom_id": classroom_id, "user_id": participant.user_id})

    async def send_away(
        self, classroom_id: int, target: Participant, reason: RemovedReason, by: Any = None
    ) -> None:
        """The server takes ``target`` (already out of presence) out of the classroom and tells everyone."""
        await self.svc.media.leave(classroom_id, target.user_id)
        await self.send(Removed(reason=reason, by=by), to=target.sid)
        await self.leave_room(target.sid, room_name(classroom_id))
        await self.announce_left(classroom_id, target.user_id, LeaveReason(reason.value))
        await self._note_leave(classroom_id, target)

    async def _note_leave(self, classroom_id: int, participant: Participant) -> None:
        if not participant.robot:
            await self.svc.timeline.note(
                classroom_id, "leave", user_id=participant.user_id, display_name=participant.display_name
            )

    async def apply_media_rights(
        self, room: ClassroomPresence, participant: Participant, *, announce: bool = True
    ) -> bool:
        """Recompute what ``participant`` may send: a withdrawn source stops being forwarded now, a granted
        one is forwarded again, and (``announce``) everyone hears of the new rights. True if they changed."""
        allowed = may_publish(participant, room.student_media, room.media_overrides.get(participant.user_id))
        if allowed == participant.may_publish:
            return False
        participant.may_publish = list(allowed)
        if "screen" not in allowed:
            participant.screen_sharing = False
        media = self.svc.media.get(room.classroom_id)
        if media is not None:
            await media.refresh_forwarding(participant.user_id)
            participant.publishing = media.publishing(participant.user_id)
        if announce:
            await self.announce_update(room.classroom_id, participant)
        return True

    async def announce_update(self, classroom_id: int, participant: Participant) -> None:
        await self.send(
            ParticipantUpdated(participant=participant_model(participant)), room=room_name(classroom_id)
        )

    async def announce_left(self, classroom_id: int, user_id: int, reason: LeaveReason) -> None:
        self.update_gauges()
        await self.send(
            ParticipantLeft(
                user_id=user_id, reason=reason, seats_used=self.svc.presence.seats_used(classroom_id)
            ),
            room=room_name(classroom_id),
        )
        await self.notify_watchers(classroom_id)
        if user_id > 0 and self.svc.presence.people_present(classroom_id) == 0:
            self.svc.replays.classroom_empty(
                classroom_id, lambda: self.svc.presence.people_present(classroom_id) == 0
            )

    def forget_user(self, user_id: int) -> None:
        super().forget_user(user_id)
        self._chat_rate.reset(str(user_id))
        self.svc.presence.forget_removal(user_id)

    def update_gauges(self) -> None:
        self.svc.metrics.participants.set(self.svc.presence.total_participants())
        self.svc.metrics.active_classrooms.set(self.svc.presence.active_classrooms())
