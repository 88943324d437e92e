"""The database schema. Changes here need an Alembic migration in ``server/migrations/versions``."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

DEFAULT_ROBOT_NAME = "Session Recorder Robot"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(enum.StrEnum):
    ADMIN = "admin"
    TEACHER = "teacher"
    STUDENT = "student"


class MemberKind(enum.StrEnum):
    MODERATOR = "moderator"
    STUDENT = "student"


class RecordingState(enum.StrEnum):
    STARTING = "starting"
    RECORDING = "recording"
    FINISHING = "finishing"
    READY = "ready"
    FAILED = "failed"


ACTIVE_STATES_SQL = "state IN ('starting', 'recording', 'finishing')"


class RecordingMode(enum.StrEnum):
    """What a recording writes: the mixed file, each participant's own tracks, or both."""

    COMPOSITE = "composite"  # one mixed audio+video file (the default)
    TRACKS = "tracks"  # one file per participant and source, the forwarded media as it came (no re-encoding)
    BOTH = "both"  # the mixed file and the tracks, from one robot


class SessionMode(enum.StrEnum):
    """How one recording session over several classrooms is written."""

    COMPOSITE = "composite"  # one file, each classroom a region of the picture, the audio of all
    SEPARATE = "separate"  # one recording per classroom, with the same name and number


ALL_RECORDING_MODES = ("composite", "tracks", "both", "multi_composite", "multi_separate")
"""What ``recording_modes`` (config, then the admin's setting) may allow: the three modes of one
classroom's recording, and the two of a session over several classrooms."""


class StopReason(enum.StrEnum):
    """Why a recording ended: stored with it and shown in the library."""

    STOPPED = "stopped"  # a moderator or admin pressed Stop
    DISK_FULL = "disk_full"  # storage ran low
    TOO_LONG = "too_long"  # it reached ``max_recording_hours``
    SERVER_STOPPING = "server_stopping"  # the server shut down
    CLASSROOM_DELETED = "classroom_deleted"  # its classroom was deleted while recording
    ROBOT_FAILED = "robot_failed"  # the robot could not start, or exited without finishing its file
    RECOVERED = "recovered"  # found active after a server crash; the file plays up to its last fragment


STOP_REASONS_SQL = "stop_reason IS NULL OR stop_reason IN ({})".format(
    ", ".join(f"'{reason.value}'" for reason in StopReason)
)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'teacher', 'student')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthSession(Base):
    """One login. The cookie carries a random token whose hash is this row's id: logging out, deleting
    the user or changing their password deletes the row, and the cookie is dead (session ids are random
    tokens' hashes, never reused)."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Classroom(Base):
    __tablename__ = "classrooms"
    __table_args__ = (CheckConstraint("seat_limit >= 1", name="seat_limit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    seat_limit: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # What students may send unless a moderator decides otherwise for one of them in class.
    student_microphone: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    student_camera: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    student_screen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The classroom's codes lists (JSON: [{"name", "codes": [{"code", "label", "key"?}]}]), see
    # ``server/library/codes.py``; a moderator picks one before REC.
    codes_lists: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")

    owner: Mapped[User] = relationship(lazy="joined")
    members: Mapped[list[ClassroomMember]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ClassroomMember.user_id"
    )


class ClassroomMember(Base):
    """A user added to a classroom as an extra moderator or as an enrolled student."""

    __tablename__ = "classroom_members"
    __table_args__ = (CheckConstraint("kind IN ('moderator', 'student')", name="kind"),)

    classroom_id: Mapped[int] = mapped_column(
        ForeignKey("classrooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship(lazy="joined")


class UserSettings(Base):
    __tablename__ = "user_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    recording_reminder: Mapped[bool] = mapped_column(Boolean, default=False)
    robot_name: Mapped[str] = mapped_column(String(80), default=DEFAULT_ROBOT_NAME)
    # A moderator's default recording name (None: the classroom's name), and whether Stop asks for the
    # name, prefilled with the default name and the next number (Viso's naming).
    default_recording_name: Mapped[str | None] = mapped_column(String(200))
    edit_name_on_stop: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_classroom_id_id", "classroom_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    classroom_id: Mapped[int] = mapped_column(ForeignKey("classrooms.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    display_name: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Recording(Base):
    """One recording of a classroom. Kept when its classroom is deleted: the name stays readable."""

    __tablename__ = "recordings"
    __table_args__ = (
        CheckConstraint("state IN ('starting', 'recording', 'finishing', 'ready', 'failed')", name="state"),
        CheckConstraint(STOP_REASONS_SQL, name="stop_reason"),
        CheckConstraint("mode IN ('composite', 'tracks', 'both')", name="mode"),
        UniqueConstraint("file_name", name="uq_recordings_file_name"),
        Index("ix_recordings_classroom_id_number", "classroom_id", "number"),
        # One recorder per classroom, enforced by the database even against two racing starts.
        Index(
            "uq_recordings_one_active_per_classroom",
            "classroom_id",
            unique=True,
            sqlite_where=text(ACTIVE_STATES_SQL),
            postgresql_where=text(ACTIVE_STATES_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    classroom_id: Mapped[int | None] = mapped_column(ForeignKey("classrooms.id", ondelete="SET NULL"))
    classroom_name: Mapped[str] = mapped_column(String(120))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=RecordingState.STARTING.value)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    robot_name: Mapped[str] = mapped_column(String(80), default=DEFAULT_ROBOT_NAME)
    file_name: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[str] = mapped_column(String(255), default="")
    error: Mapped[str | None] = mapped_column(Text)
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    # The secret inside this recording's robot token: a token of a deleted recording whose id was reused
    # names another secret, so it is refused.
    robot_secret: Mapped[str | None] = mapped_column(String(64))
    # Media time 0 of the file is ``started_at`` (the robot's clock origin); pauses are cut out of it:
    # ``paused_ms`` is the paused time so far, ``paused_at`` the start of the pause in progress (None when
    # not paused). ``server/library/media_clock.py`` turns a wall-clock moment into media time.
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The codes list picked at REC (JSON {"name", "codes": [...]}, a copy: later edits of the classroom's
    # lists do not change it), or None.
    codes_list: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(
        String(16), default=RecordingMode.COMPOSITE.value, server_default="composite"
    )
    # The session over several classrooms this recording belongs to (None: a classroom's own REC).
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("recording_sessions.id", ondelete="SET NULL"), index=True
    )

    covers: Mapped[list[RecordingClassroom]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="RecordingClassroom.position"
    )
    "The classrooms this recording records: its own, or every classroom of a composite session."


class RecordingSession(Base):
    """One recording session over several classrooms (Viso's multi-location recording).

    ``separate``: one recording per classroom, all with this session's name and number; ``composite``: one
    recording whose file shows every classroom. Stopping any recording of a session stops all of them.
    """

    __tablename__ = "recording_sessions"
    __table_args__ = (CheckConstraint("mode IN ('composite', 'separate')", name="mode"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RecordingClassroom(Base):
    """A classroom a recording records (every recording has one row per classroom it covers).

    ``active_classroom_id`` is the classroom's id while the recording is active and None once it has
    ended (``server.library.recordings.transition``): its unique index is the database's guarantee of one
    recorder per classroom, across single recordings and sessions, even against two racing starts.
    """

    __tablename__ = "recording_classrooms"
    __table_args__ = (
        UniqueConstraint("active_classroom_id", name="uq_recording_classrooms_active_classroom_id"),
        Index("ix_recording_classrooms_classroom_id", "classroom_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    classroom_id: Mapped[int | None] = mapped_column(ForeignKey("classrooms.id", ondelete="SET NULL"))
    classroom_name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active_classroom_id: Mapped[int | None] = mapped_column(Integer)


class RecordingTrack(Base):
    """One participant's source written as it was forwarded (``tracks`` and ``both`` modes).

    ``offset_ms`` is where the track's first media sits on the recording's (the composite's) timeline;
    ``file_name`` is inside the recordings directory, made by the server (never from user input).
    """

    __tablename__ = "recording_tracks"
    __table_args__ = (UniqueConstraint("file_name", name="uq_recording_tracks_file_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    display_name: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    codec: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255))
    offset_ms: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ServerSetting(Base):
    """A setting the admin changes in the page (JSON value), overriding the configuration's default."""

    __tablename__ = "server_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class TimelineEvent(Base):
    """One event of a recorded class (join, chat, hand, speaker, pause, bookmark, ...) at its media time.

    Written as it happens (each one committed), so a crash keeps every event up to it; nothing is kept
    while the recording is paused. ``data`` is the event's JSON object beside ``type``/``media_ms``/``at``.
    """

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_recording_id_media_ms", "recording_id", "media_ms", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    media_ms: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[str] = mapped_column(Text, default="{}")


class Bookmark(Base):
    """A moderator's annotation of a recording: a code of its codes list and/or a remark, at a media time.

    Bookmarks are the recording's chapters (with its resumes) in the player, ``chapters.vtt`` and the
    downloaded MP4.
    """

    __tablename__ = "bookmarks"
    __table_args__ = (Index("ix_bookmarks_recording_id_media_ms", "recording_id", "media_ms"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    code: Mapped[str | None] = mapped_column(String(40))
    label: Mapped[str | None] = mapped_column(String(120))
    remark: Mapped[str | None] = mapped_column(Text)
    media_ms: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsentAnswer(Base):
    """A participant's answer to "may this class be recorded?" (consent = "ask"), kept with its time."""

    __tablename__ = "consent_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    display_name: Mapped[str] = mapped_column(String(80))
    accepted: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
