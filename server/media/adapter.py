"""The one place where the forwarder reaches into aiortc's private APIs.

aiortc has no public hook for forwarding encoded media: ``RTCRtpReceiver`` always depayloads,
reassembles and decodes, and ``RTCRtpSender`` always packetizes what its track yields. The SFU
needs neither, so it joins aiortc at these points (all read from aiortc 1.16.0's source):

* Publisher side: ``RTCDtlsTransport._handle_rtp_data`` decrypts, parses and routes each RTP
  packet to ``receiver._handle_rtp_packet(packet, arrival_time_ms)``. That bound method is
  replaced on the receiver *instance*, so packets stop there: no jitter buffer, nothing is put
  on the decoder queue and the decoder thread that ``receive()`` starts stays blocked (0% CPU).
  The receiver's own RTCP task keeps running; it builds its receiver reports from the private
  ``__remote_streams`` table, which the forwarder therefore fills (:func:`receiver_statistics`).
* Recorder side (the robot receives and decodes like any aiortc client): received sender reports
  are watched by wrapping the receiver's ``_handle_rtcp_packet`` (:func:`watch_sender_reports`),
  and the RTP timestamp origin aiortc's ``TimestampMapper`` subtracts before decoding is read back
  (:func:`rtp_origin`), so a decoded frame's pts gives its RTP timestamp again. For per-participant
  tracks the encoded frames the jitter buffer assembles are taken where aiortc queues them for its
  decoder thread (:func:`tap_encoded_frames`): the private decoder queue is wrapped, so the frames can be
  written as they are and are decoded only if asked.
* Subscriber side: each leg is an ordinary sendonly transceiver whose track never yields
  (:class:`IdleTrack`), so the sender's RTP task idles. Packets are sent with the leg's DTLS
  transport ``_send_rtp`` (which SRTP-protects). RTCP routed to the sender (PLI, FIR, NACK,
  REMB, RR) goes to a replacement ``_handle_rtcp_packet``; the sender's periodic
  ``_send_rtcp`` is wrapped so its sender report describes the forwarded stream instead of the
  idle one (aiortc's own SR would carry NTP 0 / RTP 0 and break lip sync in browsers).

Everything here is pinned to one aiortc release: importing this module with any other version
raises :class:`UnsupportedAiortcVersion`.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any

from aiortc import MediaStreamTrack, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import (
    RTCP_PSFB_APP,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
)
from av.frame import Frame

SUPPORTED_AIORTC_VERSION = "1.16.0"


class UnsupportedAiortcVersion(ImportError):
    """The installed aiortc is not the release this adapter was written against."""


def _check_version() -> None:
    installed = metadata.version("aiortc")
    if installed != SUPPORTED_AIORTC_VERSION:
        raise UnsupportedAiortcVersion(
            f"server.media.adapter uses private APIs of aiortc=={SUPPORTED_AIORTC_VERSION}, "
            f"but aiortc=={installed} is installed; re-check the hooks in server/media/adapter.py "
            "against the new release before changing the pin"
        )


_check_version()

RtpHandler = Callable[[RtpPacket, int], Awaitable[None]]
RtcpHandler = Callable[[AnyRtcpPacket], Awaitable[None]]
RtcpRewriter = Callable[[list[AnyRtcpPacket]], list[AnyRtcpPacket]]

# Name-mangled attributes read below; checked on use so a silent rename fails loudly.
_RECEIVER_STREAMS = "_RTCRtpReceiver__remote_streams"
_RECEIVER_RTCP_SSRC = "_RTCRtpReceiver__rtcp_ssrc"
_RECEIVER_TIMESTAMP_MAPPER = "_RTCRtpReceiver__timestamp_mapper"
_RECEIVER_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RECEIVER_RTX_SSRC = "_RTCRtpReceiver__rtx_ssrc"

log = logging.getLogger(__name__)


def _private(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        raise UnsupportedAiortcVersion(
            f"{type(obj).__name__} has no attribute {name!r}: aiortc internals changed"
        ) from None


def _override(obj: object, name: str, value: object) -> None:
    # Instance attributes shadow the class methods aiortc looks up at call time.
    _private(obj, name)
    setattr(obj, name, value)


class IdleTrack(MediaStreamTrack):
    """A track whose ``recv()`` never returns, so a sender's own RTP loop never sends."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    async def recv(self) -> Frame:
        await asyncio.Future()
        raise MediaStreamError


def divert_receiver(receiver: RTCRtpReceiver, on_rtp: RtpHandler, on_rtcp: RtcpHandler) -> None:
    """Take a publisher receiver's decrypted RTP before aiortc depayloads or decodes it.

    ``on_rtcp`` runs after aiortc's own handler, which must keep seeing sender reports so its
    receiver reports carry LSR/DLSR.
    """
    original_rtcp: RtcpHandler = receiver._handle_rtcp_packet

    async def handle_rtcp(packet: AnyRtcpPacket) -> None:
        await original_rtcp(packet)
        await on_rtcp(packet)

    _override(receiver, "_handle_rtp_packet", on_rtp)
    _override(receiver, "_handle_rtcp_packet", handle_rtcp)


def watch_sender_reports(receiver: RTCRtpReceiver, on_report: Callable[[int, int], None]) -> None:
    """Call ``on_report(ntp_timestamp, rtp_timestamp)`` for every sender report reaching ``receiver``.

    aiortc keeps received sender reports to itself; its own handling still runs after ``on_report``.
    """
    original: RtcpHandler = _private(receiver, "_handle_rtcp_packet")

    async def handle_rtcp(packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpSrPacket):
            on_report(packet.sender_info.ntp_timestamp, packet.sender_info.rtp_timestamp)
        await original(packet)

    _override(receiver, "_handle_rtcp_packet", handle_rtcp)


def rtp_origin(receiver: RTCRtpReceiver) -> int | None:
    """What aiortc subtracted from this stream's RTP timestamps before decoding (None before its first
    frame): a decoded frame's RTP timestamp is ``(pts + origin) mod 2**32``.

    Raises :class:`UnsupportedAiortcVersion` if aiortc no longer keeps it where 1.16.0 does, rather than
    leaving every frame without a time (and the recording without pictures or sound).
    """
    origin = _private(_private(receiver, _RECEIVER_TIMESTAMP_MAPPER), "_origin")
    if origin is not None and not isinstance(origin, int):
        raise UnsupportedAiortcVersion(
            f"aiortc's TimestampMapper._origin is {origin!r}, not an int: aiortc internals changed"
        )
    return origin


EncodedFrameHandler = Callable[[str, bytes, int], None]
"""``(codec name in lower case, encoded frame, RTP timestamp less the stream's origin)``."""


class EncodedFrameTap:
    """Stands in for a receiver's decoder queue: every encoded frame goes to ``on_frame`` first.

    aiortc puts ``(codec, JitterFrame)`` on this queue from ``_handle_rtp_packet`` (the frame's timestamp
    already less the stream's origin, see :func:`rtp_origin`) and ``None`` to end its decoder thread,
    which reads it. Frames reach the real queue (and so the decoder) only when ``decode``."""

    def __init__(
        self, receiver: RTCRtpReceiver, real: queue.Queue[Any], on_frame: EncodedFrameHandler, decode: bool
    ):
        self._receiver = receiver
        self._real = real
        self._on_frame = on_frame
        self.decode = decode

    def put(
        self,
        item: tuple[RTCRtpCodecParameters, JitterFrame] | None,
        block: bool = True,
        timeout: float | None = None,
    ) -> None:
        if item is not None:
            codec, frame = item
            try:
                self._on_frame(codec.name.lower(), frame.data, frame.timestamp)
            except Exception:  # never break aiortc's packet handling
                log.exception("encoded frame handler failed")
            if not self.decode:
                return
        self._real.put(item, block, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return self._real.get(block, timeout)

    async def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (a PLI for each media SSRC received, retransmissions aside)."""
        rtx: dict[int, int] = _private(self._receiver, _RECEIVER_RTX_SSRC)
        for ssrc in list(receiver_statistics(self._receiver)):
            if ssrc not in rtx:
                await self._receiver._send_rtcp_pli(ssrc)


def tap_encoded_frames(
    receiver: RTCRtpReceiver, on_frame: EncodedFrameHandler, decode: bool
) -> EncodedFrameTap:
    """Hand every encoded frame ``receiver`` assembles to ``on_frame`` (on the event loop, in arrival
    order); with ``decode`` False nothing is decoded any more (the decoder thread stays blocked, 0% CPU).

    aiortc 1.16.0 hands its decoder thread the queue object when ``receive()`` starts it and only puts
    frames while that thread runs; the tap wraps that same object, so it works before or after
    ``receive()`` and the thread still ends when aiortc puts ``None``."""
    real = _private(receiver, _RECEIVER_DECODER_QUEUE)
    if not isinstance(real, queue.Queue):
        raise UnsupportedAiortcVersion(f"aiortc's decoder queue is {real!r}: aiortc internals changed")
    tap = EncodedFrameTap(receiver, real, on_frame, decode)
    _override(receiver, _RECEIVER_DECODER_QUEUE, tap)
    return tap


def receiver_statistics(receiver: RTCRtpReceiver) -> dict[int, StreamStatistics]:
    """The per-SSRC table aiortc's receiver turns into RTCP receiver reports."""
    table: dict[int, StreamStatistics] = _private(receiver, _RECEIVER_STREAMS)
    return table


async def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the publisher behind ``receiver`` for a keyframe."""
    await receiver._send_rtcp_pli(media_ssrc)


async def send_nack(receiver: RTCRtpReceiver, media_ssrc: int, lost: list[int]) -> None:
    """Ask the publisher behind ``receiver`` to retransmit ``lost`` sequence numbers."""
    await receiver._send_rtcp_nack(media_ssrc, lost)


async def send_remb(receiver: RTCRtpReceiver, bitrate: int, media_ssrcs: list[int]) -> None:
    """Cap the publisher's sending bitrate with a REMB message."""
    rtcp_ssrc: int | None = _private(receiver, _RECEIVER_RTCP_SSRC)
    if rtcp_ssrc is None:
        return
    packet = RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(bitrate, media_ssrcs)
    )
    await receiver._send_rtcp(packet)


def divert_sender(sender: RTCRtpSender, on_rtcp: RtcpHandler, rewrite_rtcp: RtcpRewriter) -> None:
    """Make a subscriber sender a shell: its RTCP input goes to ``on_rtcp`` and its periodic
    RTCP output (SR + SDES, BYE on stop) passes through ``rewrite_rtcp`` before being sent."""
    original_send: Callable[[list[AnyRtcpPacket]], Awaitable[None]] = sender._send_rtcp

    async def send_rtcp(packets: list[AnyRtcpPacket]) -> None:
        await original_send(rewrite_rtcp(packets))

    _override(sender, "_handle_rtcp_packet", on_rtcp)
    _override(sender, "_send_rtcp", send_rtcp)


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """Set the msid stream id announced for this sender.

    aiortc gives every sender of a peer connection the same stream id, which would make a
    browser group (and lip-sync) the audio of one publisher with the video of another.
    """
    sender._stream_id = stream_id


def sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC aiortc announces for ``sender`` (``a=ssrc``), which a leg's RTP must carry."""
    ssrc: int = _private(sender, "_ssrc")
    return ssrc


def rtx_ssrc(sender: RTCRtpSender) -> int:
    """The retransmission SSRC aiortc announces for ``sender`` (``a=ssrc-group:FID``)."""
    return sender._rtx_ssrc


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """Codecs (with the remote side's payload types) after the last negotiation."""
    return list(transceiver._codecs)


def negotiated_header_extensions(transceiver: RTCRtpTransceiver) -> list[RTCRtpHeaderExtensionParameters]:
    """Header extensions (uri and id) both sides agreed on in the last negotiation."""
    return list(transceiver._headerExtensions)


def is_connected(transport: RTCDtlsTransport) -> bool:
    """Whether SRTP keys exist, i.e. ``_send_rtp`` can succeed."""
    return transport._state is State.CONNECTED


async def send_rtp(transport: RTCDtlsTransport, data: bytes) -> None:
    """SRTP-protect and send one RTP (or compound RTCP) packet on ``transport``."""
    await transport._send_rtp(data)
