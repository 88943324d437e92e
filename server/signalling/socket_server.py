"""The socket.io server, hardened at the two points python-socketio leaves open to hostile packets.

python-socketio (5.18) hands any client event to the namespace, including ones named ``connect`` or
``disconnect`` (a client could make the server believe it left while it stays connected) and ones whose
data is not ``[name, ...]`` (an ``IndexError`` or ``TypeError`` in its own dispatcher, and no answer). And a
packet its JSON parser cannot read (nested deeper than Python's recursion limit) is dropped with a log line
while the sender waits for an ack forever. There is no public hook for either, so this subclass wraps
``_handle_event`` and ``_handle_eio_message`` (read from python-socketio 5.18.1's ``async_server.py``):
a malformed event is answered with an ``invalid`` error ack, and an unreadable packet closes its sender's
connection, the way an oversized one already does.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import socketio
from socketio import packet

log = logging.getLogger(__name__)


class _Json:
    """The json module python-socketio parses with, turning a too-deep document into a ``ValueError``."""

    JSONDecodeError = json.JSONDecodeError

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> str:
        return json.dumps(*args, **kwargs)

    @staticmethod
    def loads(*args: Any, **kwargs: Any) -> Any:
        try:
            return json.loads(*args, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class ClassroomSocketServer(socketio.AsyncServer):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(json=_Json, **kwargs)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        named = isinstance(data, list) and bool(data) and isinstance(data[0], str)
        if named and data[0] not in self.reserved_events:
            await super()._handle_event(eio_sid, namespace, id, data)
            return
        log.info("malformed socket event refused", extra={"eio_sid": eio_sid})
        if id is not None:
            body = {"error": {"code": "invalid", "message": "an event is [name, payload] with a known name"}}
            await self._send_packet(
                eio_sid, self.packet_class(packet.ACK, namespace=namespace or "/", id=id, data=[body])
            )

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError:
            log.info("unreadable socket packet: closing its connection", extra={"eio_sid": eio_sid})
            await self.eio.disconnect(eio_sid)
