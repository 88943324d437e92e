"""Replay into a live class, in Chromium: a class recorded by the robot is played into the classroom from the
moderator's page; the teacher's and the student's pages both decode the replay's frames on its tile, which
takes the stage, say "Replay of … is playing" and lock their layout to it; Pause on the page stops the frames,
Resume brings them back, and Stop replay takes the tile off both pages and unlocks them. The focus stays on
the panel's controls through Play, Pause, Resume and Stop, and the recording select's text reads in full."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from playwright.async_api import Page, expect

from recorder_bot.client import ClassroomClient
from tests.accessibility import assert_accessible
from tests.browser_pages import admin_server_fixture, browser_fixture, eventually
from tests.live_server import LiveServer
from tests.netns import require_private_namespace
from tests.synthetic_media import SyntheticAudioTrack, SyntheticVideoTrack
from tests.test_browser_media import set_up_classroom
from tests.test_browser_moderation import ADMIN_PASSWORD, PAGE_ERRORS, PASSWORD, enter

pytestmark = pytest.mark.browser

# Frames decoded (getStats, inbound-rtp) on the video of the tile whose caption is given.
FRAMES_DECODED = """
async (caption) => {
  const figure = [...document.querySelectorAll("#media figure")].find(
    (f) => f.querySelector("figcaption")?.textContent === caption);
  const track = figure?.querySelector("video")?.srcObject?.getVideoTracks()[0];
  const pc = (window.__pcs ?? []).filter((pc) => pc.signalingState !== "closed").at(-1);
  if (!track || !pc) return 0;
  let frames = 0;
  (await pc.getStats()).forEach((stats) => {
    if (stats.type === "inbound-rtp" && stats.trackIdentifier === track.id) frames = stats.framesDecoded ?? 0;
  });
  return frames;
}
"""


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


server = admin_server_fixture(ADMIN_PASSWORD)
browser = browser_fixture(PAGE_ERRORS, "The browser; at the end, no page may have thrown or logged an error.")


# The widest option's text of a select, and the room its box gives text (its padding and arrow aside), in
# CSS pixels; and how far it reaches past its panel.
SELECT_TEXT = """
(select) => {
  const style = getComputedStyle(select);
  const context = document.createElement("canvas").getContext("2d");
  context.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const widest = Math.max(...[...select.options].map((option) => context.measureText(option.text).width));
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const panel = select.closest("section").getBoundingClientRect();
  return { widest, room, past: select.getBoundingClientRect().right - panel.right };
}
"""
# The arrow of Chromium's menulist takes this much of the select's room beside its text.
ARROW = 16


async def assert_select_reads_in_full(page: Page) -> None:
    fit = await page.locator("#replay-recording").evaluate(SELECT_TEXT)
    assert fit["widest"] <= fit["room"] - ARROW, fit
    assert fit["past"] <= 0.5, fit


async def logged_in(url: str, username: str) -> ClientSession:
    http = ClientSession(cookie_jar=CookieJar(unsafe=True))
    login = await http.post(f"{url}/api/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status == 200, await login.text()
    return http


async def record_a_class(url: str, classroom_id: int, http: ClientSession) -> dict[str, Any]:
    """Tess sends a moving picture and a tone through aiortc while the robot records 3 s of it."""
    cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    tracks = {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack()}
    client = ClassroomClient(url, {"Cookie": cookie, "Origin": url}, tracks)
    await client.connect()
    await client.join(classroom_id)
    await client.start_media()
    started = await http.post(f"{url}/api/classrooms/{classroom_id}/recording", json={})
    assert started.status == 201, await started.text()
    recording_id = (await started.json())["recording"]["id"]
    await asyncio.sleep(3.5)
    stopped = await http.post(f"{url}/api/classrooms/{classroom_id}/recording/stop")
    assert stopped.status == 200, await stopped.text()
    await client.close()
    recording: dict[str, Any] = (await (await http.get(f"{url}/api/recordings/{recording_id}")).json())[
        "recording"
    ]
    assert recording["state"] == "ready", recording
    return recording


async def replay_frames(page: Page, caption: str) -> int:
    return int(await page.evaluate(FRAMES_DECODED, caption))


async def frames_rise(page: Page, caption: str, by: int = 10, within: float = 20) -> None:
    start = await replay_frames(page, caption)

    async def risen() -> str | None:
        now = await replay_frames(page, caption)
        return None if now >= start + by else f"{caption}: {now} frames decoded, from {start}"

    await eventually(risen, within)


async def frames_hold(page: Page, caption: str) -> None:
    await asyncio.sleep(0.8)  # what was on its way when it stopped
    before = await replay_frames(page, caption)
    await asyncio.sleep(1.5)
    assert await replay_frames(page, caption) <= before + 1


async def test_a_replay_plays_on_every_page_locks_the_layout_pauses_and_stops(
    server: LiveServer, browser: Any
) -> None:
    classroom = await set_up_classroom(server.url, {"sam": "Sam Student"})
    url, cid = classroom.url, classroom.classroom_id
    http = await logged_in(url, "tess")
    try:
        recording = await record_a_class(url, cid, http)
        caption = f"Replay: {recording['name']}"
        tess = await enter(browser, classroom, "tess")
        sam = await enter(browser, classroom, "sam")

        # Only the moderator has the panel; she picks the recording, loops it and plays it.
        panel = tess.get_by_role("region", name="Replay a recording")
        await expect(panel).to_be_visible()
        await expect(sam.get_by_role("region", name="Replay a recording")).to_be_hidden()
        await expect(panel.get_by_label("Recording")).to_have_value(str(recording["id"]))
        await assert_select_reads_in_full(tess)
        await panel.get_by_label("Loop").check()
        await panel.get_by_role("button", name="Play into the class").click()
        # Play's form gives way to Pause replay, which takes the focus.
        await expect(panel.get_by_role("button", name="Pause replay")).to_be_focused(timeout=20_000)

        for page in (tess, sam):
            await expect(page.locator("#replay-banner")).to_contain_text(
                f"Replay of “{recording['name']}” is playing", timeout=20_000
            )
            tile = page.locator("#stage-main figure", has_text=caption)
            await expect(tile).to_be_visible()
            await frames_rise(page, caption)
            await expect(page.locator("#layout-button")).to_be_disabled()
            await expect(page.locator("#media")).to_have_attribute("data-locked", "true")
        # The 3 s recording loops: frames still come after it would have ended.
        await asyncio.sleep(3)
        await frames_rise(sam, caption)

        await panel.get_by_role("button", name="Pause replay").click()
        await expect(sam.locator("#replay-banner")).to_contain_text("is paused")
        await expect(panel.get_by_role("button", name="Resume replay")).to_be_focused()
        await frames_hold(sam, caption)
        await panel.get_by_role("button", name="Resume replay").click()
        await expect(sam.locator("#replay-banner")).to_contain_text("is playing")
        await expect(panel.get_by_role("button", name="Pause replay")).to_be_focused()
        await frames_rise(sam, caption)

        await assert_accessible(tess, context="a replay playing, its panel open")

        # A page opened while it plays is locked to it at once.
        await sam.reload()
        await sam.get_by_role("button", name="Join classroom").click()
        await expect(sam.locator("#replay-banner")).to_contain_text("is playing")
        await expect(sam.locator("#stage-main figure", has_text=caption)).to_be_visible()
        await expect(sam.locator("#layout-button")).to_be_disabled()
        await frames_rise(sam, caption)

        await panel.get_by_role("button", name="Stop replay").click()
        # Stop's buttons give way to the form again: its Play button takes the focus.
        await expect(panel.get_by_role("button", name="Play into the class")).to_be_focused()
        for page in (tess, sam):
            await expect(page.locator("#media figure", has_text=caption)).to_have_count(0)
            await expect(page.locator("#replay-banner")).to_be_hidden()
            await expect(page.locator("#layout-button")).to_be_enabled()
        await expect(panel.get_by_role("button", name="Play into the class")).to_be_visible()
        assert (await http.get(f"{url}/api/classrooms/{cid}/replay")).status == 200

    finally:
        await http.close()


async def test_the_replay_panel_of_a_classroom_without_recordings_says_so_in_full(
    server: LiveServer, browser: Any
) -> None:
    classroom = await set_up_classroom(server.url, {})
    tess = await enter(browser, classroom, "tess")
    panel = tess.get_by_role("region", name="Replay a recording")
    await expect(panel.get_by_text("No recordings of this classroom yet.")).to_be_visible()
    none = panel.locator("#replay-none")
    assert await none.evaluate("(p) => p.scrollWidth <= p.clientWidth")
    await expect(panel.get_by_label("Recording")).to_have_accessible_description(
        "No recordings of this classroom yet."
    )
    await expect(panel.get_by_label("Recording")).to_be_disabled()
    await expect(panel.get_by_role("button", name="Play into the class")).to_be_disabled()
    await assert_select_reads_in_full(tess)
