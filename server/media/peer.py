"""One participant's peer connection with the server, and its offer/answer exchanges.

The server always makes the offer (see ``server/media/router.py``: aiortc's ``createOffer`` renumbers
every transceiver's payload types and extension ids, so a browser's offer would break existing m-lines).
At most one exchange is in flight; changes made meanwhile are folded into the next offer, so the two
sides never offer at once. Browsers trickle their ICE candidates after the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import OperationError
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.sdp import SessionDescription, candidate_from_sdp

from server.errors import Conflict, Invalid

log = logging.getLogger(__name__)

MAX_SDP_BYTES = 256 * 1024
MAX_CANDIDATE_BYTES = 1024

OfferSender = Callable[[dict[str, Any]], Awaitable[None]]


class MediaPeer:
    """The server's end of one participant's ``RTCPeerConnection``."""

    def __init__(self, key: str, stun_servers: tuple[str, ...]) -> None:
        self.key = key
        # Always pass a list: with None aiortc falls back to a public STUN server.
        ice = [RTCIceServer(urls=list(stun_servers))] if stun_servers else []
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.revision = 0
        self.negotiating = False
        self.pending = False
        self.closed = False

    async def make_offer(self) -> dict[str, Any]:
        """A new offer carrying every change made so far."""
        self.negotiating = True
        self.pending = False
        self.revision += 1
        await self.pc.setLocalDescription(await self.pc.createOffer())
        description = self.pc.localDescription
        return {"revision": self.revision, "type": description.type, "sdp": description.sdp}

    async def renegotiate(self, send: OfferSender) -> None:
        """Send a new offer now, or right after the exchange in flight completes."""
        if self.closed:
            return
        if self.negotiating:
            self.pending = True
            return
        await send(await self.make_offer())

    async def accept_answer(self, revision: Any, sdp: Any) -> None:
        if not isinstance(revision, int) or not isinstance(sdp, str):
            raise Invalid("an answer needs revision (integer) and sdp (string)")
        if len(sdp) > MAX_SDP_BYTES:
            raise Invalid(f"sdp: at most {MAX_SDP_BYTES} bytes")
        if self.pc.signalingState != "have-local-offer" or revision != self.revision:
            raise Conflict(f"no offer {revision} is waiting for an answer (current: {self.revision})")
        check_answer(sdp)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except (ValueError, KeyError, IndexError, AssertionError, AttributeError, OperationError) as exc:
            # aiortc asserts on lines it cannot parse and meets None where a required line is missing.
            raise Invalid(f"the answer cannot be used: {exc or type(exc).__name__}") from None
        self.negotiating = False

    async def add_candidate(self, candidate: Any, sdp_mid: Any, sdp_mline_index: Any) -> None:
        """A trickled remote candidate; ``candidate`` empty or None means end of candidates."""
        if candidate in (None, ""):
            await self.pc.addIceCandidate(None)
            return
        if not isinstance(candidate, str) or len(candidate) > MAX_CANDIDATE_BYTES:
            raise Invalid("candidate: a string of at most 1024 bytes")
        if not isinstance(sdp_mid, str | None) or not isinstance(sdp_mline_index, int | None):
            raise Invalid("sdpMid must be a string, sdpMLineIndex an integer")
        try:
            parsed = candidate_from_sdp(candidate.removeprefix("candidate:"))
        except (AssertionError, ValueError, IndexError) as exc:  # aiortc asserts on short candidates
            raise Invalid(f"candidate cannot be parsed: {exc}") from None
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index
        if sdp_mid is None and sdp_mline_index is None:
            raise Invalid("a candidate needs sdpMid or sdpMLineIndex")
        await self.pc.addIceCandidate(parsed)

    async def close(self) -> None:
        self.closed = True
        await self.pc.close()


def check_answer(sdp: str) -> None:
    """Refuse an answer aiortc would take and then fail on in the background: every m-line needs its DTLS
    fingerprint and setup role (without them the connection's DTLS task dies on an assertion)."""
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # a third-party parser on untrusted text: any failure means "unusable"
        raise Invalid(f"the answer cannot be parsed: {exc or type(exc).__name__}") from None
    if not parsed.media:
        raise Invalid("the answer has no m-lines")
    for media in parsed.media:
        if media.dtls is None or not media.dtls.fingerprints:
            raise Invalid(f"m-line {media.rtp.muxId or '?'} has no DTLS fingerprint or setup role")
