"""In Chromium: a teacher edits a classroom (name, seats, students and moderators through the picker, what
students may use), sees form errors next to their fields, and deletes it; an admin manages users."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.accessibility import assert_accessible
from tests.browser import log_in
from tests.browser_pages import browser_fixture
from tests.live_server import LiveServer, live_server
from tests.test_browser_classroom import (
    ADMIN_PASSWORD,
    PAGE_ERRORS,
    PASSWORD,
    api,
    classroom_row,
    logged_in_page,
    new_page,
    session_cookie,
)

pytestmark = pytest.mark.browser
PEOPLE = {
    "tess": ("Tess Teacher", "teacher"),
    "theo": ("Theo Teacher", "teacher"),
    "sam": ("Sam Student", "student"),
    "sue": ("Sue Student", "student"),
    "lea": ("Léa Dubois", "student"),
}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(tmp_path / "data", {"AULA_ADMIN_PASSWORD": ADMIN_PASSWORD}) as running:
        admin = await session_cookie(running, "admin", ADMIN_PASSWORD)
        bodies = [
            {"username": username, "password": PASSWORD, "role": role, "display_name": display_name}
            for username, (display_name, role) in PEOPLE.items()
        ]
        await asyncio.gather(*(api(running, admin, "POST", "/api/users", body) for body in bodies))
        yield running


browser = browser_fixture(
    PAGE_ERRORS, "The browser; at the end, no page may have thrown or broken the content policy."
)


async def pick(page: Page, picker: str, typed: str, name: str) -> None:
    """Types part of a name into the ``picker`` combobox and chooses ``name`` from what it finds."""
    await page.get_by_role("combobox", name=picker).fill(typed)
    await page.get_by_role("listbox", name=f"{picker} found").get_by_role("option", name=name).click()
    await expect(page.get_by_role("list", name=f"Chosen {picker.lower()}")).to_contain_text(name)


async def expect_field_error(page: Page, label: str, text: str) -> None:
    """``text`` is shown next to the field labelled ``label``, which is marked invalid and described by it."""
    field = page.get_by_label(label, exact=True)
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_have_accessible_description(re.compile(re.escape(text)))


async def test_a_teacher_edits_enrols_and_deletes_a_classroom(server: LiveServer, browser: Browser) -> None:
    tess = await logged_in_page(browser, server, "tess")
    # Creating with two problems: both are shown next to their fields, and nothing is created.
    await tess.get_by_label("Classroom name").fill("  ")
    await tess.get_by_label("Seat limit").fill("0")
    await tess.get_by_role("button", name="Create classroom").click()
    await expect_field_error(tess, "Classroom name", "Enter a classroom name.")
    await expect_field_error(tess, "Seat limit", "Seats must be between 1 and 500.")
    await expect(tess.locator(".field-error")).to_have_count(2)
    await expect(tess.get_by_role("alert")).to_have_text("Please correct the 2 fields marked.")
    await expect(tess.get_by_label("Classroom name")).to_be_focused()
    await assert_accessible(tess, context="create form with two errors")
    # Fixed, with students chosen in the picker: the messages go away and the classroom is listed.
    await tess.get_by_label("Classroom name").fill("Physics")
    await tess.get_by_label("Seat limit").fill("20")
    await pick(tess, "Students", "sam", "Sam Student")
    await pick(tess, "Students", "Sue", "Sue Student")
    await tess.get_by_role("button", name="Create classroom").click()
    physics = classroom_row(tess, "Physics")
    await expect(physics).to_contain_text("0 / 20")
    await expect(tess.locator(".field-error")).to_have_count(0)

    await physics.get_by_role("link", name="Manage").click()
    await expect(tess.get_by_role("heading", name="Settings of Physics")).to_be_visible()
    chosen = tess.get_by_role("list", name="Chosen students")
    await expect(chosen.get_by_role("listitem")).to_have_text(["Sam Student Remove", "Sue Student Remove"])
    await tess.get_by_label("Classroom name").fill("Physics 3C")
    await tess.get_by_label("Seat limit").fill("12")
    # Part of the name, without its accent, finds Léa; Sue is unenrolled; Theo helps as a moderator.
    await pick(tess, "Students", "dub", "Léa Dubois")
    # Searching for someone already chosen says so, rather than "Nobody found", and does not offer them.
    await tess.get_by_role("combobox", name="Students").fill("lea")
    already = tess.get_by_role("listbox", name="Students found").get_by_role("option")
    await expect(already).to_have_text(["Léa Dubois is already chosen"])
    await expect(already).to_have_attribute("aria-disabled", "true")
    await tess.get_by_role("combobox", name="Students").fill("")
    await tess.get_by_role("button", name="Remove Sue Student").click()
    await tess.get_by_role("combobox", name="Moderators").fill("the")
    await expect(tess.get_by_role("option", name="Theo Teacher")).to_be_visible()
    await assert_accessible(tess, context="classroom settings with the picker open")
    await pick(tess, "Moderators", "the", "Theo Teacher")
    await tess.get_by_label("Camera", exact=True).uncheck()
    await tess.get_by_role("button", name="Save changes").click()
    await expect(tess.get_by_role("status")).to_have_text("Changes saved.")
    await expect(tess.get_by_role("heading", name="Settings of Physics 3C")).to_be_visible()

    cookie = await session_cookie(server, "tess")
    room = (await api(server, cookie, "GET", "/api/classrooms"))["classrooms"][0]
    assert (room["name"], room["seat_limit"]) == ("Physics 3C", 12)
    assert [s["username"] for s in room["students"]] == ["lea", "sam"]
    assert [m["username"] for m in room["moderators"]] == ["tess", "theo"]
    assert room["student_media"] == {"microphone": True, "camera": False, "screen": False}

    # The enrolled student sees the classroom; the unenrolled one no longer does.
    lea = await logged_in_page(browser, server, "lea")
    await expect(classroom_row(lea, "Physics 3C")).to_be_visible()
    sue = await logged_in_page(browser, server, "sue")
    await expect(sue.get_by_text("No classrooms yet.")).to_be_visible()
    # Students get no Manage link.
    await expect(lea.get_by_role("link", name="Manage")).to_have_count(0)

    # Two problems in the edit form: two messages, and nothing saved.
    await tess.get_by_label("Classroom name").fill("")
    await tess.get_by_label("Seat limit").fill("501")
    await tess.get_by_role("button", name="Save changes").click()
    await expect_field_error(tess, "Classroom name", "Enter a classroom name.")
    await expect_field_error(tess, "Seat limit", "Seats must be between 1 and 500.")
    await expect(tess.locator(".field-error")).to_have_count(2)

    # Deleting asks first; Cancel keeps it, Delete removes it.
    await tess.get_by_role("button", name="Delete classroom").click()
    dialog = tess.get_by_role("dialog", name="Delete classroom")
    await expect(dialog).to_contain_text("Delete Physics 3C?")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await tess.get_by_role("button", name="Delete classroom").click()
    await dialog.get_by_role("button", name="Delete").click()
    await expect(tess).to_have_url(f"{server.url}/classrooms")
    await expect(tess.get_by_text("No classrooms yet.")).to_be_visible()


async def test_an_admin_searches_users_changes_a_role_and_resets_a_password(
    server: LiveServer, browser: Browser
) -> None:
    admin = await new_page(browser)
    await log_in(admin, server.url, "admin", ADMIN_PASSWORD)
    await admin.goto(f"{server.url}/admin/users")
    users = admin.get_by_role("table", name="Users")
    await expect(users.get_by_role("row")).to_have_count(1 + 1 + len(PEOPLE))
    # The admin's own row offers no Delete; the others do.
    own = users.get_by_role("row").filter(has_text="Administrator")
    await expect(own.get_by_role("button", name="Reset password")).to_be_visible()
    await expect(own.get_by_role("button", name="Delete")).to_have_count(0)
    await expect(users.get_by_role("button", name="Delete sam")).to_be_visible()

    await admin.get_by_label("Search users").fill("stud")
    await expect(users.get_by_role("row")).to_have_count(1 + 2)
    await admin.get_by_label("Search users").fill("lea")
    await expect(users.get_by_role("row")).to_have_count(1 + 1)
    await expect(users).to_contain_text("Léa Dubois")

    await admin.get_by_label("Search users").fill("sam")
    await admin.get_by_role("button", name="Change role of sam").click()
    role_dialog = admin.get_by_role("dialog", name="Change role of sam")
    await expect(role_dialog.get_by_label("New role")).to_have_value("student")
    await assert_accessible(admin, context="users page with the role dialog open")
    await role_dialog.get_by_label("New role").select_option("teacher")
    await role_dialog.get_by_role("button", name="Save role").click()
    await expect(role_dialog).to_have_count(0)
    await expect(admin.locator("#status")).to_have_text("The role of sam is now teacher.")
    cookie = await session_cookie(server, "admin", ADMIN_PASSWORD)
    listed = {u["username"]: u["role"] for u in (await api(server, cookie, "GET", "/api/users"))["users"]}
    assert listed["sam"] == "teacher"

    await admin.get_by_label("Search users").fill("sue")
    await admin.get_by_role("button", name="Reset password of sue").click()
    dialog = admin.get_by_role("dialog", name="Reset password of sue")
    # Too short first: the reason is shown in the dialog, next to the field.
    await dialog.get_by_label("New password").fill("short")
    await dialog.get_by_role("button", name="Set password").click()
    await expect_field_error(admin, "New password", "A password needs 8 to 256 characters.")
    await dialog.get_by_label("New password").fill("sue's new secret")
    await dialog.get_by_role("button", name="Set password").click()
    await expect(dialog).to_be_hidden()
    await expect(admin.locator("#status")).to_have_text("New password set for sue.")

    sue = await new_page(browser)
    await log_in(sue, server.url, "sue", "sue's new secret")
    await expect(sue.get_by_role("heading", name="My classrooms")).to_be_visible()

    # Deleting asks for confirmation in a dialog.
    await admin.get_by_role("button", name="Delete sue").click()
    confirm = admin.get_by_role("dialog", name="Delete user")
    await expect(confirm).to_contain_text("Delete sue (Sue Student)?")
    await confirm.get_by_role("button", name="Delete").click()
    await expect(admin.locator("#status")).to_have_text("Deleted sue")
    await admin.get_by_label("Search users").fill("")
    await expect(users.get_by_role("row")).to_have_count(1 + len(PEOPLE))


async def test_on_a_phone_every_users_actions_are_on_screen(server: LiveServer, browser: Browser) -> None:
    cookie = await session_cookie(server, "admin", ADMIN_PASSWORD)
    long_name = {"username": "u" * 32, "password": PASSWORD, "role": "student", "display_name": "W" * 60}
    await api(server, cookie, "POST", "/api/users", long_name)
    admin = await new_page(browser)
    await admin.set_viewport_size({"width": 375, "height": 812})
    await log_in(admin, server.url, "admin", ADMIN_PASSWORD)
    await admin.goto(f"{server.url}/admin/users")
    await expect(admin.get_by_role("button", name="Reset password of sam")).to_be_visible()
    # Each user is a card: no sideways scrolling, and every row's buttons lie inside the window.
    assert await admin.evaluate("document.scrollingElement.scrollWidth") <= 375
    for button in await admin.locator("#users tbody button").all():
        box = await button.bounding_box()
        assert box is not None
        name = await button.text_content()
        assert box["x"] >= 0, name
        assert box["x"] + box["width"] <= 375, name
    await expect(admin.get_by_role("button", name="Delete sam")).to_be_in_viewport()

    await admin.get_by_role("button", name="Reset password of sam").click()
    dialog = admin.get_by_role("dialog", name="Reset password of sam")
    await dialog.get_by_label("New password").fill("sam's new secret")
    await dialog.get_by_role("button", name="Set password").click()
    await expect(dialog).to_be_hidden()
    await expect(admin.locator("#status")).to_have_text("New password set for sam.")
    assert await admin.evaluate("document.scrollingElement.scrollWidth") <= 375
    sam = await new_page(browser)
    await log_in(sam, server.url, "sam", "sam's new secret")
    await expect(sam.get_by_role("heading", name="My classrooms")).to_be_visible()
