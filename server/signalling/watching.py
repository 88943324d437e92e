"""Dashboards watching classrooms: ``watch_classrooms``, then ``classroom_status`` on every change.

The event only names the classroom; the page reads ``GET /api/classrooms/{id}`` again, so the HTTP answer
stays the one source of the row. It reaches the dashboards of everyone who may see the classroom now and of
everyone who could see it when last told (so a student unenrolled drops the row).
"""

from __future__ import annotations

from sqlalchemy import select

from server.auth.permissions import require_person_connection, who_can_see
from server.classrooms import visible_classrooms
from server.db.models import Classroom, Role, User
from server.services import Services
from server.signalling.membership import MembershipEvents
from server.signalling.namespace_core import Who, event, watcher_room
from server.signalling.protocol import ClassroomStatus, Empty, Ok

ALL_WATCHERS = "watching:all"


class WatchEvents(MembershipEvents):
    def __init__(self, svc: Services) -> None:
        super().__init__(svc)
        # Per classroom: the users last told about it.
        self._viewers: dict[int, set[int]] = {}

    @event(
        Empty,
        Ok,
        who=Who.CONNECTED,
        errors=("forbidden",),
        summary="follow the status of the classrooms you can see (the dashboard; no seat is taken)",
    )
    async def on_watch_classrooms(self, sid: str, data: Empty) -> Ok:
        conn = self.connection(sid)
        require_person_connection(conn.robot is not None)
        async with self.svc.db() as db:
            user = await db.get(User, conn.user_id)
            classrooms = await visible_classrooms(db, user) if user else []
        for classroom in classrooms:
            self._viewers.setdefault(classroom.id, set()).add(conn.user_id)
        await self.enter_room(sid, watcher_room(conn.user_id))
        await self.enter_room(sid, ALL_WATCHERS)
        return Ok()

    async def notify_watchers(self, classroom_id: int, *, refresh: bool = False) -> None:
        before = self._viewers.get(classroom_id)
        if before is None and not refresh:
            refresh = True
        now = await self._current_viewers(classroom_id) if refresh else before or set()
        message = ClassroomStatus(classroom_id=classroom_id)
        if now is None:  # the classroom is gone
            self._viewers.pop(classroom_id, None)
            if before is None:
                await self.send(message, room=ALL_WATCHERS)
                return
            now = set()
        else:
            self._viewers[classroom_id] = now
        for user_id in (before or set()) | now:
            await self.send(message, room=watcher_room(user_id))

    async def _current_viewers(self, classroom_id: int) -> set[int] | None:
        async with self.svc.db() as db:
            classroom = await db.get(Classroom, classroom_id)
            if classroom is None:
                return None
            admins = set(await db.scalars(select(User.id).where(User.role == Role.ADMIN.value)))
            return who_can_see(classroom, admins)
