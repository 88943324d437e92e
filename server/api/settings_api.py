"""Per-user settings (Settings → Session Recording): the reminder, the robot's name, and naming (Viso):
the default recording name (None: the classroom's name), numbered per classroom, and whether Stop asks
for the name."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from server.api.registry import Body, api, json_response, read_body
from server.auth.sessions import require_user
from server.db.models import DEFAULT_ROBOT_NAME, User, UserSettings
from server.errors import FieldProblems
from server.library.recordings import NAME_MAX
from server.names import check_text
from server.services import services

ROBOT_NAME_MAX = 80


class SettingsBody(Body):
    recording_reminder: bool | None = None
    robot_name: str | None = Field(default=None, max_length=400)
    default_recording_name: str | None = Field(default=None, max_length=400)
    "null: the classroom's name (an absent field changes nothing)."
    edit_name_on_stop: bool | None = None


def settings_json(settings: UserSettings) -> dict[str, Any]:
    return {
        "recording_reminder": settings.recording_reminder,
        "robot_name": settings.robot_name,
        "default_recording_name": settings.default_recording_name,
        "edit_name_on_stop": bool(settings.edit_name_on_stop),
    }


async def _settings_of(db: AsyncSession, user: User) -> UserSettings:
    settings = await db.get(UserSettings, user.id)
    if settings is None:
        settings = UserSettings(
            user_id=user.id, recording_reminder=False, robot_name=DEFAULT_ROBOT_NAME, edit_name_on_stop=False
        )
        db.add(settings)
    return settings


@api.route(
    "GET",
    "/api/me/settings",
    summary="My settings",
    access="user",
    tag="settings",
    responses={200: "Settings", 401: "Not logged in"},
)
async def get_settings(request: web.Request) -> web.Response:
    async with services(request).db() as db:
        settings = await _settings_of(db, await require_user(request, db))
        await db.commit()
    return json_response({"settings": settings_json(settings)})


@api.route(
    "PATCH",
    "/api/me/settings",
    summary="Change my settings",
    access="user",
    tag="settings",
    body=SettingsBody,
    responses={200: "Settings", 400: "Invalid", 401: "Not logged in"},
)
async def patch_settings(request: web.Request) -> web.Response:
    body = await read_body(request, SettingsBody)
    problems = FieldProblems()
    robot_name = default_name = None
    if body.robot_name is not None:
        typed = body.robot_name
        robot_name = problems.check("robot_name", lambda: check_text(typed, "robot_name", ROBOT_NAME_MAX))
    if body.default_recording_name is not None:
        named = body.default_recording_name
        # As a recording's name is checked (check_name), reported against this field.
        default_name = problems.check(
            "default_recording_name", lambda: check_text(named, "default_recording_name", NAME_MAX)
        )
    problems.raise_if_any()
    async with services(request).db() as db:
        settings = await _settings_of(db, await require_user(request, db))
        if body.recording_reminder is not None:
            settings.recording_reminder = body.recording_reminder
        if robot_name is not None:
            settings.robot_name = robot_name
        if "default_recording_name" in body.model_fields_set:
            settings.default_recording_name = default_name
        if body.edit_name_on_stop is not None:
            settings.edit_name_on_stop = body.edit_name_on_stop
        await db.commit()
    return json_response({"settings": settings_json(settings)})
