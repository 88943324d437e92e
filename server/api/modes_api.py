"""Which recording modes teachers may use (``recording_modes``): anyone logged in reads them (the classroom
page offers only those), the admin changes them in the Users page."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from server.api.registry import Body, api, json_response, read_body
from server.auth.permissions import require_admin
from server.auth.sessions import require_user
from server.db.models import ALL_RECORDING_MODES
from server.errors import Invalid
from server.library.modes import DESCRIPTIONS, allowed_modes, set_allowed_modes
from server.services import services


class ModesBody(Body):
    # Checked against the five modes by set_allowed_modes, which names the unknown one.
    allowed: list[str] = Field(max_length=len(ALL_RECORDING_MODES) * 2)


def modes_json(allowed: tuple[str, ...]) -> dict[str, Any]:
    """``{"allowed": [...], "modes": [{"mode", "description", "allowed"}]}``, in the modes' own order."""
    return {
        "allowed": list(allowed),
        "modes": [
            {"mode": mode, "description": DESCRIPTIONS[mode], "allowed": mode in allowed}
            for mode in ALL_RECORDING_MODES
        ],
    }


@api.route(
    "GET", "/api/recording-modes",
    summary="The recording modes teachers may use: the configuration's recording_modes until the admin saves",
    access="user", tag="recordings", responses={200: "Allowed modes", 401: "Not logged in"},
)  # fmt: skip
async def read_modes(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        await require_user(request, db)
        allowed = await allowed_modes(db, svc.config)
    return json_response(modes_json(allowed))


@api.route(
    "PUT", "/api/recording-modes",
    summary="Choose the recording modes teachers may use (composite, tracks, both, multi_composite, "
    "multi_separate); a mode left out is refused at REC with 403 mode_refused",
    access="admin", tag="recordings", body=ModesBody,
    responses={
        200: "Allowed modes", 400: "Unknown mode (invalid, field allowed)", 401: "Not logged in",
        403: "Not an admin",
    },
)  # fmt: skip
async def change_modes(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        require_admin(await require_user(request, db))
        body = await read_body(request, ModesBody)
        unknown = [mode for mode in body.allowed if mode not in ALL_RECORDING_MODES]
        if unknown:
            raise Invalid.of_field(
                "allowed", f"There is no mode {unknown[0]!r}: choose among {', '.join(ALL_RECORDING_MODES)}."
            )
        allowed = await set_allowed_modes(db, body.allowed)
    return json_response(modes_json(allowed))
