"""A tour of every page of Aula as its users see them, for the accessibility check and the screenshots.

A small school is set up through the HTTP API of a live ``aula serve`` (names with accents, as real schools
have); then each page is opened by the person it is for, and ``visit(page, name)`` is called at each state
worth looking at: the login page, the dashboards, Users, Settings, the classroom live with a teacher and a
student (fake cameras), the classroom being recorded, Recorded Classes with a recording in progress and a
finished one. Pages the server has that the tour does not know yet (``server.pages.PAGES``) are visited as
the teacher, so a new page is never left out.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, CookieJar
from playwright.async_api import Browser, ConsoleMessage, Page, ViewportSize, expect

from server.pages import PAGES

ADMIN_PASSWORD = "admin password 1"
PASSWORD = "a good password"
TEACHER = "lea"
STUDENT = "sam"
# username -> (display name, role)
PEOPLE = {
    TEACHER: ("Léa Dubois", "teacher"),
    "jonas": ("Jonas Müller", "teacher"),
    STUDENT: ("Sam Okafor", "student"),
    "zoe": ("Zoé Martin", "student"),
    "ines": ("Inès Ferreira", "student"),
    "noe": ("Noé Lambert", "student"),  # in no classroom: the classroom settings' picker finds him
}
CLASSROOM = "Physique 3B"
WAIT_MS = 30_000
DESKTOP = ViewportSize(width=1280, height=720)
PHONE = ViewportSize(width=375, height=812)
VIEWPORTS = {"1280x720": DESKTOP, "375x812": PHONE}

Visit = Callable[[Page, str], Awaitable[None]]


@dataclass(frozen=True)
class School:
    url: str
    classroom_id: int

    @property
    def classroom_url(self) -> str:
        return f"{self.url}/classrooms/{self.classroom_id}"

    @property
    def recording_api(self) -> str:
        return f"{self.url}/api/classrooms/{self.classroom_id}/recording"


async def _logged_in_session(url: str, username: str, password: str) -> ClientSession:
    session = ClientSession(cookie_jar=CookieJar(unsafe=True))
    login = await session.post(f"{url}/api/auth/login", json={"username": username, "password": password})
    if login.status != 200:
        await session.close()
        raise RuntimeError(f"{username} cannot log in: {await login.text()}")
    return session


async def set_up_school(url: str) -> School:
    """The admin creates the people; Léa creates "Physique 3B" (her three students, Jonas as moderator)
    and a second classroom, so the dashboard has more than one row."""
    async with await _logged_in_session(url, "admin", ADMIN_PASSWORD) as admin:
        for username, (display_name, role) in PEOPLE.items():
            body = {"username": username, "password": PASSWORD, "role": role, "display_name": display_name}
            created = await admin.post(f"{url}/api/users", json=body)
            if created.status != 201:
                raise RuntimeError(f"cannot create {username}: {await created.text()}")
    students = [name for name, (_, role) in PEOPLE.items() if role == "student" and name != "noe"]
    async with await _logged_in_session(url, TEACHER, PASSWORD) as teacher:
        made = await teacher.post(
            f"{url}/api/classrooms", json={"name": CLASSROOM, "students": students, "moderators": ["jonas"]}
        )
        if made.status != 201:
            raise RuntimeError(f"cannot create {CLASSROOM}: {await made.text()}")
        other = await teacher.post(f"{url}/api/classrooms", json={"name": "Histoire 2A", "students": ["zoe"]})
        if other.status != 201:
            raise RuntimeError(f"cannot create the second classroom: {await other.text()}")
        return School(url, (await made.json())["classroom"]["id"])


# What the pages threw or logged as errors during the tour, for the caller to show (a page that failed to
# draw explains a missing element better than a timeout does).
PAGE_ERRORS: list[str] = []


def _console(message: ConsoleMessage) -> None:
    # API refusals (the wrong password, a 401 before login) are logged by Chromium as failed loads.
    if message.type == "error" and "Failed to load resource" not in message.text:
        PAGE_ERRORS.append(message.text)


async def open_page(browser: Browser, url: str, username: str | None) -> Page:
    """A page of its own browser context (own cookies, own fake devices), logged in unless ``username`` is
    None, at the desktop size."""
    context = await browser.new_context(viewport=DESKTOP)
    context.on("console", _console)
    context.on("weberror", lambda error: PAGE_ERRORS.append(str(error.error)))
    if username is not None:
        password = ADMIN_PASSWORD if username == "admin" else PASSWORD
        login = await context.request.post(
            f"{url}/api/auth/login", data={"username": username, "password": password}
        )
        if login.status != 200:
            raise RuntimeError(f"{username} cannot log in: {await login.text()}")
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


async def settled(page: Page) -> None:
    """The page has loaded and its scripts have drawn it (the header is filled on logged-in pages)."""
    await page.wait_for_load_state("load")
    if await page.locator("#site-header").count():
        await expect(page.locator("#site-header nav")).to_be_visible(timeout=WAIT_MS)
    await page.evaluate("document.fonts.ready.then(() => undefined)")


async def _goto(page: Page, url: str) -> None:
    await page.goto(url)
    await settled(page)


async def enter_classroom(page: Page, school: School, look: Visit | None = None, name: str = "") -> None:
    """Opens the classroom and waits until the person is in it. A pre-join check, if the page has one, is
    looked at (``look(page, name)``) and passed with the fake devices."""
    await page.goto(school.classroom_url)
    await settled(page)
    join = page.get_by_role("button", name=re.compile(r"^Join", re.IGNORECASE)).first
    seats = page.locator("#seats")
    await expect(page.locator("#seats:visible").or_(join).first).to_be_visible(timeout=WAIT_MS)
    if await join.is_visible():
        if look is not None:
            await look(page, name)
        await join.click()
    await expect(seats).to_be_visible(timeout=WAIT_MS)


async def _dismiss_reminder(page: Page, visit: Visit, name: str) -> None:
    """The "record this class?" reminder a teacher may get on entering: looked at, then dismissed."""
    dialog = page.locator("#reminder-dialog")
    try:
        await expect(dialog).to_be_visible(timeout=2_000)
    except AssertionError:
        return
    await visit(page, name)
    await dialog.get_by_role("button", name="Dismiss").click()
    await expect(dialog).to_be_hidden()


async def _wait_for_media(page: Page, people: int) -> None:
    """Every participant's video tile is shown (teacher and student with fake cameras)."""
    tiles = page.locator("video")
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        playing = await tiles.evaluate_all("(videos) => videos.filter((v) => v.readyState >= 2).length")
        if playing >= people:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{page.url}: fewer than {people} videos playing")


async def _recording(page: Page, school: School) -> dict[str, Any] | None:
    response = await page.request.get(school.recording_api)
    if not response.ok:
        raise RuntimeError(await response.text())
    recording: dict[str, Any] | None = (await response.json())["recording"]
    return recording


async def _wait_recording(page: Page, school: School) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        recording = await _recording(page, school)
        if recording is not None and recording["state"] == "recording":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not recording: {recording}")
        await asyncio.sleep(0.25)


CLASSROOM_SETTINGS = "/classrooms/{id:[0-9]+}/settings"
# The pages the tour opens by name; others in server.pages.PAGES are opened by the teacher as they are.
KNOWN_ROUTES = frozenset(
    {
        "/",
        "/classrooms",
        "/classrooms/{id:[0-9]+}",
        CLASSROOM_SETTINGS,
        "/resources/recordings",
        "/admin/users",
        "/settings",
    }
)


async def _classroom_form_refused(teacher: Page, look: Visit) -> None:
    """A new classroom with two problems: both are named next to their fields."""
    await teacher.get_by_label("Classroom name").fill("  ")
    await teacher.get_by_label("Seat limit").fill("0")
    await teacher.get_by_role("button", name="Create classroom").click()
    await expect(teacher.get_by_label("Seat limit")).to_have_attribute("aria-invalid", "true")
    await look(teacher, "classrooms-teacher-errors")


async def _reset_password_refused(admin: Page, look: Visit) -> None:
    """The admin's password reset dialog, with a password too short refused next to its field."""
    await admin.get_by_role("button", name="Reset password of zoe").click()
    dialog = admin.get_by_role("dialog", name="Reset password of zoe")
    await dialog.get_by_label("New password").fill("short")
    await dialog.get_by_role("button", name="Set password").click()
    await expect(dialog.get_by_label("New password")).to_have_attribute("aria-invalid", "true")
    await look(admin, "users-reset-password")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()


async def _moderation(teacher: Page, student: Page, look: Visit) -> None:
    """The states moderation adds to the classroom: a raised hand in the teacher's queue, the student's
    mute request notice, the teacher's media rights menu and the removal confirmation (cancelled)."""
    name = PEOPLE[STUDENT][0]
    await student.get_by_role("button", name="Raise hand").click()
    await expect(teacher.get_by_role("list", name="Raised hands")).to_contain_text(name)
    await look(teacher, "classroom-teacher-hand")
    await look(student, "classroom-student-hand")
    await student.get_by_role("button", name="Lower hand").click()

    await teacher.get_by_role("button", name=f"Ask {name} to mute").click()
    request = student.locator(".notice").filter(has_text="asks you to mute your microphone")
    await expect(request.get_by_role("button", name="Mute now")).to_be_visible()
    await look(student, "classroom-student-mute-request")
    await request.get_by_role("button", name="Dismiss").click()

    rights = teacher.get_by_role("button", name=f"Media rights for {name}")
    await rights.click()
    await expect(teacher.get_by_role("button", name=f"Deny camera for {name}")).to_be_visible()
    await look(teacher, "classroom-teacher-media-rights")
    await rights.click()

    await teacher.get_by_role("button", name=f"Remove {name}").click()
    dialog = teacher.get_by_role("dialog", name="Remove from the classroom?")
    await expect(dialog).to_be_visible()
    await look(teacher, "classroom-teacher-remove")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()


# The name of the state of a page the tour does not know by name starts with this.
OTHER_PAGE = "page-"


def _unknown_routes() -> list[str]:
    return [route for route in PAGES if route not in KNOWN_ROUTES]


def _route_url(school: School, route: str) -> str:
    return school.url + re.sub(r"\{id(:[^}]*)?\}", str(school.classroom_id), route)


async def tour(browser: Browser, school: School, visit: Visit, *, recording: bool = True) -> list[str]:
    """Visits every page; returns the names of the states visited, in order. ``recording``: also record
    the class (starts the robot) for the recording states."""
    seen: list[str] = []

    async def look(page: Page, name: str) -> None:
        seen.append(name)
        await visit(page, name)

    url = school.url
    anonymous = await open_page(browser, url, None)
    await _goto(anonymous, f"{url}/")
    await look(anonymous, "login")
    await anonymous.get_by_label("User name").fill(STUDENT)
    await anonymous.get_by_label("Password").fill("not the password")
    await anonymous.get_by_role("button", name="Log in").click()
    await expect(anonymous.get_by_role("alert")).to_be_visible()
    await look(anonymous, "login-error")
    await anonymous.context.close()

    admin = await open_page(browser, url, "admin")
    await _goto(admin, f"{url}/classrooms")
    await look(admin, "classrooms-admin")
    await _goto(admin, f"{url}/admin/users")
    await look(admin, "users")
    await _reset_password_refused(admin, look)
    await admin.context.close()

    teacher = await open_page(browser, url, TEACHER)
    await _goto(teacher, f"{url}/classrooms")
    await look(teacher, "classrooms-teacher")
    await _classroom_form_refused(teacher, look)
    if CLASSROOM_SETTINGS in PAGES:
        await _goto(teacher, _route_url(school, CLASSROOM_SETTINGS))
        await look(teacher, "classroom-settings")
        await teacher.get_by_role("combobox", name="Students").fill("No")
        await expect(teacher.get_by_role("listbox", name="Students found")).to_contain_text("Noé Lambert")
        await look(teacher, "classroom-settings-picker")
    await _goto(teacher, f"{url}/settings")
    await look(teacher, "settings-teacher")
    robot_name = teacher.get_by_label("Robot name")
    await robot_name.fill("   ")
    await teacher.get_by_role("button", name="Save").click()
    await expect(robot_name).to_have_attribute("aria-invalid", "true")
    await expect(robot_name).to_have_accessible_description(
        re.compile("Enter the name the robot should show")
    )
    await look(teacher, "settings-teacher-error")
    for route in _unknown_routes():
        await _goto(teacher, _route_url(school, route))
        await look(teacher, OTHER_PAGE + re.sub(r"\{id(:[^}]*)?\}", "id", route).strip("/").replace("/", "-"))

    student = await open_page(browser, url, STUDENT)
    await _goto(student, f"{url}/classrooms")
    await look(student, "classrooms-student")
    await _goto(student, f"{url}/settings")
    await look(student, "settings-student")

    await enter_classroom(teacher, school, look, "classroom-prejoin")
    await _dismiss_reminder(teacher, look, "classroom-reminder")
    await enter_classroom(student, school)
    await expect(teacher.get_by_role("list", name="Participants")).to_contain_text("Sam Okafor")
    await _wait_for_media(teacher, 2)
    await _wait_for_media(student, 2)
    await student.get_by_role("textbox", name="Message").fill("Bonjour Madame Dubois !")
    await student.get_by_role("button", name="Send").click()
    await expect(teacher.get_by_role("list", name="Chat messages")).to_contain_text("Bonjour")
    await look(teacher, "classroom-teacher")
    await look(student, "classroom-student")
    await _moderation(teacher, student, look)

    library = await teacher.context.new_page()
    library.set_default_timeout(WAIT_MS)
    if recording:
        started = await teacher.request.post(school.recording_api, data={})
        if started.status != 201:
            raise RuntimeError(f"cannot start recording: {await started.text()}")
        await _wait_recording(teacher, school)
        await expect(teacher.locator("#recording-indicator")).to_be_visible()
        await look(teacher, "classroom-teacher-recording")
        await look(student, "classroom-student-recording")
        await _goto(library, f"{url}/resources/recordings")
        await expect(library.get_by_role("table", name="Recorded Classes")).to_contain_text(CLASSROOM)
        await look(library, "recordings-in-progress")
        stopped = await teacher.request.post(f"{school.recording_api}/stop", data={})
        if stopped.status != 200:
            raise RuntimeError(f"cannot stop recording: {await stopped.text()}")
    await _goto(library, f"{url}/resources/recordings")
    await look(library, "recordings")
    if recording:
        actions = library.get_by_role("button", name=re.compile(r"^Actions for "))
        await actions.first.click()
        await expect(library.get_by_role("menu")).to_be_visible()
        await look(library, "recordings-actions")
        await library.keyboard.press("Escape")
        await expect(library.get_by_role("menu")).to_have_count(0)
    for page in (teacher, student):
        await page.context.close()
    return seen


async def at_each_size(page: Page, look: Callable[[str], Awaitable[None]]) -> None:
    """Calls ``look(size name)`` with the page at 1280x720, then at 375x812; leaves it at 1280x720."""
    for size, viewport in VIEWPORTS.items():
        await page.set_viewport_size(viewport)
        # Let layout (and any ResizeObserver of the page) follow the new size.
        await page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        await look(size)
    await page.set_viewport_size(DESKTOP)
