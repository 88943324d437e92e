"""A classroom's codes lists: what its moderators pick at REC and score bookmarks with."""

from __future__ import annotations

import json

from aiohttp import web

from server.api.registry import api, json_response, match_int, read_body
from server.auth.permissions import require_can_use_codes
from server.auth.sessions import require_user
from server.classrooms import get_classroom
from server.library.codes import CodesBody, check_codes_lists, classroom_codes_lists
from server.services import services

_ERRORS = {
    401: "Not logged in",
    403: "Not a moderator",
    404: "No such classroom, or not visible to you",
}


@api.route(
    "GET", "/api/classrooms/{id}/codes", summary="The classroom's codes lists",
    access="the classroom's moderators", tag="recordings", responses={200: "Codes lists", **_ERRORS},
)  # fmt: skip
async def read_codes(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        user = await require_user(request, db)
        classroom = await get_classroom(db, match_int(request, "id"))
        require_can_use_codes(user, classroom)
        return json_response({"lists": classroom_codes_lists(classroom)})


@api.route(
    "PUT", "/api/classrooms/{id}/codes",
    summary="Replace the classroom's codes lists (recordings keep the copy they were made with)",
    access="the classroom's moderators", tag="recordings", body=CodesBody,
    responses={200: "Codes lists", 400: "Invalid (fields name each problem)", **_ERRORS},
)  # fmt: skip
async def write_codes(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        user = await require_user(request, db)
        classroom = await get_classroom(db, match_int(request, "id"))
        require_can_use_codes(user, classroom)
        lists = check_codes_lists(await read_body(request, CodesBody))
        classroom.codes_lists = json.dumps(lists, ensure_ascii=False)
        await db.commit()
        return json_response({"lists": lists})
