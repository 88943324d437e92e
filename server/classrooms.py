"""Classrooms: who owns, moderates and attends them, and their seat limits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.permissions import (
    can_delete_classroom,
    can_manage_classroom,
    can_record,
    is_admin,
    is_moderator,
    require_can_be_moderators,
)
from server.db.models import Classroom, ClassroomMember, MemberKind, User
from server.errors import Invalid, NotFound
from server.library.recordings import active_statuses
from server.names import check_text
from server.rooms.presence import Presence
from server.timefmt import iso
from server.users import normalise_username, user_ref

NAME_MAX = 120


def check_name(name: str) -> str:
    return check_text(name, "name", NAME_MAX)


def check_seat_limit(seat_limit: int, maximum: int) -> int:
    if not 1 <= seat_limit <= maximum:
        raise Invalid(f"seat_limit: 1 to {maximum}")
    return seat_limit


async def get_classroom(db: AsyncSession, classroom_id: int) -> Classroom:
    classroom = await db.get(Classroom, classroom_id)
    if classroom is None:
        raise NotFound(f"classroom {classroom_id} does not exist")
    return classroom


async def visible_classrooms(db: AsyncSession, user: User) -> Sequence[Classroom]:
    query = select(Classroom).order_by(Classroom.name, Classroom.id)
    if not is_admin(user):
        member_of = select(ClassroomMember.classroom_id).where(ClassroomMember.user_id == user.id)
        query = query.where(or_(Classroom.owner_id == user.id, Classroom.id.in_(member_of)))
    return (await db.scalars(query)).unique().all()


async def users_by_name(db: AsyncSession, usernames: Iterable[str]) -> list[User]:
    """The users named, in order, without repeats; an unknown name is an error that names it."""
    wanted = list(dict.fromkeys(normalise_username(name) for name in usernames))
    found = {u.username: u for u in await db.scalars(select(User).where(User.username.in_(wanted)))}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise Invalid(f"unknown user name(s): {', '.join(missing)}")
    return [found[name] for name in wanted]


def set_members(classroom: Classroom, moderators: list[User] | None, students: list[User] | None) -> None:
    """Replace the moderator and/or student lists; a user is one or the other, never both, and only
    teachers and admins are made moderators."""
    if moderators is not None:
        require_can_be_moderators(moderators)
    current = {kind: [m.user for m in classroom.members if m.kind == kind] for kind in MemberKind}
    mods = current[MemberKind.MODERATOR] if moderators is None else moderators
    studs = current[MemberKind.STUDENT] if students is None else students
    mod_ids = {u.id for u in mods if u.id != classroom.owner_id}
    stud_ids = {u.id for u in studs if u.id != classroom.owner_id}
    both = mod_ids & stud_ids
    if both:
        names = ", ".join(sorted(u.username for u in [*mods, *studs] if u.id in both))
        raise Invalid(f"a user cannot be both moderator and student: {names}")
    wanted = dict.fromkeys(mod_ids, MemberKind.MODERATOR.value)
    wanted.update(dict.fromkeys(stud_ids, MemberKind.STUDENT.value))
    users = {u.id: u for u in [*mods, *studs]}
    kept = [m for m in classroom.members if wanted.get(m.user_id) == m.kind]
    kept_ids = {m.user_id for m in kept}
    added = [
        ClassroomMember(user_id=uid, kind=kind, user=users[uid])
        for uid, kind in wanted.items()
        if uid not in kept_ids
    ]
    classroom.members = kept + added


def classroom_json(
    classroom: Classroom, viewer: User, seats_used: int, recording: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Classroom on the wire with ``viewer``'s rights on it; ``recording`` is the RecordingStatus of its
    active recording (``server.library.recordings.active_statuses``)."""
    members = sorted(classroom.members, key=lambda m: m.user.username)
    return {
        "id": classroom.id,
        "name": classroom.name,
        "seat_limit": classroom.seat_limit,
        "owner": user_ref(classroom.owner),
        "moderators": [user_ref(classroom.owner)]
        + [user_ref(m.user) for m in members if m.kind == MemberKind.MODERATOR],
        "students": [user_ref(m.user) for m in members if m.kind == MemberKind.STUDENT],
        "seats_used": seats_used,
        "recording": recording,
        "can_moderate": is_moderator(viewer, classroom),
        "can_record": can_record(viewer, classroom),
        "can_manage": can_manage_classroom(viewer, classroom),
        "can_delete": can_delete_classroom(viewer, classroom),
        "created_at": iso(classroom.created_at),
    }


async def described_classrooms(
    db: AsyncSession, presence: Presence, classrooms: Sequence[Classroom], viewer: User
) -> list[dict[str, Any]]:
    """Classrooms as ``viewer`` sees them, with live seats and recordings (one query for all)."""
    statuses = await active_statuses(db, [c.id for c in classrooms])
    return [classroom_json(c, viewer, presence.seats_used(c.id), statuses.get(c.id)) for c in classrooms]


async def described_classroom(
    db: AsyncSession, presence: Presence, classroom: Classroom, viewer: User
) -> dict[str, Any]:
    """One Classroom as ``viewer`` sees it (what HTTP answers and the socket ``join`` ack carry)."""
    return (await described_classrooms(db, presence, [classroom], viewer))[0]
