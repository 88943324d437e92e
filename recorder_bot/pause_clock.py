"""Recording time to file time across pauses: what is captured while paused is never kept.

Frames are stamped on the recording clock (seconds since the job's origin, see ``recorder_bot.robot``).
A pause cuts its span out of the file: a frame captured inside it has no file time (it is dropped), and
one captured after it moves back by the paused time, so the file runs on without a gap. The pipeline's
own clock (:meth:`PauseClock.now`) stands still while paused, so the mixer renders nothing for the
paused span, and Stop while paused ends the file where the pause began.

The pauses are the server's instants (``Pause.at`` / ``Resume.at``), the same ones its
``server.library.media_clock.MediaClock`` uses, so the file and the timeline agree. The event loop
changes the pauses while the pipeline's worker thread reads the clock: the pauses are one tuple, replaced
whole, so a reader always sees a consistent set.
"""

from __future__ import annotations

Span = tuple[float, float | None]
"""One pause on the recording clock: its start and its end (None while it lasts)."""


class PauseClock:
    """The pauses of one recording, and the file time of any moment of its recording clock."""

    def __init__(self) -> None:
        self._pauses: tuple[Span, ...] = ()

    @property
    def paused(self) -> bool:
        return bool(self._pauses) and self._pauses[-1][1] is None

    @property
    def pauses(self) -> tuple[Span, ...]:
        return self._pauses

    def pause(self, t: float) -> float | None:
        """Pause from recording time ``t``; the file time where the file stops, or None if already paused.

        Pauses follow each other: one asked to start before the last ended starts where it ended.
        """
        if self.paused:
            return None
        if self._pauses:
            last_end = self._pauses[-1][1]
            assert last_end is not None
            t = max(t, last_end)
        start = max(t, 0.0)
        self._pauses = (*self._pauses, (start, None))
        return start - self._shift_before(len(self._pauses) - 1)

    def resume(self, t: float) -> float | None:
        """End the pause at recording time ``t`` (not before it began); the pause's length, or None if
        not paused."""
        if not self.paused:
            return None
        start, _ = self._pauses[-1]
        end = max(t, start)
        self._pauses = (*self._pauses[:-1], (start, end))
        return end - start

    def file_time(self, t: float, arrived: float | None = None) -> float | None:
        """Where a frame captured at recording time ``t`` goes in the file; None if captured while paused.

        ``arrived`` (recording time, less the lateness a frame may have) also counts: a frame that arrives
        inside a pause later than that was not captured before it, whatever its stamp says (a sender's
        clock reports can place its frames early by a few hundred milliseconds under load)."""
        if arrived is not None and arrived > t and self._inside(arrived):
            return None
        shift = 0.0
        for start, end in self._pauses:
            if t < start:
                break
            if end is None or t < end:
                return None
            shift += end - start
        return t - shift

    def _inside(self, t: float) -> bool:
        return any(start <= t and (end is None or t < end) for start, end in self._pauses)

    def now(self, t: float) -> float:
        """The file's clock at recording time ``t``: like :meth:`file_time`, but standing at the pause's
        start while paused (the pipeline renders up to it and no further)."""
        shift = 0.0
        for start, end in self._pauses:
            if t < start:
                break
            if end is None or t < end:
                return start - shift
            shift += end - start
        return t - shift

    def paused_seconds(self, t: float) -> float:
        """How much of the recording clock up to ``t`` was paused."""
        return t - self.now(t)

    def _shift_before(self, index: int) -> float:
        shift = 0.0
        for start, end in self._pauses[:index]:
            assert end is not None
            shift += end - start
        return shift
