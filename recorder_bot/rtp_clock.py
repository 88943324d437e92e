"""When did a received frame happen? RTP timestamps mapped to one recording clock via RTCP.

Each received stream's sender reports pair an RTP timestamp with the publisher's NTP wall-clock time
(the SFU moves the publisher's own reports onto each leg), so a frame's RTP timestamp says when it was
captured on the publisher's clock. One publisher's audio and video share that clock, which is what lip
sync needs. Different publishers' clocks differ (other machines), so each publisher gets one offset onto
the recorder's clock: the smallest ``arrival − capture`` seen, i.e. its least-delayed frame. Audio and
video of a publisher use the same offset, so arrival order and jitter never move one against the other.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiortc import RTCRtpReceiver
from aiortc.rtp import AnyRtcpPacket, RtcpSrPacket

NTP_UNIX_OFFSET = 2_208_988_800
_WRAP = 1 << 32
_HALF = 1 << 31


def ntp_to_unix(ntp: int) -> float:
    return (ntp >> 32) + (ntp & 0xFFFFFFFF) / _WRAP - NTP_UNIX_OFFSET


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


class PublisherClock:
    """One publisher's wall clock placed on the recording clock (seconds since the recording began).

    The offset follows the least-delayed frame; when no frame beats it, it may creep up by ``creep``
    seconds per second, so a publisher clock that runs slow against ours (a few hundred ppm is common)
    does not slide its frames ever earlier until the mixer drops them as late.
    """

    def __init__(self, recording_start: float, creep: float = 0.001) -> None:
        self.recording_start = recording_start
        self.creep = creep
        self._offset: float | None = None
        self._updated = 0.0

    def recording_time(self, wall: float, arrival: float | None = None) -> float:
        now = time.time() if arrival is None else arrival
        seen = now - wall
        if self._offset is None or seen < self._offset:
            self._offset = seen
        else:
            self._offset = min(seen, self._offset + self.creep * max(0.0, now - self._updated))
        self._updated = now
        return wall + self._offset - self.recording_start


def watch_sender_reports(receiver: RTCRtpReceiver, clock: StreamClock) -> None:
    """Feed ``clock`` every sender report that reaches ``receiver``.

    aiortc keeps received sender reports to itself, so its ``_handle_rtcp_packet`` (aiortc 1.16.0, as in
    ``server/media/adapter.py``) is wrapped on this receiver instance; aiortc's own handling still runs.
    """
    original: Callable[[AnyRtcpPacket], Awaitable[None]] = receiver._handle_rtcp_packet

    async def handle(packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpSrPacket):
            clock.sender_report(packet.sender_info.ntp_timestamp, packet.sender_info.rtp_timestamp)
        await original(packet)

    receiver._handle_rtcp_packet = handle  # type: ignore[method-assign]


def rtp_timestamp(receiver: RTCRtpReceiver, pts: int) -> int | None:
    """The RTP timestamp of a frame ``receiver`` decoded with ``pts``.

    aiortc rebases RTP timestamps to start at 0 before decoding (its ``TimestampMapper``; aiortc 1.16.0),
    so a decoded frame's pts is the RTP timestamp less the stream's first one, which is read back here.
    """
    mapper = getattr(receiver, "_RTCRtpReceiver__timestamp_mapper", None)
    origin = getattr(mapper, "_origin", None)
    if not isinstance(origin, int):
        return None
    return (pts + origin) & 0xFFFFFFFF
