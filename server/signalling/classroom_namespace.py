"""The ``/classroom`` socket.io namespace: every event of docs/protocol.md, composed from its parts.

- ``membership``: connecting, joining, leaving, seats, chat, hands, moderation;
- ``media_events``: the peer connection's signalling, and who may receive whose media;
- ``recording_events``: consent answers and the recording's state changes;
- ``watching``: dashboards following their classrooms' status;
- ``access``: re-authorising live sockets when accounts, sessions or classrooms change.

Every event answers through its acknowledgement with ``{"ok": true, ...}`` or ``{"error": {...}}``; a refusal
is also emitted as an ``error`` event to the sender. A refused event changes nothing.
"""

from __future__ import annotations

from server.signalling.access import AccessUpdates
from server.signalling.namespace_core import EVENTS, NAMESPACE, room_name
from server.signalling.recording_events import RecordingEvents
from server.signalling.watching import WatchEvents

__all__ = ["EVENTS", "NAMESPACE", "ClassroomNamespace", "room_name"]


class ClassroomNamespace(AccessUpdates, WatchEvents, RecordingEvents):
    """The namespace the app registers; ``svc.live`` and the supervisor's listener point at it."""
