"""The small error taxonomy every HTTP route and socket.io event speaks.

Handlers raise an ``AppError``; the HTTP middleware and the socket.io namespace render it as
``{"error": {"code", "message"}}``. Codes are stable: clients switch on them.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error the user can see, with an HTTP status and a stable code."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class Invalid(AppError):
    status = 400
    code = "invalid"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class NotJoined(AppError):
    """A classroom event from a socket that is not (or no longer) seated in a classroom."""

    status = 409
    code = "not_joined"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class RateLimited(AppError):
    status = 429
    code = "rate_limited"


class Unavailable(AppError):
    status = 503
    code = "unavailable"


class Internal(AppError):
    """A bug, reported to the user as one; what caused it changed nothing."""

    status = 500
    code = "internal"
