"""The player page (/recordings/{id}) in Chromium, on a class really recorded by the robot: a chapter
jump seeks there, a looped chapter starts again at its end, a chat line appears when its moment plays (and
goes when playback goes back before it), the clock reads the original time of day of the moment on screen,
the classroom's other recording is listed and opens, the keys play, pause and seek, and the page passes axe
at desktop and phone sizes. The class's timeline reads in words at its original times of day, each entry
seeks to its moment and the one playing is marked; the Download link saves the MP4 with the bookmarks as
chapters, and the chat is a subtitle track of the video. A recording someone may not watch, or that does
not exist, is refused in words.

Those who manage a recording edit its bookmarks after the class (code, remark, "Move here"), delete one
after a confirmation, and the chapters, marks and timeline follow; a student watching it published sees no
edit controls.

One module server and two recordings of the same classroom: a short first one with the codes list
"Lesson" and two bookmarks (edited and deleted by one test), then one Sam joins and raises a hand in, with
two bookmarks (chapters), a chat message sent through the classroom's socket and a 2 s pause (cut out of
the file, so the clock after it reads 2 s more than started_at + media time)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession, CookieJar
from playwright.async_api import Browser, Page, expect

from tests.accessibility import assert_accessible, assert_focus_not_obscured, assert_reflows
from tests.browser import chromium
from tests.browser_pages import eventually, record_errors
from tests.live_server import LiveServer, live_server
from tests.netns import require_private_namespace
from tests.test_browser_media import set_up_classroom
from tests.test_browser_moderation import ADMIN_PASSWORD, PASSWORD, SocketParticipant

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
WAIT_MS = 30_000
CHAT_TEXT = "Who has a question about Ohm's law?"
PAUSE_S = 2.0
PAGE_ERRORS: list[str] = []


@dataclass
class Recorded:
    """The two recordings of Physics 3B, as the API describes them."""

    url: str
    first: dict[str, Any]
    second: dict[str, Any]
    chapters: list[dict[str, Any]]
    chat_ms: int
    started_at: datetime  # the second recording's, to the millisecond (the Recording JSON's is to the second)
    events: list[dict[str, Any]]  # the second recording's timeline


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the test modules that follow


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    data = tmp_path_factory.mktemp("player") / "data"
    async with live_server(data, {"AULA_ADMIN_PASSWORD": ADMIN_PASSWORD}) as running:
        yield running


async def _recording(tess: ClientSession, classroom_id: int, **body: Any) -> dict[str, Any]:
    """REC (``body``: e.g. its codes_list), then until the robot has written its first fragment."""
    started = await tess.post(f"/api/classrooms/{classroom_id}/recording", json=body)
    assert started.status == 201, await started.text()
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        answer = await (await tess.get(f"/api/classrooms/{classroom_id}/recording")).json()
        recording: dict[str, Any] = answer["recording"]
        if recording["state"] == "recording":
            return recording
        assert recording["state"] == "starting", recording
        assert time.monotonic() < deadline, f"not recording: {recording}"
        await asyncio.sleep(0.2)


async def _stop(tess: ClientSession, classroom_id: int) -> dict[str, Any]:
    stopped = await tess.post(f"/api/classrooms/{classroom_id}/recording/stop")
    assert stopped.status == 200, await stopped.text()
    recording: dict[str, Any] = (await stopped.json())["recording"]
    assert recording["state"] == "ready", recording
    return recording


async def _bookmark(tess: ClientSession, recording_id: int, remark: str, code: str | None = None) -> None:
    body = {"remark": remark} if code is None else {"remark": remark, "code": code}
    made = await tess.post(f"/api/recordings/{recording_id}/bookmarks", json=body)
    assert made.status == 201, await made.text()


CODES = {
    "lists": [
        {
            "name": "Lesson",
            "codes": [
                {"code": "Q", "label": "Question", "key": "q"},
                {"code": "EX", "label": "Example", "key": "e"},
            ],
        }
    ]
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def recorded(server: LiveServer) -> Recorded:
    classroom = await set_up_classroom(server.url, {"sam": "Sam Student"})
    room = classroom.classroom_id
    tess_socket = SocketParticipant(classroom, "tess")
    await tess_socket.join()
    sam_socket = SocketParticipant(classroom, "sam")
    async with ClientSession(base_url=server.url, cookie_jar=CookieJar(unsafe=True)) as tess:
        login = await tess.post("/api/auth/login", json={"username": "tess", "password": PASSWORD})
        assert login.status == 200, await login.text()
        # The first recording is scored with the codes list "Lesson": a coded bookmark, then a remark only.
        coded = await tess.put(f"/api/classrooms/{room}/codes", json=CODES)
        assert coded.status == 200, await coded.text()
        first = await _recording(tess, room, codes_list="Lesson")
        await asyncio.sleep(0.5)
        await _bookmark(tess, first["id"], "Warm-up", code="Q")
        await asyncio.sleep(0.8)
        await _bookmark(tess, first["id"], "Homework")
        await asyncio.sleep(1.7)
        first = await _stop(tess, room)
        # Recordings are told apart by their start to the second.
        await asyncio.sleep(1)

        second = await _recording(tess, room)
        # Sam comes in while recording, and raises a hand: the timeline has both.
        await sam_socket.join()
        await sam_socket.call("hand", {"raised": True})
        await asyncio.sleep(1.5)
        await _bookmark(tess, second["id"], "Ohm's law")
        await asyncio.sleep(1.5)
        await tess_socket.call("chat", {"text": CHAT_TEXT})
        await asyncio.sleep(1.0)
        await _bookmark(tess, second["id"], "Exercise")
        await asyncio.sleep(2.0)
        # A pause is cut out of the file: after it the clock is 2 s further on than started_at + t.
        paused = await tess.post(f"/api/classrooms/{room}/recording/pause")
        assert paused.status == 200, await paused.text()
        await asyncio.sleep(PAUSE_S)
        resumed = await tess.post(f"/api/classrooms/{room}/recording/resume")
        assert resumed.status == 200, await resumed.text()
        await asyncio.sleep(2.0)
        second = await _stop(tess, room)
        chapters = (await (await tess.get(f"/api/recordings/{second['id']}/chapters")).json())["chapters"]
        timeline = await (await tess.get(f"/api/recordings/{second['id']}/timeline")).json()
    await tess_socket.close()
    await sam_socket.close()
    chats = [event for event in timeline["events"] if event["type"] == "chat"]
    assert [event["text"] for event in chats] == [CHAT_TEXT], timeline
    assert [chapter["kind"] for chapter in chapters] == ["start", "bookmark", "bookmark", "resume"], chapters
    assert second["paused_ms"] >= PAUSE_S * 1000 - 100, second
    # The clock's first anchor is the recording's start: media time 0 of the file.
    start = timeline["clock"][0]
    assert start["media_ms"] == 0, timeline["clock"]
    started_at = datetime.fromisoformat(start["at"].replace("Z", "+00:00"))
    assert started_at.replace(microsecond=0) == datetime.fromisoformat(
        second["started_at"].replace("Z", "+00:00")
    )
    types = [event["type"] for event in timeline["events"]]
    assert "join" in types, types
    assert "hand_raised" in types, types
    return Recorded(server.url, first, second, chapters, chats[0]["media_ms"], started_at, timeline["events"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    PAGE_ERRORS.clear()
    async with chromium() as launched:
        yield launched
    assert PAGE_ERRORS == [], "the player threw or logged errors"


async def open_player(browser: Browser, url: str, username: str, recording_id: int | str) -> Page:
    """A logged-in page on the player, in UTC (the test reads the clock as the user sees it)."""
    context = await browser.new_context(
        timezone_id="UTC", locale="en-GB", viewport={"width": 1280, "height": 800}
    )
    login = await context.request.post(
        f"{url}/api/auth/login", data={"username": username, "password": PASSWORD}
    )
    assert login.status == 200, await login.text()
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    record_errors(page, PAGE_ERRORS)
    await page.goto(f"{url}/recordings/{recording_id}")
    return page


async def ready(page: Page) -> None:
    """The video can show frames and the page has drawn its lists."""
    await page.wait_for_function("() => document.querySelector('video').readyState >= 2")
    await expect(page.get_by_role("list", name="Chapters").get_by_role("button")).not_to_have_count(0)


async def current_ms(page: Page) -> float:
    seconds: float = await page.evaluate("document.querySelector('video').currentTime")
    return seconds * 1000


async def pause(page: Page) -> None:
    await page.evaluate("document.querySelector('video').pause()")
    await expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()


def original_time(started_at: datetime, media_ms: float, paused_ms: int = 0) -> str:
    """What the clock should read at ``media_ms``: started_at + media time, + the time paused before it."""
    moment = started_at + timedelta(milliseconds=media_ms + paused_ms)
    return moment.astimezone(UTC).strftime("%H:%M:%S")


async def test_chapters_seek_and_a_looped_chapter_starts_again_at_its_end(
    recorded: Recorded, browser: Browser
) -> None:
    page = await open_player(browser, recorded.url, "tess", recorded.second["id"])
    await expect(page.get_by_role("heading", level=1)).to_have_text(recorded.second["name"])
    await ready(page)
    buttons = page.get_by_role("list", name="Chapters").get_by_role("button")
    await expect(buttons).to_have_count(4)
    await expect(buttons.nth(0)).to_contain_text("Start")
    await expect(buttons.nth(1)).to_contain_text("Ohm's law")

    # A chapter's button seeks to its start, and the chapter is marked as the one playing.
    exercise = recorded.chapters[2]
    await buttons.nth(2).click()
    await eventually(
        lambda: _near(page, exercise["start_ms"], 250),
        within=10,
    )
    await expect(buttons.nth(2)).to_have_attribute("aria-current", "true")

    # Loop the short "Ohm's law" chapter at 2x: past its end, playback is back at its start.
    ohm = recorded.chapters[1]
    await page.get_by_label("Speed").select_option("2")
    await page.get_by_label("Loop").select_option(label=f"Chapter 2: {ohm['title']}")
    await _wait_near(page, ohm["start_ms"])
    await page.get_by_role("button", name="Play", exact=True).click()
    seen = await page.evaluate(WATCH_LOOP, {"start": ohm["start_ms"] / 1000, "end": ohm["end_ms"] / 1000})
    await pause(page)
    assert seen["rate"] == 2
    # It reached the chapter's end (up to the frames a loaded machine drops: at 2x, 0.5 s of media is
    # a quarter of a second), went back to its start, and never played past the end.
    assert seen["highest"] >= ohm["end_ms"] / 1000 - 0.5, seen
    assert seen["highest"] <= ohm["end_ms"] / 1000 + 0.25, seen
    assert seen["jumped_back_to"] is not None, seen
    assert abs(seen["jumped_back_to"] - ohm["start_ms"] / 1000) < 0.25, seen

    # Loop the whole recording: from the last chapter, past the file's end, playback is back at its start.
    await page.get_by_label("Loop").select_option(label="Whole recording")
    await buttons.nth(3).click()
    await _wait_near(page, recorded.chapters[3]["start_ms"])
    await page.get_by_role("button", name="Play", exact=True).click()
    end = recorded.second["duration_ms"] / 1000
    seen = await page.evaluate(WATCH_LOOP, {"start": 0, "end": end})
    await pause(page)
    assert seen["jumped_back_to"] is not None, seen
    assert seen["jumped_back_to"] < 0.5, seen
    assert seen["highest"] >= end - 0.5, seen
    await page.context.close()


# Watches the video for a few seconds: the highest time it reached and where it jumped back to.
WATCH_LOOP = """
({ start, end }) => new Promise((resolve) => {
  const video = document.querySelector("video");
  let highest = video.currentTime;
  let last = video.currentTime;
  let jumped = null;
  const began = performance.now();
  const look = () => {
    const now = video.currentTime;
    if (now < last - 0.3 && jumped === null) jumped = now;
    highest = Math.max(highest, now);
    last = now;
    if (performance.now() - began < 6000 && !(jumped !== null && now > jumped + 0.2)) {
      requestAnimationFrame(look);
    } else {
      resolve({ highest, jumped_back_to: jumped, rate: video.playbackRate, start, end });
    }
  };
  requestAnimationFrame(look);
})
"""


async def _near(page: Page, target_ms: float, tolerance_ms: float) -> str | None:
    now = await current_ms(page)
    return None if abs(now - target_ms) <= tolerance_ms else f"at {now:.0f} ms, not {target_ms} ms"


# Reports the video's time at the moment the page shows the chat line (a mutation observer runs right after
# the page's own change, before the video moves on), or null if it does not show within 10 s.
WATCH_CHAT = """
(text) => new Promise((resolve) => {
  const video = document.querySelector("video");
  const line = [...document.querySelectorAll("#chat li")].find((item) => item.textContent.includes(text));
  const hiddenAtStart = line.hidden;
  const observer = new MutationObserver(() => {
    if (line.hidden) return;
    observer.disconnect();
    resolve({ shownAt: video.currentTime, hiddenAtStart });
  });
  observer.observe(line, { attributes: true, attributeFilter: ["hidden"] });
  setTimeout(() => {
    observer.disconnect();
    resolve({ shownAt: null, hiddenAtStart });
  }, 10000);
})
"""


async def test_the_chat_line_appears_when_its_moment_plays_and_the_clock_reads_the_original_time(
    recorded: Recorded, browser: Browser
) -> None:
    page = await open_player(browser, recorded.url, "tess", recorded.second["id"])
    await ready(page)
    chat = page.get_by_role("list", name="Chat")
    line = chat.get_by_text(CHAT_TEXT)
    await expect(line).to_be_hidden()
    await expect(page.get_by_text("No chat messages yet at this point.")).to_be_visible()

    # From the chapter begun 1.5 s before the message, by keyboard (K plays): the line shows once its
    # moment has played, not before.
    ohm = recorded.chapters[1]
    assert ohm["start_ms"] < recorded.chat_ms - 500, (ohm, recorded.chat_ms)
    await page.get_by_role("list", name="Chapters").get_by_role("button").nth(1).click()
    await _wait_near(page, ohm["start_ms"])
    await expect(line).to_be_hidden()
    await page.keyboard.press("k")
    seen = await page.evaluate(WATCH_CHAT, CHAT_TEXT)
    await page.keyboard.press("k")
    await expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    assert seen["hiddenAtStart"] is True, seen
    assert seen["shownAt"] is not None, seen
    # Not before its moment; after it by at most a few frames of a loaded machine.
    assert recorded.chat_ms - 1 <= seen["shownAt"] * 1000 <= recorded.chat_ms + 500, seen
    await expect(line).to_be_visible()
    await expect(chat.locator("li:visible")).to_contain_text(["Tess Teacher:"])

    # The clock: the original time of day of the moment on screen, as the user reads it.
    clock = page.locator("#clock")

    async def clock_matches() -> str | None:
        shown = (await clock.inner_text()).strip()
        wanted = original_time(recorded.started_at, await current_ms(page))
        return None if shown == wanted else f"clock reads {shown}, the moment is {wanted}"

    await eventually(clock_matches, within=5)
    # Five seconds back (the left arrow, away from the slider): the clock follows.
    await page.get_by_role("heading", level=1).click()
    before = await current_ms(page)
    await page.keyboard.press("ArrowLeft")
    back = max(0, before - 5000)
    await _wait_near(page, back)
    await eventually(clock_matches, within=5)
    # Going back before the message hides it again.
    await expect(line).to_be_hidden()
    await page.keyboard.press("ArrowRight")
    await _wait_near(page, back + 5000)
    await expect(line).to_be_visible()
    await eventually(clock_matches, within=5)

    # After the pause, the clock has skipped the paused seconds: the file has none of them.
    resumed = recorded.chapters[3]
    resume_button = page.get_by_role("list", name="Chapters").get_by_role("button").nth(3)
    await expect(resume_button).to_contain_text("Resumed")
    await resume_button.click()
    await _wait_near(page, resumed["start_ms"] + 300)
    paused_ms = recorded.second["paused_ms"]

    async def clock_after_pause() -> str | None:
        shown = (await clock.inner_text()).strip()
        now = await current_ms(page)
        wanted = original_time(recorded.started_at, now, paused_ms)
        unpaused = original_time(recorded.started_at, now)
        return None if shown == wanted != unpaused else f"clock reads {shown}, the moment is {wanted}"

    await eventually(clock_after_pause, within=5)
    await page.context.close()


async def _wait_near(page: Page, target_ms: float) -> None:
    await eventually(lambda: _near(page, target_ms, 300), within=10)


async def test_the_other_recording_of_the_classroom_is_listed_and_opens(
    recorded: Recorded, browser: Browser
) -> None:
    page = await open_player(browser, recorded.url, "tess", recorded.second["id"])
    await ready(page)
    others = page.get_by_role("navigation", name="Recordings of this classroom")
    links = others.get_by_role("link")
    await expect(links).to_have_count(1)
    first = recorded.first
    started = datetime.fromisoformat(first["started_at"].replace("Z", "+00:00")).astimezone(UTC)
    await expect(links).to_contain_text(first["name"])
    await expect(links).to_contain_text(started.strftime("%H:%M:%S"))
    await expect(others.locator("[aria-current=page]")).to_contain_text(recorded.second["name"])
    await links.click()
    await expect(page).to_have_url(f"{recorded.url}/recordings/{first['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(first["name"])
    await page.wait_for_function("() => document.querySelector('video').readyState >= 2")
    # Its own chapters (a test below edits its bookmarks: the server says how many there are now).
    async with ClientSession(base_url=recorded.url, cookie_jar=CookieJar(unsafe=True)) as tess:
        await tess.post("/api/auth/login", json={"username": "tess", "password": PASSWORD})
        chapters = (await (await tess.get(f"/api/recordings/{first['id']}/chapters")).json())["chapters"]
    assert chapters[0]["kind"] == "start", chapters
    buttons = page.get_by_role("list", name="Chapters").get_by_role("button")
    await expect(buttons).to_have_count(len(chapters))
    await expect(buttons).to_contain_text([chapter["title"] for chapter in chapters])
    await page.context.close()


async def test_the_player_is_accessible_at_desktop_and_phone_size(
    recorded: Recorded, browser: Browser
) -> None:
    page = await open_player(browser, recorded.url, "tess", recorded.second["id"])
    await ready(page)
    await page.get_by_role("list", name="Chapters").get_by_role("button").nth(2).click()
    await expect(page.get_by_role("list", name="Chat").get_by_text(CHAT_TEXT)).to_be_visible()
    for width, height in ((1280, 800), (375, 812)):
        await page.set_viewport_size({"width": width, "height": height})
        context = f"player at {width}x{height}"
        await assert_accessible(page, context=context)
        await assert_focus_not_obscured(page, context=context)
        await assert_reflows(page, context=context)
    # Every control is reachable by Tab, in order: play, seek, speed, loop, then the chapters.
    await page.get_by_role("heading", level=1).focus()
    reached: list[str] = []
    for _ in range(9):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate("document.activeElement.id || document.activeElement.textContent"))
    assert reached[:5] == ["play", "seek", "speed", "loop", "subtitles"], reached
    assert [text[:7] for text in reached[5:9]] == [
        formatted(chapter["start_ms"]) for chapter in recorded.chapters
    ], reached
    # The chapters by keyboard: Enter on the focused one seeks there.
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Enter")
    await _wait_near(page, recorded.chapters[1]["start_ms"])
    # Space plays and pauses from anywhere that is not a control.
    await page.get_by_role("heading", level=1).focus()
    await page.keyboard.press(" ")
    await expect(page.get_by_role("button", name="Pause", exact=True)).to_be_visible()
    await page.keyboard.press(" ")
    await expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    assert await page.evaluate("document.querySelector('video').paused")
    await page.context.close()


def formatted(media_ms: int) -> str:
    """A media time as the page writes it, h:mm:ss."""
    seconds = media_ms // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


async def test_a_recording_one_may_not_watch_or_that_does_not_exist_is_refused_in_words(
    recorded: Recorded, browser: Browser
) -> None:
    # Sam is a student of the classroom, but the recording is not published to students.
    page = await open_player(browser, recorded.url, "sam", recorded.second["id"])
    await expect(page.get_by_role("alert")).to_have_text(
        "This recording does not exist, or you are not allowed to watch it."
    )
    await expect(page.get_by_role("heading", level=1)).to_have_text("Recording not found")
    await expect(page.locator("video")).to_be_hidden()
    await assert_accessible(page, context="player refused")
    await page.goto(f"{recorded.url}/recordings/999999")
    await expect(page.get_by_role("alert")).to_have_text(
        "This recording does not exist, or you are not allowed to watch it."
    )
    await page.context.close()


def time_of_day(at: str) -> str:
    """An event's original time of day, as the page writes it in UTC."""
    return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(UTC).strftime("%H:%M:%S")


def first_of(events: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    return next(event for event in events if event["type"] == type_)


async def test_the_timeline_reads_in_words_and_each_entry_seeks_to_its_moment(
    recorded: Recorded, browser: Browser
) -> None:
    page = await open_player(browser, recorded.url, "tess", recorded.second["id"])
    await ready(page)
    timeline = page.get_by_role("list", name="Timeline")
    join = first_of(recorded.events, "join")
    hand = first_of(recorded.events, "hand_raised")
    bookmark = first_of(recorded.events, "bookmark")
    # In words, at the original time of day each happened.
    joined = timeline.get_by_role("button", name=f"{time_of_day(join['at'])} Sam Student joined", exact=True)
    raised = timeline.get_by_role(
        "button", name=f"{time_of_day(hand['at'])} Sam Student raised a hand", exact=True
    )
    ohm = timeline.get_by_role("button", name=f"{time_of_day(bookmark['at'])} Bookmark: Ohm's law")
    for entry in (joined, raised, ohm):
        await expect(entry).to_be_visible()
    await expect(ohm).to_contain_text("(by Tess Teacher)")
    await expect(timeline.get_by_role("button", name="Tess Teacher paused the recording")).to_be_visible()
    await expect(timeline.get_by_role("button", name=f"Tess Teacher wrote: {CHAT_TEXT}")).to_be_visible()

    # An entry seeks to its media time, and is the one marked as playing.
    await ohm.click()
    await eventually(lambda: _near(page, bookmark["media_ms"], 250), within=10)
    await expect(ohm).to_have_attribute("aria-current", "true")
    await expect(timeline.locator("[aria-current]")).to_have_count(1)
    await joined.click()
    await eventually(lambda: _near(page, join["media_ms"], 250), within=10)
    await expect(joined).to_have_attribute("aria-current", "true")
    await expect(ohm).not_to_have_attribute("aria-current", "true")
    # Playing on (K), the mark follows: the entry of the latest moment played.
    await page.keyboard.press("k")
    await page.wait_for_function(
        "(ms) => document.querySelector('video').currentTime * 1000 > ms", arg=bookmark["media_ms"] + 200
    )
    await page.keyboard.press("k")
    await expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    now = await current_ms(page)
    played = [event for event in recorded.events if event["type"] != "speaker" and event["media_ms"] <= now]
    assert played[-1]["media_ms"] >= bookmark["media_ms"], (now, played[-1])
    playing = timeline.locator("[aria-current=true]")
    await expect(playing).to_have_count(1)
    await expect(timeline.locator("li:has(> [aria-current=true])")).to_have_attribute(
        "data-media-ms", str(played[-1]["media_ms"])
    )

    # The filters: bookmarks only, then people only, then all again.
    await page.get_by_role("radio", name="Bookmarks").check()
    await expect(timeline.get_by_role("button")).to_have_count(2)
    await expect(timeline.get_by_role("button").nth(1)).to_contain_text("Bookmark: Exercise")
    await page.get_by_role("radio", name="People").check()
    await expect(raised).to_be_visible()
    await expect(ohm).to_be_hidden()
    await page.get_by_role("radio", name="All").check()
    await expect(ohm).to_be_visible()

    # The seek bar's marks: one per chapter after the start, in the chapters' order.
    marks = await page.evaluate(
        "[...document.querySelectorAll('#seek-marks .seek-mark')].map((m) => m.getBoundingClientRect().x)"
    )
    assert len(marks) == len(recorded.chapters) - 1, marks
    assert marks == sorted(marks), marks
    assert len(set(marks)) == len(marks), marks

    # The chat as the video's subtitles: off until asked for, then its cue is up at its moment.
    tracks = await page.evaluate(
        "[...document.querySelector('video').textTracks].map((t) => [t.kind, t.label, t.mode])"
    )
    assert ["chapters", "Chapters", "disabled"] in tracks, tracks
    assert ["subtitles", "Chat", "disabled"] in tracks, tracks
    await page.get_by_label("Chat on the video").check()
    chat_button = timeline.get_by_role("button", name=f"Tess Teacher wrote: {CHAT_TEXT}")
    await chat_button.click()
    await eventually(lambda: _near(page, recorded.chat_ms, 250), within=10)
    await page.wait_for_function(
        """(text) => {
          const track = [...document.querySelector('video').textTracks].find((t) => t.label === 'Chat');
          return track.mode === 'showing' && [...(track.activeCues ?? [])].some((c) => c.text.includes(text));
        }""",
        arg=CHAT_TEXT,
    )
    await page.context.close()


async def test_the_download_link_saves_the_mp4_with_the_bookmarks_as_chapters(
    recorded: Recorded, browser: Browser, tmp_path: Path
) -> None:
    page = await open_player(browser, recorded.url, "tess", recorded.second["id"])
    await ready(page)
    files = page.get_by_role("region", name="Download")
    for name, path in (
        ("Timeline as text", "timeline.txt"),
        ("Chapters as WebVTT", "chapters.vtt"),
        ("Chat as WebVTT", "chat.vtt"),
    ):
        await expect(files.get_by_role("link", name=name)).to_have_attribute(
            "href", f"/api/recordings/{recorded.second['id']}/{path}"
        )
    async with page.expect_download() as started:
        await files.get_by_role("link", name="Download the video").click()
    download = await started.value
    assert download.suggested_filename.endswith(".mp4"), download.suggested_filename
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    probe = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(saved),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await probe.communicate()
    assert probe.returncode == 0, err.decode()
    titles = [chapter["tags"]["title"] for chapter in json.loads(out)["chapters"]]
    assert titles == [chapter["title"] for chapter in recorded.chapters], titles
    assert "Ohm's law" in titles, titles
    assert "Exercise" in titles, titles
    await page.context.close()


async def _api_chapters(page: Page, recording_id: int) -> list[dict[str, Any]]:
    url = page.url.split("/recordings/")[0]
    answer = await page.request.get(f"{url}/api/recordings/{recording_id}/chapters")
    assert answer.ok, await answer.text()
    chapters: list[dict[str, Any]] = (await answer.json())["chapters"]
    return chapters


async def test_a_manager_edits_moves_and_deletes_bookmarks_after_the_class_and_a_student_cannot(
    recorded: Recorded, browser: Browser
) -> None:
    first = recorded.first
    page = await open_player(browser, recorded.url, "tess", first["id"])
    await ready(page)
    chapters = page.get_by_role("list", name="Chapters")
    await expect(chapters.get_by_role("button")).to_contain_text(["Start", "Question — Warm-up", "Homework"])
    before = await _api_chapters(page, first["id"])
    warm_up = next(chapter for chapter in before if chapter["title"] == "Question — Warm-up")
    homework = next(chapter for chapter in before if chapter["title"] == "Homework")
    # No edit controls until asked for: the chapters stay one button each for the keyboard.
    await expect(chapters.get_by_role("button", name="Edit", exact=False)).to_have_count(0)
    toggle = page.get_by_role("button", name="Edit bookmarks")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await expect(chapters.get_by_role("button", name="Edit bookmark", exact=False)).to_have_count(2)
    await chapters.get_by_role("button", name="Edit bookmark “Question — Warm-up”").click()
    form = page.get_by_role("form", name="Edit bookmark “Question — Warm-up”")
    code = form.get_by_label("Code")
    await expect(code).to_be_focused()
    await expect(code).to_have_value("Q")
    await expect(form.get_by_label("Remark")).to_have_value("Warm-up")
    await expect(form.get_by_label("Time")).to_have_value(formatted(warm_up["start_ms"]))
    await assert_accessible(page, context="bookmark editor open")
    await page.set_viewport_size({"width": 375, "height": 812})
    await assert_accessible(page, context="bookmark editor open on a phone")
    await assert_reflows(page, context="bookmark editor open on a phone")
    await page.set_viewport_size({"width": 1280, "height": 800})

    # Refused in words next to the field: a remark with a control character.
    await form.get_by_label("Remark").fill("Warm-up\u0007")
    await form.get_by_role("button", name="Save").click()
    remark_error = form.locator(".field-error")
    await expect(remark_error).to_have_count(1)
    await expect(form.get_by_label("Remark")).to_have_attribute("aria-invalid", "true")
    await expect(form.get_by_label("Remark")).to_have_accessible_description(
        re.compile(re.escape(await remark_error.inner_text()))
    )

    # A new code and remark, and moved to where playback is now (past Homework).
    await form.get_by_label("Code").select_option("EX")
    await form.get_by_label("Remark").fill("Warm-up questions")
    # The seek slider moves by whole seconds: the first whole second past Homework's start.
    target_ms = ((homework["start_ms"] + 300) // 1000 + 1) * 1000
    assert target_ms < first["duration_ms"], (homework, first["duration_ms"])
    await page.get_by_label("Seek").fill(str(target_ms))
    await _wait_near(page, target_ms)
    moved_to = round(await current_ms(page))
    await form.get_by_role("button", name="Move here").click()
    await expect(form.get_by_label("Time")).to_have_value(formatted(moved_to))
    await form.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status").filter(has_text="saved")).to_have_text(
        f"Bookmark “Example — Warm-up questions” saved, at {formatted(moved_to)}."
    )
    await expect(form).to_have_count(0)
    # The server's chapters follow, and so do the page's list (in media order now), marks and timeline.
    after = await _api_chapters(page, first["id"])
    edited = next(chapter for chapter in after if chapter["bookmark_id"] == warm_up["bookmark_id"])
    assert edited["title"] == "Example — Warm-up questions", after
    assert edited["start_ms"] == moved_to, (edited, moved_to)
    assert [chapter["title"] for chapter in after] == ["Start", "Homework", "Example — Warm-up questions"]
    await expect(chapters.locator(".chapter")).to_contain_text(
        ["Start", "Homework", "Example — Warm-up questions"]
    )
    await expect(chapters.locator(".chapter").nth(2)).to_contain_text(formatted(moved_to))
    await expect(page.locator("#seek-marks .seek-mark")).to_have_count(2)
    await expect(page.locator("#seek-marks .seek-mark").nth(1)).to_have_attribute(
        "title", f"{formatted(moved_to)} Example — Warm-up questions"
    )
    timeline = page.get_by_role("list", name="Timeline")
    await expect(timeline.get_by_role("button", name="Bookmark: Example — Warm-up questions")).to_be_visible()
    await expect(timeline.get_by_role("button", name="Bookmark: Question — Warm-up")).to_have_count(0)
    await expect(
        chapters.get_by_role("button", name="Edit bookmark “Example — Warm-up questions”", exact=False)
    ).to_be_focused()

    # Delete asks first; Cancel keeps it, Delete removes it everywhere.
    delete = chapters.get_by_role("button", name="Delete bookmark “Homework”", exact=False)
    await delete.click()
    dialog = page.get_by_role("dialog", name="Delete bookmark")
    await expect(dialog).to_contain_text("Homework")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(delete).to_be_focused()
    assert len(await _api_chapters(page, first["id"])) == 3
    await delete.click()
    await dialog.get_by_role("button", name="Delete").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_role("status").filter(has_text="deleted")).to_have_text(
        "Bookmark “Homework” deleted."
    )
    await expect(chapters.locator(".chapter")).to_have_count(2)
    await expect(chapters.get_by_text("Homework")).to_have_count(0)
    assert [chapter["title"] for chapter in await _api_chapters(page, first["id"])] == [
        "Start",
        "Example — Warm-up questions",
    ]
    await expect(timeline.get_by_role("button", name="Bookmark: Homework")).to_have_count(0)
    await expect(page.locator("#seek-marks .seek-mark")).to_have_count(1)

    # Published, a student of the classroom watches it, with no edit controls at all.
    published = await page.request.patch(
        f"{recorded.url}/api/recordings/{first['id']}", data={"published": True}
    )
    assert published.ok, await published.text()
    await page.context.close()
    sam = await open_player(browser, recorded.url, "sam", first["id"])
    await ready(sam)
    sam_chapters = sam.get_by_role("list", name="Chapters")
    await expect(sam_chapters.get_by_role("button")).to_contain_text(["Start", "Example — Warm-up questions"])
    await expect(sam.get_by_role("button", name="Edit bookmarks")).to_have_count(0)
    await expect(sam.get_by_role("button", name="Edit", exact=False)).to_have_count(0)
    await expect(sam.get_by_role("button", name="Delete", exact=False)).to_have_count(0)
    recording = await (await sam.request.get(f"{recorded.url}/api/recordings/{first['id']}")).json()
    assert recording["recording"]["can_manage"] is False
    await sam.context.close()
