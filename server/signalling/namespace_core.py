"""What every part of the ``/classroom`` namespace shares: connections, the handler table, typed emits.

Each client event is a method declared with :func:`event`, which names its payload and ack models, the
error codes it may answer with, who may send it and which rate limit it falls under. The wrapper validates
the payload through the model (so a handler receives a typed object), applies the connection's rate limit,
re-checks a socket's session now and then, and turns any refusal into an ack ``{"error": {...}}`` plus an
``error`` event to the sender only. The table (:data:`EVENTS`) is what docs/protocol.md and the role ×
event tests are generated from.
"""

from __future__ import annotations

import enum
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import socketio
from pydantic import ValidationError

from server.auth.permissions import (
    can_be_asked_to_mute,
    can_be_removed,
    media_rights_editable,
    require_person,
)
from server.auth.throttle import SlidingWindow
from server.errors import AppError, Forbidden, Internal, NotJoined, RateLimited
from server.recorders.tokens import RobotGrant
from server.replay.grant import ReplayGrant
from server.rooms.presence import ClassroomPresence, Participant
from server.services import Services
from server.signalling.protocol import ErrorEvent, Message, ParticipantModel, ServerEvent
from server.timefmt import iso

log = logging.getLogger(__name__)

NAMESPACE = "/classroom"


class Who(enum.StrEnum):
    """Who may send an event (the role × event tests read this; the handler enforces it)."""

    CONNECTED = "any connected socket"
    SEEING = "a user who can see the classroom, or its robot"
    JOINED = "a joined participant (the robot included)"
    PERSON = "a joined person (not the robot)"
    MODERATOR = "a joined moderator of the classroom"
    PUBLISHER = "a joined person (the robot only receives)"


class Rate(enum.StrEnum):
    """Which per-connection limit an event counts against (``[classroom]`` in the config)."""

    EVENT = "socket_events_per_10s"  # per connection and event
    BROADCAST = "socket_broadcasts_per_10s"  # per user and event: everyone in the classroom hears of it


@dataclass
class Connection:
    """Who a socket acts for: re-checked whenever their account, session or classroom changes."""

    user_id: int
    username: str
    display_name: str
    role: str
    session_id: str | None = None
    robot: RobotGrant | None = None
    checked_at: float = 0.0
    # Bumped each time the identity is checked again, so a join in flight knows to check once more.
    generation: int = 0
    replay: ReplayGrant | None = None


@dataclass(frozen=True)
class EventSpec:
    name: str
    payload: type[Message]
    acks: tuple[type[Message], ...]
    errors: tuple[str, ...]
    who: Who
    rate: Rate
    summary: str


EVENTS: dict[str, EventSpec] = {}
# Every code a client event can answer with besides its own: a bad payload, a rate limit, a bug.
COMMON_ERRORS = ("invalid", "rate_limited", "internal")

P = TypeVar("P", bound=Message)
Handler = Callable[[Any, str, Any], Awaitable[Message]]


def event(
    payload: type[P],
    ack: type[Message] | tuple[type[Message], ...],
    *,
    who: Who,
    errors: tuple[str, ...] = (),
    rate: Rate = Rate.EVENT,
    summary: str = "",
) -> Callable[[Callable[[Any, str, P], Awaitable[Message]]], Callable[..., Awaitable[dict[str, Any]]]]:
    """Declare ``on_<name>`` as the handler of client event ``<name>``."""

    def wrap(method: Callable[[Any, str, P], Awaitable[Message]]) -> Callable[..., Awaitable[dict[str, Any]]]:
        name = method.__name__.removeprefix("on_")
        acks = ack if isinstance(ack, tuple) else (ack,)
        EVENTS[name] = EventSpec(name, payload, acks, errors, who, rate, summary or (method.__doc__ or ""))

        @functools.wraps(method)
        async def handler(self: NamespaceCore, sid: str, data: Any = None) -> dict[str, Any]:
            try:
                await self.admit(sid, name, rate)
                try:
                    typed = payload.model_validate({} if data is None else data)
                except ValidationError as exc:
                    raise AppError(validation_message(exc)) from None
                answer = await method(self, sid, typed)
                return answer.model_dump(mode="json", by_alias=True)
            except AppError as error:
                return await self.refuse(sid, name, error)
            except Exception:
                log.exception("socket event failed", extra={"event": name, "sid": sid})
                return await self.refuse(sid, name, Internal("internal server error"))

        return handler

    return wrap


def validation_message(exc: ValidationError) -> str:
    """The first problems of a payload, each naming its field: ``text: ...; raised: ...``."""
    parts = []
    for problem in exc.errors(include_url=False)[:3]:
        where = ".".join(str(step) for step in problem["loc"]) or "payload"
        text = "unknown field" if problem["type"] == "extra_forbidden" else problem["msg"]
        parts.append(f"{where}: {text}")
    return "; ".join(parts)


def room_name(classroom_id: int) -> str:
    return f"classroom:{classroom_id}"


def watcher_room(user_id: int) -> str:
    """The dashboards of one user (sockets that sent ``watch_classrooms``)."""
    return f"watching:{user_id}"


class NamespaceCore(socketio.AsyncNamespace):  # type: ignore[misc]
    """State and helpers of the namespace; the event handlers live in the mixins built on it."""

    def __init__(self, svc: Services) -> None:
        super().__init__(NAMESPACE)
        self.svc = svc
        self._connections: dict[str, Connection] = {}
        self._generations: dict[int, int] = {}
        limits = svc.config.classroom
        self._rates = {
            Rate.EVENT: SlidingWindow(limits.socket_events_per_10s, 10),
            Rate.BROADCAST: SlidingWindow(limits.socket_broadcasts_per_10s, 10),
        }

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Route an event to its handler; an unknown event, or one sent with more than one payload, is
        refused as ``invalid`` (python-socketio would answer nothing, or raise in its dispatcher)."""
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid = args[0] if args and isinstance(args[0], str) else ""
        if event not in EVENTS:
            return await self.refuse(sid, "unknown", AppError(f"unknown event {event[:64]!r}"))
        if len(args) > 2:
            return await self.refuse(sid, event, AppError("an event carries one payload object"))
        return await super().trigger_event(event, *args)

    # -- admission ---------------------------------------------------------------------------------------

    async def admit(self, sid: str, name: str, rate: Rate) -> None:
        """Count the event against the connection's limit, and re-read a stale session."""
        window = self._rates[rate]
        conn = self._connections.get(sid)
        # What everyone hears about is counted per user, so more tabs or reconnecting buy no more of it.
        key = (
            f"user:{conn.user_id}:{name}" if rate is Rate.BROADCAST and conn is not None else f"{sid}:{name}"
        )
        wait = window.retry_after(key)
        if wait:
            raise RateLimited(f"too many {name} events; wait {wait} s")
        window.record(key)
        recheck = self.svc.config.classroom.session_recheck_seconds
        stale = conn is not None and time.monotonic() - conn.checked_at > recheck
        if conn is not None and conn.session_id is not None and stale:
            await self.recheck_session(sid, conn)

    async def recheck_session(self, sid: str, conn: Connection) -> None:
        """Overridden where sessions are known (access); a dead session disconnects the socket."""

    def access_generation(self, classroom_id: int) -> int:
        """How many times who may be in ``classroom_id`` has changed: a join that read the database
        before a change and seats after it is checked again."""
        return self._generations.get(classroom_id, 0)

    def access_changed(self, classroom_id: int) -> None:
        self._generations[classroom_id] = self._generations.get(classroom_id, 0) + 1

    async def reauthorise(self, sid: str) -> None:
        """Overridden by access: check one socket against its session, account and classroom now."""

    async def end_robot(self, recording_id: int) -> None:
        """Overridden by access: the robot of a recording that ended is disconnected."""

    async def notify_watchers(self, classroom_id: int, *, refresh: bool = False) -> None:
        """Overridden by the dashboards' watchers: a classroom's seats, recording or settings changed."""

    async def refuse(self, sid: str, name: str, error: AppError) -> dict[str, Any]:
        self.svc.metrics.socket_errors.labels(name, error.code).inc()
        body = error.body()
        await self.send(ErrorEvent(code=error.code, message=error.message, event_name=name), to=sid)
        return body

    def forget_user(self, user_id: int) -> None:
        """A deleted account leaves nothing behind that its id, given to someone else later, would inherit
        (extended by the parts that keep per-user state)."""
        for window in self._rates.values():
            for name in EVENTS:
                window.reset(f"user:{user_id}:{name}")

    def forget_rates(self, sid: str) -> None:
        for window in self._rates.values():
            for name in EVENTS:
                window.reset(f"{sid}:{name}")

    # -- sending -----------------------------------------------------------------------------------------

    async def send(
        self, message: ServerEvent, *, to: str | None = None, room: str | None = None, skip: str | None = None
    ) -> None:
        """Emit one typed server event to a socket or a room (``skip``: not to this socket)."""
        body = message.model_dump(mode="json", by_alias=True)
        await self.emit(message.event, body, to=to, room=room, skip_sid=skip)

    # -- lookups -----------------------------------------------------------------------------------------

    def connection(self, sid: str) -> Connection:
        conn = self._connections.get(sid)
        if conn is None:
            raise Forbidden("not connected")
        return conn

    def joined(self, sid: str) -> tuple[ClassroomPresence, Participant]:
        found = self.svc.presence.participant(sid)
        if found is None:
            raise NotJoined("join a classroom first")
        return found

    def joined_person(self, sid: str) -> tuple[ClassroomPresence, Participant]:
        """Joined, and a person: the robot only listens and watches."""
        room, participant = self.joined(sid)
        require_person(participant)
        return room, participant

    def sids_of(self, user_ids: set[int]) -> list[str]:
        return [sid for sid, conn in self._connections.items() if conn.user_id in user_ids]


def participant_model(participant: Participant) -> ParticipantModel:
    """A participant as every other participant sees them, with what a moderator may do to them."""
    return ParticipantModel(
        user_id=participant.user_id,
        username=participant.username,
        display_name=participant.display_name,
        role=participant.role,  # type: ignore[arg-type]
        moderator=participant.moderator,
        hand_raised=participant.hand_raised,
        robot=participant.robot,
        replay=participant.replay,
        publishing=list(participant.publishing),  # type: ignore[arg-type]
        audio_muted=participant.audio_muted,
        video_muted=participant.video_muted,
        screen_sharing=participant.screen_sharing,
        recording_consent=participant.recording_consent,
        removable=can_be_removed(participant),
        mutable=can_be_asked_to_mute(participant),
        joined_at=iso(participant.joined_at) or "",
        may_publish=list(participant.may_publish),  # type: ignore[arg-type]
        media_rights_editable=media_rights_editable(participant),
        hand_raised_at=_to_the_millisecond(participant.hand_raised_at),
        media_health=participant.media_health,  # type: ignore[arg-type]
    )


def _to_the_millisecond(moment: datetime | None) -> str | None:
    """ISO time with milliseconds: hands raised within one second still sort in the order they went up."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
