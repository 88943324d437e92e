"""What the server and the replay publisher say to each other, one JSON object a line.

* stdin, server → replay: first one :class:`ReplayJob`, then any number of :class:`ReplayCommand`
  (``pause``, ``resume``); SIGTERM (or stdin closing) stops it.
* stdout, replay → server: :class:`ReplayJoined` (in the classroom, media starting), :class:`ReplayPlaying`
  (the first frame went to the encoder), :class:`ReplayEnded` (the file or chapter played to its end and the
  replay does not loop) or :class:`ReplayFailed`.

Both ends import these types (``server.replay.supervisor`` and ``recorder_bot.replay``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500
Positive = Annotated[int, Field(gt=0)]
Count = Annotated[int, Field(ge=0)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def line(self) -> str:
        return self.model_dump_json() + "\n"


class ReplayJob(_Message):
    """One replay: which file, from where to where, into which classroom."""

    server_url: str
    token: str
    "The replay's grant (``server.replay.grant``), good while this replay is live."
    classroom_id: Positive
    path: Path
    "The recording's file (the server resolved it inside its recordings directory)."
    start_ms: Count = 0
    end_ms: Count | None = None
    "Where the chapter ends (the next chapter's start); None: the end of the file."
    loop: bool = False
    max_width: Positive = 1280
    "Larger pictures are scaled down before encoding (aiortc encodes in software)."


class ReplayCommand(_Message):
    command: Literal["pause", "resume"]


class ReplayJoined(_Message):
    event: Literal["joined"] = "joined"


class ReplayPlaying(_Message):
    event: Literal["playing"] = "playing"


class ReplayEnded(_Message):
    event: Literal["ended"] = "ended"


class ReplayFailed(_Message):
    event: Literal["failed"] = "failed"
    error: Annotated[str, Field(max_length=MAX_ERROR_CHARS)]

    @classmethod
    def of(cls, error: str) -> ReplayFailed:
        return cls(error=error[:MAX_ERROR_CHARS])


ReplayProgress = ReplayJoined | ReplayPlaying | ReplayEnded | ReplayFailed
_PROGRESS: TypeAdapter[ReplayProgress] = TypeAdapter(Annotated[ReplayProgress, Field(discriminator="event")])


def parse_replay_progress(line: bytes | str) -> ReplayProgress | None:
    """One line of the replay's stdout; None (logged) for anything else."""
    if not line.strip():
        return None
    try:
        return _PROGRESS.validate_json(line)
    except ValidationError:
        log.warning("replay wrote a line that is no progress message", extra={"line": repr(line[:200])})
        return None


def parse_command(line: bytes | str) -> ReplayCommand | None:
    if not line.strip():
        return None
    try:
        return ReplayCommand.model_validate_json(line)
    except ValidationError:
        log.warning("not a replay command", extra={"line": repr(line[:200])})
        return None
