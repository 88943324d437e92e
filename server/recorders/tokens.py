"""The robot's credential: a signed token naming one recording, its classroom and that recording's secret.

The robot connects to ``/classroom`` like a browser, but with this token in the socket.io ``auth``
payload instead of a session cookie (itsdangerous signs it with the server's session key). A signature
alone would outlive its recording: recording ids are reused once a recording is deleted, so a token also
carries a random secret that the supervisor stores in ``Recording.robot_secret`` when it starts the robot
(and clears when the recording ends). :func:`robot_allowed` accepts a grant only while its recording is
active, in the classroom the token names, with that secret; ``max_age`` is an upper bound on top.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Recording
from server.library.recordings import is_active

SALT = "aula-recorder-robot"
MAX_TOKEN_CHARS = 512
SECRET_BYTES = 32


@dataclass(frozen=True)
class RobotGrant:
    """What a robot token says: the robot of ``recording_id`` may join ``classroom_id``."""

    recording_id: int
    classroom_id: int
    secret: str


def new_grant(recording_id: int, classroom_id: int) -> RobotGrant:
    """A grant with a fresh secret, for a robot about to start."""
    return RobotGrant(recording_id, classroom_id, secrets.token_urlsafe(SECRET_BYTES))


class RobotTokens:
    def __init__(self, secret: bytes, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self._max_age = max_age

    def issue(self, grant: RobotGrant) -> str:
        return self._serializer.dumps(
            {"recording_id": grant.recording_id, "classroom_id": grant.classroom_id, "secret": grant.secret}
        )

    def verify(self, token: object) -> RobotGrant | None:
        """The grant a token carries if it is well-formed, signed by this server and not too old.

        Whether it still admits anyone is :func:`robot_allowed`'s question.
        """
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            return None
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except BadData:  # bad signature, expired, or a payload that does not decode
            return None
        if not isinstance(data, dict):
            return None
        recording_id, classroom_id, secret = (
            data.get("recording_id"),
            data.get("classroom_id"),
            data.get("secret"),
        )
        if (
            not isinstance(recording_id, int)
            or not isinstance(classroom_id, int)
            or not isinstance(secret, str)
        ):
            return None
        return RobotGrant(recording_id, classroom_id, secret)


async def robot_allowed(db: AsyncSession, grant: RobotGrant) -> Recording | None:
    """The recording whose robot ``grant`` admits, or None: the recording exists, is active, covers the
    grant's classroom (its own, or one of its composite session's) and holds the grant's secret."""
    recording = await db.get(Recording, grant.recording_id)
    if recording is None or not is_active(recording):
        return None
    # The cover must still be the very classroom (its FK is emptied when the classroom is deleted: a new
    # classroom reusing the id is not it) and still held by this recording.
    if not any(
        c.classroom_id == grant.classroom_id and c.active_classroom_id == grant.classroom_id
        for c in recording.covers
    ):
        return None
    stored = recording.robot_secret
    if stored is None or not hmac.compare_digest(stored.encode(), grant.secret.encode()):
        return None
    return recording
