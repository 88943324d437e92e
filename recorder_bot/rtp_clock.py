"""When did a received frame happen? RTP timestamps mapped to one recording clock via RTCP.

Each received stream's sender reports pair an RTP timestamp with the publisher's NTP wall-clock time
(the SFU moves the publisher's own reports onto each leg), so a frame's RTP timestamp says when it was
captured on the publisher's clock (:class:`StreamClock`). One publisher's audio and video share that
clock, which is what lip sync needs. Different publishers' clocks differ (other machines), so each
publisher's clock is placed on the recorder's by one :class:`server.media.ntp.PublisherClock` (with
:data:`CREEP`) that observes every frame's arrival; audio and video of a publisher use the same one, so
arrival order and jitter never move one against the other.

The aiortc internals this needs (received sender reports, the RTP timestamp origin) are reached only
through ``server.media.adapter``.
"""

from __future__ import annotations

from aiortc import RTCRtpReceiver

from server.media import adapter
from server.media.ntp import ntp_to_unix

_WRAP = 1 << 32
_HALF = 1 << 31
CREEP = 0.001
"""Seconds per second a publisher's offset may grow when no frame beats it: a publisher clock that runs
slow against ours then does not slide its frames ever earlier until the mixer drops them as late."""


class StreamClock:
    """One received stream: RTP timestamp → publisher wall-clock seconds (None before its first SR)."""

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self._wall: float | None = None
        self._rtp = 0

    @property
    def synchronised(self) -> bool:
        return self._wall is not None

    def sender_report(self, ntp: int, rtp_timestamp: int) -> None:
        self._wall = ntp_to_unix(ntp)
        self._rtp = rtp_timestamp

    def wall_time(self, rtp_timestamp: int) -> float | None:
        if self._wall is None:
            return None
        # Signed distance modulo 2^32: timestamps wrap, and reports come every second or so.
        delta = ((rtp_timestamp - self._rtp + _HALF) % _WRAP) - _HALF
        return self._wall + delta / self.clock_rate


def rtp_timestamp(receiver: RTCRtpReceiver, pts: int) -> int | None:
    """The RTP timestamp of a frame ``receiver`` decoded with ``pts`` (None before its first frame).

    aiortc rebases RTP timestamps to start at 0 before decoding, so a decoded frame's pts is the RTP
    timestamp less the stream's first one, which the adapter reads back.
    """
    origin = adapter.rtp_origin(receiver)
    if origin is None:
        return None
    return (pts + origin) & 0xFFFFFFFF
