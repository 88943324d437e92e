"""REC in real browsers: a teacher records a class, everyone is told, and the recording is in Resources.

Each person is a headless Chromium page with fake camera and microphone; the server is ``aula serve``, so
REC starts the real Session Recorder Robot process, which joins the classroom and writes the MP4.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from playwright.async_api import Browser, ConsoleMessage, Locator, Page, expect

from tests.browser import chromium
from tests.live_server import LiveServer, live_server
from tests.netns import require_private_namespace

pytestmark = pytest.mark.browser
ADMIN_PASSWORD = "admin password 1"
PASSWORD = "a good password"
# The robot is a process of its own that joins over WebRTC: on a loaded machine that takes seconds.
WAIT_MS = 30_000
CONSENT_TEXT = "Heads up: this class is recorded for those who miss it."
ROBOT = "Session Recorder Robot"
# From pressing Stop to the row in Recorded Classes showing the file ready, thumbnail and all. The user sees
# the file at once, not after a post-processing pass that grows with the class's length. The figure itself
# (well under a second) is measured by `make bench` (bench/recording.py); this bound only tells "at once"
# from "processed afterwards" on a CI machine busy with three browsers and the robot.
STOP_TO_READY_BUDGET_S = float(os.environ.get("AULA_TEST_STOP_BUDGET_S", "10.0"))
STOP_REASON = "Recording started by Tess Teacher; only they or an admin can stop it."


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the test modules that follow


@pytest.fixture
async def server(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LiveServer]:
    """``aula serve`` with the consent notice from its configuration; a test may add settings
    (``indirect`` parametrization) such as ``AULA_CONSENT=ask``."""
    env = {"AULA_ADMIN_PASSWORD": ADMIN_PASSWORD, "AULA_CONSENT_TEXT": CONSENT_TEXT}
    env.update(getattr(request, "param", {}))
    async with live_server(tmp_path / "data", env) as running:
        yield running


PAGE_ERRORS: list[str] = []


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """The browser; at the end, no page may have thrown or logged an error."""
    PAGE_ERRORS.clear()
    async with chromium() as launched:
        yield launched
        assert PAGE_ERRORS == []


def _console(message: ConsoleMessage) -> None:
    # Refused requests (409, 507) are logged by Chromium as failed loads; the tests provoke some.
    if message.type == "error" and "Failed to load resource" not in message.text:
        PAGE_ERRORS.append(message.text)


@dataclass
class Classroom:
    url: str
    classroom_id: int

    @property
    def page_url(self) -> str:
        return f"{self.url}/classrooms/{self.classroom_id}"


async def set_up_classroom(
    url: str, people: dict[str, tuple[str, str]], moderators: tuple[str, ...] = ()
) -> Classroom:
    """Through the HTTP API: the admin creates Tess (teacher) and ``people`` (username -> (display name,
    role)); Tess creates "Physics 3B" with the students among them and ``moderators``."""
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as admin:
        login = await admin.post(
            f"{url}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert login.status == 200, await login.text()
        for username, (display_name, role) in {"tess": ("Tess Teacher", "teacher"), **people}.items():
            body = {"username": username, "password": PASSWORD, "role": role, "display_name": display_name}
            created = await admin.post(f"{url}/api/users", json=body)
            assert created.status == 201, await created.text()
    students = [name for name, (_, role) in people.items() if role == "student"]
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as teacher:
        login = await teacher.post(f"{url}/api/auth/login", json={"username": "tess", "password": PASSWORD})
        assert login.status == 200, await login.text()
        made = await teacher.post(
            f"{url}/api/classrooms",
            json={"name": "Physics 3B", "students": students, "moderators": list(moderators)},
        )
        assert made.status == 201, await made.text()
        return Classroom(url, (await made.json())["classroom"]["id"])


async def open_page(browser: Browser, url: str, username: str) -> Page:
    """A logged-in page of its own browser context (own cookies, own fake devices)."""
    context = await browser.new_context()
    login = await context.request.post(
        f"{url}/api/auth/login", data={"username": username, "password": PASSWORD}
    )
    assert login.status == 200, await login.text()
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    watch(page)
    return page


def watch(page: Page) -> None:
    page.on("console", _console)
    page.on("pageerror", lambda error: PAGE_ERRORS.append(str(error)))


async def enter(browser: Browser, classroom: Classroom, username: str) -> Page:
    page = await open_page(browser, classroom.url, username)
    await page.goto(classroom.page_url)
    await page.get_by_role("button", name="Join classroom").click()
    await expect(page.locator("#seats")).to_be_visible()
    return page


async def another_page(page: Page) -> Page:
    """A second tab of the same person (same context, same session)."""
    other = await page.context.new_page()
    other.set_default_timeout(WAIT_MS)
    watch(other)
    return other


def rec_button(page: Page) -> Locator:
    """The REC control; the reminder dialog's "Start recording" button is not it."""
    return page.locator("#controls").get_by_role("button", name=re.compile(r"— (start|stop) recording$"))


def participant(page: Page, name: str) -> Locator:
    return page.get_by_role("list", name="Participants").get_by_role("listitem").filter(has_text=name)


def indicator(page: Page) -> Locator:
    return page.locator("#recording-indicator")


def dashboard_status(page: Page, classroom: str) -> Locator:
    """The status cell of a classroom's row on the dashboard."""
    row = (
        page.get_by_role("table", name="Classrooms")
        .get_by_role("row")
        .filter(has=page.get_by_role("link", name=classroom, exact=True))
    )
    return row.get_by_role("cell").last


def recording_row(page: Page, name: str) -> Locator:
    return (
        page.get_by_role("table", name="Recorded Classes")
        .get_by_role("row")
        .filter(has=page.get_by_role("cell", name=name, exact=True))
    )


async def row_menu(page: Page, row: Locator, name: str) -> Locator:
    """Opens a Recorded Classes row's Actions menu; its items are menuitems."""
    await row.get_by_role("button", name=f"Actions for {name}", exact=True).click()
    menu = page.get_by_role("menu", name=f"Actions for {name}")
    await expect(menu).to_be_visible()
    return menu


async def current_recording(page: Page, classroom: Classroom) -> dict[str, Any] | None:
    response = await page.request.get(f"{classroom.url}/api/classrooms/{classroom.classroom_id}/recording")
    assert response.ok, await response.text()
    recording: dict[str, Any] | None = (await response.json())["recording"]
    return recording


async def wait_recording(page: Page, classroom: Classroom) -> dict[str, Any]:
    """Until the robot writes (state ``recording``); returns the recording."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        recording = await current_recording(page, classroom)
        if recording is not None and recording["state"] == "recording":
            return recording
        assert time.monotonic() < deadline, f"not recording: {recording}"
        await asyncio.sleep(0.25)


def elapsed_seconds(name: str | None) -> int:
    match = re.fullmatch(r"Stop REC (\d+):(\d\d):(\d\d) — stop recording", name or "")
    assert match, name
    hours, minutes, seconds = (int(part) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


async def test_teacher_records_a_class_everyone_is_told_and_the_recording_plays_at_once(
    server: LiveServer, browser: Browser
) -> None:
    people = {"sam": ("Sam Student", "student"), "sue": ("Sue Student", "student")}
    classroom = await set_up_classroom(server.url, people)
    tess, sam, sue = await asyncio.gather(
        *(enter(browser, classroom, name) for name in ("tess", "sam", "sue"))
    )
    everyone = (tess, sam, sue)
    for page in everyone:
        await expect(page.locator("#seats")).to_have_text("Student seats: 2 / 30")
        await expect(indicator(page)).to_have_count(0)
    await expect(rec_button(tess)).to_have_accessible_name("REC — start recording")
    await expect(rec_button(tess)).to_have_text("REC")
    for student in (sam, sue):
        await expect(rec_button(student)).to_have_count(0)
    # Tess's dashboard, in another tab, follows the classroom's status live.
    board = await another_page(tess)
    await board.goto(f"{server.url}/classrooms")
    status = dashboard_status(board, "Physics 3B")
    await expect(status).to_have_text("In session (3)")

    await rec_button(tess).click()
    await expect(status).to_contain_text("Recording")
    await expect(status).to_contain_text("In session (3)")
    await expect(status).to_contain_text("Started by Tess Teacher, since")
    for page in everyone:
        await expect(indicator(page)).to_have_text("Recording")
        await expect(page.get_by_text(CONSENT_TEXT)).to_be_visible()
        robot = participant(page, ROBOT)
        await expect(robot).to_be_visible()
        await expect(robot.get_by_text("Robot", exact=True)).to_be_visible()
        # Seatless, and listed only: never a video tile.
        await expect(page.locator("#seats")).to_have_text("Student seats: 2 / 30")
        await expect(page.get_by_role("figure", name=ROBOT)).to_have_count(0)
        await expect(page.locator("#media figure:not(.screen)")).to_have_count(3)
    await expect(rec_button(tess)).to_be_enabled()
    await expect(rec_button(tess)).to_have_accessible_name(
        re.compile(r"^Stop REC \d+:\d\d:\d\d — stop recording$")
    )
    for student in (sam, sue):
        await expect(rec_button(student)).to_have_count(0)
        await expect(
            student.get_by_role("button", name=re.compile("recording", re.IGNORECASE))
        ).to_have_count(0)

    # Entering a class already being recorded: told at once.
    await sue.reload()
    await sue.get_by_role("button", name="Join classroom").click()
    await expect(indicator(sue)).to_have_text("Recording")
    await expect(sue.get_by_text(CONSENT_TEXT)).to_be_visible()
    await expect(participant(sue, ROBOT)).to_be_visible()
    await expect(sue.locator("#seats")).to_have_text("Student seats: 2 / 30")

    recording = await wait_recording(tess, classroom)
    name = recording["name"]
    assert name == "Physics 3B 1"
    await asyncio.sleep(8)  # the class goes on
    assert elapsed_seconds(await rec_button(tess).get_attribute("aria-label")) >= 7

    # Paused (through the API, as another of Tess's tools would): the dashboard says so in words, and
    # after Resume it says Recording again, still with who started it.
    room = f"{server.url}/api/classrooms/{classroom.classroom_id}/recording"
    paused = await tess.request.post(f"{room}/pause")
    assert paused.status == 200, await paused.text()
    await expect(status.locator(".status").first).to_have_text("Recording paused")
    await expect(status).to_contain_text("Started by Tess Teacher, since")
    listed = await tess.request.get(f"{server.url}/api/classrooms/{classroom.classroom_id}")
    assert (await listed.json())["classroom"]["recording"]["paused"] is True
    resumed = await tess.request.post(f"{room}/resume")
    assert resumed.status == 200, await resumed.text()
    await expect(status.locator(".status").first).to_have_text("Recording")
    await expect(status).not_to_contain_text("paused")
    await expect(status).to_contain_text("In session (3)")

    library = await another_page(tess)
    pressed = time.monotonic()
    await rec_button(tess).click()
    await expect(rec_button(tess)).to_have_accessible_name("REC — start recording")
    stopped = time.monotonic()
    await library.goto(f"{server.url}/resources/recordings")
    row = recording_row(library, name)
    await expect(row.get_by_text("Ready", exact=True)).to_be_visible()
    thumbnail = row.get_by_role("img", name=f"{name} thumbnail")
    await expect(thumbnail).to_be_visible()
    await library.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await thumbnail.element_handle()
    )
    ready = time.monotonic()
    figures = {
        "stop answered": round(stopped - pressed, 2),
        "row ready with thumbnail": round(ready - pressed, 2),
    }
    print(f"REC stop → ready (s): {figures}")
    assert ready - pressed < STOP_TO_READY_BUDGET_S, figures
    for page in everyone:
        await expect(indicator(page)).to_have_count(0)
        await expect(participant(page, ROBOT)).to_have_count(0)
    await expect(sam.get_by_role("status")).to_contain_text(f"“{name}” is saved")
    await expect(status).to_have_text("In session (3)")
    await expect(row.get_by_text("Stopped", exact=True)).to_be_visible()

    cells = await row.get_by_role("cell").all_inner_texts()
    assert cells[1:3] == [name, "Physics 3B"], cells
    assert re.fullmatch(r"0:00:(0[7-9]|[12]\d)", cells[4]), cells  # about the 8 s the class ran
    assert re.fullmatch(r"\d+ kB|\d+\.\d MB", cells[5]), cells

    # Play opens the player page, where the file plays at once: frames decode and time runs.
    await (await row_menu(library, row, name)).get_by_role("menuitem", name="Play").click()
    await expect(library).to_have_url(f"{server.url}/recordings/{recording['id']}")
    await expect(library.get_by_role("heading", level=1)).to_have_text(name)
    video = library.get_by_role("region", name="Video").locator("video")
    await library.wait_for_function("(video) => video.readyState >= 2", arg=await video.element_handle())
    start = await video.evaluate("(video) => video.currentTime")
    await library.get_by_role("button", name="Play", exact=True).click()
    await expect(library.get_by_role("button", name="Pause", exact=True)).to_be_visible()
    await library.wait_for_function(
        """([video, start]) => video.currentTime > start + 0.5
             && video.getVideoPlaybackQuality().totalVideoFrames > 0 && video.videoWidth > 0""",
        arg=[await video.element_handle(), start],
    )
    await library.go_back()
    await expect(row.get_by_text("Ready", exact=True)).to_be_visible()

    menu = await row_menu(library, row, name)
    href = await menu.get_by_role("menuitem", name="Download").get_attribute("href")
    await library.keyboard.press("Escape")
    assert href == f"/api/recordings/{recording['id']}/media?download=1"
    download = await library.request.get(f"{server.url}{href}")
    assert download.status == 200
    assert download.headers["content-type"] == "video/mp4"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert len(await download.body()) > 50_000

    # Published, the class's students find it too, to play but not to manage.
    await (await row_menu(library, row, name)).get_by_role("menuitem", name="Publish").click()
    # The row is rebuilt once the list is read again: its menu is opened after that, not before.
    await expect(row.get_by_text("published", exact=True)).to_be_visible()
    await expect(row.get_by_role("button", name=f"Actions for {name}")).to_be_focused()
    menu = await row_menu(library, row, name)
    await expect(menu.get_by_role("menuitem", name="Unpublish")).to_be_visible()
    await sam.goto(f"{server.url}/resources/recordings")
    sam_row = recording_row(sam, name)
    await expect((await row_menu(sam, sam_row, name)).get_by_role("menuitem")).to_have_text(
        ["Play", "Download"]
    )


async def test_reminder_from_settings_and_the_next_recording_uses_the_new_robot_name(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(server.url, {"sam": ("Sam Student", "student")})
    settings = await open_page(browser, server.url, "tess")
    await settings.goto(f"{server.url}/classrooms")
    await settings.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    await expect(settings).to_have_url(f"{server.url}/settings")
    section = settings.get_by_role("region", name="Session Recording")
    reminder_box = section.get_by_role("checkbox", name="Remind me to record when I enter a classroom")
    robot_name = section.get_by_role("textbox", name="Robot name")
    await expect(reminder_box).not_to_be_checked()
    await expect(robot_name).to_have_value(ROBOT)
    await reminder_box.check()
    await section.get_by_role("button", name="Save").click()
    await expect(settings.get_by_role("status")).to_have_text("Saved")

    # Students cannot record: nothing to set, and never a reminder.
    sam = await enter(browser, classroom, "sam")
    sam_settings = await another_page(sam)
    await sam_settings.goto(f"{server.url}/settings")
    await expect(sam_settings.get_by_text("Only teachers and admins record classes")).to_be_visible()
    await expect(sam_settings.get_by_role("checkbox")).to_have_count(0)

    tess = await another_page(settings)
    await tess.goto(classroom.page_url)
    await tess.get_by_role("button", name="Join classroom").click()
    reminder = tess.get_by_role("dialog", name="Recording reminder")
    await expect(reminder).to_be_visible()
    await expect(reminder.get_by_role("button", name="Dismiss")).to_be_visible()
    await reminder.get_by_role("button", name="Start recording").click()
    await expect(reminder).to_be_hidden()
    for page in (tess, sam):
        await expect(participant(page, ROBOT).get_by_text("Robot", exact=True)).to_be_visible()
        await expect(indicator(page)).to_have_text("Recording")
    await expect(sam.get_by_role("dialog", name="Recording reminder")).to_have_count(0)

    # The robot's name takes effect at the next REC, not in the recording running now.
    await robot_name.fill("Rec Bot")
    await reminder_box.uncheck()
    await section.get_by_role("button", name="Save").click()
    await expect(settings.get_by_role("status")).to_have_text("Saved")
    await settings.reload()
    await expect(robot_name).to_have_value("Rec Bot")
    await expect(reminder_box).not_to_be_checked()
    await wait_recording(tess, classroom)
    await expect(participant(sam, ROBOT)).to_be_visible()
    await expect(participant(sam, "Rec Bot")).to_have_count(0)
    await rec_button(tess).click()
    await expect(rec_button(tess)).to_have_accessible_name("REC — start recording")

    # With the reminder off: no reminder on entering.
    await tess.reload()
    await tess.get_by_role("button", name="Join classroom").click()
    await expect(participant(tess, "Sam Student")).to_be_visible()
    await expect(rec_button(tess)).to_be_enabled()
    await expect(tess.get_by_role("dialog", name="Recording reminder")).to_have_count(0)

    await rec_button(tess).click()
    for page in (tess, sam):
        robot = participant(page, "Rec Bot")
        await expect(robot).to_be_visible()
        await expect(robot.get_by_text("Robot", exact=True)).to_be_visible()
        await expect(participant(page, ROBOT)).to_have_count(0)
    # Resources follows a running recording by itself, until it is ready.
    name = (await wait_recording(tess, classroom))["name"]
    await settings.goto(f"{server.url}/resources/recordings")
    running = recording_row(settings, name)
    await expect(running.get_by_text("Recording", exact=True)).to_be_visible()
    running_menu = await row_menu(settings, running, name)
    await expect(running_menu.get_by_role("menuitem")).to_have_text(["Rename", "Publish"])
    await settings.keyboard.press("Escape")
    await rec_button(tess).click()
    await expect(rec_button(tess)).to_have_accessible_name("REC — start recording")
    await expect(running.get_by_text("Ready", exact=True)).to_be_visible(timeout=10_000)
    await expect(
        (await row_menu(settings, running, name)).get_by_role("menuitem", name="Play")
    ).to_be_visible()
    await expect(sam.get_by_role("dialog", name="Recording reminder")).to_have_count(0)


@pytest.mark.parametrize("server", [{"AULA_CONSENT": "ask"}], indirect=True)
async def test_co_teacher_sees_who_records_and_each_recording_asks_for_consent(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(
        server.url, {"theo": ("Theo Teacher", "teacher")}, moderators=("theo",)
    )
    tess, theo = await asyncio.gather(enter(browser, classroom, "tess"), enter(browser, classroom, "theo"))
    await expect(participant(tess, "Theo Teacher")).to_be_visible()
    await expect(rec_button(theo)).to_be_enabled()
    await expect(rec_button(theo)).to_have_accessible_name("REC — start recording")

    await rec_button(tess).click()
    for page in (tess, theo):
        question = page.get_by_role("dialog", name="May this class be recorded with you in it?")
        await expect(question).to_be_visible()
        await expect(question).to_contain_text(CONSENT_TEXT)
    await tess.get_by_role("dialog").get_by_role("button", name="Accept").click()
    await theo.get_by_role("dialog").get_by_role("button", name="Decline").click()
    await expect(theo.get_by_role("dialog")).to_have_count(0)
    await expect(theo.get_by_text("You are not in the recording.")).to_be_visible()
    await expect(participant(tess, "Theo Teacher").get_by_text("Not recorded", exact=True)).to_be_visible()
    await expect(tess.get_by_text("You are not in the recording.")).to_be_hidden()

    # Theo moderates too, so he sees who is recording; only Tess (or an admin) may stop.
    await expect(rec_button(theo)).to_have_accessible_name(re.compile(r"^Stop REC .* — stop recording$"))
    await expect(rec_button(theo)).to_be_disabled()
    await expect(rec_button(theo)).to_have_accessible_description(STOP_REASON)
    await expect(theo.get_by_text(STOP_REASON)).to_be_visible()
    await expect(rec_button(tess)).to_be_enabled()
    second = await theo.request.post(
        f"{server.url}/api/classrooms/{classroom.classroom_id}/recording", data={}
    )
    assert second.status == 409
    assert (await second.json())["error"]["code"] == "recording_active"

    first = await wait_recording(tess, classroom)
    await rec_button(tess).click()
    await expect(rec_button(theo)).to_have_accessible_name("REC — start recording")
    await expect(indicator(theo)).to_have_count(0)
    await expect(participant(tess, "Theo Teacher").get_by_text("Not recorded")).to_have_count(0)

    # A new recording asks again.
    await rec_button(tess).click()
    for page in (tess, theo):
        await (
            page.get_by_role("dialog", name="May this class be recorded with you in it?")
            .get_by_role("button", name="Accept")
            .click()
        )
    await expect(indicator(theo)).to_have_text("Recording")
    await expect(theo.get_by_text("You are not in the recording.")).to_be_hidden()
    second_recording = await wait_recording(tess, classroom)
    await rec_button(tess).click()
    await expect(rec_button(tess)).to_have_accessible_name("REC — start recording")

    # In Resources, Theo manages the classroom's recordings although Tess made them.
    await theo.goto(f"{server.url}/resources/recordings")
    first_name, second_name = first["name"], second_recording["name"]
    first_row = recording_row(theo, first_name)
    await (await row_menu(theo, first_row, first_name)).get_by_role("menuitem", name="Rename").click()
    await theo.get_by_label(f"New name for {first_name}").fill("Monday physics")
    await theo.get_by_role("button", name="Save name").click()
    await expect(theo.get_by_role("status")).to_have_text("Renamed to Monday physics.")
    await expect(
        recording_row(theo, "Monday physics").get_by_role("button", name="Actions for Monday physics")
    ).to_be_focused()
    second_row = recording_row(theo, second_name)
    await (await row_menu(theo, second_row, second_name)).get_by_role("menuitem", name="Delete").click()
    confirm = theo.get_by_role("dialog", name="Delete recording")
    await expect(confirm).to_contain_text(second_name)
    await confirm.get_by_role("button", name="Delete").click()
    await expect(recording_row(theo, second_name)).to_have_count(0)
    await expect(theo.get_by_role("table", name="Recorded Classes").get_by_role("row")).to_have_count(2)


@pytest.mark.parametrize("server", [{"AULA_MIN_FREE_BYTES": str(1 << 50)}], indirect=True)
async def test_rec_refused_for_lack_of_space_says_why(server: LiveServer, browser: Browser) -> None:
    classroom = await set_up_classroom(server.url, {})
    tess = await enter(browser, classroom, "tess")
    await rec_button(tess).click()
    await expect(tess.get_by_role("alert")).to_contain_text("Not enough free space to record")
    await expect(rec_button(tess)).to_have_accessible_name("REC — start recording")
    await expect(rec_button(tess)).to_be_enabled()
    await expect(indicator(tess)).to_have_count(0)
