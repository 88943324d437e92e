"""RTP bytes the forwarder writes itself: per-leg headers, header extensions, keyframe starts.

aiortc's ``RtpPacket.serialize`` would do, but it allocates an extension list per call; the
forwarder writes one header per packet per subscriber, so the hot path is kept to a few
``struct.pack`` calls here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

_HEADER = struct.Struct("!BBHLL")
_EXT_HEADER = struct.Struct("!HH")
_ONE_BYTE_PROFILE = 0xBEDE


@dataclass(frozen=True)
class ExtensionIds:
    """Header extension ids one peer negotiated for one m-line (0: not negotiated).

    Ids are per peer connection: Chromium offers e.g. mid=4, abs-send-time=2, audio-level=1,
    aiortc mid=1, audio-level=2, abs-send-time=3. The forwarder writes only these three and
    drops everything else a publisher sent (transport-cc, video-orientation, playout-delay...),
    since the subscriber leg never negotiated them.
    """

    mid: int = 0
    abs_send_time: int = 0
    audio_level: int = 0

    @classmethod
    def from_negotiated(cls, extensions: list[RTCRtpHeaderExtensionParameters]) -> ExtensionIds:
        ids = {ext.uri: ext.id for ext in extensions}
        found = cls(
            mid=ids.get(URI_MID, 0),
            abs_send_time=ids.get(URI_ABS_SEND_TIME, 0),
            audio_level=ids.get(URI_AUDIO_LEVEL, 0),
        )
        for value in (found.mid, found.abs_send_time, found.audio_level):
            if value > 14:
                raise ValueError(f"header extension id {value} needs the two-byte form")
        return found


def mid_element(ids: ExtensionIds, mid: str | None) -> bytes:
    """The one-byte-form element carrying ``mid``, constant for a leg's lifetime."""
    if not ids.mid or not mid:
        return b""
    value = mid.encode("ascii")
    if not 1 <= len(value) <= 16:
        raise ValueError(f"mid {mid!r} does not fit a one-byte header extension")
    return bytes([(ids.mid << 4) | (len(value) - 1)]) + value


def extension_block(
    ids: ExtensionIds, mid: bytes, abs_send_time: int, audio_level: tuple[bool, int] | None
) -> bytes:
    """A complete one-byte-form (RFC 8285) extension block, or b"" when there is nothing to send.

    ``mid`` comes from :func:`mid_element`; ``abs_send_time`` is the 24-bit 6.18 fixed-point
    send time; ``audio_level`` is (voice activity, level in -dBov) as parsed by aiortc.
    """
    body = mid
    if ids.abs_send_time:
        body += bytes([(ids.abs_send_time << 4) | 2]) + abs_send_time.to_bytes(3, "big")
    if ids.audio_level and audio_level is not None:
        body += bytes([ids.audio_level << 4, (0x80 if audio_level[0] else 0) | (audio_level[1] & 0x7F)])
    if not body:
        return b""
    body += b"\x00" * (-len(body) % 4)
    return _EXT_HEADER.pack(_ONE_BYTE_PROFILE, len(body) >> 2) + body


def rtp_bytes(
    payload_type: int,
    marker: int,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
    extensions: bytes,
    payload: bytes,
    padding_size: int = 0,
) -> bytes:
    """Serialize an RTP packet (no CSRCs; publishers here never mix)."""
    first = 0x80
    if extensions:
        first |= 0x10
    if padding_size:
        first |= 0x20
    data = _HEADER.pack(first, (marker << 7) | payload_type, sequence_number, timestamp, ssrc)
    data += extensions + payload
    if padding_size:
        data += bytes(padding_size - 1) + bytes([padding_size])
    return data


def vp8_is_keyframe_start(payload: bytes) -> bool:
    """Whether an RTP VP8 payload (RFC 7741) starts a key frame."""
    if not payload:
        return False
    first = payload[0]
    start_of_partition = first & 0x10
    partition_id = first & 0x07
    if not start_of_partition or partition_id != 0:
        return False
    pos = 1
    if first & 0x80:  # X: extension byte present
        if len(payload) < 2:
            return False
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX
            pos += 1
    # VP8 payload header: P bit (inverse key frame flag) is bit 0 of the first byte.
    return len(payload) > pos and not payload[pos] & 0x01


_H264_IDR = 5
_H264_SPS = 7
_H264_STAP_A = 24
_H264_FU_A = 28


def h264_is_keyframe_start(payload: bytes) -> bool:
    """Whether an RTP H.264 payload (RFC 6184) starts an IDR picture (or its SPS)."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (_H264_IDR, _H264_SPS):
        return True
    if nal_type == _H264_STAP_A:
        pos = 1
        while pos + 2 < len(payload):
            size = int.from_bytes(payload[pos : pos + 2], "big")
            if payload[pos + 2] & 0x1F in (_H264_IDR, _H264_SPS):
                return True
            pos += 2 + size
        return False
    if nal_type == _H264_FU_A and len(payload) > 1:
        return bool(payload[1] & 0x80) and payload[1] & 0x1F == _H264_IDR
    return False


def is_keyframe_start(codec_name: str, payload: bytes) -> bool:
    """Keyframe start test for a video codec by its SDP name."""
    name = codec_name.upper()
    if name == "VP8":
        return vp8_is_keyframe_start(payload)
    if name == "H264":
        return h264_is_keyframe_start(payload)
    raise ValueError(f"no keyframe detection for codec {codec_name!r}")


class LegSequence:
    """Which publisher sequence numbers a leg forwards: those from its start on, through every wrap.

    A packet the publisher sent before the leg started (a late retransmission) must not reach the
    subscriber, whose sequence begins at the start. "Before" cannot be read from the 16-bit number
    alone once the stream has run past half the number space, so the leg keeps the newest number it
    forwarded and how far that is from its start (capped at half the space): newer than the newest
    is always the leg's; older is the leg's only within that distance.
    """

    HALF = 0x8000

    def __init__(self, first: int) -> None:
        self.newest = first
        self.span = 0

    def owns(self, sequence_number: int) -> bool:
        if (sequence_number - self.newest) & 0xFFFF < self.HALF:
            return True
        return (self.newest - sequence_number) & 0xFFFF <= self.span

    def forward(self, sequence_number: int) -> bool:
        """True if the packet is the leg's; a newer one moves the newest mark on."""
        ahead = (sequence_number - self.newest) & 0xFFFF
        if ahead < self.HALF:
            self.newest = sequence_number
            self.span = min(self.HALF - 1, self.span + ahead)
            return True
        return (self.newest - sequence_number) & 0xFFFF <= self.span
