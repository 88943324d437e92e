"""The media side of one classroom: its router, every participant's peer, and what each m-line carries.

A participant publishes up to three sources (microphone, camera, screen) on receiving m-lines the server
opens for them, and receives every other participant's sources on legs the router adds. Each offer tells
the client which of its m-lines are for publishing (``publish_mids``) and whose source every other m-line
carries (``sources``), so a page can label tiles and the recorder can lay out its mix.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from aiortc.exceptions import InvalidStateError

from server.errors import Conflict, NotFound
from server.media.peer import MediaPeer
from server.media.router import Router, RouterConfig

log = logging.getLogger(__name__)

SOURCE_KINDS = {"microphone": "audio", "camera": "video", "screen": "video"}


class MediaSignals(Protocol):
    """How the classroom's media reaches the participants (the socket.io namespace)."""

    async def send_offer(self, classroom_id: int, user_id: int, offer: dict[str, Any]) -> None: ...

    async def speaker_changed(self, classroom_id: int, user_id: int | None) -> None: ...

    def may_forward(self, classroom_id: int, publisher_id: int, subscriber_id: int) -> bool:
        """Whether anything of ``publisher_id`` may reach ``subscriber_id`` (recording consent)."""
        ...

    def may_send(self, classroom_id: int, publisher_id: int, source: str | None) -> bool:
        """Whether ``publisher_id``'s ``source`` may be forwarded to anyone (a student's media rights);
        ``source`` is None for an m-line that was never opened for publishing."""
        ...

    async def peer_failed(self, classroom_id: int, user_id: int) -> None:
        """The peer connection of ``user_id`` failed and was closed."""
        ...


class ClassroomMedia:
    """Every peer connection of one classroom and the router between them."""

    def __init__(
        self, classroom_id: int, config: RouterConfig, stun_servers: tuple[str, ...], signals: MediaSignals
    ) -> None:
        self.classroom_id = classroom_id
        self._stun_servers = stun_servers
        self._signals = signals
        self.router = Router(
            config,
            on_negotiation_needed=self._negotiation_needed,
            on_active_speaker=self._speaker_changed,
            may_forward=lambda publisher, subscriber: signals.may_forward(
                classroom_id, int(publisher), int(subscriber)
            ),
            may_carry=lambda publisher, mid: signals.may_send(
                classroom_id, int(publisher), self._published.get(int(publisher), {}).get(mid or "")
            ),
        )
        self.peers: dict[int, MediaPeer] = {}
        # Per publisher: which of its m-lines carries which source, once the m-line has a mid.
        self._published: dict[int, dict[str, str]] = {}
        self._unassigned: dict[int, list[tuple[Any, str]]] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    @property
    def empty(self) -> bool:
        return not self.peers

    async def join(self, user_id: int, publish: list[str]) -> dict[str, Any]:
        """A new peer for ``user_id`` (replacing any older one); returns the first offer."""
        await self.leave(user_id)
        peer = MediaPeer(str(user_id), self._stun_servers)
        self.peers[user_id] = peer
        self._published[user_id] = {}

        @peer.pc.on("connectionstatechange")
        def _state_changed() -> None:
            # A tab gone without a word: ICE consent fails; the page starts a new peer if it is alive. A
            # peer the client closed without ``media_leave`` ends the same way (the server's own closes
            # take the peer out of ``peers`` first).
            failed = peer.pc.connectionState in ("failed", "closed")
            if failed and self.peers.get(user_id) is peer:
                self._spawn(self._failed(user_id, peer))

        self._open_publishing(user_id, peer, publish)
        if not publish:
            # A receive-only first arrival would get an offer without any m-line, which browsers reject
            # (an empty BUNDLE group). An audio m-line that is not offered for publishing keeps it valid;
            # the client leaves it inactive.
            self.router.prepare_publisher(peer.pc, ("audio",))
        self.router.add_subscriber(peer.key, peer.pc)
        return await self._offer(user_id, peer)

    async def publish_screen(self, user_id: int) -> bool:
        """Open a screen m-line for ``user_id`` once (later shares reuse it); True if an offer follows."""
        peer = self._peer(user_id)
        if "screen" in self._published[user_id].values() or any(
            source == "screen" for _, source in self._unassigned.get(user_id, [])
        ):
            return False
        self._open_publishing(user_id, peer, ["screen"])
        await peer.renegotiate(lambda offer: self._send(user_id, offer))
        return True

    async def answer(self, user_id: int, revision: Any, sdp: Any) -> None:
        peer = self._peer(user_id)
        await peer.accept_answer(revision, sdp)
        self.router.add_publisher(peer.key, peer.pc)
        self.router.negotiation_complete(peer.key)
        if peer.pending:
            await peer.renegotiate(lambda offer: self._send(user_id, offer))

    async def candidate(self, user_id: int, candidate: Any, sdp_mid: Any, sdp_mline_index: Any) -> None:
        await self._peer(user_id).add_candidate(candidate, sdp_mid, sdp_mline_index)

    async def refresh_forwarding(self, user_id: int) -> None:
        """``may_forward`` or ``may_send`` changed for what ``user_id`` publishes: legs follow at once."""
        peer = self.peers.get(user_id)
        if peer is not None:
            await self.router.refresh(peer.key)

    async def _failed(self, user_id: int, peer: MediaPeer) -> None:
        # The task runs later: a media_join of the same user may have replaced the failed peer meanwhile
        # (Reconnect), and the new one must not be closed in its place.
        if self.peers.get(user_id) is not peer:
            return
        await self.leave(user_id)
        await self._signals.peer_failed(self.classroom_id, user_id)

    async def leave(self, user_id: int) -> None:
        peer = self.peers.pop(user_id, None)
        self._published.pop(user_id, None)
        self._unassigned.pop(user_id, None)
        if peer is None:
            return
        await self.router.remove(peer.key)
        await peer.close()

    async def close(self) -> None:
        for user_id in list(self.peers):
            await self.leave(user_id)
        await self.router.close()
        for task in list(self._tasks):
            task.cancel()

    def publishing(self, user_id: int) -> list[str]:
        """The sources ``user_id`` has agreed to send (their m-lines are negotiated and forwarded)."""
        peer = self.peers.get(user_id)
        if peer is None:
            return []
        forwarded = {
            stream.mid
            for stream in self.router.streams(peer.key)
            if stream.mid is not None and not stream.withheld
        }
        published = self._published.get(user_id, {})
        return [source for source in SOURCE_KINDS if any(published.get(mid) == source for mid in forwarded)]

    # -- internals ---------------------------------------------------------------------------------------

    def _peer(self, user_id: int) -> MediaPeer:
        peer = self.peers.get(user_id)
        if peer is None:
            raise NotFound("start media first (media_join)")
        return peer

    def _open_publishing(self, user_id: int, peer: MediaPeer, sources: list[str]) -> None:
        kinds = tuple(SOURCE_KINDS[source] for source in sources)
        transceivers = self.router.prepare_publisher(peer.pc, kinds)
        self._unassigned.setdefault(user_id, []).extend(zip(transceivers, sources, strict=True))

    async def _offer(self, user_id: int, peer: MediaPeer) -> dict[str, Any]:
        try:
            offer = await peer.make_offer()
        except InvalidStateError:  # closed meanwhile by a newer join of the same user
            offer = None
        if offer is None or self.peers.get(user_id) is not peer:
            raise Conflict("a newer media_join of yours (another tab?) replaced this one")
        return self._describe(user_id, peer, offer)

    async def _send(self, user_id: int, offer: dict[str, Any]) -> None:
        peer = self.peers.get(user_id)
        if peer is not None:
            await self._signals.send_offer(self.classroom_id, user_id, self._describe(user_id, peer, offer))

    def _describe(self, user_id: int, peer: MediaPeer, offer: dict[str, Any]) -> dict[str, Any]:
        """The offer as sent: which m-lines the client publishes on and whose source each other carries."""
        published = self._published[user_id]
        # Transceivers get their mid from the offer just made.
        for transceiver, opened in self._unassigned.pop(user_id, []):
            if transceiver.mid is not None:
                published[transceiver.mid] = opened
        sources: dict[str, dict[str, Any]] = {}
        for leg in self.router.legs(peer.key):
            publisher = int(leg.stream.participant_id)
            source = self._published.get(publisher, {}).get(leg.stream.mid or "")
            if leg.transceiver.mid is not None and source is not None:
                sources[leg.transceiver.mid] = {"user_id": publisher, "source": source}
        return {
            **offer,
            "publish_mids": {source: mid for mid, source in published.items()},
            "sources": sources,
        }

    def _negotiation_needed(self, key: str) -> None:
        user_id = int(key)
        peer = self.peers.get(user_id)
        if peer is not None:
            self._spawn(peer.renegotiate(lambda offer: self._send(user_id, offer)))

    def _speaker_changed(self, key: str | None) -> None:
        self._spawn(self._signals.speaker_changed(self.classroom_id, None if key is None else int(key)))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(self._guarded(coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            await coroutine
        except Exception:
            log.exception("media task failed")
