"""Recorded Classes while a class is recorded: the row's length and size grow as the robot writes, each
row's actions sit in one "Actions" menu, and a row stays one line high.

The server is ``aula serve``; REC starts the real Session Recorder Robot, which joins the classroom and
writes the MP4 fragment by fragment, so the size the page shows is the file's.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser import chromium
from tests.browser_pages import admin_server_fixture
from tests.live_server import LiveServer
from tests.netns import require_private_namespace

pytestmark = pytest.mark.browser
ADMIN_PASSWORD = "admin password 1"
PASSWORD = "a good password"
# The robot is a process of its own that joins over WebRTC: on a loaded machine that takes seconds.
WAIT_MS = 30_000
NAME = "Physics 3B 1"
SIZE = re.compile(r"^(\d+) kB$|^(\d+\.\d) MB$")
DURATION = re.compile(r"^(\d+):(\d\d):(\d\d)$")


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the test modules that follow


server = admin_server_fixture(ADMIN_PASSWORD)


@pytest.fixture
async def tess(server: LiveServer) -> AsyncIterator[ClientSession]:
    """Tess Teacher, logged in over HTTP, owner of "Physics 3B" (made by the admin's and her requests)."""
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as admin:
        login = await admin.post(
            f"{server.url}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert login.status == 200, await login.text()
        body = {"username": "tess", "password": PASSWORD, "role": "teacher", "display_name": "Tess Teacher"}
        created = await admin.post(f"{server.url}/api/users", json=body)
        assert created.status == 201, await created.text()
    async with ClientSession(base_url=server.url, cookie_jar=CookieJar(unsafe=True)) as session:
        login = await session.post("/api/auth/login", json={"username": "tess", "password": PASSWORD})
        assert login.status == 200, await login.text()
        made = await session.post("/api/classrooms", json={"name": "Physics 3B"})
        assert made.status == 201, await made.text()
        yield session


async def classroom_id(tess: ClientSession) -> int:
    listed = await (await tess.get("/api/classrooms")).json()
    return int(listed["classrooms"][0]["id"])


async def start_recording(tess: ClientSession) -> dict[str, Any]:
    """REC, then until the robot has written its first fragment (state ``recording``)."""
    room = await classroom_id(tess)
    started = await tess.post(f"/api/classrooms/{room}/recording", json={})
    assert started.status == 201, await started.text()
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        recording: dict[str, Any] = (await (await tess.get(f"/api/classrooms/{room}/recording")).json())[
            "recording"
        ]
        if recording["state"] == "recording":
            return recording
        assert recording["state"] == "starting", recording
        assert time.monotonic() < deadline, f"not recording: {recording}"
        await asyncio.sleep(0.25)


async def stop_recording(tess: ClientSession) -> dict[str, Any]:
    stopped = await tess.post(f"/api/classrooms/{await classroom_id(tess)}/recording/stop")
    assert stopped.status == 200, await stopped.text()
    recording: dict[str, Any] = (await stopped.json())["recording"]
    assert recording["state"] == "ready", recording
    return recording


async def read_recording(tess: ClientSession, recording_id: int) -> dict[str, Any]:
    recording: dict[str, Any] = (await (await tess.get(f"/api/recordings/{recording_id}")).json())[
        "recording"
    ]
    return recording


def recording_file(server_data: Path) -> Path:
    return next((server_data / "storage" / "recordings").glob("*.mp4"))


async def test_an_active_recording_reports_its_length_and_size_so_far(
    server: LiveServer, tess: ClientSession, tmp_path: Path
) -> None:
    first = await start_recording(tess)
    assert first["size_bytes"] > 0  # the first fragment is on disk
    assert first["duration_ms"] > 0
    await asyncio.sleep(2.5)
    second = await read_recording(tess, first["id"])
    assert second["state"] == "recording"
    assert second["size_bytes"] > first["size_bytes"], (first["size_bytes"], second["size_bytes"])
    assert 2000 <= second["duration_ms"] - first["duration_ms"] <= 4000, (first, second)
    # The file the figure comes from is the robot's, as it is on disk now.
    assert second["size_bytes"] <= recording_file(tmp_path / "data").stat().st_size
    listed = (await (await tess.get("/api/recordings")).json())["recordings"]
    assert [r["id"] for r in listed] == [first["id"]]
    assert listed[0]["size_bytes"] >= second["size_bytes"]
    assert listed[0]["duration_ms"] >= second["duration_ms"]

    done = await stop_recording(tess)
    assert done["size_bytes"] == recording_file(tmp_path / "data").stat().st_size >= second["size_bytes"]
    # Now the robot's figure for the file, which began after REC (the robot joins first): a little less
    # than the time since REC, but at least what was recorded between the two reads.
    assert second["duration_ms"] - first["duration_ms"] <= done["duration_ms"] <= second["duration_ms"] + 3000
    await asyncio.sleep(1.2)
    assert await read_recording(tess, first["id"]) == done  # ready: figures no longer move


# ---- the page ---------------------------------------------------------------------------------------


def row_of(page: Page, name: str) -> Locator:
    return (
        page.get_by_role("table", name="Recorded Classes")
        .get_by_role("row")
        .filter(has=page.get_by_role("cell", name=name, exact=True))
    )


async def figures(row: Locator) -> tuple[int, int]:
    """The row's length (s) and size (bytes, to the shown precision) as the page shows them."""
    duration = (await row.locator(".recording-duration").inner_text()).strip()
    size = (await row.locator(".recording-size").inner_text()).strip()
    length, shown = DURATION.fullmatch(duration), SIZE.fullmatch(size)
    assert length, duration
    assert shown, size
    hours, minutes, seconds = (int(part) for part in length.groups())
    kilobytes, megabytes = shown.groups()
    return hours * 3600 + minutes * 60 + seconds, int(kilobytes) * 1000 if kilobytes else int(
        float(megabytes) * 1e6
    )


def actions(row: Locator, name: str) -> Locator:
    return row.get_by_role("button", name=f"Actions for {name}", exact=True)


async def menu_items(page: Page, name: str) -> list[str]:
    menu = page.get_by_role("menu", name=f"Actions for {name}")
    await expect(menu).to_be_visible()
    return [text.strip() for text in await menu.get_by_role("menuitem").all_inner_texts()]


async def single_line(row: Locator) -> dict[str, float]:
    """Each text cell's content height divided by its line height (1 = one line)."""
    lines: dict[str, float] = await row.evaluate(
        """(row) => Object.fromEntries([...row.cells].filter((cell) => cell.textContent.trim())
          .map((cell) => {
            const range = document.createRange();
            range.selectNodeContents(cell);
            const height = range.getBoundingClientRect().height;
            const line = parseFloat(getComputedStyle(cell).lineHeight);
            return [cell.dataset.label ?? cell.className, height / line];
        }))"""
    )
    return lines


async def test_the_row_follows_the_recording_and_keeps_its_actions_in_one_menu(
    server: LiveServer, tess: ClientSession
) -> None:
    async with chromium() as browser:
        await _library_while_recording(server, tess, browser)


async def _library_while_recording(server: LiveServer, tess: ClientSession, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    login = await context.request.post(
        f"{server.url}/api/auth/login", data={"username": "tess", "password": PASSWORD}
    )
    assert login.status == 200
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    recording = await start_recording(tess)
    await page.goto(f"{server.url}/resources/recordings")
    row = row_of(page, NAME)
    await expect(row.get_by_text("Recording", exact=True)).to_be_visible()
    first = await figures(row)
    # Never 0:00:00 / 0 kB while it records.
    assert first[0] >= 1, first
    assert first[1] > 0, first
    await page.wait_for_timeout(3_000)
    second = await figures(row)
    assert second[0] > first[0], (first, second)
    assert second[1] > first[1], (first, second)

    # While it records: rename and publish, nothing to play and no delete yet.
    button = actions(row, NAME)
    await expect(button).to_have_text("Actions")
    await expect(button).to_have_attribute("aria-haspopup", "menu")
    await expect(button).to_have_attribute("aria-expanded", "false")
    await button.click()
    await expect(button).to_have_attribute("aria-expanded", "true")
    assert await menu_items(page, NAME) == ["Rename", "Publish"]
    # The menu stays open while the figures move under it.
    await page.wait_for_timeout(2_500)
    await expect(page.get_by_role("menu", name=f"Actions for {NAME}")).to_be_visible()
    await expect(page.get_by_role("menuitem", name="Rename")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("menu")).to_have_count(0)
    await expect(button).to_be_focused()

    # Paused, the row says so and its length stands still; resumed, it records again.
    room = await classroom_id(tess)
    assert (await tess.post(f"/api/classrooms/{room}/recording/pause")).status == 200
    await expect(row.get_by_text("Recording paused", exact=True)).to_be_visible()
    held = await figures(row)
    await page.wait_for_timeout(2_500)
    assert (await figures(row))[0] == held[0]
    assert (await tess.post(f"/api/classrooms/{room}/recording/resume")).status == 200
    await expect(row.get_by_text("Recording", exact=True)).to_be_visible()

    done = await stop_recording(tess)
    await expect(row.get_by_text("Ready", exact=True)).to_be_visible()
    final_seconds = done["duration_ms"] // 1000
    await expect(row.locator(".recording-duration")).to_have_text(
        f"0:{final_seconds // 60:02d}:{final_seconds % 60:02d}"
    )
    assert (await figures(row))[0] >= second[0]
    await expect(row.get_by_role("img", name=f"{NAME} thumbnail")).to_be_visible()

    # One line high at 1280x720: no cell's text wraps, and the row is no taller than its thumbnail's cell.
    lines = await single_line(row)
    assert all(count < 1.5 for count in lines.values()), lines
    row_box = await row.bounding_box()
    thumbnail_box = await row.get_by_role("img", name=f"{NAME} thumbnail").bounding_box()
    button_box = await actions(row, NAME).bounding_box()
    assert row_box
    assert thumbnail_box
    assert button_box
    assert row_box["height"] <= thumbnail_box["height"] + 16, (row_box, thumbnail_box)
    assert button_box["height"] < row_box["height"] / 2, (row_box, button_box)

    # Ready: the whole menu, by keyboard too.
    await actions(row, NAME).focus()
    await page.keyboard.press("ArrowDown")
    assert await menu_items(page, NAME) == ["Play", "Download", "Rename", "Publish", "Delete"]
    await expect(page.get_by_role("menuitem", name="Play")).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("menuitem", name="Download")).to_be_focused()
    assert await page.get_by_role("menuitem", name="Download").get_attribute("href") == (
        f"/api/recordings/{recording['id']}/media?download=1"
    )
    await page.keyboard.press("End")
    await expect(page.get_by_role("menuitem", name="Delete")).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("menuitem", name="Play")).to_be_focused()
    # Play opens the player page (tests/test_browser_player.py), which plays the file; Back returns here.
    play_href = await page.get_by_role("menuitem", name="Play").get_attribute("href")
    assert play_href == f"/recordings/{recording['id']}"
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{server.url}/recordings/{recording['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(NAME)
    await page.wait_for_function("() => document.querySelector('video').readyState >= 2")
    await page.go_back()
    await expect(actions(row, NAME)).to_be_visible()

    # Publish from the menu: the row says so and its menu now offers Unpublish.
    await actions(row, NAME).click()
    await page.get_by_role("menuitem", name="Publish").click()
    await expect(page.get_by_role("status")).to_have_text(f"{NAME} is published to the classroom's students.")
    await expect(actions(row, NAME)).to_be_focused()
    await actions(row, NAME).click()
    assert await menu_items(page, NAME) == ["Play", "Download", "Rename", "Unpublish", "Delete"]
    await page.keyboard.press("Escape")

    # On a phone the row is a card: nothing sticks out of the screen, the menu included.
    await page.set_viewport_size({"width": 375, "height": 812})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await actions(row, NAME).click()
    menu = page.get_by_role("menu", name=f"Actions for {NAME}")
    box = await menu.bounding_box()
    assert box
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= 375, box
    await page.keyboard.press("Escape")
    await page.set_viewport_size({"width": 1280, "height": 720})

    # Delete asks first; Cancel keeps the recording.
    await actions(row, NAME).click()
    await page.get_by_role("menuitem", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete recording")
    await expect(confirm).to_contain_text(f"Delete “{NAME}”?")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_be_hidden()
    await expect(actions(row, NAME)).to_be_focused()
    await expect(row).to_have_count(1)
    await actions(row, NAME).click()
    await page.get_by_role("menuitem", name="Delete").click()
    await confirm.get_by_role("button", name="Delete").click()
    await expect(row).to_have_count(0)
    await expect(page.get_by_role("status")).to_have_text(f"Deleted {NAME}.")
    await expect(page.get_by_text("No recordings yet.")).to_be_visible()
    assert (await tess.get(f"/api/recordings/{recording['id']}")).status == 404
    assert errors == []
