"""Media time: where a wall-clock moment sits in a recording's file.

The file's time 0 is the recording's ``started_at`` (the robot is given it as its clock origin, see
``RobotJob.origin``), and every pause is cut out of the file: a moment's media time is its distance from
``started_at`` less the paused time before it. While paused, a moment has no media time (nothing of it is
kept). Timeline events, bookmarks and pauses all go through :class:`MediaClock`, so they agree with the
file to the millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from server.db.models import Recording


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def media_origin(recording: Recording) -> float:
    """The file's time 0 in seconds since the epoch."""
    return as_utc(recording.started_at).timestamp()


@dataclass(frozen=True)
class MediaClock:
    origin: datetime
    paused_ms: int = 0
    paused_at: datetime | None = None

    @classmethod
    def of(cls, recording: Recording) -> MediaClock:
        paused_at = as_utc(recording.paused_at) if recording.paused_at is not None else None
        return cls(as_utc(recording.started_at), recording.paused_ms or 0, paused_at)

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def media_ms(self, at: datetime | None = None) -> int | None:
        """The media time of ``at`` (default: now), a moment after the last resume; None while paused."""
        if self.paused_at is not None:
            return None
        moment = as_utc(at) if at is not None else datetime.now(UTC)
        elapsed = round((moment - self.origin).total_seconds() * 1000)
        return max(0, elapsed - self.paused_ms)

    def pause(self, at: datetime) -> MediaClock:
        """The clock once paused at ``at`` (media time stops at ``self.media_ms(at)``)."""
        return MediaClock(self.origin, self.paused_ms, as_utc(at))

    def resume(self, at: datetime) -> MediaClock:
        """The clock once resumed at ``at``: the pause's length joins ``paused_ms``."""
        if self.paused_at is None:
            return self
        pause_ms = round((as_utc(at) - self.paused_at).total_seconds() * 1000)
        return MediaClock(self.origin, self.paused_ms + max(0, pause_ms), None)
