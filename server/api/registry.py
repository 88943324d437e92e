"""Routes declared once, with what OpenAPI needs to describe them (summary, who may call, body model)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from server.errors import Invalid

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    summary: str
    access: str
    body: type[BaseModel] | None
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
        body: type[BaseModel] | None = None,
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


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse the JSON body into ``model``; any problem is a 400 that names the field."""
    try:
        raw = await request.json()
    except ValueError:
        raise Invalid("the body must be JSON") from None
    if not isinstance(raw, dict):
        raise Invalid("the body must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Invalid(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def match_int(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit() or len(value) > 12:
        raise Invalid(f"{name}: must be a positive integer")
    return int(value)


def json_response(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status)
