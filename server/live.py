"""How changes made over HTTP, and robots' reports, reach the live classrooms (the namespace implements it).

Every identity a socket acts under is checked again when the state behind it changes: an account deleted,
its role or password changed, a session logged out, a classroom's members changed or the classroom deleted.
HTTP handlers call these after they commit; the namespace re-authorises, updates or disconnects the sockets
concerned, and tells dashboards watching the classroom.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class LiveClassrooms(Protocol):
    async def users_changed(self, user_ids: Iterable[int]) -> None:
        """Accounts were deleted or their role, password or name changed: re-check each of their sockets."""

    async def sessions_ended(self, session_ids: Iterable[str]) -> None:
        """These login sessions were revoked (logout): their sockets are disconnected."""

    async def classroom_changed(self, classroom_id: int) -> None:
        """Name, seats, moderators or students changed: re-check everyone inside and tell watchers."""

    async def classroom_deleted(self, classroom_id: int) -> None:
        """The classroom is gone: everyone inside is sent away, its recording stops, watchers are told."""

    async def recording_media(self, classroom_id: int, recording_id: int, receiving: list[int]) -> None:
        """The recording's robot reports whose media it receives now (about every second): moderators are
        told when that changes, and warned when it is nobody's."""


class NoLiveClassrooms:
    """Before the namespace is attached (and in tools that run without sockets): nothing is live."""

    async def users_changed(self, user_ids: Iterable[int]) -> None:
        return None

    async def sessions_ended(self, session_ids: Iterable[str]) -> None:
        return None

    async def classroom_changed(self, classroom_id: int) -> None:
        return None

    async def classroom_deleted(self, classroom_id: int) -> None:
        return None

    async def recording_media(self, classroom_id: int, recording_id: int, receiving: list[int]) -> None:
        return None
