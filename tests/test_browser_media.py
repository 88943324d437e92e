"""Live media in real browsers: people in a classroom see and hear each other through the server.

Each participant is a headless Chromium page with fake camera and microphone. What a page receives is read
from its own ``RTCPeerConnection.getStats()``: the test wraps ``window.RTCPeerConnection`` before the page
loads (no hook in the product) and maps each inbound stream to a participant through the tile that plays
it, cross-checked with the msid stream id (the publisher's user id). What a page sends is read from the same
peer connection's outbound-rtp counters: a muted microphone or a camera turned off sends no RTP at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from playwright.async_api import Browser, ConsoleMessage, Locator, Page, expect

from tests.browser import chromium
from tests.browser_pages import OUTBOUND_STATS
from tests.live_server import LiveServer, live_server
from tests.netns import require_private_namespace

pytestmark = pytest.mark.browser
ADMIN_PASSWORD = "admin password 1"
PASSWORD = "a good password"
WAIT_MS = 30_000
LATE_JOINER_BUDGET_MS = 1000

# Keeps every peer connection the page creates, and which stream (msid) each received track belongs to.
KEEP_PEER_CONNECTIONS = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.__trackStreams = {};
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
      window.__pcCreatedAt ??= performance.now();
      this.addEventListener("track", (event) => {
        window.__trackStreams[event.track.id] = event.streams.map((stream) => stream.id);
      });
    }
  };
})();
"""

# For the late joiner: when its media starts (the pre-join check's Join, its devices already open) and, per
# received video track, when the first frame is decoded (getStats) and when its <video> first has a frame to
# show (readyState), every 10 ms.
TIME_FIRST_FRAMES = """
(() => {
  window.__firstFrames = {};
  addEventListener("click", (event) => {
    if (event.target.closest?.("#join-button")) window.__mediaStartedAt ??= performance.now();
  }, true);
  const seen = (trackId, what) => {
    const times = (window.__firstFrames[trackId] ??= {});
    times[what] ??= performance.now();
  };
  const poll = async () => {
    for (const pc of window.__pcs ?? []) {
      if (pc.signalingState === "closed") continue;
      (await pc.getStats()).forEach((stats) => {
        if (stats.type === "inbound-rtp" && stats.kind === "video" && stats.framesDecoded > 0) {
          seen(stats.trackIdentifier, "decoded");
        }
      });
    }
    for (const video of document.querySelectorAll("video")) {
      const track = video.srcObject?.getVideoTracks?.()[0];
      if (track && video.readyState >= 2) seen(track.id, "shown");
    }
    if (performance.now() < 30000) setTimeout(poll, 10);
  };
  setTimeout(poll, 10);
})();
"""

# A participant who refuses the camera and microphone.
REFUSE_DEVICES = """
MediaDevices.prototype.getUserMedia = () =>
  Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
"""

# Chromium's autoplay policy (no sound before the user interacts with a page that captures nothing), made
# deterministic: Playwright's own page queries count as user activation, so the real policy lets sound
# through or not depending on timing. The pre-join check's Join does not count here, as for a browser that
# holds sound back until the user acts on the classroom itself.
HOLD_BACK_SOUND = """
(() => {
  let clicked = false;
  addEventListener("click", (event) => {
    if (!event.target.closest?.("#join-button")) clicked = true;
  }, true);
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (!clicked && !this.muted) {
      this.pause();
      return Promise.reject(new DOMException("play() needs a user gesture", "NotAllowedError"));
    }
    return play.call(this);
  };
})();
"""

# Per tile (by its caption): the inbound-rtp counters of the tracks its <video> and <audio> play.
TILE_STATS = """
async () => {
  const pc = (window.__pcs ?? []).filter((pc) => pc.signalingState !== "closed").at(-1);
  const inbound = new Map();
  if (pc) {
    (await pc.getStats()).forEach((stats) => {
      if (stats.type === "inbound-rtp") inbound.set(stats.trackIdentifier, stats);
    });
  }
  const tiles = {};
  for (const figure of document.querySelectorAll("#media figure")) {
    const tile = { streams: [] };
    for (const element of figure.querySelectorAll("video, audio")) {
      const track = element.srcObject?.getTracks()[0];
      if (!track) continue;
      tile.streams.push(...(window.__trackStreams[track.id] ?? []));
      const stats = inbound.get(track.id);
      if (track.kind === "video") {
        tile.videoTrack = track.id;
        tile.framesDecoded = stats?.framesDecoded ?? 0;
        tile.frameWidth = stats?.frameWidth ?? 0;
      } else {
        tile.audioPackets = stats?.packetsReceived ?? 0;
        tile.audioSamples = stats?.totalSamplesReceived ?? 0;
        tile.audioPlaying = !element.paused && !element.muted;
      }
    }
    tiles[figure.querySelector("figcaption").textContent] = tile;
  }
  return tiles;
}
"""


# Long enough for a source that sends to show it many times over (audio: 50 packets a second).
QUIET_S = 2.0


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(tmp_path / "data", {"AULA_ADMIN_PASSWORD": ADMIN_PASSWORD}) as running:
        yield running


PAGE_ERRORS: list[str] = []


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """The browser; at the end, no page may have thrown, logged an error or a media warning."""
    PAGE_ERRORS.clear()
    async with chromium() as launched:
        yield launched
        assert PAGE_ERRORS == []


def _console(message: ConsoleMessage) -> None:
    if message.type == "error" or (message.type == "warning" and message.text.startswith("media:")):
        PAGE_ERRORS.append(message.text)


@dataclass
class Classroom:
    url: str
    classroom_id: int
    user_ids: dict[str, int]  # display name -> user id


async def set_up_classroom(
    url: str, students: dict[str, str], student_media: dict[str, bool] | None = None
) -> Classroom:
    """Through the HTTP API: the admin creates Tess (teacher) and ``students`` (username -> display name);
    Tess creates a classroom with them (and ``student_media``: what students may publish, if given)."""
    user_ids: dict[str, int] = {}
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as admin:
        login = await admin.post(
            f"{url}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert login.status == 200, await login.text()
        for username, display_name, role in [
            ("tess", "Tess Teacher", "teacher"),
            *((name, shown, "student") for name, shown in students.items()),
        ]:
            body = {"username": username, "password": PASSWORD, "role": role, "display_name": display_name}
            created = await admin.post(f"{url}/api/users", json=body)
            assert created.status == 201, await created.text()
            user_ids[display_name] = (await created.json())["user"]["id"]
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as teacher:
        login = await teacher.post(f"{url}/api/auth/login", json={"username": "tess", "password": PASSWORD})
        assert login.status == 200, await login.text()
        classroom: dict[str, Any] = {"name": "Physics 3B", "students": list(students)}
        if student_media is not None:
            classroom["student_media"] = student_media
        made = await teacher.post(f"{url}/api/classrooms", json=classroom)
        assert made.status == 201, await made.text()
        classroom_id: int = (await made.json())["classroom"]["id"]
    return Classroom(url, classroom_id, user_ids)


async def open_page(browser: Browser, url: str, username: str, *init_scripts: str) -> Page:
    """A logged-in page of its own browser context (own cookies, own fake devices)."""
    context = await browser.new_context()
    login = await context.request.post(
        f"{url}/api/auth/login", data={"username": username, "password": PASSWORD}
    )
    assert login.status == 200, await login.text()
    for script in (KEEP_PEER_CONNECTIONS, *init_scripts):
        await context.add_init_script(script)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("console", _console)
    page.on("pageerror", lambda error: PAGE_ERRORS.append(str(error)))
    return page


async def enter(browser: Browser, classroom: Classroom, username: str, *init_scripts: str) -> Page:
    page = await open_page(browser, classroom.url, username, *init_scripts)
    await page.goto(f"{classroom.url}/classrooms/{classroom.classroom_id}")
    await page.get_by_role("button", name="Join classroom").click()
    return page


async def tile_stats(page: Page) -> dict[str, dict[str, Any]]:
    stats: dict[str, dict[str, Any]] = await page.evaluate(TILE_STATS)
    return stats


async def eventually(check: Callable[[], Awaitable[str | None]], within: float = WAIT_MS / 1000) -> None:
    """Polls ``check`` (None when satisfied, else what is missing) until it passes or time runs out."""
    deadline = time.monotonic() + within
    while (missing := await check()) is not None:
        if time.monotonic() > deadline:
            raise AssertionError(missing)
        await asyncio.sleep(0.25)


def receiving_problem(
    tiles: dict[str, dict[str, Any]], name: str, user_id: int, playing: bool = True
) -> str | None:
    tile = tiles.get(name)
    if tile is None:
        return f"no tile for {name} in {sorted(tiles)}"
    if not tile.get("framesDecoded"):
        return f"no video decoded from {name}: {tile}"
    if not tile.get("audioPackets") or not tile.get("audioSamples"):
        return f"no audio received from {name}: {tile}"
    if set(tile["streams"]) != {str(user_id)}:
        return f"{name}'s tile plays streams {tile['streams']}, expected {user_id}'s"
    if playing and not tile.get("audioPlaying"):
        return f"{name}'s audio is not playing: {tile}"
    return None


async def wait_receiving(page: Page, classroom: Classroom, names: list[str], playing: bool = True) -> None:
    """Until the page decodes video and receives audio from each of ``names``, in their own tiles, and
    (if ``playing``) plays that audio."""

    async def check() -> str | None:
        tiles = await tile_stats(page)
        for name in names:
            if problem := receiving_problem(tiles, name, classroom.user_ids[name], playing):
                return problem
        return None

    await eventually(check)


async def assert_still_receiving(
    page: Page, names: list[str], counters: tuple[str, ...] = ("framesDecoded", "audioSamples")
) -> None:
    """Video frames and audio samples shown in the tiles of each of ``names`` keep coming."""
    before = await tile_stats(page)

    async def check() -> str | None:
        now = await tile_stats(page)
        for name in names:
            for counter in counters:
                if now[name][counter] <= before[name][counter]:
                    return f"{counter} from {name} stopped at {now[name][counter]}"
        return None

    await eventually(check, within=10)


def tile(page: Page, name: str) -> Locator:
    return page.get_by_role("figure", name=name, exact=True)


async def outbound(page: Page) -> dict[str, dict[str, int]]:
    sent: dict[str, dict[str, int]] = await page.evaluate(OUTBOUND_STATS)
    return sent


async def assert_sending(page: Page, kind: str) -> None:
    """The page's peer connection sends RTP of ``kind`` ("audio", "video"): its counters keep growing."""
    before = await outbound(page)

    async def check() -> str | None:
        now = (await outbound(page))[kind]
        if now["packetsSent"] > before[kind]["packetsSent"] and now["bytesSent"] > before[kind]["bytesSent"]:
            return None
        return f"no {kind} sent: {now} (before {before[kind]})"

    await eventually(check, within=10)


async def assert_sends_nothing(page: Page, kind: str) -> None:
    """Over QUIET_S, not one RTP packet of ``kind`` leaves the page: no silence, no black frames."""
    await asyncio.sleep(0.5)  # what was already queued when the control changed
    before = (await outbound(page))[kind]
    await asyncio.sleep(QUIET_S)
    after = (await outbound(page))[kind]
    assert after == before, f"{kind} still sent while muted: {before} → {after}"


async def test_three_see_and_hear_each_other_one_leaves_and_a_latecomer_sees_at_once(
    server: LiveServer, browser: Browser
) -> None:
    students = {"sam": "Sam Student", "sue": "Sue Student", "lee": "Lee Latecomer"}
    classroom = await set_up_classroom(server.url, students)
    pages = dict(
        zip(
            ["Tess Teacher", "Sam Student", "Sue Student"],
            await asyncio.gather(*(enter(browser, classroom, name) for name in ["tess", "sam", "sue"])),
            strict=True,
        )
    )
    await asyncio.gather(
        *(
            wait_receiving(page, classroom, [other for other in pages if other != name])
            for name, page in pages.items()
        )
    )
    await asyncio.gather(
        *(
            assert_still_receiving(page, [other for other in pages if other != name])
            for name, page in pages.items()
        )
    )
    for name, page in pages.items():
        await expect(tile(page, f"{name} (you)")).to_be_visible()
        await expect(page.get_by_role("status")).to_be_hidden()
        await expect(page.get_by_role("button", name="Mute microphone")).to_be_enabled()

    sue = pages.pop("Sue Student")
    await sue.get_by_role("button", name="Leave classroom").click()
    await expect(sue).to_have_url(f"{server.url}/classrooms")
    tess, sam = pages["Tess Teacher"], pages["Sam Student"]
    for page in (tess, sam):
        await expect(tile(page, "Sue Student")).to_have_count(0)
    await assert_still_receiving(tess, ["Sam Student"])
    await assert_still_receiving(sam, ["Tess Teacher"])

    lee = await open_page(browser, server.url, "lee", TIME_FIRST_FRAMES)
    await lee.goto(f"{server.url}/classrooms/{classroom.classroom_id}")
    await lee.get_by_role("button", name="Join classroom").click()
    await wait_receiving(lee, classroom, ["Tess Teacher", "Sam Student"])
    # The others get the latecomer's m-lines once the latecomer's media flows: wait for them to show.
    await wait_receiving(tess, classroom, ["Sam Student", "Lee Latecomer"])
    await assert_still_receiving(tess, ["Sam Student", "Lee Latecomer"])
    times: dict[str, Any] = await lee.evaluate(
        """() => ({media: window.__mediaStartedAt, pc: window.__pcCreatedAt, frames: window.__firstFrames})"""
    )
    tiles = await tile_stats(lee)
    figures = {}
    for name in ("Tess Teacher", "Sam Student"):
        first = times["frames"][tiles[name]["videoTrack"]]
        figures[name] = {
            "from navigation": round(first["shown"]),
            "from media start": round(first["shown"] - times["media"]),
            "from peer connection": round(first["shown"] - times["pc"]),
            "decoded from media start": round(first["decoded"] - times["media"]),
        }
    print(f"late joiner, first frame shown (ms): {figures}")
    for name, figure in figures.items():
        assert figure["from media start"] < LATE_JOINER_BUDGET_MS, (name, figures)


async def test_mute_and_camera_off_send_nothing_and_show_on_the_other_page_as_does_a_screen_share(
    server: LiveServer, browser: Browser
) -> None:
    # Students may share their screen here (the classroom's default is not to).
    classroom = await set_up_classroom(
        server.url, {"sam": "Sam Student", "rita": "Rita Refuser"}, student_media={"screen": True}
    )
    tess, sam = await asyncio.gather(enter(browser, classroom, "tess"), enter(browser, classroom, "sam"))
    await asyncio.gather(
        wait_receiving(tess, classroom, ["Sam Student"]), wait_receiving(sam, classroom, ["Tess Teacher"])
    )
    rita = await enter(browser, classroom, "rita", REFUSE_DEVICES, HOLD_BACK_SOUND)
    await wait_receiving(rita, classroom, ["Tess Teacher", "Sam Student"], playing=False)
    # Rita watches and listens only, and knows it; the others see that she sends nothing. Capturing
    # nothing, her page may not play sound before she has interacted with it.
    await expect(rita.get_by_role("status")).to_contain_text("not allowed: you can watch and listen")
    await expect(rita.get_by_role("status")).to_contain_text("press “Turn on sound”")
    await rita.get_by_role("button", name="Turn on sound").click()
    await expect(rita.get_by_role("button", name="Turn on sound")).to_be_hidden()
    await expect(rita.get_by_role("status")).not_to_contain_text("Turn on sound")
    await wait_receiving(rita, classroom, ["Tess Teacher", "Sam Student"])
    await expect(rita.get_by_role("button", name="Mute microphone")).to_be_disabled()
    await expect(rita.get_by_role("button", name="Turn camera off")).to_be_disabled()
    rita_on_tess = tile(tess, "Rita Refuser")
    await expect(rita_on_tess.get_by_role("img", name="No microphone")).to_be_visible()
    await expect(rita_on_tess.get_by_role("img", name="No camera")).to_be_visible()
    tess_on_sam = tile(sam, "Tess Teacher")
    tess_row = sam.get_by_role("list", name="Participants").get_by_role("listitem").filter(has_text="Tess")
    await expect(tess_row.get_by_role("img", name="Microphone on")).to_be_visible()
    await expect(tess_row.get_by_role("img", name="Camera on")).to_be_visible()
    await assert_sending(tess, "audio")
    await assert_sending(tess, "video")

    await tess.get_by_role("button", name="Mute microphone").click()
    await expect(tess.get_by_role("button", name="Unmute microphone")).to_be_visible()
    await assert_sends_nothing(tess, "audio")
    await assert_sending(tess, "video")
    await expect(tess_on_sam.get_by_role("img", name="Microphone muted")).to_be_visible()
    await expect(tess_row.get_by_role("img", name="Microphone muted")).to_be_visible()
    await expect(tile(tess, "Tess Teacher (you)").get_by_role("img", name="Microphone muted")).to_be_visible()
    # Only Sam's fake microphone still beeps: the server names him the active speaker.
    await expect(tile(tess, "Sam Student")).to_have_attribute("data-speaking", "true", timeout=WAIT_MS)
    await expect(tess_on_sam).to_have_attribute("data-speaking", "false")

    await tess.get_by_role("button", name="Turn camera off").click()
    await expect(tess_on_sam.get_by_role("img", name="Camera off")).to_be_visible()
    await expect(tess.get_by_role("button", name="Turn camera on")).to_be_visible()
    await assert_sends_nothing(tess, "video")
    await tess.get_by_role("button", name="Turn camera on").click()
    await expect(tess.get_by_role("button", name="Turn camera off")).to_be_visible()
    await assert_sending(tess, "video")
    await assert_sends_nothing(tess, "audio")
    await tess.get_by_role("button", name="Unmute microphone").click()
    await expect(tess.get_by_role("button", name="Mute microphone")).to_be_visible()
    await assert_sending(tess, "audio")
    await expect(tess_on_sam.get_by_role("img")).to_have_count(0)

    await sam.get_by_role("button", name="Share screen").click()
    await expect(sam.get_by_role("button", name="Stop sharing")).to_be_visible()
    await expect(tile(sam, "Your screen")).to_be_visible()
    screen = tile(tess, "Sam Student's screen")
    await expect(screen).to_be_visible()
    # The screen is shown above the camera tiles and larger than them.
    screen_box = await screen.bounding_box()
    camera_box = await tile(tess, "Sam Student").bounding_box()
    assert screen_box is not None
    assert camera_box is not None
    assert screen_box["y"] < camera_box["y"]
    assert screen_box["width"] > camera_box["width"]

    async def screen_decoded() -> str | None:
        tiles = await tile_stats(tess)
        return None if tiles["Sam Student's screen"].get("framesDecoded") else f"no screen frame: {tiles}"

    await eventually(screen_decoded)
    await assert_still_receiving(tess, ["Sam Student's screen"], counters=("framesDecoded",))
    await sam.get_by_role("button", name="Stop sharing").click()
    await expect(sam.get_by_role("button", name="Share screen")).to_be_visible()
    await expect(screen).to_have_count(0)
    await assert_still_receiving(tess, ["Sam Student"])


async def test_a_receive_only_participant_first_in_the_classroom_receives_those_who_come_later(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(server.url, {"rita": "Rita Refuser"})
    rita = await enter(browser, classroom, "rita", REFUSE_DEVICES)
    await expect(rita.get_by_role("status").or_(rita.get_by_role("alert"))).to_be_visible()
    await expect(rita.get_by_role("alert")).to_be_hidden()
    await enter(browser, classroom, "tess")
    await wait_receiving(rita, classroom, ["Tess Teacher"], playing=False)
