"""Dashboards watching classrooms: ``watch_classrooms``, then ``classroom_status`` on every change.

The event only names the classroom; the page reads ``GET /api/classrooms/{id}`` again, so the HTTP answer
stays the one source of the row. It reaches the dashboards of everyone who may see the classroom now and of
everyone who could see it when last told (so a student unenrolled drops the row).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from server.auth.permissions import require_person_connection, who_can_see
from server.classrooms import visible_classrooms
from server.db.models import Classroom, Role, User
from server.services import Services
from server.signalling.membership import MembershipEvents
from server.signalling.namespace_core import Who, event, watcher_room
from server.signalling.protocol import ClassroomStatus, Empty, Ok

# Seats and recording changes reach dashboards at most this often per classroom.
WATCH_COALESCE_SECONDS = 0.5
log = logging.getLogger(__name__)


class WatchEvents(MembershipEvents):
    def __init__(self, svc: Services) -> None:
        super().__init__(svc)
        # Per classroom: the users last told about it.
        self._viewers: dict[int, set[int]] = {}
        self._pending: dict[int, asyncio.Task[None]] = {}

    @event(
        Empty,
        Ok,
        who=Who.CONNECTED,
        errors=("forbidden",),
        summary="follow the status of the classrooms you can see (the dashboard; no seat is taken)",
    )
    async def on_watch_classrooms(self, sid: str, data: Empty) -> Ok:
        conn = self.connection(sid)
        require_person_connection(conn.robot is not None or conn.replay is not None)
        async with self.svc.db() as db:
            user = await db.get(User, conn.user_id)
            classrooms = await visible_classrooms(db, user) if user else []
        for classroom in classrooms:
            self._viewers.setdefault(classroom.id, set()).add(conn.user_id)
        await self.enter_room(sid, watcher_room(conn.user_id))
        return Ok()

    async def notify_watchers(self, classroom_id: int, *, refresh: bool = False) -> None:
        """Tell the dashboards concerned. Seats and recording changes (``refresh=False``) are coalesced:
        at most one ``classroom_status`` per classroom every ``WATCH_COALESCE_SECONDS``, so a flood of
        joins costs dashboards one read, not one per join."""
        if refresh:
            await self._notify_now(classroom_id, refresh=True)
        elif classroom_id not in self._pending:
            self._pending[classroom_id] = asyncio.create_task(self._notify_soon(classroom_id))

    async def disconnect_all(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        await asyncio.gather(*self._pending.values(), return_exceptions=True)
        await super().disconnect_all()

    async def _notify_soon(self, classroom_id: int) -> None:
        try:
            await asyncio.sleep(WATCH_COALESCE_SECONDS)
        finally:
            self._pending.pop(classroom_id, None)
        try:
            await self._notify_now(classroom_id, refresh=False)
        except Exception:
            log.exception("telling dashboards failed", extra={"classroom_id": classroom_id})

    async def _notify_now(self, classroom_id: int, *, refresh: bool) -> None:
        before = self._viewers.get(classroom_id)
        now = await self._current_viewers(classroom_id) if refresh or before is None else before
        if now is None:  # the classroom is gone: those who could see it drop its row
            self._viewers.pop(classroom_id, None)
            now = set()
        else:
            self._viewers[classroom_id] = now
        message = ClassroomStatus(classroom_id=classroom_id)
        for user_id in (before or set()) | now:
            await self.send(message, room=watcher_room(user_id))

    def forget_user(self, user_id: int) -> None:
        super().forget_user(user_id)
        for viewers in self._viewers.values():
            viewers.discard(user_id)

    async def _current_viewers(self, classroom_id: int) -> set[int] | None:
        async with self.svc.db() as db:
            classroom = await db.get(Classroom, classroom_id)
            if classroom is None:
                return None
            admins = set(await db.scalars(select(User.id).where(User.role == Role.ADMIN.value)))
            return who_can_see(classroom, admins)
