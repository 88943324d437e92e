"""In real browsers: an admin sets up accounts, a teacher opens a classroom, a student joins, they talk."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from playwright.async_api import Browser, ConsoleMessage, Locator, Page, expect

from tests.browser import chromium, log_in
from tests.live_server import LiveServer, live_server

pytestmark = pytest.mark.browser
ADMIN_PASSWORD = "admin password 1"
PASSWORD = "a good password"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(tmp_path / "data", {"AULA_ADMIN_PASSWORD": ADMIN_PASSWORD}) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """The browser; at the end, no page may have thrown or broken the content policy."""
    PAGE_ERRORS.clear()
    async with chromium() as launched:
        yield launched
        assert PAGE_ERRORS == []


PAGE_ERRORS: list[str] = []


def _console(message: ConsoleMessage) -> None:
    # API answers such as 401 or 409 are logged by Chromium as failed loads; they are expected here.
    if message.type == "error" and "Failed to load resource" not in message.text:
        PAGE_ERRORS.append(message.text)


async def new_page(browser: Browser) -> Page:
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(10_000)
    page.on("console", _console)
    page.on("pageerror", lambda error: PAGE_ERRORS.append(str(error)))
    return page


async def create_user(page: Page, username: str, display_name: str, role: str) -> None:
    await page.get_by_label("User name").fill(username)
    await page.get_by_label("Display name").fill(display_name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Role").select_option(role)
    await page.get_by_role("button", name="Create user").click()
    await expect(page.locator("#status")).to_contain_text(f"Created {username}")


def participants(page: Page) -> Locator:
    return page.get_by_role("list", name="Participants")


async def test_admin_sets_up_and_a_teacher_and_student_meet_in_a_classroom(
    server: LiveServer, browser: Browser
) -> None:
    url = server.url
    admin = await new_page(browser)
    await log_in(admin, url, "admin", ADMIN_PASSWORD)
    await admin.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    await expect(admin).to_have_url(f"{url}/admin/users")
    await create_user(admin, "tess", "Tess Teacher", "teacher")
    await create_user(admin, "sam", "Sam Student", "student")
    await create_user(admin, "sue", "Sue Student", "student")
    users = admin.get_by_role("table", name="Users")
    await expect(users).to_contain_text("Tess Teacher")
    await expect(users).to_contain_text("Sue Student")

    teacher = await new_page(browser)
    await log_in(teacher, url, "tess", PASSWORD)
    await expect(teacher.get_by_role("heading", name="My classrooms")).to_be_visible()
    await teacher.get_by_label("Classroom name").fill("Physics 3B")
    await teacher.get_by_label("Seat limit").fill("1")
    for typed, name in (("sam", "Sam Student"), ("sue", "Sue Student")):
        await teacher.get_by_role("combobox", name="Students").fill(typed)
        await teacher.get_by_role("option", name=name).click()
    await teacher.get_by_role("button", name="Create classroom").click()
    await teacher.get_by_role("link", name="Physics 3B").click()
    await teacher.get_by_role("button", name="Join classroom").click()
    await expect(teacher).to_have_url(re.compile(rf"{url}/classrooms/\d+$"))
    await expect(teacher.get_by_role("heading", name="Physics 3B")).to_be_visible()
    await expect(participants(teacher)).to_contain_text("Tess Teacher")
    await expect(teacher.locator("#seats")).to_have_text("Student seats: 0 / 1")  # the teacher takes no seat

    student = await new_page(browser)
    await log_in(student, url, "sam", PASSWORD)
    await expect(student.get_by_role("table", name="Classrooms")).to_contain_text("In session")
    await student.get_by_role("link", name="Physics 3B").click()
    await student.get_by_role("button", name="Join classroom").click()
    await expect(participants(student)).to_contain_text("Tess Teacher")
    await expect(participants(student)).to_contain_text("Sam Student")
    await expect(participants(teacher)).to_contain_text("Sam Student")
    await expect(teacher.locator("#seats")).to_have_text("Student seats: 1 / 1")

    await student.get_by_role("textbox", name="Message").fill("Good morning, Miss!")
    await student.get_by_role("button", name="Send").click()
    teacher_chat = teacher.get_by_role("list", name="Chat messages")
    await expect(teacher_chat).to_contain_text("Sam Student: Good morning, Miss!")
    await teacher.get_by_role("textbox", name="Message").fill("Morning <b>Sam</b>")
    await teacher.get_by_role("button", name="Send").click()
    student_chat = student.get_by_role("list", name="Chat messages")
    await expect(student_chat).to_contain_text("Tess Teacher: Morning <b>Sam</b>")
    await expect(student_chat.locator("b")).to_have_count(0)

    await student.get_by_role("button", name="Raise hand").click()
    await expect(student.get_by_role("button", name="Lower hand")).to_be_visible()
    sam_row = teacher.get_by_role("listitem").filter(has_text="Sam Student")
    await expect(sam_row.get_by_role("img", name="Hand raised")).to_be_visible()

    late = await new_page(browser)
    await log_in(late, url, "sue", PASSWORD)
    await late.get_by_role("link", name="Physics 3B").click()
    # The check before joining already says that every seat is taken.
    await expect(late.locator("#prejoin-seats")).to_contain_text(
        "Student seats: 1 / 1. This classroom is full"
    )
    await late.get_by_role("button", name="Join classroom").click()
    await expect(late.get_by_role("alert")).to_contain_text("full")
    # Not a dead end: the page says so in place of the classroom, with the ways on.
    await expect(late.get_by_role("heading", name="You are not in this classroom")).to_be_visible()
    await expect(late.get_by_role("button", name="Try again")).to_be_visible()
    await expect(late.get_by_role("link", name="Back to My classrooms")).to_be_visible()
    await expect(participants(teacher)).not_to_contain_text("Sue Student")
    await expect(teacher.locator("#seats")).to_have_text("Student seats: 1 / 1")

    await student.get_by_role("button", name="Leave classroom").click()
    await expect(student).to_have_url(f"{url}/classrooms")
    await expect(participants(teacher)).not_to_contain_text("Sam Student")
    await late.reload()
    await late.get_by_role("button", name="Join classroom").click()
    await expect(participants(late)).to_contain_text("Tess Teacher")
    await expect(participants(teacher)).to_contain_text("Sue Student")


async def test_login_page_shows_a_wrong_password_and_protects_pages(
    server: LiveServer, browser: Browser
) -> None:
    page = await new_page(browser)
    await page.goto(f"{server.url}/resources/recordings")
    await expect(page).to_have_url(re.compile(r"/\?next="))
    await page.get_by_label("User name").fill("admin")
    await page.get_by_label("Password").fill("not it")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("wrong user name or password")
    await page.get_by_label("Password").fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server.url}/resources/recordings")
    await expect(page.get_by_role("heading", name="Recorded Classes")).to_be_visible()
    await expect(page.get_by_text("No recordings yet.")).to_be_visible()


# ---- through the HTTP API, for the scenarios below ----------------------------------------------------


async def api(server: LiveServer, cookie: str, method: str, path: str, body: Any = None) -> Any:
    """One API call as a logged-in user; returns the decoded body (None for 204)."""
    async with (
        ClientSession() as http,
        http.request(
            method, f"{server.url}{path}", json=body, headers={"Cookie": cookie, "Origin": server.url}
        ) as response,
    ):
        assert response.ok, await response.text()
        return None if response.status == 204 else await response.json()


async def session_cookie(server: LiveServer, username: str, password: str = PASSWORD) -> str:
    async with (
        ClientSession() as http,
        http.post(
            f"{server.url}/api/auth/login", json={"username": username, "password": password}
        ) as response,
    ):
        assert response.status == 200, await response.text()
        return f"aula_session={response.cookies['aula_session'].value}"


async def create_users(server: LiveServer, people: dict[str, tuple[str, str]]) -> None:
    """The admin creates ``people`` (username -> (display name, role))."""
    admin = await session_cookie(server, "admin", ADMIN_PASSWORD)
    for username, (display_name, role) in people.items():
        body = {"username": username, "password": PASSWORD, "role": role, "display_name": display_name}
        await api(server, admin, "POST", "/api/users", body)


async def logged_in_page(browser: Browser, server: LiveServer, username: str) -> Page:
    page = await new_page(browser)
    await log_in(page, server.url, username, PASSWORD)
    return page


def classroom_row(page: Page, name: str) -> Locator:
    return (
        page.get_by_role("table", name="Classrooms")
        .get_by_role("row")
        .filter(has=page.get_by_role("link", name=name, exact=True))
    )


async def test_dashboard_follows_its_classrooms_live_and_sorts_them_by_status(
    server: LiveServer, browser: Browser
) -> None:
    await create_users(server, {"tess": ("Tess Teacher", "teacher"), "sam": ("Sam Student", "student")})
    tess_cookie = await session_cookie(server, "tess")
    ids = {}
    for name in ("Art", "Biology", "Physics 3B"):
        made = await api(server, tess_cookie, "POST", "/api/classrooms", {"name": name, "students": ["sam"]})
        ids[name] = made["classroom"]["id"]

    sam = await logged_in_page(browser, server, "sam")
    table = sam.get_by_role("table", name="Classrooms")
    body_rows = table.locator("tbody tr")
    await expect(body_rows).to_have_count(3)
    for name in ids:
        await expect(classroom_row(sam, name).get_by_role("cell").last).to_have_text("Idle")
    await expect(table.get_by_role("columnheader", name="Name")).to_have_attribute("aria-sort", "ascending")
    # Students create no classrooms: the server says so with the user, and the form stays hidden.
    await expect(sam.get_by_role("button", name="Create classroom")).to_be_hidden()

    # Tess enters Physics 3B: Sam's dashboard shows it without a reload.
    tess = await logged_in_page(browser, server, "tess")
    await tess.goto(f"{server.url}/classrooms/{ids['Physics 3B']}")
    await tess.get_by_role("button", name="Join classroom").click()
    await expect(participants(tess)).to_contain_text("Tess Teacher")
    physics = classroom_row(sam, "Physics 3B")
    await expect(physics.get_by_role("cell").last).to_have_text("In session (1)")
    await expect(physics.get_by_role("cell").nth(2)).to_have_text("0 / 30")  # a teacher takes no seat

    status_header = table.get_by_role("columnheader", name="Status")
    await expect(status_header).not_to_have_attribute("aria-sort", re.compile(".*"))
    await table.get_by_role("button", name="Status").click()
    await expect(status_header).to_have_attribute("aria-sort", "ascending")
    await expect(table.get_by_role("columnheader", name="Name")).not_to_have_attribute(
        "aria-sort", re.compile(".*")
    )
    await expect(body_rows.first).to_contain_text("Physics 3B")
    await table.get_by_role("button", name="Status").click()
    await expect(status_header).to_have_attribute("aria-sort", "descending")
    await expect(body_rows.last).to_contain_text("Physics 3B")
    await expect(table.get_by_role("button", name="Status")).to_be_focused()

    # Deleted: the row goes. Created with Sam in it: a row comes, in the order chosen.
    await api(server, tess_cookie, "DELETE", f"/api/classrooms/{ids['Biology']}")
    await expect(classroom_row(sam, "Biology")).to_have_count(0)
    await api(server, tess_cookie, "POST", "/api/classrooms", {"name": "Chemistry", "students": ["sam"]})
    await expect(classroom_row(sam, "Chemistry").get_by_role("cell").last).to_have_text("Idle")
    await expect(body_rows).to_have_count(3)
    await expect(body_rows.last).to_contain_text("Physics 3B")

    await tess.get_by_role("button", name="Leave classroom").click()
    await expect(physics.get_by_role("cell").last).to_have_text("Idle")


async def test_a_teacher_made_moderator_in_class_gets_the_moderator_controls_at_once(
    server: LiveServer, browser: Browser
) -> None:
    await create_users(
        server,
        {
            "tess": ("Tess Teacher", "teacher"),
            "theo": ("Theo Teacher", "teacher"),
            "sam": ("Sam Student", "student"),
        },
    )
    tess_cookie = await session_cookie(server, "tess")
    made = await api(
        server, tess_cookie, "POST", "/api/classrooms", {"name": "Physics 3B", "students": ["sam", "theo"]}
    )
    path = f"/api/classrooms/{made['classroom']['id']}"
    theo, sam = await logged_in_page(browser, server, "theo"), await logged_in_page(browser, server, "sam")
    for page in (theo, sam):
        await page.goto(f"{server.url}/classrooms/{made['classroom']['id']}")
        await page.get_by_role("button", name="Join classroom").click()
    await expect(participants(theo)).to_contain_text("Sam Student")
    await expect(participants(sam)).to_contain_text("Theo Teacher")
    remove_sam = theo.get_by_role("button", name="Remove Sam Student")
    rec = theo.locator("#controls").get_by_role("button", name="REC — start recording")
    await expect(remove_sam).to_have_count(0)
    await expect(rec).to_be_hidden()

    await api(server, tess_cookie, "PATCH", path, {"moderators": ["theo"], "students": ["sam"]})
    await expect(remove_sam).to_be_visible()
    await expect(theo.get_by_role("button", name="Ask Sam Student to mute")).to_be_visible()
    await expect(rec).to_be_enabled()
    theo_on_sam = participants(sam).get_by_role("listitem").filter(has_text="Theo Teacher")
    await expect(theo_on_sam.get_by_text("Moderator", exact=True)).to_be_visible()
    await expect(sam.get_by_role("button", name=re.compile("^(Remove|Ask) "))).to_have_count(0)
    await rec.click()
    stop = theo.locator("#controls").get_by_role("button", name=re.compile("— stop recording$"))
    await expect(stop).to_be_enabled(timeout=30_000)
    for _ in range(120):
        current = await api(server, tess_cookie, "GET", f"{path}/recording")
        if current["recording"]["state"] == "recording":
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(1)

    await api(server, tess_cookie, "PATCH", path, {"moderators": [], "students": ["sam", "theo"]})
    await expect(remove_sam).to_have_count(0)
    await expect(stop).to_be_hidden()
    await expect(rec).to_be_hidden()
    await expect(theo_on_sam.get_by_text("Moderator", exact=True)).to_have_count(0)

    # Unenrolled while in class: Sam is told, the classroom's controls are gone and the page stops talking;
    # it no longer says that the class is being recorded.
    banner = sam.locator("#recording-banner")
    await expect(banner).to_contain_text("This class is being recorded")
    await api(server, tess_cookie, "PATCH", path, {"students": ["theo"]})
    await expect(sam.get_by_role("alert")).to_have_text("You no longer have access to this classroom.")
    await expect(banner).to_be_empty()
    await expect(sam.locator("#rec-warning")).to_be_empty()
    await expect(sam.get_by_role("button", name="Raise hand")).to_be_hidden()
    await expect(participants(theo)).not_to_contain_text("Sam Student")
