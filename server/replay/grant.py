"""The replay publisher's credential: a signed token naming one classroom, the recording it plays and a
secret held only by the replay that is live now.

It is a kind of its own beside the recorder robot's :class:`~server.recorders.tokens.RobotGrant`: another
salt, so neither token is ever read as the other, and no database row: a replay lives in the server's memory
(``server.replay.supervisor``), so its grant admits its process only while that replay is live. A stopped or
ended replay forgets its secret, and every token issued for it is dead at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

SALT = "aula-replay-publisher"
MAX_TOKEN_CHARS = 512
SECRET_BYTES = 32
REPLAY_ID_BASE = 1 << 52
"""The replay publisher of classroom ``c`` is user ``-(REPLAY_ID_BASE + c)``: negative like the recorder
robot (``-recording.id``), but in a range of its own, which recording ids never reach, and still held
exactly by JavaScript's numbers (``< 2**53``)."""


def replay_user_id(classroom_id: int) -> int:
    return -(REPLAY_ID_BASE + classroom_id)


@dataclass(frozen=True)
class ReplayGrant:
    """What a replay token says: the replay of ``recording_id`` may publish into ``classroom_id``."""

    classroom_id: int
    recording_id: int
    secret: str


def new_replay_grant(classroom_id: int, recording_id: int) -> ReplayGrant:
    return ReplayGrant(classroom_id, recording_id, secrets.token_urlsafe(SECRET_BYTES))


class ReplayTokens:
    def __init__(self, secret: bytes, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self._max_age = max_age

    def issue(self, grant: ReplayGrant) -> str:
        return self._serializer.dumps(
            {"classroom_id": grant.classroom_id, "recording_id": grant.recording_id, "secret": grant.secret}
        )

    def verify(self, token: object) -> ReplayGrant | None:
        """The grant a token carries if it is well-formed, signed by this server (as a replay token) and not
        too old; whether its replay is still live is the supervisor's question (``allowed``)."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            return None
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except BadData:
            return None
        if not isinstance(data, dict):
            return None
        classroom_id, recording_id, secret = (
            data.get("classroom_id"),
            data.get("recording_id"),
            data.get("secret"),
        )
        if (
            not isinstance(classroom_id, int)
            or not isinstance(recording_id, int)
            or not isinstance(secret, str)
        ):
            return None
        return ReplayGrant(classroom_id, recording_id, secret)
