"""In real browsers: an admin sets up accounts, a teacher opens a classroom, a student joins, they talk."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
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
    await expect(page.get_by_role("status")).to_contain_text(f"Created {username}")


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
    await teacher.get_by_label("Seat limit").fill("2")
    await teacher.get_by_label("Students").fill("sam, sue")
    await teacher.get_by_role("button", name="Create classroom").click()
    await teacher.get_by_role("link", name="Physics 3B").click()
    await expect(teacher).to_have_url(re.compile(rf"{url}/classrooms/\d+$"))
    await expect(teacher.get_by_role("heading", name="Physics 3B")).to_be_visible()
    await expect(participants(teacher)).to_contain_text("Tess Teacher")
    await expect(teacher.locator("#seats")).to_have_text("Seats: 1 / 2")

    student = await new_page(browser)
    await log_in(student, url, "sam", PASSWORD)
    await expect(student.get_by_role("table", name="Classrooms")).to_contain_text("In session")
    await student.get_by_role("link", name="Physics 3B").click()
    await expect(participants(student)).to_contain_text("Tess Teacher")
    await expect(participants(student)).to_contain_text("Sam Student")
    await expect(participants(teacher)).to_contain_text("Sam Student")
    await expect(teacher.locator("#seats")).to_have_text("Seats: 2 / 2")

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
    await expect(late.get_by_role("alert")).to_contain_text("full")
    await expect(participants(teacher)).not_to_contain_text("Sue Student")
    await expect(teacher.locator("#seats")).to_have_text("Seats: 2 / 2")

    await student.get_by_role("button", name="Leave classroom").click()
    await expect(student).to_have_url(f"{url}/classrooms")
    await expect(participants(teacher)).not_to_contain_text("Sam Student")
    await late.reload()
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
