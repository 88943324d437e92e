"""Classrooms: who owns, moderates and attends them, and their seat limits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.permissions import is_admin, is_moderator
from server.db.models import Classroom, ClassroomMember, MemberKind, User
from server.errors import Invalid, NotFound
from server.timefmt import iso
from server.users import normalise_username, user_ref

NAME_MAX = 120


def check_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise Invalid(f"name: 1 to {NAME_MAX} characters")
    return cleaned


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
    """Replace the moderator and/or student lists; a user is one or the other, never both."""
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


def classroom_json(classroom: Classroom, viewer: User, seats_used: int) -> dict[str, Any]:
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
        "recording": None,
        "can_moderate": is_moderator(viewer, classroom),
        "created_at": iso(classroom.created_at),
    }
