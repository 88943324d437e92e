"""Live presence of participants in classrooms, kept in this process.

Every change happens without an ``await`` in between checking and writing, so on one event loop a seat
can never be given twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from server.auth.permissions import is_person, may_return_after_removal, takes_a_seat
from server.errors import AppError, Forbidden


class ClassroomFull(AppError):
    status = 409
    code = "classroom_full"


def full_message(seat_limit: int) -> str:
    if seat_limit == 1:
        return "This classroom is full: its one student seat is taken."
    return f"This classroom is full: all {seat_limit} student seats are taken."


@dataclass
class Participant:
    sid: str
    user_id: int
    username: str
    display_name: str
    role: str
    moderator: bool
    robot: bool = False
    # The replay of a recording (``server.replay``): it publishes the file and takes no seat.
    replay: bool = False
    hand_raised: bool = False
    publishing: list[str] = field(default_factory=list)
    audio_muted: bool = False
    video_muted: bool = False
    screen_sharing: bool = False
    recording_consent: bool | None = None
    joined_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    hand_raised_at: datetime | None = None
    # The sources they may send now (``permissions.may_publish``), kept up to date by the namespace.
    may_publish: list[str] = field(default_factory=list)
    media_health: str = "unknown"


@dataclass
class ClassroomPresence:
    classroom_id: int
    participants: dict[int, Participant] = field(default_factory=dict)
    # Users a moderator removed; they stay out until the classroom empties.
    removed_users: set[int] = field(default_factory=set)
    # When this live classroom opened (its first participant arrived): its chat session began then.
    opened_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # What students may send by the classroom's settings, as last read from its row.
    student_media: frozenset[str] = frozenset()
    # A moderator's decisions for single students (user id → source → allowed), for this live classroom's
    # life: they outlast a student's reconnect and end when the classroom empties.
    media_overrides: dict[int, dict[str, bool]] = field(default_factory=dict)

    @property
    def seats_used(self) -> int:
        return sum(1 for p in self.participants.values() if takes_a_seat(p))


@dataclass(frozen=True)
class JoinResult:
    participant: Participant
    replaced_sid: str | None


class Presence:
    """Participants by classroom and by socket id."""

    def __init__(self) -> None:
        self._rooms: dict[int, ClassroomPresence] = {}
        self._by_sid: dict[str, tuple[int, int]] = {}

    def room(self, classroom_id: int) -> ClassroomPresence | None:
        return self._rooms.get(classroom_id)

    def seats_used(self, classroom_id: int) -> int:
        room = self._rooms.get(classroom_id)
        return room.seats_used if room else 0

    def people_present(self, classroom_id: int) -> int:
        """Everyone inside but the robot, moderators included (what "In session (N)" counts; seats count
        students only)."""
        room = self._rooms.get(classroom_id)
        return sum(1 for p in room.participants.values() if is_person(p)) if room else 0

    def total_participants(self) -> int:
        return len(self._by_sid)

    def active_classrooms(self) -> int:
        return len(self._rooms)

    def participant(self, sid: str) -> tuple[ClassroomPresence, Participant] | None:
        where = self._by_sid.get(sid)
        if where is None:
            return None
        room = self._rooms[where[0]]
        return room, room.participants[where[1]]

    def join(self, classroom_id: int, seat_limit: int, participant: Participant) -> JoinResult:
        """Seat ``participant``; the same user joining again takes over their seat (no second seat)."""
        if participant.sid in self._by_sid:
            raise AppError("this connection is already in a classroom; leave it first", code="already_joined")
        room = self._rooms.setdefault(classroom_id, ClassroomPresence(classroom_id))
        previous = room.participants.get(participant.user_id)
        if previous is None:
            if participant.user_id in room.removed_users and not may_return_after_removal(participant):
                self._drop_if_empty(room)
                raise Forbidden("a moderator removed you from this classroom")
            if takes_a_seat(participant) and room.seats_used >= seat_limit:
                self._drop_if_empty(room)
                raise ClassroomFull(full_message(seat_limit))
        else:
            participant.hand_raised = previous.hand_raised
            participant.hand_raised_at = previous.hand_raised_at
            participant.joined_at = previous.joined_at
            del self._by_sid[previous.sid]
        room.participants[participant.user_id] = participant
        self._by_sid[participant.sid] = (classroom_id, participant.user_id)
        return JoinResult(participant, previous.sid if previous else None)

    def leave(self, sid: str) -> tuple[int, Participant] | None:
        """Take the socket's participant out; returns (classroom id, participant) if it was in one."""
        where = self._by_sid.pop(sid, None)
        if where is None:
            return None
        room = self._rooms[where[0]]
        participant = room.participants.pop(where[1])
        self._drop_if_empty(room)
        return where[0], participant

    def remove_user(self, classroom_id: int, user_id: int) -> Participant | None:
        """A moderator takes a user out and keeps them out until the classroom empties."""
        room = self._rooms.get(classroom_id)
        if room is None or user_id not in room.participants:
            return None
        participant = room.participants[user_id]
        self.leave(participant.sid)
        room.removed_users.add(user_id)
        return participant

    def forget_removal(self, user_id: int) -> None:
        """A deleted account is kept out of nowhere and keeps no media rights (its id may be given to someone
        else)."""
        for room in self._rooms.values():
            room.removed_users.discard(user_id)
            room.media_overrides.pop(user_id, None)

    def close(self, classroom_id: int) -> list[Participant]:
        """Empty a classroom (it was deleted); returns who was in it."""
        room = self._rooms.pop(classroom_id, None)
        if room is None:
            return []
        for participant in room.participants.values():
            self._by_sid.pop(participant.sid, None)
        return list(room.participants.values())

    def _drop_if_empty(self, room: ClassroomPresence) -> None:
        if not room.participants:
            self._rooms.pop(room.classroom_id, None)
