"""The classroom page's recording tools in real browsers: a teacher picks a codes list before REC, scores
codes by their keys and buttons while recording, adds a bookmark with a remark, pauses (everyone's page says
"Recording paused" and the REC time stands still) and resumes, and names the recording on Stop; the codes
lists are edited on the classroom's settings page.

Each person is a headless Chromium page with fake camera and microphone; the server is ``aula serve``, so
REC starts the real Session Recorder Robot. The teacher's window is a 375 px wide phone: every recording
tool must stay on screen there.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests import test_browser_recording as recording
from tests.accessibility import assert_accessible
from tests.live_server import LiveServer
from tests.netns import require_private_namespace
from tests.test_browser_recording import (
    Classroom,
    elapsed_seconds,
    enter,
    indicator,
    open_page,
    rec_button,
    recording_row,
    set_up_classroom,
    wait_recording,
)

pytestmark = pytest.mark.browser
# The live server (with the consent notice) and the browser (which fails the test if a page logs an error)
# of the REC tests.
server = recording.server
browser = recording.browser
PHONE: ViewportSize = {"width": 375, "height": 812}
LESSON = {
    "name": "Lesson events",
    "codes": [
        {"code": "q", "label": "Question", "key": "q"},
        {"code": "a", "label": "Answer", "key": "a"},
    ],
}
BOOKMARK_NOTICE = re.compile(r"Bookmark “Question” at \d\d:\d\d")


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    expect.set_options(timeout=recording.WAIT_MS)
    yield
    expect.set_options(timeout=5_000)


async def enter_on_phone(browser: Browser, classroom: Classroom, username: str) -> Page:
    page = await open_page(browser, classroom.url, username)
    await page.set_viewport_size(PHONE)
    await page.goto(classroom.page_url)
    await page.get_by_role("button", name="Join classroom").click()
    await expect(page.locator("#seats")).to_be_visible()
    return page


async def api(page: Page, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    response = await page.request.fetch(url, method=method, data=body)
    assert response.ok, f"{method} {url}: {response.status} {await response.text()}"
    return await response.json()


async def bookmarks(page: Page, url: str, recording_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api(page, "GET", f"{url}/api/recordings/{recording_id}/bookmarks"))[
        "bookmarks"
    ]
    return found


async def rec_elapsed(page: Page) -> int:
    return elapsed_seconds(await rec_button(page).get_attribute("aria-label"))


# Every button shown in the classroom's toolbar, each scrolled into view in turn, that reaches past the
# window's sides or is smaller than 24 by 24 CSS pixels (WCAG 2.2 target size): "name: x, width × height".
# One evaluation instead of a round trip per button.
BUTTONS_OUT_OF_REACH = """
(width) => [...document.querySelectorAll("#controls button")]
  .filter((button) => button.checkVisibility())
  .map((button) => {
    button.scrollIntoView({ block: "nearest", inline: "nearest" });
    const box = button.getBoundingClientRect();
    const name = button.getAttribute("aria-label") || button.innerText.replace(/\\s+/g, " ").trim();
    const fits = box.left >= 0 && box.right <= width && box.width >= 24 && box.height >= 24;
    return fits ? null : `${name}: x ${box.left}, ${box.width} × ${box.height}`;
  })
  .filter(Boolean)
"""


async def every_toolbar_button_on_screen(page: Page) -> None:
    """The checks of the stage test: no sideways scrolling, every toolbar button inside the screen and at
    least 24 by 24 CSS pixels."""
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert await page.evaluate("document.querySelectorAll('#controls button').length") >= 12
    assert await page.evaluate(BUTTONS_OUT_OF_REACH, PHONE["width"]) == []


async def test_codes_by_key_and_button_a_remark_pause_for_everyone_and_the_name_asked_on_stop(
    server: LiveServer, browser: Browser
) -> None:
    people = {"sam": ("Sam Student", "student"), "theo": ("Theo Teacher", "teacher")}
    classroom = await set_up_classroom(server.url, people, moderators=("theo",))
    url, classroom_id = server.url, classroom.classroom_id
    setup = await open_page(browser, url, "tess")
    await api(setup, "PUT", f"{url}/api/classrooms/{classroom_id}/codes", {"lists": [LESSON]})
    await api(
        setup,
        "PATCH",
        f"{url}/api/me/settings",
        {"default_recording_name": "Optics lab", "edit_name_on_stop": True},
    )
    tess, sam, theo = await asyncio.gather(
        enter_on_phone(browser, classroom, "tess"),
        enter(browser, classroom, "sam"),
        enter(browser, classroom, "theo"),
    )

    # Before REC Tess picks a codes list; Sam, who cannot record, has nothing to pick.
    picker = tess.get_by_role("combobox", name="Codes list")
    await expect(picker).to_have_value("")
    await expect(picker.get_by_role("option")).to_have_text(["No codes list", "Lesson events"])
    await expect(sam.get_by_role("combobox", name="Codes list")).to_have_count(0)
    await picker.select_option(label="Lesson events")
    await rec_button(tess).click()
    await expect(picker).to_be_hidden()
    started = await wait_recording(tess, classroom)
    assert started["codes_list"] == LESSON, started["codes_list"]
    recording_id = started["id"]
    codes = tess.get_by_role("group", name="Codes: Lesson events")
    question = codes.get_by_role("button", name="Bookmark Question")
    await expect(question).to_be_enabled()
    await expect(question).to_have_attribute("aria-keyshortcuts", "q")
    await expect(sam.get_by_role("button", name="Bookmark", exact=True)).to_have_count(0)
    await expect(sam.get_by_role("button", name="Pause recording")).to_have_count(0)
    # Theo moderates too: he scores codes, but only Tess (who may stop) pauses.
    await expect(theo.get_by_role("button", name="Bookmark Question")).to_be_enabled()
    await expect(theo.get_by_role("button", name="Pause recording")).to_have_count(0)
    await every_toolbar_button_on_screen(tess)
    await assert_accessible(tess, context="recording with a codes list, on a phone")

    # The code's key adds a bookmark with that code, and says so.
    await tess.keyboard.press("q")
    await expect(tess.get_by_role("status")).to_contain_text(BOOKMARK_NOTICE)
    await expect(theo.get_by_role("status")).to_contain_text("Tess Teacher added: Bookmark “Question” at")
    added = await bookmarks(tess, url, recording_id)
    assert [(b["code"], b["label"]) for b in added] == [("q", "Question")], added
    # Typed into the chat, the key is a letter of the message.
    await tess.get_by_role("button", name="Participants and chat").click()
    await tess.get_by_role("textbox", name="Message").press_sequentially("qa")
    await tess.get_by_role("button", name="Participants and chat").click()
    # Its button does the same; Bookmark asks for a remark first.
    await codes.get_by_role("button", name="Bookmark Answer").click()
    await expect(tess.get_by_role("status")).to_contain_text(re.compile(r"Bookmark “Answer” at \d\d:\d\d"))
    await tess.get_by_role("button", name="Bookmark", exact=True).click()
    dialog = tess.get_by_role("dialog", name="Add a bookmark")
    remark = dialog.get_by_role("textbox", name="Remark (optional)")
    await expect(remark).to_be_focused()
    await remark.fill("Ohm's law on the board")
    await dialog.get_by_role("button", name="Add bookmark").click()
    await expect(dialog).to_be_hidden()
    await expect(tess.get_by_role("status")).to_contain_text(
        re.compile(r"Bookmark at \d\d:\d\d: Ohm's law on the board")
    )
    await expect(tess.get_by_role("button", name="Bookmark", exact=True)).to_be_focused()
    added = await bookmarks(tess, url, recording_id)
    scored = [(b["code"], b["remark"] or "") for b in added]
    assert scored == [("q", ""), ("a", ""), (None, "Ohm's law on the board")], added

    # Pause: everyone's page says so, and the REC time stands still.
    await tess.get_by_role("button", name="Pause recording").click()
    for page in (tess, sam, theo):
        await expect(indicator(page)).to_have_text("Recording paused")
    await expect(tess.get_by_role("button", name="Resume recording")).to_be_enabled()
    # The button pressed stays focused while it is pending, and reads "Resume" once paused.
    await expect(tess.get_by_role("button", name="Resume recording")).to_be_focused()
    await expect(tess.get_by_role("button", name="Bookmark", exact=True)).to_be_disabled()
    frozen = await rec_elapsed(tess)
    await tess.keyboard.press("q")
    await expect(tess.get_by_role("alert")).to_contain_text("The recording is paused")
    await asyncio.sleep(1.5)
    assert await rec_elapsed(tess) == frozen
    assert len(await bookmarks(tess, url, recording_id)) == 3
    await tess.get_by_role("button", name="Resume recording").click()
    for page in (tess, sam, theo):
        await expect(indicator(page)).to_have_text("Recording")
    await expect(tess.get_by_role("button", name="Pause recording")).to_be_enabled()
    await expect(tess.get_by_role("button", name="Pause recording")).to_be_focused()
    await asyncio.sleep(2.2)
    assert await rec_elapsed(tess) >= frozen + 1

    # Stop: the file is ready at once, and the name is asked, "default name + number" offered.
    await rec_button(tess).click()
    naming = tess.get_by_role("dialog", name="Name the recording")
    name = naming.get_by_role("textbox", name="Recording name")
    await expect(name).to_have_value("Optics lab 1")
    await expect(name).to_be_focused()
    await assert_accessible(tess, context="the name asked on Stop")
    await expect(rec_button(tess)).to_have_accessible_name("REC — start recording")
    await name.fill(" ")
    await naming.get_by_role("button", name="Save name").click()
    await expect(name).to_have_accessible_description("Error: Give the recording a name, or keep this one.")
    await expect(name).to_be_focused()
    await name.fill("Ohm's law lesson")
    await naming.get_by_role("button", name="Save name").click()
    await expect(naming).to_be_hidden()
    await expect(tess.get_by_role("status")).to_contain_text("“Ohm's law lesson” is saved")
    await expect(indicator(sam)).to_have_count(0)
    library = await tess.context.new_page()
    await library.goto(f"{url}/resources/recordings")
    row = recording_row(library, "Ohm's law lesson")
    await expect(row.get_by_text("Ready", exact=True)).to_be_visible()
    await library.close()
    # The picker is back for the next REC.
    await expect(picker).to_be_visible()


async def test_codes_editor_saves_a_list_and_marks_a_duplicate_code(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(server.url, {})
    tess = await open_page(browser, server.url, "tess")
    await tess.set_viewport_size(PHONE)
    await tess.goto(f"{classroom.page_url}/settings")
    section = tess.get_by_role("region", name="Codes lists")
    await expect(section.get_by_text("This classroom has no codes lists yet.")).to_be_visible()
    await section.get_by_role("button", name="Add a codes list").click()
    first = section.get_by_role("group", name="Codes list 1")
    await expect(first.get_by_role("textbox", name="List name")).to_be_focused()
    await first.get_by_role("textbox", name="List name").fill("Lesson events")
    await first.get_by_role("textbox", name="Code 1").fill("q")
    await first.get_by_role("textbox", name="Label 1").fill("Question")
    # On a phone the label takes the row's whole width, on its own line under code, key and Remove.
    share = await first.get_by_role("textbox", name="Label 1").evaluate(
        "(input) => input.offsetWidth / input.closest('.code-row').offsetWidth"
    )
    assert share > 0.95, share
    await first.get_by_role("textbox", name="Key 1").fill("q")
    await first.get_by_role("button", name="Add a code").click()
    await expect(first.get_by_role("textbox", name="Code 2")).to_be_focused()
    await first.get_by_role("textbox", name="Code 2").fill("q")
    await first.get_by_role("textbox", name="Label 2").fill("Answer")
    await section.get_by_role("button", name="Save codes lists").click()

    duplicate = first.get_by_role("textbox", name="Code 2")
    await expect(duplicate).to_have_attribute("aria-invalid", "true")
    await expect(duplicate).to_have_accessible_description("Error: This code is already in the list.")
    await expect(duplicate).to_be_focused()
    await assert_accessible(tess, context="the codes editor with a field error")
    assert await tess.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    codes_url = f"{server.url}/api/classrooms/{classroom.classroom_id}/codes"
    assert (await api(tess, "GET", codes_url))["lists"] == []

    await duplicate.fill("a")
    await first.get_by_role("textbox", name="Key 2").fill("a")
    await section.get_by_role("button", name="Save codes lists").click()
    await expect(section.get_by_role("status")).to_have_text("Codes lists saved.")
    await expect(first.get_by_role("textbox", name="Code 2")).not_to_have_attribute("aria-invalid", "true")
    assert (await api(tess, "GET", codes_url))["lists"] == [LESSON]

    # A second list, then removed again: the first stays as saved.
    await section.get_by_role("button", name="Add a codes list").click()
    second = section.get_by_role("group", name="Codes list 2")
    await second.get_by_role("button", name="Remove list 2").click()
    await expect(second).to_have_count(0)
    await first.get_by_role("button", name="Remove code 2").click()
    await expect(first.get_by_role("textbox", name="Code 2")).to_have_count(0)
    await tess.reload()
    await expect(first.get_by_role("textbox", name="Code 2")).to_have_value("a")
    await expect(first.get_by_role("textbox", name="List name")).to_have_value("Lesson events")
