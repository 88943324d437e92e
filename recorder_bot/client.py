"""A classroom participant without a browser: socket.io signalling and one aiortc peer connection.

It speaks docs/protocol.md exactly as the web page does (join, ``media_join``, answer every offer), so
the recorder robot, the tests and the benchmarks all reach the server the way a browser does. Payloads are
built from, and offers read through, the protocol's own models (``server.signalling.protocol``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import socketio
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCBundlePolicy

from server.signalling.protocol import Join, MediaAnswer, MediaJoin, MediaJoinAck, MediaSourceRef, Offer

log = logging.getLogger(__name__)

NAMESPACE = "/classroom"
ACK_TIMEOUT = 10.0


class ClassroomError(Exception):
    """The server refused an event: ``code`` and ``message`` as in docs/protocol.md."""

    def __init__(self, event: str, code: str, message: str) -> None:
        super().__init__(f"{event}: {code}: {message}")
        self.event = event
        self.code = code


@dataclass(frozen=True)
class RemoteSource:
    """One other participant's source, as this client receives it."""

    mid: str
    user_id: int
    source: str
    track: MediaStreamTrack
    receiver: RTCRtpReceiver


class ClassroomClient:
    """Join a classroom, publish ``tracks`` (by source name), and receive every other source."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        tracks: dict[str, MediaStreamTrack] | None = None,
        on_source: Callable[[RemoteSource], None] | None = None,
        auth: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.auth = auth
        self.tracks = dict(tracks or {})
        self.on_source = on_source or (lambda source: None)
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pc: RTCPeerConnection | None = None
        self.sources: dict[str, RemoteSource] = {}
        self.offers_answered = 0
        self.events: dict[str, asyncio.Queue[Any]] = {}
        self._offers: asyncio.Queue[Offer] = asyncio.Queue()
        self._answering: asyncio.Task[None] | None = None
        self._publish_mids: dict[str, str] = {}
        self.sio.on("media_offer", self._offer_arrived, namespace=NAMESPACE)
        self.sio.on("*", self._record, namespace=NAMESPACE)

    async def connect(self) -> None:
        await self.sio.connect(
            self.base_url,
            namespaces=[NAMESPACE],
            headers=self.headers,
            auth=self.auth,
            transports=["websocket"],
            wait_timeout=10,
        )

    async def call(self, event: str, data: Any = None) -> dict[str, Any]:
        answer: dict[str, Any] = await self.sio.call(
            event, data or {}, namespace=NAMESPACE, timeout=ACK_TIMEOUT
        )
        if "error" in answer:
            raise ClassroomError(event, answer["error"]["code"], answer["error"]["message"])
        return answer

    async def join(self, classroom_id: int) -> dict[str, Any]:
        return await self.call("join", Join(classroom_id=classroom_id).model_dump())

    async def start_media(self) -> None:
        """Open the peer connection: publish ``tracks`` and receive the others."""
        publish = MediaJoin.model_validate({"publish": list(self.tracks)})
        joined = MediaJoinAck.model_validate(
            await self.call("media_join", publish.model_dump()), strict=False
        )
        servers = [RTCIceServer(**server.model_dump(exclude_none=True)) for server in joined.ice_servers]
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        await self._answer(joined.offer)
        self._answering = asyncio.ensure_future(self._answer_offers())

    async def close(self) -> None:
        if self._answering is not None:
            self._answering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._answering
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        if self.pc is not None:
            await self.pc.close()

    async def next_event(self, event: str, wait: float = 10) -> Any:
        return await asyncio.wait_for(self._queue(event).get(), wait)

    def _queue(self, event: str) -> asyncio.Queue[Any]:
        return self.events.setdefault(event, asyncio.Queue())

    async def _record(self, event: str, data: Any = None) -> None:
        self._queue(event).put_nowait(data)

    async def _offer_arrived(self, offer: dict[str, Any]) -> None:
        self._offers.put_nowait(Offer.model_validate(offer))

    async def _answer_offers(self) -> None:
        while True:
            offer = await self._offers.get()
            try:
                await self._answer(offer)
            except Exception:
                log.exception("answering offer %s failed", offer.revision)

    async def _answer(self, offer: Offer) -> None:
        assert self.pc is not None
        if self.pc.signalingState == "closed":
            return
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        self._publish_mids = offer.publish_mids
        by_mid = {mid: source for source, mid in self._publish_mids.items()}
        for transceiver in self.pc.getTransceivers():
            source = by_mid.get(transceiver.mid or "")
            if source is not None and source in self.tracks and transceiver.sender.track is None:
                transceiver.sender.replaceTrack(self.tracks[source])
                transceiver.direction = "sendonly"
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = MediaAnswer(revision=offer.revision, sdp=self.pc.localDescription.sdp)
        await self.call("media_answer", answer.model_dump())
        self.offers_answered += 1
        self._notice_sources(offer.sources)

    def _notice_sources(self, sources: dict[str, MediaSourceRef]) -> None:
        assert self.pc is not None
        for transceiver in self.pc.getTransceivers():
            mid = transceiver.mid
            described = sources.get(mid or "")
            if mid is None or described is None or mid in self.sources:
                continue
            remote = RemoteSource(
                mid,
                described.user_id,
                described.source,
                transceiver.receiver.track,
                transceiver.receiver,
            )
            self.sources[mid] = remote
            self.on_source(remote)
