"""The ``/classroom`` socket.io namespace: one ``on_<event>`` method per event of docs/protocol.md.

Every event answers through its acknowledgement with ``{"ok": true, ...}`` or ``{"error": {...}}``; a refusal
is also emitted as an ``error`` event. A refused event changes nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio
from aiohttp import web
from sqlalchemy import select

from server.auth.permissions import is_moderator, require_can_see, require_moderating
from server.auth.sessions import session_user
from server.auth.throttle import SlidingWindow
from server.classrooms import classroom_json, get_classroom
from server.db.models import ChatMessage, ConsentAnswer, Recording, RecordingState, User, UserSettings
from server.errors import AppError, Forbidden, Invalid, NotFound, RateLimited
from server.library.recordings import active_recording, described, is_active
from server.media.classroom_media import ClassroomMedia, check_sources
from server.recorders.tokens import RobotGrant
from server.rooms.presence import ClassroomPresence, Participant
from server.services import Services
from server.timefmt import iso

log = logging.getLogger(__name__)

NAMESPACE = "/classroom"

Payload = dict[str, Any]
Ack = dict[str, Any]


class NotJoined(AppError):
    status = 409
    code = "not_joined"


@dataclass(frozen=True)
class Connection:
    user_id: int
    username: str
    display_name: str
    role: str
    robot: RobotGrant | None = None


def room_name(classroom_id: int) -> str:
    return f"classroom:{classroom_id}"


def _payload(data: Any) -> Payload:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Invalid("the payload must be an object")
    return data


def _int_field(data: Payload, name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 1 << 53:
        raise Invalid(f"{name}: must be a positive integer")
    return value


def message_json(message: ChatMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "user_id": message.user_id,
        "display_name": message.display_name,
        "text": message.text,
        "sent_at": iso(message.sent_at),
    }


EventMethod = Callable[["ClassroomNamespace", str, Payload], Awaitable[Ack]]


def event(name: str) -> Callable[[EventMethod], Callable[..., Awaitable[Ack]]]:
    """Wrap an event handler: validate the payload shape, turn errors into an ack and an ``error`` event."""

    def wrap(method: EventMethod) -> Callable[..., Awaitable[Ack]]:
        @functools.wraps(method)
        async def handler(self: ClassroomNamespace, sid: str, data: Any = None) -> Ack:
            try:
                return await method(self, sid, _payload(data))
            except AppError as error:
                self.svc.metrics.socket_errors.labels(name, error.code).inc()
                await self.emit("error", {**error.body()["error"], "event": name}, to=sid)
                return error.body()
            except Exception:
                log.exception("socket event failed", extra={"event": name, "sid": sid})
                self.svc.metrics.socket_errors.labels(name, "internal").inc()
                body = {"code": "internal", "message": "internal server error"}
                await self.emit("error", {**body, "event": name}, to=sid)
                return {"error": body}

        return handler

    return wrap


class ClassroomNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, svc: Services) -> None:
        super().__init__(NAMESPACE)
        self.svc = svc
        self._connections: dict[str, Connection] = {}
        self._chat_rate = SlidingWindow(svc.config.classroom.chat_rate_per_minute, 60)

    # -- connection -------------------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if isinstance(auth, dict) and "robot_token" in auth:
            await self._connect_robot(sid, auth["robot_token"])
            return
        request: web.Request | None = environ.get("aiohttp.request")
        user: User | None = None
        if request is not None:
            async with self.svc.db() as db:
                user = await session_user(request, db)
        if user is None:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        self._connections[sid] = Connection(user.id, user.username, user.display_name, user.role)
        self.svc.metrics.socket_connections.inc()

    async def _connect_robot(self, sid: str, token: Any) -> None:
        """The recorder robot: a seatless participant allowed into one classroom by a signed token."""
        grant = self.svc.tokens.verify(token)
        recording = None
        if grant is not None:
            async with self.svc.db() as db:
                recording = await db.get(Recording, grant.recording_id)
        if grant is None or recording is None or not is_active(recording):
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        self._connections[sid] = Connection(
            -recording.id, f"robot-{recording.id}", recording.robot_name, "robot", grant
        )
        self.svc.metrics.socket_connections.inc()

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        if self._connections.pop(sid, None) is not None:
            self.svc.metrics.socket_connections.dec()
        await self._leave(sid, "disconnected")

    async def disconnect_all(self) -> None:
        """On shutdown: close every socket now, so browsers reconnect to the next server without waiting."""
        for sid in list(self._connections):
            await self.disconnect(sid)

    # -- events -----------------------------------------------------------------------------------------

    @event("join")
    async def on_join(self, sid: str, data: Payload) -> Ack:
        classroom_id = _int_field(data, "classroom_id")
        conn = self._connection(sid)
        if conn.robot is not None:
            return await self._join_robot(sid, conn, classroom_id)
        async with self.svc.db() as db:
            user = await db.get(User, conn.user_id)
            if user is None:
                raise Forbidden("your account no longer exists")
            classroom = await get_classroom(db, classroom_id)
            require_can_see(user, classroom)
            moderator = is_moderator(user, classroom)
            history = (
                await db.scalars(
                    select(ChatMessage)
                    .where(ChatMessage.classroom_id == classroom_id)
                    .order_by(ChatMessage.id.desc())
                    .limit(self.svc.config.classroom.chat_history)
                )
            ).all()
            recording = await active_recording(db, classroom_id)
            recording_body = await described(db, recording) if recording else None
            settings = await db.get(UserSettings, user.id)
            reminder = moderator and recording is None and bool(settings and settings.recording_reminder)
            classroom_body = classroom_json(classroom, user, 0)
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
        participant = Participant(
            sid=sid,
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            moderator=moderator,
            recording_consent=consent,
        )
        await self._seat(classroom_id, classroom.seat_limit, participant)
        log.info("participant joined", extra={"classroom_id": classroom_id, "user_id": user.id})
        present = self.svc.presence.room(classroom_id)
        # Counted last, from the same list the ack carries, so both agree whoever joined meanwhile.
        classroom_body["seats_used"] = self.svc.presence.seats_used(classroom_id)
        return {
            "ok": True,
            "self": participant.to_json(),
            "classroom": classroom_body,
            "participants": [p.to_json() for p in present.participants.values()] if present else [],
            "chat": [message_json(m) for m in reversed(history)],
            "limits": {"chat_max_length": self.svc.config.classroom.chat_max_length},
            "recording": recording_body,
            "reminder": reminder,
            "consent": {
                "mode": self.svc.config.recording.consent,
                "text": self.svc.config.recording.consent_text,
            },
        }

    async def _join_robot(self, sid: str, conn: Connection, classroom_id: int) -> Ack:
        assert conn.robot is not None
        if classroom_id != conn.robot.classroom_id:
            raise Forbidden("the robot may join only the classroom it records")
        async with self.svc.db() as db:
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
        await self._seat(classroom_id, seat_limit, participant)
        present = self.svc.presence.room(classroom_id)
        return {
            "ok": True,
            "self": participant.to_json(),
            "classroom": {"id": classroom_id, "name": classroom_name},
            "participants": [p.to_json() for p in present.participants.values()] if present else [],
        }

    @event("leave")
    async def on_leave(self, sid: str, data: Payload) -> Ack:
        self._joined(sid)
        await self._leave(sid, "left")
        return {"ok": True}

    @event("chat")
    async def on_chat(self, sid: str, data: Payload) -> Ack:
        room, participant = self._joined_person(sid)
        text = data.get("text")
        limit = self.svc.config.classroom.chat_max_length
        if not isinstance(text, str) or not text.strip():
            raise Invalid("text: a message must not be empty")
        text = text.strip()
        if len(text) > limit:
            raise Invalid(f"text: at most {limit} characters")
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
        body = message_json(message)
        self.svc.metrics.chat_messages.inc()
        await self.emit("chat", {"message": body}, room=room_name(room.classroom_id))
        return {"ok": True, "message": body}

    @event("hand")
    async def on_hand(self, sid: str, data: Payload) -> Ack:
        room, participant = self._joined_person(sid)
        raised = data.get("raised")
        if not isinstance(raised, bool):
            raise Invalid("raised: must be true or false")
        participant.hand_raised = raised
        await self._announce_update(room.classroom_id, participant)
        return {"ok": True}

    # -- media ------------------------------------------------------------------------------------------

    @event("media_join")
    async def on_media_join(self, sid: str, data: Payload) -> Ack:
        room, participant = self._joined(sid)
        publish = check_sources(data.get("publish", []))
        if participant.robot and publish:
            raise Forbidden("the recorder robot publishes nothing")
        media = self.svc.media.open(room.classroom_id, self)
        offer = await media.join(participant.user_id, publish)
        if self.svc.presence.participant(sid) is None:  # left while the offer was being made
            await self.svc.media.leave(room.classroom_id, participant.user_id)
            raise NotJoined("you left the classroom")
        servers = self.svc.media.ice_servers(participant.user_id)
        return {"ok": True, "ice_servers": [server.to_json() for server in servers], "offer": offer}

    @event("media_answer")
    async def on_media_answer(self, sid: str, data: Payload) -> Ack:
        room, participant = self._joined(sid)
        media = self._media(room.classroom_id)
        await media.answer(participant.user_id, data.get("revision"), data.get("sdp"))
        publishing = media.publishing(participant.user_id)
        if publishing != participant.publishing:
            participant.publishing = publishing
            await self._announce_update(room.classroom_id, participant)
        return {"ok": True}

    @event("media_candidate")
    async def on_media_candidate(self, sid: str, data: Payload) -> Ack:
        room, participant = self._joined(sid)
        await self._media(room.classroom_id).candidate(
            participant.user_id, data.get("candidate"), data.get("sdpMid"), data.get("sdpMLineIndex")
        )
        return {"ok": True}

    @event("media_screen")
    async def on_media_screen(self, sid: str, data: Payload) -> Ack:
        room, participant = self._joined(sid)
        renegotiating = await self._media(room.classroom_id).publish_screen(participant.user_id)
        return {"ok": True, "renegotiating": renegotiating}

    @event("media_state")
    async def on_media_state(self, sid: str, data: Payload) -> Ack:
        room, participant = self._joined_person(sid)
        changes = {
            name: data[name] for name in ("audio_muted", "video_muted", "screen_sharing") if name in data
        }
        if not changes or not all(isinstance(value, bool) for value in changes.values()):
            raise Invalid("give audio_muted, video_muted and/or screen_sharing as true or false")
        for name, value in changes.items():
            setattr(participant, name, value)
        await self._announce_update(room.classroom_id, participant)
        return {"ok": True}

    @event("media_leave")
    async def on_media_leave(self, sid: str, data: Payload) -> Ack:
        room, participant = self._joined(sid)
        await self.svc.media.leave(room.classroom_id, participant.user_id)
        participant.publishing = []
        participant.screen_sharing = False
        await self._announce_update(room.classroom_id, participant)
        return {"ok": True}

    async def send_offer(self, classroom_id: int, user_id: int, offer: dict[str, Any]) -> None:
        """A renegotiation offer for one participant (``MediaSignals``)."""
        room = self.svc.presence.room(classroom_id)
        participant = room.participants.get(user_id) if room else None
        if participant is not None:
            await self.emit("media_offer", offer, to=participant.sid)

    async def speaker_changed(self, classroom_id: int, user_id: int | None) -> None:
        """The classroom's active speaker changed (``MediaSignals``)."""
        await self.emit("active_speaker", {"user_id": user_id}, room=room_name(classroom_id))

    # -- recording ----------------------------------------------------------------------------------------

    @event("recording_consent")
    async def on_recording_consent(self, sid: str, data: Payload) -> Ack:
        room, participant = self._joined_person(sid)
        accepted = data.get("accepted")
        if not isinstance(accepted, bool):
            raise Invalid("accepted: must be true or false")
        async with self.svc.db() as db:
            recording = await active_recording(db, room.classroom_id)
            if recording is None:
                raise NotFound("this classroom is not being recorded")
            db.add(
                ConsentAnswer(
                    recording_id=recording.id,
                    user_id=participant.user_id,
                    display_name=participant.display_name,
                    accepted=accepted,
                )
            )
            await db.commit()
        log.info(
            "recording consent",
            extra={"recording_id": recording.id, "user_id": participant.user_id, "accepted": accepted},
        )
        participant.recording_consent = accepted
        await self._announce_update(room.classroom_id, participant)
        return {"ok": True}

    async def recording_changed(self, recording: Recording, reason: str | None) -> None:
        """Every state change of a recording reaches everyone in its classroom (``recording_state``)."""
        if recording.classroom_id is None:
            return
        async with self.svc.db() as db:
            body = await described(db, recording)
        if recording.state == RecordingState.STARTING:
            room = self.svc.presence.room(recording.classroom_id)
            for participant in room.participants.values() if room else ():
                participant.recording_consent = None  # a new recording asks anew
        await self.emit(
            "recording_state", {"recording": body, "reason": reason}, room=room_name(recording.classroom_id)
        )

    # -- moderation ---------------------------------------------------------------------------------------

    @event("mute_request")
    async def on_mute_request(self, sid: str, data: Payload) -> Ack:
        room, moderator = self._joined(sid)
        require_moderating(moderator)
        kind = data.get("kind", "audio")
        if kind not in ("audio", "video"):
            raise Invalid("kind: 'audio' or 'video'")
        target = room.participants.get(_int_field(data, "user_id"))
        if target is None:
            raise NotFound("that participant is not in this classroom")
        await self.emit("mute_requested", {"kind": kind, "by": moderator.to_json()}, to=target.sid)
        return {"ok": True}

    @event("remove")
    async def on_remove(self, sid: str, data: Payload) -> Ack:
        room, moderator = self._joined(sid)
        require_moderating(moderator)
        target = room.participants.get(_int_field(data, "user_id"))
        if target is None:
            raise NotFound("that participant is not in this classroom")
        if target.moderator:
            raise Forbidden("moderators cannot be removed")
        self.svc.presence.remove_user(room.classroom_id, target.user_id)
        await self.svc.media.leave(room.classroom_id, target.user_id)
        classroom_room = room_name(room.classroom_id)
        await self.emit("removed", {"reason": "removed", "by": moderator.to_json()}, to=target.sid)
        await self.leave_room(target.sid, classroom_room)
        await self._announce_left(room.classroom_id, target.user_id, "removed")
        log.info(
            "participant removed",
            extra={"classroom_id": room.classroom_id, "user_id": target.user_id, "by": moderator.user_id},
        )
        return {"ok": True}

    # -- helpers ----------------------------------------------------------------------------------------

    async def _seat(self, classroom_id: int, seat_limit: int, participant: Participant) -> None:
        """Take the socket out of any classroom it is in, seat it in this one and tell the others."""
        sid = participant.sid
        if self.svc.presence.participant(sid) is not None:
            await self._leave(sid, "left")
        joined = self.svc.presence.join(classroom_id, seat_limit, participant)
        room = room_name(classroom_id)
        if joined.replaced_sid is not None:
            await self.svc.media.leave(classroom_id, participant.user_id)
            await self.emit("removed", {"reason": "joined_elsewhere", "by": None}, to=joined.replaced_sid)
            await self.leave_room(joined.replaced_sid, room)
            await self.emit("participant_updated", {"participant": participant.to_json()}, room=room)
        else:
            seats_used = self.svc.presence.seats_used(classroom_id)
            await self.emit(
                "participant_joined",
                {"participant": participant.to_json(), "seats_used": seats_used},
                room=room,
            )
        await self.enter_room(sid, room)
        self._update_gauges()

    def _media(self, classroom_id: int) -> ClassroomMedia:
        media = self.svc.media.get(classroom_id)
        if media is None:
            raise NotFound("start media first (media_join)")
        return media

    async def _announce_update(self, classroom_id: int, participant: Participant) -> None:
        await self.emit(
            "participant_updated", {"participant": participant.to_json()}, room=room_name(classroom_id)
        )

    def _connection(self, sid: str) -> Connection:
        conn = self._connections.get(sid)
        if conn is None:
            raise Forbidden("not connected")
        return conn

    def _joined(self, sid: str) -> tuple[ClassroomPresence, Participant]:
        found = self.svc.presence.participant(sid)
        if found is None:
            raise NotJoined("join a classroom first")
        return found

    def _joined_person(self, sid: str) -> tuple[ClassroomPresence, Participant]:
        """Joined, and a person: the robot only listens and watches."""
        room, participant = self._joined(sid)
        if participant.robot:
            raise Forbidden("the recorder robot cannot do this")
        return room, participant

    async def _leave(self, sid: str, reason: str) -> None:
        left = self.svc.presence.leave(sid)
        if left is None:
            return
        classroom_id, participant = left
        await self.svc.media.leave(classroom_id, participant.user_id)
        await self.leave_room(sid, room_name(classroom_id))
        await self._announce_left(classroom_id, participant.user_id, reason)
        log.info("participant left", extra={"classroom_id": classroom_id, "user_id": participant.user_id})

    async def _announce_left(self, classroom_id: int, user_id: int, reason: str) -> None:
        self._update_gauges()
        await self.emit(
            "participant_left",
            {"user_id": user_id, "reason": reason, "seats_used": self.svc.presence.seats_used(classroom_id)},
            room=room_name(classroom_id),
        )

    def _update_gauges(self) -> None:
        self.svc.metrics.participants.set(self.svc.presence.total_participants())
        self.svc.metrics.active_classrooms.set(self.svc.presence.active_classrooms())


async def close_classroom(svc: Services, classroom_id: int) -> None:
    """A deleted classroom sends everyone in it away."""
    for participant in svc.presence.close(classroom_id):
        await svc.media.leave(classroom_id, participant.user_id)
        await svc.sio.emit(
            "removed", {"reason": "classroom_deleted", "by": None}, to=participant.sid, namespace=NAMESPACE
        )
        await svc.sio.leave_room(participant.sid, room_name(classroom_id), namespace=NAMESPACE)
