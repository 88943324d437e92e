"""The small error taxonomy every HTTP route and socket.io event speaks.

Handlers raise an ``AppError``; the HTTP middleware and the socket.io namespace render it as
``{"error": {"code", "message"}}``, with ``"fields"`` (field name -> plain words) when the problems are in
named fields of a form, every one at once. Codes are stable: clients switch on them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class AppError(Exception):
    """An error the user can see, with an HTTP status and a stable code."""

    status = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        fields: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or {}
        self.fields = dict(fields or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


class Invalid(AppError):
    status = 400
    code = "invalid"

    @classmethod
    def of_field(cls, field: str, text: str) -> Invalid:
        """One field's problem, in words a person can act on ("Seats must be between 1 and 500.")."""
        return cls(text, fields={field: text})


def plain_words(message: str, field: str) -> str:
    """A checker's ``"field: must not ..."`` message as a sentence to show next to the field."""
    text = message.removeprefix(f"{field}: ").strip()
    if not text:
        return "This is not valid."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


class FieldProblems:
    """Collects the problems of every field of a form so that one ``Invalid`` reports them all."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, field: str, text: str) -> None:
        self.fields.setdefault(field, text)

    def has(self, *fields: str) -> bool:
        return any(field in self.fields for field in fields)

    def check(self, field: str, check: Callable[[], T]) -> T | None:
        """``check()``, or None with its ``Invalid`` noted against ``field`` (or the fields it names)."""
        try:
            return check()
        except Invalid as exc:
            self.note(exc, field)
            return None

    def note(self, exc: Invalid, field: str) -> None:
        if exc.fields:
            for name, text in exc.fields.items():
                self.add(name, text)
        else:
            self.add(field, plain_words(exc.message, field))

    def raise_if_any(self) -> None:
        if self.fields:
            raise self.error()

    def error(self) -> Invalid:
        if len(self.fields) == 1:
            return Invalid(next(iter(self.fields.values())), fields=self.fields)
        return Invalid(f"Please correct the {len(self.fields)} fields marked.", fields=self.fields)


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
