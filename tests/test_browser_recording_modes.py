"""Recording modes and sessions in real browsers: the admin chooses on the Users page which modes teachers
may use, and a teacher's classroom page offers only those (a mode refused meanwhile is said in words, and
the picker follows); the mode picked before REC is the recording's. A session's recording asks "Stop the
whole session?" naming its classrooms before Stop ends every one of them; a co-teacher's REC stays disabled
and says who records which session.

Each person is a headless Chromium page with fake camera and microphone; the server is ``aula serve``, so
REC and the session start the real Session Recorder Robot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests import test_browser_recording as recording
from tests.accessibility import assert_accessible
from tests.live_server import LiveServer
from tests.netns import require_private_namespace
from tests.test_browser_recording import (
    ADMIN_PASSWORD,
    Classroom,
    current_recording,
    enter,
    indicator,
    rec_button,
    set_up_classroom,
    watch,
)

pytestmark = pytest.mark.browser
server = recording.server
browser = recording.browser
WAIT_S = recording.WAIT_MS / 1000
# Two robots and three browsers on a machine that runs other tests too: each robot may take long to start.
ROBOT_WAIT_S = 150
SLOW_ROBOTS = pytest.mark.parametrize("server", [{"AULA_ROBOT_START_TIMEOUT": "140"}], indirect=True)
TRACKS_REFUSED = "The administrator does not allow recording each participant's own tracks"


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    expect.set_options(timeout=recording.WAIT_MS)
    yield
    expect.set_options(timeout=5_000)


async def admin_users_page(browser: Browser, url: str) -> Page:
    context = await browser.new_context()
    login = await context.request.post(
        f"{url}/api/auth/login", data={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert login.status == 200, await login.text()
    page = await context.new_page()
    watch(page)
    await page.goto(f"{url}/admin/users")
    return page


async def api(page: Page, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    response = await page.request.fetch(url, method=method, data=body)
    assert response.ok, f"{method} {url}: {response.status} {await response.text()}"
    return await response.json()


def mode_picker(page: Page) -> Locator:
    return page.get_by_role("combobox", name="Recording mode")


async def offered(page: Page) -> list[str]:
    texts: list[str] = await mode_picker(page).locator("option").all_inner_texts()
    return [text.strip() for text in texts]


async def until_offered(page: Page, modes: list[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while (now := await offered(page)) != modes:
        assert time.monotonic() < deadline, f"the picker offers {now}, not {modes}"
        await asyncio.sleep(0.2)


async def until_writing(page: Page, classroom: Classroom) -> dict[str, Any]:
    """Until the classroom's robot writes (state ``recording``); returns the recording."""
    deadline = time.monotonic() + ROBOT_WAIT_S
    while (running := await current_recording(page, classroom)) is None or running["state"] != "recording":
        assert time.monotonic() < deadline, f"classroom {classroom.classroom_id} is not recording: {running}"
        await asyncio.sleep(0.25)
    return running


@SLOW_ROBOTS
async def test_the_admin_s_modes_are_what_rec_offers_and_the_mode_picked_is_the_recording_s(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(server.url, {"sam": ("Sam Student", "student")})
    tess = await enter(browser, classroom, "tess")
    picker = mode_picker(tess)
    await expect(picker).to_be_visible()
    await until_offered(tess, ["Composite", "Each participant's tracks", "Both"])
    await expect(picker).to_have_value("composite")
    await picker.select_option(label="Each participant's tracks")
    await assert_accessible(tess, context="the classroom with the recording mode picker")

    # The admin unticks "tracks" on the Users page.
    admin = await admin_users_page(browser, server.url)
    modes = admin.get_by_role("group", name="Modes teachers may use")
    tracks = modes.get_by_role("checkbox", name="Each participant's tracks", exact=True)
    await expect(tracks).to_be_checked()
    await expect(modes.get_by_role("checkbox")).to_have_count(5)
    await expect(modes.get_by_text("Each participant's own tracks.")).to_be_visible()
    await assert_accessible(admin, context="the Users page with the recording modes")
    await tracks.uncheck()
    await admin.get_by_role("button", name="Save recording modes").click()
    said = admin.locator("#modes-status")
    await expect(said).to_have_text(
        "Recording modes saved. Teachers may use: Composite; Both: composite and each participant's tracks; "
        "Several classrooms in one composite file; Several classrooms, one recording each."
    )
    # The confirmation says what was saved until the next change.
    single = modes.get_by_role("checkbox", name="Several classrooms in one composite file")
    await single.uncheck()
    await expect(said).to_have_text("")
    await single.check()
    allowed = (await api(admin, "GET", f"{server.url}/api/recording-modes"))["allowed"]
    assert allowed == ["composite", "both", "multi_composite", "multi_separate"]

    # A mode the server does not know is refused next to the modes (a page out of date, made up here).
    await admin.evaluate("document.getElementById('mode-composite').value = 'hd'")
    await admin.get_by_role("button", name="Save recording modes").click()
    error = admin.locator(".field-error[data-error-for='allowed']")
    await expect(error).to_contain_text("'hd'")
    await expect(modes.get_by_role("checkbox").first).to_have_attribute("aria-invalid", "true")
    assert (await api(admin, "GET", f"{server.url}/api/recording-modes"))["allowed"] == allowed
    await admin.reload()
    await expect(tracks).not_to_be_checked()

    # Tess's page still offers tracks, as it read the modes before: REC says why it is refused, in words,
    # and the picker then offers what is allowed now.
    await rec_button(tess).click()
    await expect(tess.locator("#notices")).to_contain_text(TRACKS_REFUSED)
    await until_offered(tess, ["Composite", "Both"])
    assert await current_recording(tess, classroom) is None
    await expect(rec_button(tess)).to_have_accessible_name("REC — start recording")

    # A page opened now offers only the allowed ones; the mode picked is the recording's.
    await tess.reload()
    await tess.get_by_role("button", name="Join classroom").click()
    await until_offered(tess, ["Composite", "Both"])
    await picker.select_option(label="Both")
    await rec_button(tess).click()
    running = await until_writing(tess, classroom)
    assert running["mode"] == "both"
    await expect(indicator(tess)).to_have_text("Recording")
    await expect(picker).to_be_hidden()  # nothing to pick while recording
    await rec_button(tess).click()  # one classroom's recording: Stop asks nothing
    await expect(rec_button(tess)).to_have_accessible_name("REC — start recording")
    listed = (await api(tess, "GET", f"{server.url}/api/recordings"))["recordings"]
    assert [(r["id"], r["mode"], r["state"]) for r in listed] == [(running["id"], "both", "ready")]
    library = await tess.context.new_page()
    watch(library)
    await library.goto(f"{server.url}/resources/recordings")
    table = library.get_by_role("table", name="Recorded Classes")
    row = table.get_by_role("row").filter(has_text=running["name"])
    await expect(row.locator(".badge-mode")).to_have_text("Mixed + tracks")
    await library.close()
    await expect(tess.get_by_role("dialog", name="Stop the whole session?")).to_be_hidden()

    # With only one mode allowed there is nothing to choose: coming back to the page, the picker is gone.
    assert (await api(admin, "PUT", f"{server.url}/api/recording-modes", {"allowed": ["composite"]}))[
        "allowed"
    ] == ["composite"]
    await tess.evaluate("window.dispatchEvent(new Event('focus'))")
    await expect(picker).to_be_hidden()
    await expect(rec_button(tess)).to_be_enabled()


async def test_recording_modes_cannot_be_saved_before_they_are_shown(
    server: LiveServer, browser: Browser
) -> None:
    """Saving a fieldset that never loaded would send an empty list and stop everyone recording."""
    context = await browser.new_context()
    login = await context.request.post(
        f"{server.url}/api/auth/login", data={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert login.status == 200, await login.text()
    admin = await context.new_page()
    watch(admin)
    before = (await api(admin, "GET", f"{server.url}/api/recording-modes"))["allowed"]
    assert before
    answer = asyncio.Event()

    async def slowly(route: Any) -> None:
        await answer.wait()
        await route.continue_()

    await admin.route("**/api/recording-modes", slowly)
    await admin.goto(f"{server.url}/admin/users")
    save = admin.get_by_role("button", name="Save recording modes")
    await expect(save).to_be_visible()
    await expect(save).to_be_disabled()
    await expect(admin.get_by_role("button", name="Create user")).to_be_enabled()  # the page is up
    await expect(save).to_be_disabled()
    answer.set()
    modes = admin.get_by_role("group", name="Modes teachers may use")
    await expect(modes.get_by_role("checkbox")).to_have_count(5)
    await expect(save).to_be_enabled()
    # Unticking every mode on purpose stays possible.
    for box in await modes.get_by_role("checkbox").all():
        await box.uncheck()
    await save.click()
    await expect(admin.locator("#modes-status")).to_have_text(
        "Recording modes saved. Teachers may not record in any mode."
    )
    assert (await api(admin, "GET", f"{server.url}/api/recording-modes"))["allowed"] == []
    await api(admin, "PUT", f"{server.url}/api/recording-modes", {"allowed": before})

    # The modes do not load: nothing can be saved.
    await admin.unroute("**/api/recording-modes")

    async def refused(route: Any) -> None:
        if route.request.method == "GET":
            await route.fulfill(status=503, json={"error": {"code": "unavailable", "message": "Try later."}})
        else:
            await route.continue_()

    await admin.route("**/api/recording-modes", refused)
    await admin.reload()
    await expect(admin.locator("#alert")).to_contain_text("Try later.")
    await expect(save).to_be_disabled()
    await expect(modes.get_by_role("checkbox")).to_have_count(0)
    assert (await api(admin, "GET", f"{server.url}/api/recording-modes"))["allowed"] == before
    await context.close()


async def add_classroom(page: Page, url: str, name: str, moderators: list[str]) -> Classroom:
    made = await api(page, "POST", f"{url}/api/classrooms", {"name": name, "moderators": moderators})
    return Classroom(url, made["classroom"]["id"])


async def until_stopped(page: Page, classrooms: list[Classroom]) -> None:
    deadline = time.monotonic() + WAIT_S
    for room in classrooms:
        while await current_recording(page, room) is not None:
            assert time.monotonic() < deadline, f"classroom {room.classroom_id} still records"
            await asyncio.sleep(0.2)


@SLOW_ROBOTS
async def test_stop_in_a_session_asks_to_stop_the_whole_session_and_stops_every_classroom(
    server: LiveServer, browser: Browser
) -> None:
    people = {"theo": ("Theo Teacher", "teacher")}
    first = await set_up_classroom(server.url, people)  # "Physics 3B"
    tess = await enter(browser, first, "tess")
    second = await add_classroom(tess, server.url, "Physics 3C", ["theo"])
    theo = await enter(browser, second, "theo")

    # The session is started from the dashboard's dialog (tested there); here through its route.
    body = {"classroom_ids": [first.classroom_id, second.classroom_id], "mode": "separate", "name": "Optics"}
    session = (await api(tess, "POST", f"{server.url}/api/recording-sessions", body))["session"]
    assert [c["name"] for c in session["classrooms"]] == ["Physics 3B", "Physics 3C"]
    await until_writing(tess, first)
    await until_writing(tess, second)
    await expect(rec_button(tess)).to_be_enabled()
    await expect(mode_picker(tess)).to_be_hidden()

    # Theo, a moderator of 3C, may not stop Tess's session: his REC says who records which session.
    await expect(rec_button(theo)).to_be_disabled()
    # He names only the classrooms whose recordings he may view (the server's session says no more).
    await expect(theo.locator("#rec-reason")).to_have_text(
        "Recording the session “Optics” (Physics 3C), started by Tess Teacher; "
        "only they or an admin can stop it."
    )

    # Tess's Stop asks first, naming the session's classrooms; keeping it records on.
    await rec_button(tess).click()
    dialog = tess.get_by_role("dialog", name="Stop the whole session?")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("“Optics” records 2 classrooms.")
    classrooms = dialog.get_by_role("list", name="Classrooms of the session").get_by_role("listitem")
    await expect(classrooms).to_have_text(["Physics 3B", "Physics 3C"])
    keep = dialog.get_by_role("button", name="Keep recording")
    await expect(keep).to_be_focused()
    await assert_accessible(tess, context="the question to stop the whole session")
    await keep.click()
    await expect(dialog).to_be_hidden()
    await expect(rec_button(tess)).to_be_focused()
    # Escape keeps it too.
    await rec_button(tess).click()
    await expect(dialog).to_be_visible()
    await tess.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    # A Stop sent by mistake would show in the recordings' state within moments: watched for 3 s.
    kept_until = time.monotonic() + 3
    while time.monotonic() < kept_until:
        for room in (first, second):
            running = await current_recording(tess, room)
            assert running is not None
            assert (running["state"], running["session_id"]) == ("recording", session["id"])
        await asyncio.sleep(0.25)

    # Stopping the whole session stops it in both classrooms; both recordings are saved.
    await rec_button(tess).click()
    await dialog.get_by_role("button", name="Stop the whole session").click()
    await expect(rec_button(tess)).to_have_accessible_name("REC — start recording")
    await until_stopped(tess, [first, second])
    await expect(indicator(theo)).to_have_count(0)
    listed = (await api(tess, "GET", f"{server.url}/api/recordings"))["recordings"]
    assert sorted((r["classroom"]["name"], r["name"], r["state"], r["session_id"]) for r in listed) == [
        ("Physics 3B", "Optics", "ready", session["id"]),
        ("Physics 3C", "Optics", "ready", session["id"]),
    ]
