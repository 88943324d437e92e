"""Settings → Recording names in a real browser: Tess sets her default recording name and asks to name
recordings on Stop; a name the server refuses is reported next to its field and nothing changes; the next
REC (the real robot, through the API) is named after her default name and the classroom's number, and
Recorded Classes lists it with the date and time it started."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import APIRequestContext, Browser, Page, expect

from tests.accessibility import assert_accessible
from tests.browser_pages import admin_server_fixture, browser_fixture, record_errors
from tests.live_server import LiveServer
from tests.netns import require_private_namespace
from tests.test_browser_media import set_up_classroom
from tests.test_browser_moderation import ADMIN_PASSWORD, PAGE_ERRORS, PASSWORD

pytestmark = pytest.mark.browser
WAIT_MS = 30_000
"""The robot is a process of its own that joins over WebRTC: on a loaded machine that takes seconds."""
DATE_AND_TIME = re.compile(r"\d{4}.*\d{1,2}:\d\d:\d\d|\d{1,2}:\d\d:\d\d.*\d{4}")


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the test modules that follow


server = admin_server_fixture(ADMIN_PASSWORD)
browser = browser_fixture(PAGE_ERRORS, "The browser; at the end, no page may have thrown or logged an error.")


async def settings_page(browser: Browser, url: str) -> Page:
    context = await browser.new_context()
    login = await context.request.post(
        f"{url}/api/auth/login", data={"username": "tess", "password": PASSWORD}
    )
    assert login.status == 200, await login.text()
    page = await context.new_page()
    record_errors(page, PAGE_ERRORS)
    await page.goto(f"{url}/settings")
    return page


async def rec_and_stop(http: APIRequestContext, url: str, classroom_id: int) -> dict[str, Any]:
    """REC through the API, Stop once the robot records; the recording as Stop returns it."""
    started = await http.post(f"{url}/api/classrooms/{classroom_id}/recording", data={})
    assert started.status == 201, await started.text()
    deadline = time.monotonic() + WAIT_MS / 1000
    while (await (await http.get(f"{url}/api/classrooms/{classroom_id}/recording")).json())["recording"][
        "state"
    ] != "recording":
        assert time.monotonic() < deadline, "the robot did not start recording"
        await asyncio.sleep(0.25)
    stopped = await http.post(f"{url}/api/classrooms/{classroom_id}/recording/stop")
    assert stopped.status == 200, await stopped.text()
    recording: dict[str, Any] = (await stopped.json())["recording"]
    return recording


async def test_my_default_recording_name_names_the_next_recording(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(server.url, {"sam": "Sam Student"})
    tess = await settings_page(browser, server.url)
    name = tess.get_by_role("textbox", name="Default recording name")
    ask = tess.get_by_role("checkbox", name="Ask for the name when I stop recording")
    await expect(name).to_have_value("")
    await expect(ask).not_to_be_checked()
    await expect(tess.get_by_text("Leave it empty to use the classroom's name.")).to_be_visible()

    # A name with a hidden direction mark is refused next to the field, and nothing is saved.
    await name.fill("Lab\u202e session")
    await ask.check()
    await tess.get_by_role("button", name="Save").click()
    await expect(name).to_have_attribute("aria-invalid", "true")
    error = tess.locator(".field-error")
    await expect(error).to_have_count(1)
    await expect(error).to_contain_text(re.compile(r"\w+"))
    assert await error.get_attribute("data-error-for") == "default_recording_name"
    await expect(tess.get_by_role("alert")).to_be_hidden()  # said once, where it is to be put right
    await assert_accessible(tess, context="settings with a refused default name")
    saved = await (await tess.request.get(f"{server.url}/api/me/settings")).json()
    assert (saved["settings"]["default_recording_name"], saved["settings"]["edit_name_on_stop"]) == (
        None,
        False,
    )

    await name.fill("Lab session")
    await tess.get_by_role("button", name="Save").click()
    await expect(tess.get_by_role("status")).to_have_text("Saved")
    await expect(error).to_have_count(0)
    await tess.reload()
    await expect(name).to_have_value("Lab session")
    await expect(ask).to_be_checked()

    recording = await rec_and_stop(tess.request, server.url, classroom.classroom_id)
    assert (recording["name"], recording["number"], recording["state"]) == ("Lab session 1", 1, "ready")

    # Recorded Classes tells recordings apart by the date and time they started.
    await tess.goto(f"{server.url}/resources/recordings")
    row = tess.get_by_role("row").filter(has_text="Lab session 1")
    await expect(row).to_have_count(1)
    started = row.locator("time")
    await expect(started).to_have_text(DATE_AND_TIME)
    assert await started.get_attribute("datetime") == recording["started_at"]
