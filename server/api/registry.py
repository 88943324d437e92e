"""Routes declared once, with what OpenAPI needs to describe them (summary, who may call, body model)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from server.errors import FieldProblems, Invalid, plain_words

M = TypeVar("M", bound="Body")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    summary: str
    access: str
    body: type[Body] | None
    responses: dict[int, str]
    tag: str


@dataclass
class Api:
    """Collects routes from the API modules; ``install`` adds them to an app."""

    routes: list[RouteSpec] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        access: str,
        tag: str,
        body: type[Body] | None = None,
        responses: dict[int, str] | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(
                RouteSpec(method, path, handler, summary, access, body, responses or {200: "OK"}, tag)
            )
            return handler

        return register

    def install(self, app: web.Application) -> None:
        for spec in self.routes:
            app.router.add_route(spec.method, spec.path, spec.handler)


api = Api()


class Body(BaseModel):
    """Every request body: a field the model does not name is an error that names it."""

    model_config = ConfigDict(extra="forbid")


MAX_DEPTH = 32


def _check_shape(document: Any) -> None:
    """Refuse bodies nested deeper than ``MAX_DEPTH`` or holding strings that are not Unicode text (lone
    surrogates such as ``"\\ud800"``, which no database or header can hold); walked without recursion."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise Invalid(f"the body is nested more than {MAX_DEPTH} levels deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    pending.append((key, depth))
                pending.append((item, depth + 1))
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise Invalid("the body holds a string that is not valid Unicode") from None


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse the JSON body into ``model``; any problem is a 400 ``invalid`` whose ``fields`` say, in plain
    words, what is wrong with each field (every one, not only the first).

    Hostile bodies (nested 100 000 levels deep, huge numbers, broken Unicode) are refused the same way,
    never with a 500.
    """
    try:
        raw = json.loads(await request.text())
    except RecursionError:
        # The parser's own limit, hit by deep nesting before any check of ours can run.
        raise Invalid(f"the body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:  # also UnicodeDecodeError: the body is not UTF-8
        raise Invalid("the body must be JSON") from None
    if not isinstance(raw, dict):
        raise Invalid("the body must be a JSON object")
    _check_shape(raw)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise field_problems(exc).error() from None


def field_problems(exc: ValidationError) -> FieldProblems:
    """Every problem pydantic found, keyed by the body's top-level field it is in."""
    problems = FieldProblems()
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        field = loc[0] if loc else "body"
        text = _plain(error["type"], error.get("ctx") or {}, field, nested=len(loc) > 1)
        problems.add(field, text or plain_words(error["msg"], field))
    return problems


def _plain(kind: str, ctx: dict[str, Any], field: str, *, nested: bool) -> str | None:
    """Pydantic's error types as sentences a person filling a form can act on."""
    if kind == "extra_forbidden":
        return f"There is no field named {field!r} here." if not nested else "This holds an unknown entry."
    if kind == "missing":
        return "This is required." if not nested else "An entry is missing."
    if kind.startswith("int_"):
        return "Enter a whole number."
    if kind in {"bool_type", "bool_parsing"}:
        return "Choose yes or no."
    if kind in {"string_type", "string_unicode"}:
        return "Each entry must be text." if nested else "Enter text."
    if kind == "string_too_short":
        minimum = ctx.get("min_length")
        return "This is required." if minimum == 1 else f"Use at least {minimum} characters."
    if kind == "string_too_long":
        return f"Use at most {ctx.get('max_length')} characters."
    if kind == "too_long":
        return f"Give at most {ctx.get('max_length')} entries."
    if kind in {"list_type", "list_from_iterable"}:
        return "This must be a list."
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return "This must be an object."
    if kind == "literal_error":
        return f"Choose one of {ctx.get('expected')}."
    return None


# ASCII digits only: ``str.isdigit`` and ``int`` also take "²", "①" and "١" (Arabic-Indic one), which gave
# a 500 or an alias of an id that a proxy's path rules would not recognise.
_ID = re.compile(r"[0-9]{1,12}")


def match_int(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if _ID.fullmatch(value) is None:
        raise Invalid(f"{name}: must be a positive integer of 1 to 12 ASCII digits")
    return int(value)


def json_response(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status)
