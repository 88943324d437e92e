"""One named check per action. Handlers call these at their top; nothing else compares roles.

``can_*`` answers a question (and is what objects carry to the pages as their rights); ``require_*`` raises
the error the caller sees. Rights are read from the user's role and memberships as they are now, on every
request: a teacher made student, or a moderator removed from a classroom, loses what came with it at once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from server.db.models import Classroom, MemberKind, Recording, RecordingState, Role, User
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.signalling.protocol import SOURCES, Source

if TYPE_CHECKING:  # presence asks these functions who takes a seat, so it is imported for types only
    from server.rooms.presence import Participant


def is_admin(user: User) -> bool:
    return user.role == Role.ADMIN


def can_be_moderator(user: User) -> bool:
    """Only teachers and admins moderate; anyone else named as a moderator is refused."""
    return user.role in (Role.ADMIN, Role.TEACHER)


def is_moderator(user: User, classroom: Classroom) -> bool:
    """Admins, and the owner and added moderators while they are teachers."""
    if is_admin(user):
        return True
    if not can_be_moderator(user):
        return False
    return classroom.owner_id == user.id or any(
        m.user_id == user.id and m.kind == MemberKind.MODERATOR for m in classroom.members
    )


def can_see(user: User, classroom: Classroom) -> bool:
    """Its moderators, its owner and enrolled students, and admins see a classroom."""
    return (
        is_moderator(user, classroom)
        or classroom.owner_id == user.id
        or any(m.user_id == user.id for m in classroom.members)
    )


# -- accounts -----------------------------------------------------------------------------------------------


def can_manage_users(user: User) -> bool:
    return is_admin(user)


def require_admin(user: User) -> None:
    if not is_admin(user):
        raise Forbidden("only an admin may do this")


def can_delete_user(acting: User, user: User) -> bool:
    """Admins delete accounts, never their own (someone must be left to administer)."""
    return is_admin(acting) and acting.id != user.id


def require_can_search_directory(user: User) -> None:
    """The user directory (the classroom forms' picker) is for those who fill classrooms: teachers and
    admins, who may also be made moderators."""
    if not can_be_moderator(user):
        raise Forbidden("only teachers and admins can search the user directory")


# -- classrooms ---------------------------------------------------------------------------------------------


def can_create_classroom(user: User) -> bool:
    return user.role in (Role.ADMIN, Role.TEACHER)


def require_can_create_classroom(user: User) -> None:
    if not can_create_classroom(user):
        raise Forbidden("only teachers and admins create classrooms")


def require_can_see(user: User, classroom: Classroom) -> None:
    """A classroom the user may not see does not exist for them."""
    if not can_see(user, classroom):
        raise NotFound(f"classroom {classroom.id} does not exist")


def require_moderator(user: User, classroom: Classroom) -> None:
    require_can_see(user, classroom)
    if not is_moderator(user, classroom):
        raise Forbidden("only the classroom's moderators may do this")


def can_manage_classroom(user: User, classroom: Classroom) -> bool:
    """Renaming, resizing, and choosing moderators and students: the classroom's moderators."""
    return is_moderator(user, classroom)


def require_can_manage_classroom(user: User, classroom: Classroom) -> None:
    require_can_see(user, classroom)
    if not can_manage_classroom(user, classroom):
        raise Forbidden("only the classroom's moderators may change it")


def can_delete_classroom(user: User, classroom: Classroom) -> bool:
    return is_admin(user) or (classroom.owner_id == user.id and can_be_moderator(user))


def require_can_delete_classroom(user: User, classroom: Classroom) -> None:
    require_can_see(user, classroom)
    if not can_delete_classroom(user, classroom):
        raise Forbidden("only the classroom's owner or an admin may delete it")


def require_can_be_moderators(users: list[User]) -> None:
    """Everyone named as a classroom's moderator must be a teacher or an admin."""
    refused = [u.username for u in users if not can_be_moderator(u)]
    if refused:
        raise Invalid(f"moderators: only teachers and admins can moderate, not {', '.join(refused)}")


def require_moderating(participant: Participant) -> None:
    """A live moderation action (mute request, removal) needs a moderator's seat in the classroom."""
    if not participant.moderator:
        raise Forbidden("only the classroom's moderators may do this")


# -- recordings ---------------------------------------------------------------------------------------------


def _is_active(recording: Recording) -> bool:
    # Only ready and failed are final (``server.library.recordings.TRANSITIONS``).
    return RecordingState(recording.state) not in (RecordingState.READY, RecordingState.FAILED)


def _orphan_starter(user: User, recording: Recording) -> bool:
    """A recording whose classroom is gone stays with whoever started it while they may still teach."""
    return recording.started_by_id == user.id and can_be_moderator(user)


def can_view_recording(user: User, recording: Recording, classroom: Classroom | None) -> bool:
    """Moderators see their classrooms' recordings; enrolled students the published ones; admins all.

    A recording whose classroom was deleted stays visible to admins and, while they are a teacher or an
    admin, to whoever started it.
    """
    if is_admin(user):
        return True
    if classroom is None:
        return _orphan_starter(user, recording)
    return is_moderator(user, classroom) or (recording.published and can_see(user, classroom))


def require_can_view_recording(user: User, recording: Recording, classroom: Classroom | None) -> None:
    if not can_view_recording(user, recording, classroom):
        raise NotFound(f"recording {recording.id} does not exist")


def can_manage_recording(user: User, recording: Recording, classroom: Classroom | None) -> bool:
    """Renaming, publishing and deleting: admins and the classroom's moderators as they are now (a starter
    who is no longer a moderator lost it); a deleted classroom's recording: admins and its starter."""
    if is_admin(user):
        return True
    if classroom is None:
        return _orphan_starter(user, recording)
    return is_moderator(user, classroom)


def require_can_manage_recording(user: User, recording: Recording, classroom: Classroom | None) -> None:
    """For a recording the caller has found ``user`` may view (``server.library.recordings.require_viewable``,
    through any classroom it covers): 403 unless they may manage it as its own classroom's."""
    if not can_manage_recording(user, recording, classroom):
        raise Forbidden("only the classroom's moderators may change this recording")


def can_record(user: User, classroom: Classroom) -> bool:
    """Only moderators press REC."""
    return is_moderator(user, classroom)


def require_can_record(user: User, classroom: Classroom) -> None:
    require_can_see(user, classroom)
    if not can_record(user, classroom):
        raise Forbidden("only the classroom's moderators can record")


def can_stop_recording(user: User, recording: Recording, classroom: Classroom | None) -> bool:
    """An active recording is stopped by an admin, or by its starter while they still moderate its
    classroom."""
    if not _is_active(recording):
        return False
    if is_admin(user):
        return True
    return recording.started_by_id == user.id and classroom is not None and is_moderator(user, classroom)


def require_can_stop(user: User, recording: Recording, classroom: Classroom | None) -> None:
    if not can_stop_recording(user, recording, classroom):
        raise Forbidden("only the moderator who started this recording, or an admin, can stop it")


def can_bookmark(user: User, recording: Recording, classroom: Classroom | None) -> bool:
    """Bookmarks are added by whoever may record in the recording's classroom (a deleted classroom's
    recording is not running, so it takes none)."""
    return classroom is not None and can_record(user, classroom)


def require_can_bookmark(user: User, recording: Recording, classroom: Classroom | None) -> None:
    """For a recording the caller has found ``user`` may view (as :func:`require_can_manage_recording`)."""
    if not can_bookmark(user, recording, classroom):
        raise Forbidden("only the classroom's moderators may add bookmarks")


def require_can_use_codes(user: User, classroom: Classroom) -> None:
    """A classroom's codes lists are its moderators': they edit them and pick one at REC."""
    require_can_see(user, classroom)
    if not can_record(user, classroom):
        raise Forbidden("only the classroom's moderators may see or change its codes lists")


def can_replay(user: User, classroom: Classroom) -> bool:
    """Playing a recording into a live classroom, and pausing, resuming or stopping it: its moderators."""
    return is_moderator(user, classroom)


def require_can_control_replay(user: User, classroom: Classroom) -> None:
    require_can_see(user, classroom)
    if not can_replay(user, classroom):
        raise Forbidden("only the classroom's moderators may replay a recording here")


def require_can_replay(
    user: User, classroom: Classroom, recording: Recording, recording_classroom: Classroom | None
) -> None:
    """A moderator of the classroom replays a recording they may view (one they may not does not exist for
    them), once it is ready."""
    require_can_control_replay(user, classroom)
    require_can_view_recording(user, recording, recording_classroom)
    if RecordingState(recording.state) != RecordingState.READY:
        raise Conflict("this recording is not ready to be replayed yet")


# -- live classroom ---------------------------------------------------------------------------------------


def is_person(participant: Participant) -> bool:
    """Neither the recorder robot nor a replay: someone counted as present."""
    return not participant.robot and not participant.replay


def require_person(participant: Participant) -> None:
    """Chat, hands, consent and moderation are for people: the recorder robot only listens and watches,
    a replay only plays its file."""
    if participant.robot:
        raise Forbidden("the recorder robot cannot do this")
    if participant.replay:
        raise Forbidden("a replay cannot do this")


def require_can_publish(participant: Participant, sources: list[str]) -> None:
    """The robot publishes nothing; people publish what they ask for."""
    if participant.robot and sources:
        raise Forbidden("the recorder robot publishes nothing")


def can_be_removed(participant: Participant) -> bool:
    """Moderators, the robot and a replay are never removed by ``remove`` (a replay is stopped by its
    route): only people without a moderator's seat."""
    return is_person(participant) and not participant.moderator


def can_be_asked_to_mute(participant: Participant) -> bool:
    return is_person(participant)


def require_can_remove(moderator: Participant, target: Participant) -> None:
    require_moderating(moderator)
    if not can_be_removed(target):
        raise Forbidden("moderators cannot be removed")


def require_can_request_mute(moderator: Participant, target: Participant) -> None:
    require_moderating(moderator)
    if not can_be_asked_to_mute(target):
        raise Forbidden("the recorder robot has nothing to mute")


def require_robot_classroom(robot_classroom_id: int, classroom_id: int) -> None:
    """A robot's token names the one classroom it records."""
    if robot_classroom_id != classroom_id:
        raise Forbidden("the robot may join only the classroom it records")


def may_receive(participant: Participant) -> bool:
    """A replay receives nobody's media: it only plays its file."""
    return not participant.replay


def replay_reaches_robot(publisher: Participant) -> bool:
    """A replay reaches the recorder robot whatever the consent mode: it plays a recording already made
    with its participants' consent, and a REC running meanwhile records it like any publisher."""
    return publisher.replay


def require_replay_classroom(replay_classroom_id: int, classroom_id: int) -> None:
    """A replay's grant names the one classroom it plays into."""
    if replay_classroom_id != classroom_id:
        raise Forbidden("a replay may join only the classroom it plays into")


def may_reach_robot(consent_mode: str, consent: bool | None) -> bool:
    """Whether a participant's media may be forwarded to the recorder robot: in ``ask`` mode only after
    they accepted; in ``notice`` mode always (the notice tells everyone)."""
    return consent_mode != "ask" or consent is True


def require_person_connection(robot: bool) -> None:
    """Dashboards are for people; the robot's token is good for its classroom only."""
    if robot:
        raise Forbidden("the recorder robot cannot do this")


def who_can_see(classroom: Classroom, admin_ids: set[int]) -> set[int]:
    """Every user ``can_see`` lets into ``classroom``: its owner, its members and the admins."""
    return {classroom.owner_id, *(member.user_id for member in classroom.members), *admin_ids}


def require_consent_asked(consent_mode: str) -> None:
    """Consent answers exist only where the server asks for them."""
    if consent_mode != "ask":
        raise Forbidden("this server records with a notice; there is nothing to answer")


def takes_a_seat(participant: Participant) -> bool:
    """A seat limit counts students: moderators (owner, added moderators, admins) always get in, and the
    recorder robot and a replay never take a seat."""
    return is_person(participant) and not participant.moderator


# -- what participants may publish --------------------------------------------------------------------------

REPLAY_SOURCES: tuple[Source, ...] = ("microphone", "camera")
"A replay sends the file's sound as its microphone and its picture as its camera."


def student_media_defaults(classroom: Classroom) -> set[Source]:
    """The sources a classroom's students may send unless a moderator decides otherwise for one of them."""
    allowed = {
        "microphone": classroom.student_microphone,
        "camera": classroom.student_camera,
        "screen": classroom.student_screen,
    }
    return {source for source in SOURCES if allowed[source]}


def media_rights_editable(participant: Participant) -> bool:
    """Only students' sources are a moderator's to allow or deny (not a moderator's, the robot's or a
    replay's)."""
    return is_person(participant) and not participant.moderator


def may_publish(
    participant: Participant, defaults: Collection[str], overrides: Mapping[str, bool] | None = None
) -> list[Source]:
    """What a participant may send: moderators everything, the robot nothing, a student the classroom's
    defaults with a moderator's live decisions for them applied."""
    if participant.robot:
        return []
    if participant.replay:
        return list(REPLAY_SOURCES)
    if participant.moderator:
        return list(SOURCES)
    decided = overrides or {}
    return [source for source in SOURCES if decided.get(source, source in defaults)]


def require_may_publish(participant: Participant, sources: Collection[str]) -> None:
    """A student publishes only what the classroom or a moderator allows them."""
    for source in SOURCES:
        if source in sources and source not in participant.may_publish:
            raise Forbidden(f"the moderator has not allowed your {source}")


def require_can_set_media_rights(moderator: Participant, target: Participant) -> None:
    require_moderating(moderator)
    if not media_rights_editable(target):
        raise Forbidden("only students' microphone, camera and screen can be allowed or denied")


def require_can_lower_hand(moderator: Participant) -> None:
    """Lowering someone else's hand is a moderator's; anyone lowers their own with ``hand``."""
    require_moderating(moderator)


def may_return_after_removal(participant: Participant) -> bool:
    """Someone a moderator removed stays out until the classroom empties; moderators are never kept out."""
    return participant.moderator
