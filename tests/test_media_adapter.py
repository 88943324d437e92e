"""The aiortc hooks the forwarder relies on exist in the pinned aiortc, with the shapes it expects."""

from __future__ import annotations

import inspect
from importlib import metadata

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport

from recorder_bot.rtp_clock import rtp_timestamp
from server.media import adapter


def test_aiortc_is_the_pinned_release() -> None:
    assert metadata.version("aiortc") == adapter.SUPPORTED_AIORTC_VERSION


async def test_every_private_hook_is_where_the_adapter_reaches() -> None:
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
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        assert isinstance(adapter.receiver_statistics(transceiver.receiver), dict)
        # The recorder reads back the RTP origin aiortc rebases decoded timestamps on.
        mapper = transceiver.receiver._RTCRtpReceiver__timestamp_mapper  # type: ignore[attr-defined]
        assert mapper.map(1000) == 0
        assert rtp_timestamp(transceiver.receiver, 90) == 1090
        sender = pc.addTransceiver(adapter.IdleTrack("video"), direction="sendonly").sender
        assert isinstance(adapter.rtx_ssrc(sender), int)
        adapter.set_stream_id(sender, "7")
        assert sender._stream_id == "7"
        assert isinstance(adapter.negotiated_codecs(transceiver), list)
        assert isinstance(adapter.negotiated_header_extensions(transceiver), list)
    finally:
        await pc.close()
