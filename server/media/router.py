"""Forward every publisher's encoded RTP to every other participant of a room, untouched.

One :class:`Router` per room. Each participant has one ``RTCPeerConnection`` with the server;
the server is always the offerer, so payload types and header extension ids on every
connection are the server's and stay stable across renegotiations (see ``docs``).

* A *published stream* is a receiving transceiver on a participant's connection. Its
  decrypted RTP packets are taken before aiortc's jitter buffer (:mod:`media.adapter`): no
  depayloading, no decoding.
* A *leg* is a sendonly transceiver on a subscriber's connection, bound to one published
  stream for its whole life. Each packet is re-headed per leg (payload type, SSRC, sequence
  number and timestamp offsets, the leg's header extension ids) and sent with the leg's SRTP
  context. The payload bytes are the publisher's, byte for byte.

Per leg the router also answers NACKs from a packet history (as RTX when negotiated), turns
PLI/FIR into a rate-limited keyframe request to the publisher, starts video at a keyframe and
rewrites the sender reports so browsers can lip-sync. Per published stream it sends NACKs and
a fixed REMB upstream, and aiortc's receiver keeps sending receiver reports.

Call order, per participant, for each completed offer/answer exchange:
``prepare_publisher`` (first offer only), ``add_subscriber`` (first offer only), then after
``setRemoteDescription(answer)``: ``add_publisher`` and ``negotiation_complete``. A published
stream gets its legs when its first packet arrives, so a source that sends nothing (a muted
microphone) costs the other participants nothing, not even a renegotiation. Whenever
legs are added or removed the router calls ``on_negotiation_needed(participant_id)``; the
signalling layer must then run a new offer/answer exchange with that participant.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import NackGenerator, StreamStatistics
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
    unpack_remb_fci,
    unwrap_rtx,
)
from aiortc.utils import random16, random32

from server.media import adapter
from server.media.ntp import NTP_UNIX_OFFSET, PublisherClock, ntp_to_unix, unix_to_ntp
from server.media.packet import (
    ExtensionIds,
    LegSequence,
    extension_block,
    is_keyframe_start,
    mid_element,
    rtp_bytes,
)
from server.media.speaker import ActiveSpeakerDetector, SpeakerConfig

logger = logging.getLogger(__name__)

_SEQ_PREFIX = struct.Struct("!H")
_RECEIVING = ("recvonly", "sendrecv")
_SENDING = ("sendonly", "sendrecv")
_MAX_LEG_FAILURES = 20


@dataclass(frozen=True)
class RouterConfig:
    """Room-wide media policy."""

    video_codec: str = "VP8"
    "VP8 or H264: the only video codec offered, so every peer in the room uses it."
    audio_codec: str = "opus"
    max_video_bitrate: int = 1_500_000
    "Sent to video publishers as REMB every second (no congestion control downstream yet)."
    keyframe_request_interval: float = 0.5
    "Minimum seconds between two keyframe requests to one publisher."
    video_history_size: int = 512
    "RTP packets kept per video stream to answer subscribers' NACKs (about 3 s at 1.5 Mbit/s)."
    tick_interval: float = 0.25
    "Period of the housekeeping task (speaker evaluation; REMB every fourth tick)."
    speaker: SpeakerConfig = field(default_factory=SpeakerConfig)


def codec_preferences(kind: str, config: RouterConfig) -> list[RTCRtpCodecCapability]:
    """The single codec (plus RTX for video) every transceiver of the room is restricted to."""
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    wanted = f"{kind}/{config.video_codec if kind == 'video' else config.audio_codec}".lower()
    chosen = [c for c in capabilities if c.mimeType.lower() == wanted][:1]
    if not chosen:
        raise ValueError(f"aiortc cannot negotiate {wanted}")
    if kind == "video":
        chosen += [c for c in capabilities if c.mimeType.lower() == "video/rtx"]
    return chosen


class PublishedStream:
    """One received track: takes its packets from aiortc and fans them out to legs."""

    def __init__(
        self, router: Router, participant_id: str, transceiver: RTCRtpTransceiver, clock: PublisherClock
    ) -> None:
        self.participant_id = participant_id
        self.clock = clock
        self.kind = transceiver.kind
        self.mid = transceiver.mid
        self.receiver = transceiver.receiver
        self._router = router
        codecs = adapter.negotiated_codecs(transceiver)
        self._codecs = {c.payloadType: c for c in codecs if c.payloadType is not None}
        media = [c for c in codecs if not is_rtx(c)]
        if not media:
            raise ValueError(f"no media codec negotiated for {participant_id}/{transceiver.mid}")
        self.codec = media[0]
        self._rtx_apt: dict[int, int] = {}
        for codec in codecs:
            apt = codec.parameters.get("apt")
            if is_rtx(codec) and isinstance(apt, int) and codec.payloadType is not None:
                self._rtx_apt[codec.payloadType] = apt
        self.media_ssrc: int | None = None
        self.legs: tuple[SubscriberLeg, ...] = ()
        self.closed = False
        # Its publisher may not send it now (a moderator withdrew the source): nothing of it is forwarded.
        self.withheld = False
        # Fanned out to the subscribers only once it carries media: a microphone that sends nothing (a
        # muted student) costs no m-line, and no renegotiation, at each of the other participants.
        self.carrying = False
        self.packets_received = 0
        self._is_video = self.kind == "video"
        self._history: list[RtpPacket | None] = [None] * (
            router.config.video_history_size if self._is_video else 0
        )
        self._nack = NackGenerator() if self._is_video else None
        self._statistics = adapter.receiver_statistics(self.receiver)
        self._sender_report: tuple[int, int, float] | None = None
        self._last_packet: tuple[int, float] | None = None
        self._last_keyframe_request = -math.inf
        adapter.divert_receiver(self.receiver, self._handle_rtp, self._handle_rtcp)

    def add_leg(self, leg: SubscriberLeg) -> None:
        self.legs = (*self.legs, leg)

    def remove_leg(self, leg: SubscriberLeg) -> None:
        self.legs = tuple(x for x in self.legs if x is not leg)

    def history(self, sequence_number: int) -> RtpPacket | None:
        """The packet with this publisher sequence number, if still kept."""
        if not self._history:
            return None
        packet = self._history[sequence_number % len(self._history)]
        if packet is None or packet.sequence_number != sequence_number:
            return None
        return packet

    def sender_report(self) -> tuple[int, int, float] | None:
        """(NTP time, RTP timestamp, local time) to base the legs' sender reports on.

        The publisher's last SR when there is one. Before it (Chromium sends its first audio SR
        only after about 5 s), the last packet's timestamp and arrival time: good to network
        jitter, and consistent between one publisher's audio and video.
        """
        if self._sender_report is None:
            if self._last_packet is None:
                return None
            timestamp, arrived = self._last_packet
            return unix_to_ntp(arrived), timestamp, arrived
        ntp, timestamp, arrived = self._sender_report
        return unix_to_ntp(self.clock.local(ntp_to_unix(ntp))), timestamp, arrived

    async def request_keyframe(self) -> None:
        """Send a PLI upstream unless one went out less than the configured interval ago."""
        if not self._is_video or self.media_ssrc is None or self.closed:
            return
        now = time.monotonic()
        if now - self._last_keyframe_request < self._router.config.keyframe_request_interval:
            return
        self._last_keyframe_request = now
        await adapter.send_pli(self.receiver, self.media_ssrc)

    async def send_remb(self, bitrate: int) -> None:
        if self.media_ssrc is not None and not self.closed:
            await adapter.send_remb(self.receiver, bitrate, [self.media_ssrc])

    async def _handle_rtp(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        # This runs inside aiortc's DTLS receive loop: an exception would end the transport.
        try:
            await self._receive(packet)
        except Exception:
            logger.exception("dropping packet from %s (%s)", self.participant_id, self.kind)

    async def _receive(self, packet: RtpPacket) -> None:
        if self.closed:
            return
        codec = self._codecs.get(packet.payload_type)
        if codec is None:
            return
        stats = self._statistics.get(packet.ssrc)
        if stats is None:
            stats = self._statistics[packet.ssrc] = StreamStatistics(codec.clockRate)
        stats.add(packet)

        apt = self._rtx_apt.get(packet.payload_type)
        if apt is not None:
            if self.media_ssrc is None or len(packet.payload) < 2:
                return  # padding-only bandwidth probe
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=self.media_ssrc)
        elif packet.ssrc != self.media_ssrc:
            if self.media_ssrc is not None:
                self._source_changed()
            self.media_ssrc = packet.ssrc
        self.packets_received += 1
        if not self.carrying:
            self.carrying = True
            self._router.stream_started(self)

        if self._nack is not None and self._nack.add(packet):
            await adapter.send_nack(self.receiver, packet.ssrc, sorted(self._nack.missing))
        level = packet.extensions.audio_level
        if level is not None and not self.withheld:
            self._router.speaker_detector.add(self.participant_id, level[1])
        if self._history:
            self._history[packet.sequence_number % len(self._history)] = packet
        await self._forward(packet)

    def _source_changed(self) -> None:
        # The publisher restarted its stream (new SSRC, new sequence and timestamp origins):
        # history and reports describe the old one, and every leg re-anchors at a keyframe.
        self._history = [None] * len(self._history)
        self._nack = NackGenerator() if self._is_video else None
        self._sender_report = None
        self._last_packet = None
        for leg in self.legs:
            leg.restart()

    async def _forward(self, packet: RtpPacket) -> None:
        now = time.time()
        if self._sender_report is None:
            self._last_packet = (packet.timestamp, now)
        abs_send_time = (int((now + NTP_UNIX_OFFSET) * (1 << 18))) & 0xFFFFFF
        keyframe: bool | None = None
        for leg in self.legs:
            if not leg.active or not adapter.is_connected(leg.transport):
                continue
            if not leg.started:
                if self._is_video:
                    if keyframe is None:
                        keyframe = is_keyframe_start(self.codec.name, packet.payload)
                    if not keyframe:
                        await self.request_keyframe()
                        continue
                leg.start(packet)
            await leg.send(packet, abs_send_time)

    async def _handle_rtcp(self, packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpSrPacket) and packet.ssrc == self.media_ssrc:
            info = packet.sender_info
            arrived = time.time()
            self.clock.observe(ntp_to_unix(info.ntp_timestamp), arrived)
            self._sender_report = (info.ntp_timestamp, info.rtp_timestamp, arrived)


class SubscriberLeg:
    """One published stream as sent to one subscriber (a sendonly transceiver)."""

    def __init__(self, subscriber_id: str, stream: PublishedStream, transceiver: RTCRtpTransceiver) -> None:
        self.subscriber_id = subscriber_id
        self.stream = stream
        self.transceiver = transceiver
        self.sender = transceiver.sender
        self.transport = self.sender.transport
        self.ssrc = adapter.sender_ssrc(self.sender)
        self.active = False
        self.started = False
        self.packets_sent = 0
        self.octets_sent = 0
        self.retransmitted = 0
        self.remb: int | None = None
        self.failures = 0
        self._payload_type = 0
        self._rtx_payload_type: int | None = None
        self._rtx_ssrc = adapter.rtx_ssrc(self.sender)
        self._rtx_sequence = random16() % 32768
        self._ext_ids = ExtensionIds()
        self._mid = b""
        self._sequence = LegSequence(0)
        self._sequence_offset = 0
        self._timestamp_offset = random32()
        self._last_sent: tuple[int, int, float] | None = None  # sequence, timestamp, when
        adapter.divert_sender(self.sender, self._handle_rtcp, self._rewrite_rtcp)

    def activate(self) -> None:
        """Read what the last negotiation agreed for this m-line and start forwarding."""
        codecs = adapter.negotiated_codecs(self.transceiver)
        main = self._matching_codec(codecs, self.stream.codec)
        if main.payloadType is None:
            raise ValueError(f"no payload type negotiated for {main.mimeType}")
        self._payload_type = main.payloadType
        self._rtx_payload_type = next(
            (c.payloadType for c in codecs if is_rtx(c) and c.parameters.get("apt") == main.payloadType),
            None,
        )
        self._ext_ids = ExtensionIds.from_negotiated(adapter.negotiated_header_extensions(self.transceiver))
        self._mid = mid_element(self._ext_ids, self.transceiver.mid)
        self.transport = self.sender.transport  # BUNDLE may have replaced it
        self.active = True

    def deactivate(self) -> None:
        self.active = False

    def start(self, packet: RtpPacket) -> None:
        """Begin at this publisher packet.

        A fresh leg's sequence starts in the lower half of the 16-bit space (a wrap right
        after the start confuses SRTP's rollover guess); a restarted leg continues its own
        sequence and timestamps, so the subscriber sees one uninterrupted stream.
        """
        if self._last_sent is None:
            out_sequence = random16() % 32768
        else:
            last_sequence, last_timestamp, last_time = self._last_sent
            out_sequence = (last_sequence + 1) & 0xFFFF
            elapsed = max(1, int((time.monotonic() - last_time) * self.stream.codec.clockRate))
            self._timestamp_offset = (last_timestamp + elapsed - packet.timestamp) & 0xFFFFFFFF
        self._sequence = LegSequence(packet.sequence_number)
        self._sequence_offset = (out_sequence - packet.sequence_number) & 0xFFFF
        self.started = True

    def restart(self) -> None:
        """Wait for the next keyframe of a restarted publisher stream, then continue."""
        self.started = False

    async def send(self, packet: RtpPacket, abs_send_time: int) -> None:
        """Forward one publisher packet (dropped if it predates this leg's start)."""
        if not self._sequence.forward(packet.sequence_number):
            return
        out_sequence = (packet.sequence_number + self._sequence_offset) & 0xFFFF
        out_timestamp = (packet.timestamp + self._timestamp_offset) & 0xFFFFFFFF
        self._last_sent = (out_sequence, out_timestamp, time.monotonic())
        data = rtp_bytes(
            self._payload_type,
            packet.marker,
            out_sequence,
            out_timestamp,
            self.ssrc,
            extension_block(self._ext_ids, self._mid, abs_send_time, packet.extensions.audio_level),
            packet.payload,
            packet.padding_size,
        )
        self.packets_sent += 1
        self.octets_sent += len(packet.payload)
        await self._send(data)

    async def _send(self, data: bytes) -> None:
        try:
            await adapter.send_rtp(self.transport, data)
        except ConnectionError:
            pass  # not connected yet, or gone: the signalling layer will remove us
        except Exception:
            self.failures += 1
            logger.exception("leg %s <- %s failed", self.subscriber_id, self.stream.participant_id)
            if self.failures >= _MAX_LEG_FAILURES:
                self.deactivate()

    async def _retransmit(self, lost: list[int]) -> None:
        abs_send_time = (int((time.time() + NTP_UNIX_OFFSET) * (1 << 18))) & 0xFFFFFF
        for out_sequence in lost:
            sequence_number = (out_sequence - self._sequence_offset) & 0xFFFF
            packet = self.stream.history(sequence_number)
            if packet is None or not self._sequence.owns(sequence_number):
                continue
            extensions = extension_block(
                self._ext_ids, self._mid, abs_send_time, packet.extensions.audio_level
            )
            timestamp = (packet.timestamp + self._timestamp_offset) & 0xFFFFFFFF
            if self._rtx_payload_type is None:
                data = rtp_bytes(
                    self._payload_type, packet.marker, out_sequence, timestamp, self.ssrc,
                    extensions, packet.payload,
                )  # fmt: skip
            else:
                data = rtp_bytes(
                    self._rtx_payload_type, packet.marker, self._rtx_sequence, timestamp, self._rtx_ssrc,
                    extensions, _SEQ_PREFIX.pack(out_sequence) + packet.payload,
                )  # fmt: skip
                self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
            self.retransmitted += 1
            await self._send(data)

    async def _handle_rtcp(self, packet: AnyRtcpPacket) -> None:
        # Called from the subscriber's DTLS receive loop: never let an exception escape.
        try:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                await self.stream.request_keyframe()
            elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                if self.active and self.started:
                    await self._retransmit(packet.lost)
            elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
                if self.ssrc in ssrcs:
                    self.remb = bitrate
        except Exception:
            logger.exception("bad RTCP from %s", self.subscriber_id)

    def _rewrite_rtcp(self, packets: list[AnyRtcpPacket]) -> list[AnyRtcpPacket]:
        rewritten: list[AnyRtcpPacket] = []
        for packet in packets:
            if isinstance(packet, RtcpSrPacket):
                info = self._sender_info()
                # A compound RTCP packet must start with SR or RR.
                rewritten.append(
                    RtcpRrPacket(ssrc=self.ssrc)
                    if info is None
                    else RtcpSrPacket(ssrc=self.ssrc, sender_info=info)
                )
            else:
                rewritten.append(packet)
        return rewritten

    def _sender_info(self) -> RtcpSenderInfo | None:
        """The publisher's last SR moved to now and into this leg's timestamp space, so the
        audio and video legs of one publisher keep the publisher's own A/V relation."""
        report = self.stream.sender_report()
        if report is None or not self.started:
            return None
        ntp, rtp_timestamp, arrived = report
        elapsed = max(0.0, time.time() - arrived)
        return RtcpSenderInfo(
            ntp_timestamp=(ntp + int(elapsed * (1 << 32))) & 0xFFFFFFFFFFFFFFFF,
            rtp_timestamp=(
                rtp_timestamp + int(elapsed * self.stream.codec.clockRate) + self._timestamp_offset
            )
            & 0xFFFFFFFF,
            packet_count=self.packets_sent & 0xFFFFFFFF,
            octet_count=self.octets_sent & 0xFFFFFFFF,
        )

    @staticmethod
    def _matching_codec(
        codecs: list[RTCRtpCodecParameters], wanted: RTCRtpCodecParameters
    ) -> RTCRtpCodecParameters:
        for codec in codecs:
            if codec.mimeType.lower() == wanted.mimeType.lower() and codec.clockRate == wanted.clockRate:
                return codec
        raise ValueError(f"subscriber did not negotiate {wanted.mimeType}")


class _Participant:
    def __init__(self, participant_id: str, pc: RTCPeerConnection) -> None:
        self.id = participant_id
        self.pc = pc
        self.subscribed = False
        self.streams: dict[str, PublishedStream] = {}
        self.legs: list[SubscriberLeg] = []
        self.clock = PublisherClock()


class Router:
    """The media side of one room."""

    def __init__(
        self,
        config: RouterConfig | None = None,
        *,
        on_negotiation_needed: Callable[[str], None],
        on_active_speaker: Callable[[str | None], None] | None = None,
        may_forward: Callable[[str, str], bool] | None = None,
        may_carry: Callable[[str, str | None], bool] | None = None,
    ) -> None:
        self.config = config or RouterConfig()
        self._on_negotiation_needed = on_negotiation_needed
        # Whether a publisher's media may reach a subscriber at all (recording consent): no leg exists
        # from a publisher to a subscriber it refuses, so not one packet of theirs is sent there.
        self._may_forward = may_forward or (lambda _publisher, _subscriber: True)
        # Whether one published stream (publisher, mid) may be forwarded to anyone (media rights): a
        # withheld stream has no legs and its audio never makes its publisher the active speaker.
        self._may_carry = may_carry or (lambda _publisher, _mid: True)
        self._participants: dict[str, _Participant] = {}
        self.speaker_detector = ActiveSpeakerDetector(
            on_active_speaker or (lambda _participant_id: None), self.config.speaker
        )
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[None]] = set()

    def prepare_publisher(
        self, pc: RTCPeerConnection, kinds: tuple[str, ...] = ("audio", "video")
    ) -> list[RTCRtpTransceiver]:
        """Add the receiving m-lines a client publishes into, before the first offer.

        They must come before any leg so an answering client's own tracks bind to them.
        """
        transceivers = []
        for kind in kinds:
            transceiver = pc.addTransceiver(kind, direction="recvonly")
            transceiver.setCodecPreferences(codec_preferences(kind, self.config))
            transceivers.append(transceiver)
        return transceivers

    def add_subscriber(self, participant_id: str, pc: RTCPeerConnection) -> None:
        """Subscribe a participant to every stream published in the room, now and later."""
        participant = self._participant(participant_id, pc)
        participant.subscribed = True
        created = False
        for other in self._participants.values():
            if other is participant:
                continue
            for stream in other.streams.values():
                if stream.carrying:
                    created |= self._ensure_leg(participant, stream)
        if created:
            self._on_negotiation_needed(participant_id)

    def add_publisher(self, participant_id: str, pc: RTCPeerConnection) -> None:
        """Start receiving on every receiving m-line of ``pc`` not yet taken; each is forwarded (legs at
        every subscriber) from its first packet on, see :meth:`stream_started`.

        Call after each ``setRemoteDescription(answer)``; it is idempotent.
        """
        participant = self._participant(participant_id, pc)
        leg_transceivers = {leg.transceiver for leg in participant.legs}
        for transceiver in pc.getTransceivers():
            mid = transceiver.mid
            if (
                mid is None
                or mid in participant.streams
                or transceiver in leg_transceivers
                or transceiver.currentDirection not in _RECEIVING
            ):
                continue
            stream = PublishedStream(self, participant_id, transceiver, participant.clock)
            stream.withheld = not self._may_carry(participant_id, mid)
            participant.streams[mid] = stream
        self._ensure_task()

    def stream_started(self, stream: PublishedStream) -> None:
        """A stream's first packet: every subscriber gets a leg for it (one renegotiation each)."""
        for subscriber in list(self._participants.values()):
            if subscriber.id == stream.participant_id or not subscriber.subscribed:
                continue
            if self._ensure_leg(subscriber, stream):
                self._on_negotiation_needed(subscriber.id)

    def negotiation_complete(self, participant_id: str) -> None:
        """Activate legs whose m-line the last offer/answer exchange just agreed."""
        participant = self._participants[participant_id]
        for leg in participant.legs:
            if leg.active or leg.stream.closed or leg.transceiver.currentDirection not in _SENDING:
                continue
            try:
                leg.activate()
            except ValueError:
                logger.exception("cannot forward %s to %s", leg.stream.participant_id, participant_id)
            else:
                # A leg on a new connection asks once its transport is up (in the forwarding
                # path); asking now would spend the rate limit on a keyframe it cannot receive.
                if adapter.is_connected(leg.transport):
                    self._spawn(leg.stream.request_keyframe())

    async def refresh(self, publisher_id: str) -> None:
        """Apply ``may_forward`` again to everything ``publisher_id`` sends: a leg to a subscriber that is
        now refused is removed at once (its m-line goes inactive); one that is now allowed is created."""
        publisher = self._participants.get(publisher_id)
        if publisher is None:
            return
        renegotiate: set[str] = set()
        stopping = []
        for stream in publisher.streams.values():
            stream.withheld = not self._may_carry(publisher_id, stream.mid)
            for leg in stream.legs:
                if stream.withheld or not self._may_forward(publisher_id, leg.subscriber_id):
                    stopping.append(self._drop_leg(leg))
                    renegotiate.add(leg.subscriber_id)
        for subscriber in list(self._participants.values()):
            if subscriber is publisher or not subscriber.subscribed:
                continue
            for stream in publisher.streams.values():
                if stream.carrying and self._ensure_leg(subscriber, stream):
                    renegotiate.add(subscriber.id)
        await asyncio.gather(*stopping, return_exceptions=True)
        for subscriber_id in renegotiate:
            self._on_negotiation_needed(subscriber_id)

    def _drop_leg(self, leg: SubscriberLeg) -> Awaitable[None]:
        """Stop one leg now: nothing more is sent on it; the caller renegotiates its subscriber."""
        leg.deactivate()
        leg.stream.remove_leg(leg)
        subscriber = self._participants.get(leg.subscriber_id)
        if subscriber is not None and leg in subscriber.legs:
            subscriber.legs.remove(leg)
        leg.transceiver.direction = "inactive"
        return leg.sender.stop()

    async def remove(self, participant_id: str) -> None:
        """Stop forwarding from and to a participant; the caller closes its connection."""
        participant = self._participants.pop(participant_id, None)
        if participant is None:
            return
        self.speaker_detector.remove(participant_id)
        for leg in participant.legs:
            leg.deactivate()
            leg.stream.remove_leg(leg)
        renegotiate: set[str] = set()
        stopping = []
        for stream in participant.streams.values():
            stream.closed = True
            for leg in stream.legs:
                if leg.subscriber_id in self._participants:
                    stopping.append(self._drop_leg(leg))
                    renegotiate.add(leg.subscriber_id)
                else:
                    leg.deactivate()
            stream.legs = ()
        await asyncio.gather(*stopping, return_exceptions=True)
        for subscriber_id in renegotiate:
            self._on_negotiation_needed(subscriber_id)

    async def close(self) -> None:
        """Stop the housekeeping task (participants' connections are the caller's)."""
        for participant_id in list(self._participants):
            await self.remove(participant_id)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def legs(self, participant_id: str) -> list[SubscriberLeg]:
        """The legs a participant receives (for stats and tests)."""
        return list(self._participants[participant_id].legs)

    def streams(self, participant_id: str) -> list[PublishedStream]:
        """The streams a participant publishes (none if unknown)."""
        participant = self._participants.get(participant_id)
        return list(participant.streams.values()) if participant else []

    def _participant(self, participant_id: str, pc: RTCPeerConnection) -> _Participant:
        participant = self._participants.get(participant_id)
        if participant is None:
            participant = self._participants[participant_id] = _Participant(participant_id, pc)
        elif participant.pc is not pc:
            raise ValueError(f"participant {participant_id!r} already joined with another connection")
        return participant

    def _ensure_leg(self, subscriber: _Participant, stream: PublishedStream) -> bool:
        if stream.closed or stream.withheld or any(leg.stream is stream for leg in subscriber.legs):
            return False
        if not self._may_forward(stream.participant_id, subscriber.id):
            return False
        if subscriber.pc.signalingState == "closed":
            return False  # its connection failed and is on its way out (see ClassroomMedia.join)
        transceiver = subscriber.pc.addTransceiver(adapter.IdleTrack(stream.kind), direction="sendonly")
        transceiver.setCodecPreferences(codec_preferences(stream.kind, self.config))
        adapter.set_stream_id(transceiver.sender, stream.participant_id)
        leg = SubscriberLeg(subscriber.id, stream, transceiver)
        subscriber.legs.append(leg)
        stream.add_leg(leg)
        return True

    def _spawn(self, coroutine: Coroutine[None, None, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _ensure_task(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._housekeeping())

    async def _housekeeping(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(self.config.tick_interval)
            tick += 1
            try:
                self.speaker_detector.evaluate()
                if tick % 4 == 0:
                    for participant in list(self._participants.values()):
                        for stream in list(participant.streams.values()):
                            if stream.kind == "video":
                                await stream.send_remb(self.config.max_video_bitrate)
            except Exception:
                logger.exception("router housekeeping failed")
