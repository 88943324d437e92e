"""RTP writing and keyframe detection, checked against aiortc's own parser and packetizers."""

from __future__ import annotations

import fractions

import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from av import VideoFrame

from server.media.packet import (
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_MID,
    ExtensionIds,
    LegSequence,
    extension_block,
    h264_is_keyframe_start,
    is_keyframe_start,
    mid_element,
    rtp_bytes,
    vp8_is_keyframe_start,
)

CHROMIUM_AUDIO_IDS = [
    RTCRtpHeaderExtensionParameters(id=1, uri=URI_AUDIO_LEVEL),
    RTCRtpHeaderExtensionParameters(id=2, uri=URI_ABS_SEND_TIME),
    RTCRtpHeaderExtensionParameters(
        id=3, uri="http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    ),
    RTCRtpHeaderExtensionParameters(id=4, uri=URI_MID),
]


def parse(data: bytes, extensions: list[RTCRtpHeaderExtensionParameters]) -> RtpPacket:
    ids = HeaderExtensionsMap()
    ids.configure(RTCRtpParameters(headerExtensions=extensions))
    return RtpPacket.parse(data, ids)


def test_leg_header_round_trips_through_aiortc_with_the_legs_own_extension_ids() -> None:
    ids = ExtensionIds.from_negotiated(CHROMIUM_AUDIO_IDS)
    assert ids == ExtensionIds(mid=4, abs_send_time=2, audio_level=1)
    block = extension_block(ids, mid_element(ids, "3"), 0x123456, (True, 42))
    data = rtp_bytes(111, 1, 65535, 0xFFFFFFFF, 0xDEADBEEF, block, b"opus-bytes", padding_size=3)

    packet = parse(data, CHROMIUM_AUDIO_IDS)
    assert (packet.payload_type, packet.marker, packet.sequence_number) == (111, 1, 65535)
    assert (packet.timestamp, packet.ssrc, packet.payload, packet.padding_size) == (
        0xFFFFFFFF, 0xDEADBEEF, b"opus-bytes", 3,
    )  # fmt: skip
    assert packet.extensions.mid == "3"
    assert packet.extensions.abs_send_time == 0x123456
    assert packet.extensions.audio_level == (True, 42)
    assert packet.extensions.transport_sequence_number is None


def test_extensions_the_leg_did_not_negotiate_are_not_written() -> None:
    assert extension_block(ExtensionIds(), b"", 1, (False, 3)) == b""
    data = rtp_bytes(96, 0, 1, 2, 3, b"", b"x")
    assert data[0] == 0x80
    assert parse(data, []).payload == b"x"


def test_two_byte_extension_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="two-byte"):
        ExtensionIds.from_negotiated([RTCRtpHeaderExtensionParameters(id=15, uri=URI_MID)])


def frames(count: int) -> list[VideoFrame]:
    result = []
    for index in range(count):
        frame = VideoFrame(320, 240, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([(index * 7) % 256]) * plane.buffer_size)
        frame.pts = index * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        result.append(frame)
    return result


def test_vp8_keyframe_start_is_found_in_aiortc_packetized_frames() -> None:
    encoder = Vp8Encoder()
    starts = []
    for index, frame in enumerate(frames(4)):
        payloads, _ = encoder.encode(frame, force_keyframe=index in (0, 3))
        starts.append([vp8_is_keyframe_start(p) for p in payloads])
    assert starts[0][0]
    assert not any(starts[0][1:])
    assert not any(starts[1])
    assert not any(starts[2])
    assert starts[3][0]


def test_h264_keyframe_start_is_found_in_aiortc_packetized_frames() -> None:
    encoder = H264Encoder()
    keyframes = []
    for index, frame in enumerate(frames(3)):
        payloads, _ = encoder.encode(frame, force_keyframe=index == 0)
        keyframes.append(any(h264_is_keyframe_start(p) for p in payloads))
    assert keyframes == [True, False, False]
    assert is_keyframe_start("h264", bytes([0x65]))


def test_unknown_codec_has_no_keyframe_detection() -> None:
    with pytest.raises(ValueError, match="AV1"):
        is_keyframe_start("AV1", b"\x00")


def test_a_leg_keeps_forwarding_past_half_the_sequence_space_and_through_wraps() -> None:
    # A 1.5 Mbit/s camera sends about 150 packets/s: 32768 packets is under four minutes of class.
    first = 65_000
    leg = LegSequence(first)
    forwarded = sum(leg.forward((first + i) & 0xFFFF) for i in range(300_000))
    assert forwarded == 300_000
    newest = (first + 299_999) & 0xFFFF
    # A retransmission of a recent packet is still the leg's, after any number of wraps.
    assert leg.owns((newest - 500) & 0xFFFF)
    assert leg.forward((newest - 500) & 0xFFFF)


def test_a_leg_refuses_packets_from_before_its_start() -> None:
    leg = LegSequence(1000)
    assert not leg.forward(999)  # sent before the leg started: the subscriber's sequence begins at 1000
    assert not leg.owns(990)
    assert leg.forward(1000)
    assert leg.forward(1003)
    assert leg.owns(1001)  # a gap filled by a retransmission
    assert not leg.owns(999)
    assert leg.forward(1004)
