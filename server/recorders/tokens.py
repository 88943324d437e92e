"""The robot's credential: a signed, expiring token naming one recording and its classroom.

The robot connects to ``/classroom`` like a browser, but with this token in the socket.io ``auth``
payload instead of a session cookie (itsdangerous signs it with the server's session key).
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "aula-recorder-robot"


@dataclass(frozen=True)
class RobotGrant:
    recording_id: int
    classroom_id: int


class RobotTokens:
    def __init__(self, secret: bytes, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self._max_age = max_age

    def issue(self, recording_id: int, classroom_id: int) -> str:
        return self._serializer.dumps({"recording_id": recording_id, "classroom_id": classroom_id})

    def verify(self, token: object) -> RobotGrant | None:
        if not isinstance(token, str) or len(token) > 512:
            return None
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        recording_id, classroom_id = data.get("recording_id"), data.get("classroom_id")
        if not isinstance(recording_id, int) or not isinstance(classroom_id, int):
            return None
        return RobotGrant(recording_id, classroom_id)
