"""One named check per action. Handlers call these at their top; nothing else compares roles."""

from __future__ import annotations

from server.db.models import Classroom, MemberKind, Recording, Role, User
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


def can_view_recording(user: User, recording: Recording, classroom: Classroom | None) -> bool:
    """Moderators see their classrooms' recordings; enrolled students the published ones; admins all.

    A recording whose classroom was deleted stays visible to admins and to whoever started it.
    """
    if is_admin(user) or recording.started_by_id == user.id:
        return True
    if classroom is None:
        return False
    return is_moderator(user, classroom) or (recording.published and can_see(user, classroom))


def require_can_view_recording(user: User, recording: Recording, classroom: Classroom | None) -> None:
    if not can_view_recording(user, recording, classroom):
        raise NotFound(f"recording {recording.id} does not exist")


def require_can_manage_recording(user: User, recording: Recording, classroom: Classroom | None) -> None:
    """Renaming, publishing and deleting: the classroom's moderators, the starter, admins."""
    require_can_view_recording(user, recording, classroom)
    if not (
        is_admin(user)
        or recording.started_by_id == user.id
        or (classroom is not None and is_moderator(user, classroom))
    ):
        raise Forbidden("only the classroom's moderators may change this recording")


def require_can_record(user: User, classroom: Classroom) -> None:
    """Only moderators press REC."""
    require_can_see(user, classroom)
    if not is_moderator(user, classroom):
        raise Forbidden("only the classroom's moderators can record")


def require_can_stop(user: User, recording: Recording) -> None:
    """Only the moderator who started a recording, or an admin, stops it."""
    if not (is_admin(user) or recording.started_by_id == user.id):
        raise Forbidden("only the moderator who started this recording, or an admin, can stop it")
