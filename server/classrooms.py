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
from server.errors import Invalid, NotFound, plain_words
from server.library.recordings import active_statuses
from server.rooms.presence import Presence
from server.timefmt import iso
from server.users import check_form_text, normalise_username, user_ref

NAME_MAX = 120
# The classroom's column for each source a student may publish by default (``student_media`` on the wire).
STUDENT_MEDIA = {"microphone": "student_microphone", "camera": "student_camera", "screen": "student_screen"}


def check_name(name: str) -> str:
    return check_form_text(name, "name", NAME_MAX, "a classroom name")


def check_seat_limit(seat_limit: int, maximum: int) -> int:
    if not 1 <= seat_limit <= maximum:
        raise Invalid.of_field("seat_limit", f"Seats must be between 1 and {maximum}.")
    return seat_limit


def set_student_media(classroom: Classroom, changes: dict[str, bool]) -> None:
    """Set what students may publish by default (``{"camera": false}``); sources not named keep theirs."""
    for source, allowed in changes.items():
        setattr(classroom, STUDENT_MEDIA[source], allowed)


def student_media_json(classroom: Classroom) -> dict[str, bool]:
    return {source: bool(getattr(classroom, column)) for source, column in STUDENT_MEDIA.items()}


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


async def users_by_name(db: AsyncSession, usernames: Iterable[str], field: str = "users") -> list[User]:
    """The users named, in order, without repeats; unknown names are an ``Invalid`` for ``field`` that
    lists them."""
    wanted: list[str] = []
    malformed: list[str] = []
    for name in usernames:
        try:
            wanted.append(normalise_username(name))
        except Invalid:
            malformed.append(name.strip() or repr(name))
    wanted = list(dict.fromkeys(wanted))
    found = {u.username: u for u in await db.scalars(select(User).where(User.username.in_(wanted)))}
    missing = malformed + [name for name in wanted if name not in found]
    if missing:
        listed = ", ".join(missing)
        text = f"There is no user named {listed}." if len(missing) == 1 else f"No users are named {listed}."
        raise Invalid.of_field(field, text)
    return [found[name] for name in wanted]


def set_members(classroom: Classroom, moderators: list[User] | None, students: list[User] | None) -> None:
    """Replace the moderator and/or student lists; a user is one or the other, never both, and only
    teachers and admins are made moderators."""
    if moderators is not None:
        try:
            require_can_be_moderators(moderators)
        except Invalid as exc:
            raise Invalid.of_field("moderators", plain_words(exc.message, "moderators")) from None
    current = {kind: [m.user for m in classroom.members if m.kind == kind] for kind in MemberKind}
    mods = current[MemberKind.MODERATOR] if moderators is None else moderators
    studs = current[MemberKind.STUDENT] if students is None else students
    mod_ids = {u.id for u in mods if u.id != classroom.owner_id}
    stud_ids = {u.id for u in studs if u.id != classroom.owner_id}
    both = mod_ids & stud_ids
    if both:
        names = ", ".join(sorted({u.display_name for u in [*mods, *studs] if u.id in both}))
        raise Invalid.of_field(
            "students", f"Someone cannot be both a moderator and a student: {names}. Choose one."
        )
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
    classroom: Classroom,
    viewer: User,
    seats_used: int,
    present: int,
    recording: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Classroom on the wire with ``viewer``'s rights on it: ``seats_used`` counts the students inside,
    ``present`` everyone inside but the robot; ``recording`` is the RecordingStatus of its active recording
    (``server.library.recordings.active_statuses``)."""
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
        "present": present,
        "student_media": student_media_json(classroom),
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
    return [
        classroom_json(
            c, viewer, presence.seats_used(c.id), presence.people_present(c.id), statuses.get(c.id)
        )
        for c in classrooms
    ]


async def described_classroom(
    db: AsyncSession, presence: Presence, classroom: Classroom, viewer: User
) -> dict[str, Any]:
    """One Classroom as ``viewer`` sees it (what HTTP answers and the socket ``join`` ack carry)."""
    return (await described_classrooms(db, presence, [classroom], viewer))[0]
