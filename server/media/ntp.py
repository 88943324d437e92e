"""NTP timestamps and publisher clocks: the one copy the SFU, the robot and the benchmarks share.

RTCP sender reports carry 64-bit NTP timestamps (seconds since 1900 in the high 32 bits, the fraction in
the low 32). Each publisher's clock is its own machine's (a browser's NTP time need not even be the wall
clock), so whoever reads its times places them on the local clock with :class:`PublisherClock`.
"""

from __future__ import annotations

NTP_UNIX_OFFSET = 2_208_988_800
"""Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01)."""
_FRACTION = 1 << 32
_NTP_MASK = (1 << 64) - 1


def ntp_to_unix(ntp: int) -> float:
    """A 64-bit NTP timestamp as Unix seconds."""
    return (ntp >> 32) + (ntp & 0xFFFFFFFF) / _FRACTION - NTP_UNIX_OFFSET


def unix_to_ntp(seconds: float) -> int:
    """Unix seconds as a 64-bit NTP timestamp."""
    return int((seconds + NTP_UNIX_OFFSET) * _FRACTION) & _NTP_MASK


class PublisherClock:
    """One publisher's clock placed on this machine's: ``local = publisher time + offset``.

    The offset is the smallest ``arrival − publisher time`` observed, i.e. that of the least-delayed
    observation, so network delay and jitter never push it later. One instance serves all of a
    publisher's streams: its audio and video then keep the relation the publisher gave them, which is
    what lip sync needs.

    With ``creep`` > 0 the offset may also grow by up to ``creep`` seconds per second when no observation
    beats it, so a publisher clock that runs slow against ours (a few hundred ppm is common) does not
    slide its times ever earlier. The SFU moves sender reports with ``creep`` 0; the robot, which
    observes every frame, follows a drifting clock with a small creep.
    """

    def __init__(self, creep: float = 0.0) -> None:
        if creep < 0:
            raise ValueError(f"creep must not be negative: {creep}")
        self.creep = creep
        self.offset: float | None = None
        self._updated = 0.0

    def observe(self, sent: float, arrived: float) -> None:
        """Something the publisher stamped ``sent`` (its clock) arrived here at ``arrived`` (ours)."""
        seen = arrived - sent
        if self.offset is None or seen < self.offset:
            self.offset = seen
        elif self.creep:
            self.offset = min(seen, self.offset + self.creep * max(0.0, arrived - self._updated))
        self._updated = arrived

    def local(self, sent: float) -> float:
        """The publisher's time ``sent`` on this machine's clock (unmoved before any observation)."""
        return sent + (self.offset or 0.0)
