"""Which recording modes teachers may use: every mode by default, the configuration's ``recording_modes``
(e.g. ``AULA_RECORDING_MODES=composite``) until the admin saves a choice of their own; only admins change it;
REC with a mode the admin does not allow is refused with the reason and stores nothing; an allowed mode is
kept on the recording."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from sqlalchemy import func, select

from server.config import Config, load_config
from server.db.models import ALL_RECORDING_MODES, Recording, RecordingClassroom
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.media_support import Classroom
from tests.test_form_errors import refusal

ALL = list(ALL_RECORDING_MODES)


@pytest.fixture
def config(tmp_path: Path, request: pytest.FixtureRequest) -> Config:
    """The test server's configuration; a test may give it ``AULA_*`` settings (``indirect``)."""
    return load_config(
        environ=getattr(request, "param", {}),
        overrides={"data_dir": str(tmp_path / "data"), "log_format": "text", "warm_robots": 0},
    )


async def modes(http: ClientSession) -> dict[str, Any]:
    response = await http.get("/api/recording-modes")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    assert [entry["mode"] for entry in body["modes"]] == ALL
    assert [entry["mode"] for entry in body["modes"] if entry["allowed"]] == body["allowed"]
    assert all(entry["description"] for entry in body["modes"])
    return body


async def allow(admin: ClientSession, allowed: list[str]) -> list[str]:
    response = await admin.put("/api/recording-modes", json={"allowed": allowed})
    assert response.status == 200, await response.text()
    result: list[str] = (await response.json())["allowed"]
    return result


async def stored_recordings(app: web.Application) -> tuple[int, int]:
    """How many recordings, and classrooms held by one, the database holds."""
    async with app[SERVICES].db() as db:
        recordings = await db.scalar(select(func.count()).select_from(Recording))
        held = await db.scalar(select(func.count()).select_from(RecordingClassroom))
    return recordings or 0, held or 0


async def test_every_mode_is_allowed_by_default_and_only_the_admin_changes_them(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher, student, admin = await client_as("teacher"), await client_as("student"), await client_as("admin")
    assert (await modes(teacher))["allowed"] == ALL
    assert (await modes(student))["allowed"] == ALL
    anonymous = await client_as(None)
    assert (await anonymous.get("/api/recording-modes")).status == 401

    # A teacher may not change them.
    refused = await teacher.put("/api/recording-modes", json={"allowed": ["composite"]})
    assert refused.status == 403, await refused.text()
    assert (await refused.json())["error"]["code"] == "forbidden"
    assert (await modes(teacher))["allowed"] == ALL

    # The admin's choice, in the modes' own order and without repeats, is what everyone reads.
    assert await allow(admin, ["both", "composite", "both"]) == ["composite", "both"]
    seen = await modes(teacher)
    assert seen["allowed"] == ["composite", "both"]
    assert {entry["mode"]: entry["allowed"] for entry in seen["modes"]} == {
        "composite": True,
        "tracks": False,
        "both": True,
        "multi_composite": False,
        "multi_separate": False,
    }

    # An unknown mode is refused on the field, and nothing changes.
    for body in ({"allowed": ["composite", "hd"]}, {"allowed": "composite"}, {"allowed": [3]}, {}):
        error = await refusal(await admin.put("/api/recording-modes", json=body))
        assert list(error["fields"]) == ["allowed"], body
    error = await refusal(await admin.put("/api/recording-modes", json={"allowed": [], "extra": 1}))
    assert list(error["fields"]) == ["extra"]
    hd = await refusal(await admin.put("/api/recording-modes", json={"allowed": ["composite", "hd"]}))
    assert "'hd'" in hd["fields"]["allowed"]
    assert (await modes(student))["allowed"] == ["composite", "both"]

    # Allowing none at all is the admin's choice too; every mode comes back when they allow it again.
    assert await allow(admin, []) == []
    assert (await modes(teacher))["allowed"] == []
    assert await allow(admin, ALL) == ALL


async def test_rec_with_a_mode_the_admin_refuses_is_403_with_the_reason_and_stores_nothing(
    classroom: Classroom, app: web.Application, client_as: ClientFactory
) -> None:
    admin = await client_as("admin")
    await allow(admin, ["composite", "both", "multi_separate"])
    teacher = classroom.sessions["teacher"]
    path = f"/api/classrooms/{classroom.classroom_id}/recording"

    refused = await teacher.post(path, json={"mode": "tracks", "name": "Tracks of the lab"})
    assert refused.status == 403, await refused.text()
    error = (await refused.json())["error"]
    assert error["code"] == "mode_refused"
    assert "each participant's own tracks" in error["message"]
    assert "'tracks'" in error["message"]
    assert await stored_recordings(app) == (0, 0)
    assert (await (await teacher.get(path)).json())["recording"] is None
    assert (await (await teacher.get("/api/recordings")).json())["recordings"] == []

    # A mode that does not exist at all (or a session's mode) is a field error, not a refusal.
    for mode in ("hd", "multi_separate", 1):
        error = await refusal(await teacher.post(path, json={"mode": mode}))
        assert list(error["fields"]) == ["mode"], mode
    assert await stored_recordings(app) == (0, 0)

    # Refused whoever asks: the admin too is held to the modes they allow.
    admin_refused = await admin.post(path, json={"mode": "tracks"})
    assert admin_refused.status == 403
    assert (await admin_refused.json())["error"]["code"] == "mode_refused"
    assert await stored_recordings(app) == (0, 0)


@pytest.mark.parametrize("config", [{"AULA_RECORDING_MODES": "composite"}], indirect=True)
async def test_the_configuration_s_recording_modes_apply_until_the_admin_saves(
    classroom: Classroom, app: web.Application, client_as: ClientFactory
) -> None:
    teacher = classroom.sessions["teacher"]
    assert (await modes(teacher))["allowed"] == ["composite"]
    path = f"/api/classrooms/{classroom.classroom_id}/recording"
    for mode in ("tracks", "both"):
        refused = await teacher.post(path, json={"mode": mode})
        assert refused.status == 403, await refused.text()
        assert (await refused.json())["error"]["code"] == "mode_refused"
    assert await stored_recordings(app) == (0, 0)

    # The admin's saved choice wins over the configuration, also after a restart (it is in the database).
    admin = await client_as("admin")
    assert await allow(admin, ["composite", "tracks"]) == ["composite", "tracks"]
    assert (await modes(teacher))["allowed"] == ["composite", "tracks"]


async def wait_writing(app: web.Application, recording_id: int) -> None:
    for _ in range(200):
        async with app[SERVICES].db() as db:
            row = await db.get(Recording, recording_id)
        if row is not None and row.state != "starting":
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the robot did not start recording")


async def rec(app: web.Application, http: ClientSession, classroom_id: int, **body: Any) -> dict[str, Any]:
    """REC with ``body``, then Stop once the robot has started; the recording as Stop returns it."""
    started = await http.post(f"/api/classrooms/{classroom_id}/recording", json=body)
    assert started.status == 201, await started.text()
    recording: dict[str, Any] = (await started.json())["recording"]
    await wait_writing(app, recording["id"])
    running = (await (await http.get(f"/api/classrooms/{classroom_id}/recording")).json())["recording"]
    assert (running["id"], running["mode"]) == (recording["id"], recording["mode"])
    stopped = await http.post(f"/api/classrooms/{classroom_id}/recording/stop")
    assert stopped.status == 200, await stopped.text()
    assert (await stopped.json())["recording"]["mode"] == recording["mode"]
    return recording


@pytest.mark.usefixtures("private_namespace")
async def test_an_allowed_mode_is_kept_on_the_recording_and_composite_is_the_default(
    classroom: Classroom, app: web.Application, client_as: ClientFactory
) -> None:
    await allow(await client_as("admin"), ["composite", "tracks"])
    teacher = classroom.sessions["teacher"]
    await classroom.enter("teacher")  # someone in the class, for the robot to record

    plain = await rec(app, teacher, classroom.classroom_id)
    assert plain["mode"] == "composite"
    tracks = await rec(app, teacher, classroom.classroom_id, mode="tracks")
    assert tracks["mode"] == "tracks"

    listed = (await (await teacher.get("/api/recordings")).json())["recordings"]
    assert [(r["id"], r["mode"]) for r in listed] == [(tracks["id"], "tracks"), (plain["id"], "composite")]
    one = (await (await teacher.get(f"/api/recordings/{tracks['id']}")).json())["recording"]
    assert (one["mode"], one["session_id"]) == ("tracks", None)
    async with app[SERVICES].db() as db:
        row = await db.get(Recording, tracks["id"])
        assert row is not None
        assert row.mode == "tracks"
