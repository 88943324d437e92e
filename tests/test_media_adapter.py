"""The aiortc hooks the forwarder and the recorder rely on exist in the pinned aiortc, with the shapes
they expect, and a hook that has moved fails loudly instead of silently doing nothing."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from importlib import metadata

import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RtcpSenderInfo, RtcpSrPacket

from recorder_bot.rtp_clock import rtp_timestamp
from server.media import adapter
from server.media.ntp import unix_to_ntp


@pytest.fixture
async def pc() -> AsyncIterator[RTCPeerConnection]:
    connection = RTCPeerConnection()
    yield connection
    await connection.close()


def receiving(pc: RTCPeerConnection) -> RTCRtpTransceiver:
    return pc.addTransceiver("video", direction="recvonly")


def sending(pc: RTCPeerConnection) -> RTCRtpSender:
    return pc.addTransceiver(adapter.IdleTrack("video"), direction="sendonly").sender


def test_aiortc_is_the_pinned_release() -> None:
    assert metadata.version("aiortc") == adapter.SUPPORTED_AIORTC_VERSION


async def test_every_private_hook_is_where_the_adapter_reaches(pc: RTCPeerConnection) -> None:
    assert list(inspect.signature(RTCRtpReceiver._handle_rtp_packet).parameters) == [
        "self",
        "packet",
        "arrival_time_ms",
    ]
    for owner, name in [
        (RTCRtpReceiver, "_handle_rtcp_packet"),
        (RTCRtpReceiver, "_send_rtcp_pli"),
        (RTCRtpReceiver, "_send_rtcp_nack"),
        (RTCRtpReceiver, "_send_rtcp"),
        (RTCRtpSender, "_handle_rtcp_packet"),
        (RTCRtpSender, "_send_rtcp"),
        (RTCDtlsTransport, "_send_rtp"),
        (RTCDtlsTransport, "_handle_rtp_data"),
    ]:
        assert inspect.iscoroutinefunction(getattr(owner, name)), f"{owner.__name__}.{name}"
    transceiver = receiving(pc)
    assert isinstance(adapter.receiver_statistics(transceiver.receiver), dict)
    sender = sending(pc)
    assert isinstance(adapter.rtx_ssrc(sender), int)
    adapter.set_stream_id(sender, "7")
    assert sender._stream_id == "7"
    assert isinstance(adapter.negotiated_codecs(transceiver), list)
    assert isinstance(adapter.negotiated_header_extensions(transceiver), list)


async def test_a_legs_ssrc_is_the_one_its_sender_announces(pc: RTCPeerConnection) -> None:
    sender = sending(pc)
    ssrc = adapter.sender_ssrc(sender)
    assert isinstance(ssrc, int)
    assert ssrc == sender._ssrc
    del sender._ssrc  # as if aiortc kept it elsewhere
    with pytest.raises(adapter.UnsupportedAiortcVersion, match="_ssrc"):
        adapter.sender_ssrc(sender)


async def test_the_recorder_reads_back_the_rtp_origin_of_decoded_frames(pc: RTCPeerConnection) -> None:
    receiver = receiving(pc).receiver
    assert adapter.rtp_origin(receiver) is None  # no frame yet
    assert rtp_timestamp(receiver, 90) is None
    # What aiortc does to the first frame's timestamp before decoding it.
    mapper = receiver._RTCRtpReceiver__timestamp_mapper  # type: ignore[attr-defined]
    assert mapper.map(1000) == 0
    assert adapter.rtp_origin(receiver) == 1000
    assert rtp_timestamp(receiver, 90) == 1090
    assert mapper.map(0xFFFF_FF00) == 0xFFFF_FF00 - 1000
    assert mapper.map(500) == 500 + (1 << 32) - 1000  # wrapped: aiortc's origin goes negative
    assert rtp_timestamp(receiver, 500 + (1 << 32) - 1000) == 500


async def test_a_moved_rtp_origin_fails_loudly_rather_than_recording_nothing(pc: RTCPeerConnection) -> None:
    receiver = receiving(pc).receiver
    receiver._RTCRtpReceiver__timestamp_mapper = object()  # type: ignore[attr-defined]
    with pytest.raises(adapter.UnsupportedAiortcVersion, match="_origin"):
        adapter.rtp_origin(receiver)
    del receiver._RTCRtpReceiver__timestamp_mapper  # type: ignore[attr-defined]
    with pytest.raises(adapter.UnsupportedAiortcVersion, match="timestamp_mapper"):
        rtp_timestamp(receiver, 90)


async def test_sender_reports_reach_the_recorder_and_aiortc_alike(pc: RTCPeerConnection) -> None:
    receiver = receiving(pc).receiver
    seen: list[tuple[int, int]] = []
    adapter.watch_sender_reports(receiver, lambda ntp, rtp: seen.append((ntp, rtp)))
    ntp = unix_to_ntp(1_700_000_000.5)
    report = RtcpSrPacket(ssrc=1234, sender_info=RtcpSenderInfo(ntp, 90_000, 10, 1000))
    await receiver._handle_rtcp_packet(report)
    assert seen == [(ntp, 90_000)]
    # aiortc's own handling still ran: its receiver reports will carry this report's LSR.
    assert receiver._RTCRtpReceiver__lsr[1234] == (ntp >> 16) & 0xFFFFFFFF  # type: ignore[attr-defined]


async def test_a_moved_rtcp_handler_fails_loudly(
    pc: RTCPeerConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = receiving(pc).receiver
    monkeypatch.delattr(RTCRtpReceiver, "_handle_rtcp_packet")
    with pytest.raises(adapter.UnsupportedAiortcVersion, match="_handle_rtcp_packet"):
        adapter.watch_sender_reports(receiver, lambda ntp, rtp: None)
