"""One named check per action. Handlers call these at their top; nothing else compares roles."""

from __future__ import annotations

from server.db.models import Classroom, MemberKind, Role, User
from server.errors import Forbidden, NotFound
from server.rooms.presence import Participant


def is_admin(user: User) -> bool:
    return user.role == Role.ADMIN


def is_moderator(user: User, classroom: Classroom) -> bool:
    """Owner, added moderators and admins moderate a classroom."""
    if is_admin(user) or classroom.owner_id == user.id:
        return True
    return any(m.user_id == user.id and m.kind == MemberKind.MODERATOR for m in classroom.members)


def can_see(user: User, classroom: Classroom) -> bool:
    return is_moderator(user, classroom) or any(m.user_id == user.id for m in classroom.members)


def require_admin(user: User) -> None:
    if not is_admin(user):
        raise Forbidden("only an admin may do this")


def require_can_create_classroom(user: User) -> None:
    if user.role not in (Role.ADMIN, Role.TEACHER):
        raise Forbidden("only teachers and admins create classrooms")


def require_can_see(user: User, classroom: Classroom) -> None:
    """A classroom the user may not see does not exist for them."""
    if not can_see(user, classroom):
        raise NotFound(f"classroom {classroom.id} does not exist")


def require_moderator(user: User, classroom: Classroom) -> None:
    require_can_see(user, classroom)
    if not is_moderator(user, classroom):
        raise Forbidden("only the classroom's moderators may do this")


def require_can_delete_classroom(user: User, classroom: Classroom) -> None:
    require_can_see(user, classroom)
    if not (is_admin(user) or classroom.owner_id == user.id):
        raise Forbidden("only the classroom's owner or an admin may delete it")


def require_moderating(participant: Participant) -> None:
    """A live moderation action (mute request, removal) needs a moderator's seat in the classroom."""
    if not participant.moderator:
        raise Forbidden("only the classroom's moderators may do this")
