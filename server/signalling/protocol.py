"""The ``/classroom`` socket.io protocol as types: one model per client event payload and ack, and per
server event. The namespace validates every payload through these models, handlers receive typed objects,
the socket section of docs/protocol.md is generated from them (``server.signalling.protocol_doc``), and the
tests' fuzzers draw payloads from them.

Objects the HTTP API also serves (Classroom, Recording) are produced by their own modules and carried here
as JSON objects; the document names their fields in its HTTP part.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from server.db.models import StopReason

# Ids are positive integers that JavaScript's numbers hold exactly.
Id = Annotated[int, Field(gt=0, lt=1 << 53)]
# Participants' user ids: people are positive, the recorder robot negative.
UserId = Annotated[int, Field(gt=-(1 << 53), lt=1 << 53)]
Source = Literal["microphone", "camera", "screen"]
SOURCES: tuple[Source, ...] = ("microphone", "camera", "screen")
MediaHealthState = Literal["connecting", "connected", "failed", "no_media"]
MAX_SDP_CHARS = 256 * 1024
MAX_CANDIDATE_CHARS = 1024
# Chat text is checked against ``chat_max_length`` by the handler; this bounds what is even parsed.
MAX_TEXT_CHARS = 100_000
E = TypeVar("E", bound=enum.Enum)
# An enum as it travels: its value is accepted where strict models would want the member itself, so
# what the server sends reads back on the other side.
WireEnum = Annotated[E, Strict(False)]


class Message(BaseModel):
    """A message on the wire: exact types (no coercion of "1" to 1 or 1 to true) and no unknown fields."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, json_schema_serialization_defaults_required=True
    )


class LeaveReason(enum.StrEnum):
    """Why a participant left a classroom (``participant_left``)."""

    LEFT = "left"
    DISCONNECTED = "disconnected"
    REMOVED = "removed"
    JOINED_ELSEWHERE = "joined_elsewhere"
    ACCESS_REVOKED = "access_revoked"
    ACCOUNT_DELETED = "account_deleted"
    SESSION_ENDED = "session_ended"
    CLASSROOM_DELETED = "classroom_deleted"
    RECORDING_ENDED = "recording_ended"


class RemovedReason(enum.StrEnum):
    """Why the server took this socket out of its classroom (``removed``, sent to the one removed)."""

    REMOVED = "removed"
    JOINED_ELSEWHERE = "joined_elsewhere"
    CLASSROOM_DELETED = "classroom_deleted"
    ACCESS_REVOKED = "access_revoked"
    ACCOUNT_DELETED = "account_deleted"
    SESSION_ENDED = "session_ended"
    RECORDING_ENDED = "recording_ended"


# -- objects ---------------------------------------------------------------------------------------------


class ParticipantModel(Message):
    """A person (or the recorder robot) seated in a classroom."""

    user_id: UserId
    username: str
    display_name: str
    role: Literal["admin", "teacher", "student", "robot", "replay"]
    moderator: bool
    hand_raised: bool
    robot: bool
    replay: bool = Field(
        default=False,
        description="the replay of a recording (`replay_state`): it publishes the file, takes no seat",
    )
    publishing: list[Source]
    audio_muted: bool
    video_muted: bool
    screen_sharing: bool
    recording_consent: bool | None
    removable: bool = Field(description="a moderator may remove this participant")
    mutable: bool = Field(description="a moderator may ask this participant to mute")
    joined_at: str
    may_publish: list[Source] = Field(
        description="the sources this participant may send (moderators: all; students: the classroom's "
        "`student_media` with a moderator's overrides; the robot: none)"
    )
    media_rights_editable: bool = Field(
        description="a moderator may allow or deny this participant's sources (`media_permission`)"
    )
    hand_raised_at: str | None = Field(description="when the hand went up (the queue's order); null if down")
    media_health: Literal["unknown", "connecting", "connected", "failed", "no_media"] = Field(
        description="how this participant's media connection is doing, as their page (or the server, for "
        "a failed peer connection) last reported it"
    )


class Rights(Message):
    """What the socket's own user may do in the classroom, decided by the server."""

    can_moderate: bool
    can_record: bool


class ChatMessageModel(Message):
    id: Id
    user_id: int | None
    display_name: str
    text: str
    sent_at: str


class Limits(Message):
    chat_max_length: int


class ConsentInfo(Message):
    mode: Literal["notice", "ask"]
    text: str


class IceServer(Message):
    """An ``RTCIceServer``: STUN with ``urls`` alone, TURN with time-limited credentials."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None

    @model_serializer(mode="wrap")
    def _without_nulls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Browsers read a null username as the string "null".
        body: dict[str, Any] = handler(self)
        return {name: value for name, value in body.items() if value is not None}


class MediaSourceRef(Message):
    user_id: UserId
    source: Source


class Offer(Message):
    revision: int
    type: Literal["offer"]
    sdp: str
    publish_mids: dict[str, str]
    sources: dict[str, MediaSourceRef]


# The HTTP API's objects, made by server.classrooms and server.library.recordings for one viewer.
Classroom = Annotated[dict[str, Any], WithJsonSchema({"title": "Classroom", "type": "object"})]
Recording = Annotated[dict[str, Any], WithJsonSchema({"title": "Recording", "type": "object"})]
Bookmark = Annotated[dict[str, Any], WithJsonSchema({"title": "Bookmark", "type": "object"})]


# -- client → server -------------------------------------------------------------------------------------


class Ok(Message):
    ok: Literal[True] = True


class Empty(Message):
    """An event without arguments (``{}``, or no payload at all)."""


class Join(Message):
    classroom_id: Id


class JoinAck(Ok):
    self: ParticipantModel
    classroom: Classroom
    participants: list[ParticipantModel]
    chat: list[ChatMessageModel]
    limits: Limits
    recording: Recording | None
    reminder: bool
    consent: ConsentInfo
    rights: Rights
    session_started_at: str = Field(
        description="when this live classroom opened: chat sent before it is from earlier sessions"
    )


class RobotJoinAck(Ok):
    """What the recorder robot gets for ``join``: who is there (it has no chat, rights or settings)."""

    self: ParticipantModel
    classroom: Classroom
    participants: list[ParticipantModel]


class Chat(Message):
    text: str = Field(max_length=MAX_TEXT_CHARS)


class ChatAck(Ok):
    message: ChatMessageModel


class Hand(Message):
    raised: bool


class MuteRequest(Message):
    user_id: UserId
    kind: Literal["audio", "video"] = "audio"


class Remove(Message):
    user_id: UserId


class LowerHand(Message):
    user_id: UserId | None = Field(description="whose hand to lower; null lowers every hand")


class MediaPermission(Message):
    user_id: UserId
    source: Source
    allowed: bool


class MediaHealth(Message):
    state: MediaHealthState


class RecordingConsent(Message):
    accepted: bool


class MediaJoin(Message):
    publish: list[Source] = Field(default_factory=list, max_length=len(SOURCES))

    @field_validator("publish")
    @classmethod
    def _once_each(cls, publish: list[Source]) -> list[Source]:
        if len(set(publish)) != len(publish):
            raise ValueError("each of microphone, camera, screen at most once")
        return [source for source in SOURCES if source in publish]


class MediaJoinAck(Ok):
    ice_servers: list[IceServer]
    offer: Offer


class MediaAnswer(Message):
    revision: int
    sdp: str = Field(max_length=MAX_SDP_CHARS)


class MediaCandidate(Message):
    candidate: str | None = Field(default=None, max_length=MAX_CANDIDATE_CHARS)
    sdpMid: str | None = Field(default=None, max_length=32)
    sdpMLineIndex: int | None = Field(default=None, ge=0, lt=1024)


class MediaScreenAck(Ok):
    renegotiating: bool


class MediaState(Message):
    audio_muted: bool | None = None
    video_muted: bool | None = None
    screen_sharing: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> MediaState:
        if self.audio_muted is None and self.video_muted is None and self.screen_sharing is None:
            raise ValueError("give audio_muted, video_muted and/or screen_sharing as true or false")
        return self


# -- server → client -------------------------------------------------------------------------------------


class ServerEvent(Message):
    """A message the server pushes; ``event`` is its socket.io event name."""

    event: ClassVar[str]
    summary: ClassVar[str]


class ParticipantJoined(ServerEvent):
    event = "participant_joined"
    summary = "someone took a seat (or the robot joined)"
    participant: ParticipantModel
    seats_used: int


class ParticipantLeft(ServerEvent):
    event = "participant_left"
    summary = "someone left, was removed or lost access"
    user_id: UserId
    reason: WireEnum[LeaveReason]
    seats_used: int


class ParticipantUpdated(ServerEvent):
    event = "participant_updated"
    summary = "a participant's hand, media, consent or rights changed, or they reconnected"
    participant: ParticipantModel


class ChatEvent(ServerEvent):
    event = "chat"
    summary = "a chat message, to the whole classroom, the sender included (match by `id`)"
    message: ChatMessageModel


class MuteRequested(ServerEvent):
    event = "mute_requested"
    summary = "a moderator asks this participant to mute (sent to the one asked)"
    kind: Literal["audio", "video"]
    by: ParticipantModel


class Removed(ServerEvent):
    event = "removed"
    summary = "the server took this socket out of its classroom (sent to the one removed)"
    reason: WireEnum[RemovedReason]
    by: ParticipantModel | None


class MediaOffer(ServerEvent):
    event = "media_offer"
    summary = "a renegotiation; answer with `media_answer`"
    revision: int
    type: Literal["offer"]
    sdp: str
    publish_mids: dict[str, str]
    sources: dict[str, MediaSourceRef]


class RecordingState(ServerEvent):
    event = "recording_state"
    summary = (
        "every state change of the classroom's recording, sent to each participant with the recording's "
        "rights (`can_stop`, `can_manage`) computed for them; the page's only source of REC state"
    )
    recording: Recording
    reason: WireEnum[StopReason] | None


class ActiveSpeaker(ServerEvent):
    event = "active_speaker"
    summary = "the loudest publisher, from RTP audio levels (RFC 6464); null when nobody speaks"
    user_id: UserId | None


class RightsChanged(ServerEvent):
    event = "rights_changed"
    summary = "what this user may do here changed (made or unmade moderator, ...): re-render from these"
    self: ParticipantModel
    rights: Rights
    classroom: Classroom


class ClassroomStatus(ServerEvent):
    event = "classroom_status"
    summary = (
        "a watched classroom's seats, recording or settings changed (after `watch_classrooms`); "
        "read `GET /api/classrooms/{id}` again (404: it is gone or no longer visible)"
    )
    classroom_id: Id


class ErrorEvent(ServerEvent):
    event = "error"
    summary = "an event failed; the same error is its ack"
    code: str
    message: str
    # The client event that failed (null for errors not caused by one).
    event_name: str | None = Field(alias="event", serialization_alias="event")

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        populate_by_name=True,
        json_schema_serialization_defaults_required=True,
    )


class BookmarkAdded(ServerEvent):
    event = "bookmark_added"
    summary = (
        "a bookmark was added to the classroom's recording (by the page's button or key, or the API), "
        "to the classroom's moderators"
    )
    bookmark: Bookmark


class RecordingMedia(ServerEvent):
    event = "recording_media"
    summary = (
        "whose audio or video the recording holds (frames that reached the robot's mixer in the last 2 s), "
        "to the classroom's moderators when it or the warning changes; `warning` is `no_media` once the "
        "recording has run 3 s with nobody's media, null again when media arrives"
    )
    recording_id: Id
    receiving: list[UserId]
    warning: Literal["no_media"] | None


class ReplayStartedBy(Message):
    id: Id
    display_name: str


class ReplayModel(Message):
    """A recording (or one chapter of it) playing into the classroom as one shared stream."""

    recording_id: Id
    name: str
    bookmark_id: Id | None = Field(description="the chapter played (its bookmark), null: the whole file")
    loop: bool
    state: Literal["starting", "playing", "paused"]
    started_by: ReplayStartedBy
    started_at: str


class ReplayState(ServerEvent):
    event = "replay_state"
    summary = (
        "a replay into the classroom started, paused, resumed or ended (`replay` null), to everyone "
        "inside; while one plays, pages lock their layout to its tile (the participant whose `replay` is "
        "true)"
    )
    replay: ReplayModel | None


SERVER_EVENTS: tuple[type[ServerEvent], ...] = (
    ParticipantJoined,
    ParticipantLeft,
    ParticipantUpdated,
    ChatEvent,
    MuteRequested,
    Removed,
    MediaOffer,
    RecordingState,
    ActiveSpeaker,
    RightsChanged,
    ClassroomStatus,
    ErrorEvent,
    RecordingMedia,
    BookmarkAdded,
    ReplayState,
)
