"""Per-user settings (Settings → Session Recording)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from server.api.registry import Body, api, json_response, read_body
from server.auth.sessions import require_user
from server.db.models import DEFAULT_ROBOT_NAME, User, UserSettings
from server.errors import FieldProblems
from server.names import check_text
from server.services import services

ROBOT_NAME_MAX = 80


class SettingsBody(Body):
    recording_reminder: bool | None = None
    robot_name: str | None = Field(default=None, max_length=400)


def settings_json(settings: UserSettings) -> dict[str, Any]:
    return {"recording_reminder": settings.recording_reminder, "robot_name": settings.robot_name}


async def _settings_of(db: AsyncSession, user: User) -> UserSettings:
    settings = await db.get(UserSettings, user.id)
    if settings is None:
        settings = UserSettings(user_id=user.id, recording_reminder=False, robot_name=DEFAULT_ROBOT_NAME)
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
    async with services(request).db() as db:
        settings = await _settings_of(db, await require_user(request, db))
        if body.recording_reminder is not None:
            settings.recording_reminder = body.recording_reminder
        if body.robot_name is not None:
            typed = body.robot_name
            problems = FieldProblems()
            robot_name = problems.check("robot_name", lambda: check_text(typed, "robot_name", ROBOT_NAME_MAX))
            problems.raise_if_any()
            settings.robot_name = robot_name or settings.robot_name
        await db.commit()
    return json_response({"settings": settings_json(settings)})
