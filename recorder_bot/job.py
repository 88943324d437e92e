"""What the server and its robot say to each other: one job on the robot's stdin, progress on its stdout.

Both sides import these types (the supervisor in ``server/recorders``, the robot in ``__main__``), so the
two ends cannot disagree about a field. Every message is one JSON object on one line.

* stdin, server → robot: one :class:`RobotJob`, then commands (:class:`Pause`, :class:`Resume`,
  :class:`Stop`) as the recording goes; SIGTERM asks the robot to finish its file.
* stdout, robot → server: :class:`Joined` (in the classroom), :class:`FirstFragment` (the file has its
  first fragment: it plays from now on), :class:`TrackStarted` for each participant's track file (tracks
  and both modes), then :class:`Finished` (the file is complete) or :class:`Failed`;
  and from the start, about every second, :class:`Receiving` (whose media reaches the recording).
  Anything else on stdout is logged by :func:`parse_progress` and ignored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500
Positive = Annotated[int, Field(gt=0)]
Count = Annotated[int, Field(ge=0)]
ReplayId = Annotated[int, Field(gt=-(1 << 53), lt=0)]
ParticipantId = Positive | ReplayId
"People are positive; a replay playing into the class (``server.replay``) is negative."


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def line(self) -> str:
        """This message as one line of JSON, newline included."""
        return self.model_dump_json() + "\n"


RecordingModeName = Literal["composite", "tracks", "both"]
SourceName = Literal["microphone", "camera", "screen"]


class JobClassroom(_Message):
    """One more classroom a composite session's robot joins, with its own token (which names it)."""

    classroom_id: Positive
    classroom_name: str
    token: str


class RobotJob(_Message):
    """What the server asks of one robot run."""

    server_url: str
    "Where the robot connects (socket.io and WebRTC signalling), like a browser would."
    token: str
    "The robot's credential for this recording (``server.recorders.tokens``)."
    classroom_id: Positive
    classroom_name: str
    storage_root: Path
    "The recordings directory; the file is created inside it and nowhere else."
    file_name: str
    "The file's name inside ``storage_root``."
    width: Positive = 1280
    height: Positive = 720
    fps: Positive = 15
    video_bitrate: Positive = 1_500_000
    audio_bitrate: Positive = 96_000
    label_font: Path | None = None
    "The TrueType font names are lettered in; None: DejaVu Sans (``recorder_bot.layout.DEJAVU_SANS``)."
    origin: float | None = None
    """Media time 0 of the file, in seconds since the epoch: the recording's ``started_at``, so the server
    places timeline events on the file's clock (``server.library.media_clock``). None: when the robot
    starts."""
    mode: RecordingModeName = "composite"
    """``composite``: the mixed file ``file_name``; ``tracks``: only each participant's own tracks, nothing
    decoded (``file_name`` is then not written); ``both``: the two."""
    tracks_prefix: str | None = None
    """The tracks' file names start with this (made by the server, like ``file_name``): each is
    ``f"{tracks_prefix}-{user_id}-{source}.webm"`` (``.mp4`` for H.264) inside ``storage_root``, a replay's
    negative id written ``r<id>``. Required unless ``mode`` is ``composite``."""
    more_classrooms: tuple[JobClassroom, ...] = ()
    """A composite session: the other classrooms the robot joins and records into the same file, each a
    region of the picture labelled with its name (``classroom_id`` is the first)."""


class Pause(_Message):
    """Keep nothing from ``at`` on: the file stops there and continues at the next :class:`Resume`."""

    command: Literal["pause"] = "pause"
    at: float
    "The server's instant of the pause, in seconds since the epoch (the recording's ``paused_at``)."


class Resume(_Message):
    """Record again from ``at``: the file continues where the pause cut it, in the same file."""

    command: Literal["resume"] = "resume"
    at: float
    "The server's instant of the resume, in seconds since the epoch."


class Stop(_Message):
    """The file ends at ``at`` (Stop was pressed then); SIGTERM, which follows, tells the robot to finish.

    Without it the file ends when the robot handles SIGTERM, which a busy server may send late."""

    command: Literal["stop"] = "stop"
    at: float
    "The server's instant of the stop, in seconds since the epoch (the recording's ``stopped_at``)."


Command = Pause | Resume | Stop
_COMMAND: TypeAdapter[Command] = TypeAdapter(Annotated[Command, Field(discriminator="command")])


def parse_command(line: bytes | str) -> Command | None:
    """One line of the robot's stdin after its job as a command; None (logged) for anything else."""
    return _parse_line(_COMMAND, line, "the server sent a line that is no command")


class Joined(_Message):
    """The robot is in the classroom and receives its media."""

    event: Literal["joined"] = "joined"


class FirstFragment(_Message):
    """The file has its first fragment: from now on it plays, even if the robot dies."""

    event: Literal["first_fragment"] = "first_fragment"


class Receiving(_Message):
    """Whose media the recording holds now: sent about every ``RECEIVING_INTERVAL`` seconds from the start."""

    event: Literal["receiving"] = "receiving"
    receiving: tuple[ParticipantId, ...]
    "User ids whose audio or video frames reached the mixer in the last ``RECEIVING_WINDOW`` seconds."


RECEIVING_INTERVAL = 1.0
RECEIVING_WINDOW = 2.0


class TrackStarted(_Message):
    """A track file has its first media (``tracks``/``both`` modes): from now on it plays."""

    event: Literal["track_started"] = "track_started"
    file_name: str
    "Inside ``storage_root``, as made from ``tracks_prefix``."
    user_id: ParticipantId
    display_name: Annotated[str, Field(max_length=80)]
    source: SourceName
    kind: Literal["audio", "video"]
    codec: Literal["opus", "vp8", "h264"]
    offset_ms: Count
    "Where the track's first media sits on the recording's timeline (the composite's media time)."


class TrackFinished(_Message):
    """One track file as the robot closed it."""

    file_name: str
    duration_ms: Count
    "From the track's first media to its last (gaps while its participant was away included)."
    size_bytes: Count


class Finished(_Message):
    """The file is complete (the robot's interpreter may take a moment more to exit)."""

    event: Literal["finished"] = "finished"
    duration_ms: Count
    size_bytes: Count
    fragments: Count = 0
    dropped: Count = 0
    "Frames dropped because the encoder's queue was full."
    late_frames: Count = 0
    "Frames that arrived after their moment had been mixed."
    tracks: tuple[TrackFinished, ...] = ()
    "Every track file written (``tracks``/``both`` modes), complete."


class Failed(_Message):
    """The robot could not record; it exits after this."""

    event: Literal["failed"] = "failed"
    error: Annotated[str, Field(max_length=MAX_ERROR_CHARS)]

    @classmethod
    def of(cls, error: str) -> Failed:
        return cls(error=error[:MAX_ERROR_CHARS])


M = TypeVar("M")
Progress = Joined | FirstFragment | Receiving | TrackStarted | Finished | Failed
_PROGRESS: TypeAdapter[Progress] = TypeAdapter(Annotated[Progress, Field(discriminator="event")])


def _parse_line(adapter: TypeAdapter[M], line: bytes | str, refusal: str) -> M | None:
    """One JSON line as a message of ``adapter``; None (logged with ``refusal``) for anything else."""
    if not line.strip():
        return None
    try:
        return adapter.validate_json(line)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_context=False, include_input=False)[0]
        log.warning(refusal, extra={"line": repr(line[:200]), "problem": f"{first['loc']}: {first['msg']}"})
        return None


def parse_progress(line: bytes | str) -> Progress | None:
    """One line of the robot's stdout as its progress message; None (logged) for anything else."""
    return _parse_line(_PROGRESS, line, "robot wrote a line that is no progress message")
