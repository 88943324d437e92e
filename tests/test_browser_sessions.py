"""In Chromium, the dashboard's "Record several classrooms": a teacher who moderates several classrooms
opens the dialog (focus, Escape), is refused in words for a classroom that started recording meanwhile
(which is then disabled and says who records it), starts a separate session over two classrooms, and both
classrooms' status says the session's name and who started it; stopped through the API, both recordings
are in Recorded Classes with the same name, each naming the session's other classroom. Only the modes the
admin allows are offered (a mode taken away meanwhile is refused next to the modes), the dialog fits a
phone, and a composite session is one recording of both classrooms.

The server is ``aula serve``; the session's robots are the real Session Recorder Robot (one per classroom).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.accessibility import assert_accessible, assert_reflows
from tests.browser_pages import browser_fixture
from tests.live_server import LiveServer, live_server
from tests.netns import require_private_namespace
from tests.test_browser_classroom import (
    ADMIN_PASSWORD,
    PAGE_ERRORS,
    api,
    classroom_row,
    create_users,
    logged_in_page,
    session_cookie,
)

pytestmark = pytest.mark.browser
# Robots are processes of their own joining over WebRTC: on a loaded machine that takes seconds.
WAIT_MS = 60_000
NAME = "Genetics breakout"

browser = browser_fixture(PAGE_ERRORS, "The browser; at the end, no page may have thrown or logged an error.")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """``aula serve`` on fresh data; robots starting on a machine busy with browsers get 90 s to write."""
    env = {"AULA_ADMIN_PASSWORD": ADMIN_PASSWORD, "AULA_ROBOT_START_TIMEOUT": "90"}
    async with live_server(tmp_path / "data", env) as running:
        yield running


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the test modules that follow


async def wait_recording(server: LiveServer, cookie: str, recording_id: int) -> dict[str, Any]:
    """Until the robot writes (state ``recording``), within WAIT_MS."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        recording: dict[str, Any] = (await api(server, cookie, "GET", f"/api/recordings/{recording_id}"))[
            "recording"
        ]
        if recording["state"] == "recording":
            return recording
        assert recording["state"] == "starting", (recording["error"], recording["stop_reason"], recording)
        assert time.monotonic() < deadline, f"not recording: {recording}"
        await asyncio.sleep(0.25)


def dialog_of(page: Page) -> Any:
    return page.get_by_role("dialog", name="Record several classrooms")


async def test_a_teacher_records_two_classrooms_as_one_session(server: LiveServer, browser: Browser) -> None:
    await create_users(server, {"tess": ("Tess Teacher", "teacher"), "theo": ("Theo Teacher", "teacher")})
    tess_cookie = await session_cookie(server, "tess")
    theo_cookie = await session_cookie(server, "theo")
    ids: dict[str, int] = {}
    for name in ("Biology A", "Biology B", "Physics"):
        body = {"name": name, "moderators": ["theo"] if name == "Physics" else []}
        ids[name] = (await api(server, tess_cookie, "POST", "/api/classrooms", body))["classroom"]["id"]
    # Theo moderates only Physics: one classroom is no session, so he is not offered one.
    theo = await logged_in_page(browser, server, "theo")
    await expect(classroom_row(theo, "Physics")).to_be_visible()
    await expect(theo.get_by_role("button", name="Record several classrooms")).to_be_hidden()

    tess = await logged_in_page(browser, server, "tess")
    await expect(tess.get_by_role("table", name="Classrooms").locator("tbody tr")).to_have_count(3)
    opener = tess.get_by_role("button", name="Record several classrooms")
    await expect(opener).to_be_visible()

    # Opened: the keyboard is on the first classroom; Escape closes it and gives the keyboard back.
    await opener.click()
    dialog = dialog_of(tess)
    await expect(dialog).to_be_visible()
    classrooms = dialog.get_by_role("group", name="Classrooms")
    await expect(classrooms.get_by_role("checkbox")).to_have_count(3)
    await expect(dialog.get_by_role("checkbox", name="Biology A")).to_be_focused()
    modes = dialog.get_by_role("group", name="Recording")
    await expect(modes.get_by_role("radio")).to_have_count(2)
    await expect(modes.get_by_role("radio", name="One file with every classroom")).to_be_checked()
    await expect(modes.get_by_role("radio", name="One recording per classroom")).not_to_be_checked()
    await assert_accessible(tess, context="the session dialog")
    await tess.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(opener).to_be_focused()

    # One classroom is not enough, said next to the classrooms.
    await opener.click()
    await dialog.get_by_role("checkbox", name="Biology A").check()
    await dialog.get_by_role("button", name="Start recording").click()
    await expect(classrooms).to_have_accessible_description(
        re.compile("Choose at least two classrooms to record together")
    )
    await expect(dialog.get_by_role("checkbox", name="Biology A")).to_be_focused()

    # Theo starts recording Physics while the page has not heard of it yet (its re-reads of that classroom
    # are held): the server refuses the session, and the page says why next to the classrooms; Physics is
    # then disabled and says who records it.
    held: list[Route] = []

    async def hold(route: Route) -> None:
        if route.request.method == "GET":
            held.append(route)
        else:
            await route.continue_()

    await tess.route(re.compile(r"/api/classrooms/\d+$"), hold)
    physics = await api(server, theo_cookie, "POST", f"/api/classrooms/{ids['Physics']}/recording", {})
    await dialog.get_by_role("checkbox", name="Physics").check()
    await dialog.get_by_role("button", name="Start recording").click()
    await expect(classrooms).to_have_accessible_description(re.compile(r"Physics"))
    refusal = dialog.locator("#session-classrooms-error")
    await expect(refusal).to_contain_text("Physics")
    await expect(refusal).to_contain_text("Theo Teacher")
    busy = dialog.get_by_role("checkbox", name="Physics")
    await expect(busy).to_be_disabled()
    await expect(busy).not_to_be_checked()
    await expect(busy).to_have_accessible_description("Recording by Theo Teacher")
    await expect(dialog.get_by_role("checkbox", name="Biology A")).to_be_checked()
    # The held re-reads go on now; older than the page's read after the refusal, they change nothing.
    for route in held:
        await route.continue_()
    await tess.unroute(re.compile(r"/api/classrooms/\d+$"))
    # Nothing was started for the refused session.
    listed = (await api(server, tess_cookie, "GET", "/api/recordings"))["recordings"]
    assert [r["id"] for r in listed] == [physics["recording"]["id"]], listed
    # Theo stops (one robot fewer on the machine): Physics may be chosen again.
    await api(server, theo_cookie, "POST", f"/api/classrooms/{ids['Physics']}/recording/stop")
    await expect(busy).to_be_enabled()
    await expect(dialog.locator("#session-classroom-" + str(ids["Physics"]) + "-busy")).to_have_count(0)

    # The session: separate, named; the dialog closes, the page says what started, the keyboard is back.
    await dialog.get_by_role("checkbox", name="Biology B").check()
    await modes.get_by_role("radio", name="One recording per classroom").check()
    await dialog.get_by_label("Name (optional)").fill(NAME)
    await expect(dialog.locator(".field-error")).to_have_count(0)
    await dialog.get_by_role("button", name="Start recording").click()
    await expect(dialog).to_be_hidden()
    await expect(tess.get_by_role("status")).to_have_text(
        f"Recording Biology A and Biology B, one recording per classroom, as “{NAME}”."
    )
    await expect(opener).to_be_focused()
    for name in ("Biology A", "Biology B"):
        row = classroom_row(tess, name)
        await expect(row.get_by_text(f"Recording · {NAME}", exact=True)).to_be_visible()
        await expect(row.locator(".status-detail")).to_contain_text("Started by Tess Teacher")
    await expect(classroom_row(tess, "Physics").get_by_text("Idle", exact=True)).to_be_visible()

    # The session's recordings: one per classroom, same name and number, each of the session.
    listed = (await api(server, tess_cookie, "GET", "/api/recordings"))["recordings"]
    sessions = [r for r in listed if r["session_id"]]
    assert len(sessions) == 2, sessions
    assert {r["name"] for r in sessions} == {NAME}
    assert len({r["number"] for r in sessions}) == 1
    assert len({r["session_id"] for r in sessions}) == 1
    for recording in sessions:
        await wait_recording(server, tess_cookie, recording["id"])

    # The dialog now offers only the idle classroom; the session's say who records them, and in which.
    await opener.click()
    for name in ("Biology A", "Biology B"):
        await expect(dialog.get_by_role("checkbox", name=name)).to_be_disabled()
        await expect(dialog.get_by_role("checkbox", name=name)).to_have_accessible_description(
            f"Recording by Tess Teacher ({NAME})"
        )
    await expect(dialog.get_by_role("checkbox", name="Physics")).to_be_focused()
    await tess.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    # Stopped in one classroom, the session stops in both; Recorded Classes lists both under its name.
    stopped = await api(server, tess_cookie, "POST", f"/api/classrooms/{ids['Biology A']}/recording/stop")
    assert stopped["recording"]["state"] == "ready", stopped
    for name in ("Biology A", "Biology B", "Physics"):
        await expect(classroom_row(tess, name).get_by_text("Idle", exact=True)).to_be_visible()
    for recording in sessions:
        done = (await api(server, tess_cookie, "GET", f"/api/recordings/{recording['id']}"))["recording"]
        assert done["state"] == "ready", done

    await tess.goto(f"{server.url}/resources/recordings")
    table = tess.get_by_role("table", name="Recorded Classes")
    rows = table.get_by_role("row").filter(has=tess.get_by_role("cell", name=NAME, exact=True))
    await expect(rows).to_have_count(2)
    await expect(rows.filter(has_text="Biology A (session with Biology B)")).to_have_count(1)
    await expect(rows.filter(has_text="Biology B (session with Biology A)")).to_have_count(1)
    await expect(rows.get_by_text("Ready", exact=True)).to_have_count(2)


async def test_the_dialog_offers_only_the_modes_the_admin_allows_and_fits_a_phone(
    server: LiveServer, browser: Browser
) -> None:
    await create_users(server, {"tess": ("Tess Teacher", "teacher")})
    tess_cookie = await session_cookie(server, "tess")
    for name in ("Biology A", "Biology B with a rather long name for a phone's width"):
        await api(server, tess_cookie, "POST", "/api/classrooms", {"name": name})
    admin = await session_cookie(server, "admin", ADMIN_PASSWORD)
    await api(server, admin, "PUT", "/api/recording-modes", {"allowed": ["composite", "multi_separate"]})

    tess = await logged_in_page(browser, server, "tess")
    await tess.set_viewport_size({"width": 360, "height": 740})
    opener = tess.get_by_role("button", name="Record several classrooms")
    await opener.click()
    dialog = dialog_of(tess)
    modes = dialog.get_by_role("group", name="Recording")
    await expect(modes.get_by_role("radio")).to_have_count(1)
    await expect(modes.get_by_role("radio", name="One recording per classroom")).to_be_checked()
    box = await dialog.bounding_box()
    assert box is not None
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= 360, box
    await assert_reflows(tess, context="the session dialog at phone width")

    # The admin takes the mode away while the dialog is open: Start is refused in words, next to the modes.
    await api(server, admin, "PUT", "/api/recording-modes", {"allowed": ["composite"]})
    for name in ("Biology A", "Biology B with a rather long name for a phone's width"):
        await dialog.get_by_role("checkbox", name=name).check()
    await dialog.get_by_role("button", name="Start recording").click()
    await expect(modes).to_have_accessible_description(re.compile("does not allow"))
    await expect(modes.get_by_role("radio")).to_have_count(0)
    await expect(dialog.get_by_role("button", name="Start recording")).to_be_disabled()
    assert (await api(server, tess_cookie, "GET", "/api/recordings"))["recordings"] == []
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(opener).to_be_focused()

    # Reloaded, the page offers no session at all.
    await tess.reload()
    await expect(tess.get_by_role("table", name="Classrooms").locator("tbody tr")).to_have_count(2)
    await expect(opener).to_be_hidden()


async def test_a_composite_session_is_one_recording_of_both_classrooms(
    server: LiveServer, browser: Browser
) -> None:
    await create_users(server, {"tess": ("Tess Teacher", "teacher")})
    tess_cookie = await session_cookie(server, "tess")
    for name in ("Biology A", "Biology B"):
        await api(server, tess_cookie, "POST", "/api/classrooms", {"name": name})

    tess = await logged_in_page(browser, server, "tess")
    await tess.get_by_role("button", name="Record several classrooms").click()
    dialog = dialog_of(tess)
    for name in ("Biology A", "Biology B"):
        await dialog.get_by_role("checkbox", name=name).check()
    # One file with every classroom is the first mode, chosen already; no name: the first classroom's,
    # numbered.
    await expect(dialog.get_by_role("radio", name="One file with every classroom")).to_be_checked()
    await dialog.get_by_role("button", name="Start recording").click()
    await expect(dialog).to_be_hidden()
    await expect(tess.get_by_role("status")).to_have_text(
        "Recording Biology A and Biology B into one file, as “Biology A 1”."
    )
    for name in ("Biology A", "Biology B"):
        row = classroom_row(tess, name)
        await expect(row.get_by_text("Recording · Biology A 1", exact=True)).to_be_visible()

    listed = (await api(server, tess_cookie, "GET", "/api/recordings"))["recordings"]
    assert len(listed) == 1, listed
    await wait_recording(server, tess_cookie, listed[0]["id"])
    first = listed[0]["classroom"]["id"]
    stopped = await api(server, tess_cookie, "POST", f"/api/classrooms/{first}/recording/stop")
    assert stopped["recording"]["state"] == "ready", stopped

    # In Recorded Classes: one row, both classrooms, and it plays like any mixed recording.
    await tess.goto(f"{server.url}/resources/recordings")
    table = tess.get_by_role("table", name="Recorded Classes")
    row = table.get_by_role("row").filter(has=tess.get_by_role("cell", name="Biology A 1", exact=True))
    await expect(row.get_by_role("cell", name="Biology A + Biology B", exact=True)).to_be_visible()
    await expect(row.get_by_text("Ready", exact=True)).to_be_visible()
    await expect(row.locator(".badge-mode")).to_have_count(0)
    await expect(row.get_by_role("button", name=re.compile(r"^Tracks"))).to_have_count(0)
    await row.get_by_role("button", name="Actions for Biology A 1", exact=True).click()
    menu = tess.get_by_role("menu", name="Actions for Biology A 1")
    await expect(menu.get_by_role("menuitem")).to_have_text(
        ["Play", "Download", "Rename", "Publish", "Delete"]
    )
