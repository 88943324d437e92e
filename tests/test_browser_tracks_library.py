"""In Chromium, Recorded Classes shows a recording's own tracks: a class recorded in tracks mode (the real
Session Recorder Robot, REC through ``POST /api/classrooms/{id}/recording {"mode": "tracks"}``, with a
teacher and a student in the class as headless Chromium pages with fake camera and microphone) has a
"Tracks" badge by its name, no Play or Download (there is no mixed file), and a "Tracks (N)" disclosure
listing each track (who, source, codec, where it starts, its length). A track's download is its file,
which decodes; "Download all tracks (.zip)" is a valid zip of the same files and a manifest. At a phone's
width the list reflows into cards.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from playwright.async_api import Browser, Page, expect

from tests.accessibility import assert_accessible, assert_reflows
from tests.browser_pages import browser_fixture, record_errors
from tests.live_server import LiveServer, live_server
from tests.netns import require_private_namespace
from tests.test_browser_classroom import (
    ADMIN_PASSWORD,
    PAGE_ERRORS,
    PASSWORD,
    api,
    create_users,
    session_cookie,
)

pytestmark = pytest.mark.browser
# Robots are processes of their own joining over WebRTC: on a loaded machine that takes seconds.
WAIT_MS = 60_000
NAME = "Physics tracks"
OFFSET = re.compile(r"^\d+:\d\d\.\d\d\d$")
DURATION = re.compile(r"^\d+:\d\d:\d\d$")

browser = browser_fixture(PAGE_ERRORS, "The browser; at the end, no page may have thrown or logged an error.")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """``aula serve`` on fresh data; a robot starting on a machine busy with browsers gets 90 s to write."""
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


async def open_page(browser: Browser, server: LiveServer, username: str) -> Page:
    """A logged-in page of its own browser context (own cookies, own fake devices), downloads allowed."""
    context = await browser.new_context(accept_downloads=True)
    login = await context.request.post(
        f"{server.url}/api/auth/login", data={"username": username, "password": PASSWORD}
    )
    assert login.status == 200, await login.text()
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    record_errors(page, PAGE_ERRORS)
    return page


async def enter(browser: Browser, server: LiveServer, classroom_id: int, username: str) -> Page:
    page = await open_page(browser, server, username)
    await page.goto(f"{server.url}/classrooms/{classroom_id}")
    await page.get_by_role("button", name="Join classroom").click()
    await expect(page.locator("#seats")).to_be_visible()
    return page


async def record_tracks(
    server: LiveServer, cookie: str, classroom_id: int, seconds: float, tracks: int = 4
) -> dict[str, Any]:
    """REC in tracks mode; once the robot writes all ``tracks`` tracks, ``seconds`` of class; then Stop
    (answers when ready)."""
    path = f"/api/classrooms/{classroom_id}/recording"
    started = (await api(server, cookie, "POST", path, {"mode": "tracks", "name": NAME}))["recording"]
    assert started["mode"] == "tracks", started
    listing = f"/api/recordings/{started['id']}/tracks"
    deadline = time.monotonic() + WAIT_MS / 1000
    # A busy machine takes its time to get every publisher's first keyframe: all the tracks, then the class.
    while len((await api(server, cookie, "GET", listing))["tracks"]) < tracks:
        assert time.monotonic() < deadline, "the robot did not begin every track"
        await asyncio.sleep(0.25)
    await asyncio.sleep(seconds)
    stopped: dict[str, Any] = (await api(server, cookie, "POST", f"{path}/stop"))["recording"]
    assert stopped["state"] == "ready", stopped
    return stopped


def decodes(data: bytes) -> int:
    """How many frames the file's first stream decodes to (it must hold at least one)."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams[0]
        return len(list(container.decode(stream)))


async def download(page: Page, link: Any) -> tuple[str, bytes]:
    """Clicks ``link`` and returns the downloaded file's suggested name and bytes."""
    async with page.expect_download() as started:
        await link.click()
    done = await started.value
    path = await done.path()
    return done.suggested_filename, await asyncio.to_thread(Path(path).read_bytes)


async def test_a_recording_in_tracks_mode_lists_its_tracks_with_downloads(
    server: LiveServer, browser: Browser
) -> None:
    await create_users(server, {"tess": ("Tess Teacher", "teacher"), "sam": ("Sam Student", "student")})
    tess_cookie = await session_cookie(server, "tess")
    made = await api(
        server, tess_cookie, "POST", "/api/classrooms", {"name": "Physics 3B", "students": ["sam"]}
    )
    room = made["classroom"]["id"]
    tess_class, sam_class = await asyncio.gather(
        enter(browser, server, room, "tess"), enter(browser, server, room, "sam")
    )
    await expect(tess_class.locator("#seats")).to_have_text("Student seats: 1 / 30")
    recording = await record_tracks(server, tess_cookie, room, 4.0)
    for page in (tess_class, sam_class):
        await page.close()

    # What the server lists: each participant's microphone and camera.
    tracks = (await api(server, tess_cookie, "GET", f"/api/recordings/{recording['id']}/tracks"))["tracks"]
    owners = {(t["user"]["display_name"], t["source"]) for t in tracks}
    assert {("Tess Teacher", "microphone"), ("Tess Teacher", "camera")} <= owners, tracks
    assert {("Sam Student", "microphone"), ("Sam Student", "camera")} <= owners, tracks
    assert recording["tracks"] == len(tracks)

    page = await open_page(browser, server, "tess")
    await page.goto(f"{server.url}/resources/recordings")
    row = (
        page.get_by_role("table", name="Recorded Classes")
        .get_by_role("row")
        .filter(has=page.get_by_role("cell", name=f"{NAME} Tracks", exact=True))
    )
    await expect(row.get_by_text("Ready", exact=True)).to_be_visible()
    await expect(row.locator(".badge-mode")).to_have_text("Tracks")
    await expect(row.get_by_role("cell", name="Physics 3B", exact=True)).to_be_visible()
    # No mixed file: nothing to play or download from the row's menu.
    await row.get_by_role("button", name=f"Actions for {NAME}", exact=True).click()
    menu = page.get_by_role("menu", name=f"Actions for {NAME}")
    await expect(menu.get_by_role("menuitem")).to_have_text(["Rename", "Publish", "Delete"])
    await page.keyboard.press("Escape")

    # The disclosure: closed, then open with every track.
    toggle = row.get_by_role("button", name=f"Tracks ({len(tracks)})")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(toggle).to_have_accessible_description(f"of {NAME}")
    listing = page.get_by_role("table", name=f"Tracks of {NAME}")
    await expect(listing).to_be_hidden()
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(listing).to_be_visible()
    track_rows = listing.locator("tbody tr")
    await expect(track_rows).to_have_count(len(tracks))
    shown = [
        [cell.strip() for cell in await track_row.get_by_role("cell").all_inner_texts()]
        for track_row in await track_rows.all()
    ]
    for participant, source, codec, starts, duration, size, link in shown:
        assert participant in {"Tess Teacher", "Sam Student"}, shown
        assert source in {"Microphone", "Camera"}, shown
        assert codec == ("Opus" if source == "Microphone" else "VP8"), shown
        assert OFFSET.fullmatch(starts), shown
        assert DURATION.fullmatch(duration), shown
        assert re.fullmatch(r"\d+ kB|\d+\.\d MB", size), shown
        assert link == "Download", shown
    # Listed by who, each one's microphone before the camera.
    assert [(p, s) for p, s, *_ in shown] == [
        ("Sam Student", "Microphone"),
        ("Sam Student", "Camera"),
        ("Tess Teacher", "Microphone"),
        ("Tess Teacher", "Camera"),
    ], shown
    await assert_accessible(page, context="Recorded Classes with a recording's tracks open")

    # One track's download is that track's file, and it decodes.
    camera = next(
        t for t in tracks if t["user"]["display_name"] == "Tess Teacher" and t["source"] == "camera"
    )
    name, data = await download(page, listing.get_by_role("link", name="Download Tess Teacher, Camera"))
    assert name.endswith(".webm"), name
    served = await page.request.get(f"{server.url}{camera['media_url']}")
    assert served.ok
    assert data == await served.body()
    assert len(data) == camera["size_bytes"]
    assert decodes(data) > 0

    # All tracks as one zip: a valid archive with the manifest and each track's file as downloaded alone.
    name, data = await download(page, page.get_by_role("link", name="Download all tracks (.zip)"))
    assert name.endswith(".zip"), name
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["recording"]["id"] == recording["id"]
        assert manifest["recording"]["mode"] == "tracks"
        assert len(manifest["tracks"]) == len(tracks) == len(names) - 1, (manifest, names)
        files = {entry["file"]: entry for entry in manifest["tracks"]}
        assert set(files) == set(names) - {"manifest.json"}
        camera_entry = next(
            file
            for file, entry in files.items()
            if entry["display_name"] == "Tess Teacher" and entry["source"] == "camera"
        )
        assert archive.read(camera_entry) == await served.body()

    # At a phone's width each track is a card of labelled lines, and nothing needs sideways scrolling.
    await page.set_viewport_size({"width": 375, "height": 812})
    await expect(listing.get_by_role("link", name="Download Tess Teacher, Camera")).to_be_visible()
    await expect(page.get_by_role("link", name="Download all tracks (.zip)")).to_be_visible()
    await assert_reflows(page, context="Recorded Classes with tracks at phone width")

    # Closed again, the list hides and the keyboard stays on the button.
    await toggle.focus()
    await page.keyboard.press("Enter")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(listing).to_be_hidden()
    await expect(toggle).to_be_focused()
