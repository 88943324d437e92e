"""Naming recordings (Viso): a moderator's default name plus the classroom's next number, and whether Stop
asks for the name, kept in Settings; a bad default name is refused next to its field and changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import ClientSession, web

from server.db.models import Recording
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.media_support import Classroom
from tests.test_form_errors import refusal


async def settings_of(http: ClientSession) -> dict[str, Any]:
    response = await http.get("/api/me/settings")
    assert response.status == 200, await response.text()
    settings: dict[str, Any] = (await response.json())["settings"]
    return settings


async def change(http: ClientSession, **fields: Any) -> dict[str, Any]:
    response = await http.patch("/api/me/settings", json=fields)
    assert response.status == 200, await response.text()
    settings: dict[str, Any] = (await response.json())["settings"]
    return settings


async def test_the_default_name_and_the_ask_on_stop_flag_are_kept_and_bad_names_are_refused(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher = await client_as("teacher")
    fresh = await settings_of(teacher)
    assert (fresh["default_recording_name"], fresh["edit_name_on_stop"]) == (None, False)

    changed = await change(teacher, default_recording_name="  Lab   séance ", edit_name_on_stop=True)
    assert (changed["default_recording_name"], changed["edit_name_on_stop"]) == ("Lab séance", True)
    assert await settings_of(teacher) == changed
    # A field left out is left as it is; null puts back the classroom's name.
    assert (await change(teacher, recording_reminder=True))["default_recording_name"] == "Lab séance"
    reset = await change(teacher, default_recording_name=None, edit_name_on_stop=False)
    assert (reset["default_recording_name"], reset["edit_name_on_stop"]) == (None, False)
    await change(teacher, default_recording_name="Lab")

    for bad in ["   ", "x" * 201, "Lab\u202e", "Tab\there"]:
        error = await refusal(await teacher.patch("/api/me/settings", json={"default_recording_name": bad}))
        assert list(error["fields"]) == ["default_recording_name"], bad
    error = await refusal(await teacher.patch("/api/me/settings", json={"edit_name_on_stop": "maybe"}))
    assert list(error["fields"]) == ["edit_name_on_stop"]
    two_bad = {"default_recording_name": "", "robot_name": "", "recording_reminder": True}
    error = await refusal(await teacher.patch("/api/me/settings", json=two_bad))
    assert set(error["fields"]) == {"default_recording_name", "robot_name"}
    kept = await settings_of(teacher)
    assert (kept["default_recording_name"], kept["recording_reminder"]) == ("Lab", True)
    # Each moderator has their own.
    other = await settings_of(await client_as("teacher2"))
    assert other["default_recording_name"] is None


async def rec(app: web.Application, http: ClientSession, classroom_id: int) -> dict[str, Any]:
    """REC, then Stop once the robot is recording; the recording as Stop returns it."""
    started = await http.post(f"/api/classrooms/{classroom_id}/recording", json={})
    assert started.status == 201, await started.text()
    recording: dict[str, Any] = (await started.json())["recording"]
    for _ in range(150):
        async with app[SERVICES].db() as db:
            row = await db.get(Recording, recording["id"])
        if row is not None and row.state == "recording":
            break
        await asyncio.sleep(0.2)
    stopped = await http.post(f"/api/classrooms/{classroom_id}/recording/stop")
    assert stopped.status == 200, await stopped.text()
    assert (await stopped.json())["recording"]["name"] == recording["name"]
    return recording


@pytest.mark.usefixtures("private_namespace")
async def test_rec_names_a_recording_after_my_default_name_and_the_classroom_s_next_number(
    classroom: Classroom, app: web.Application
) -> None:
    http = classroom.sessions["teacher"]
    await change(http, default_recording_name="Lab session")
    first = await rec(app, http, classroom.classroom_id)
    assert (first["name"], first["number"]) == ("Lab session 1", 1)

    await change(http, default_recording_name=None)
    second = await rec(app, http, classroom.classroom_id)
    assert (second["name"], second["number"]) == ("Physics 2", 2)

    listed = (await (await http.get("/api/recordings")).json())["recordings"]
    assert [(r["name"], r["state"]) for r in listed] == [("Physics 2", "ready"), ("Lab session 1", "ready")]
