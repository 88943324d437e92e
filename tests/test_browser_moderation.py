"""Moderation in real browsers: the teacher sees raised hands in the order they went up and lowers them,
denies a student's camera (the student's page stops sending it and says why), asks a student to mute (one
click on "Mute now" and nothing more is sent), and removes a student after confirming (the removed page
says so at once). Students who only raise hands are socket.io clients; the others are Chromium pages with
fake devices whose sending is read from their own peer connection's getStats()."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
import socketio
from aiohttp import ClientSession, CookieJar
from playwright.async_api import Browser, Locator, Page, expect

from tests.accessibility import assert_accessible
from tests.browser_pages import admin_server_fixture, browser_fixture, eventually, outbound, record_errors
from tests.live_server import LiveServer
from tests.netns import require_private_namespace
from tests.test_browser_media import Classroom, set_up_classroom

pytestmark = pytest.mark.browser
ADMIN_PASSWORD = "admin password 1"
PASSWORD = "a good password"
WAIT_MS = 20_000
# Long enough for a source that sends to show it many times over (audio: 50 packets a second).
QUIET_S = 2.0

# Keeps every peer connection the page creates, so the test can read what the page sends.
KEEP_PEER_CONNECTIONS = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
  };
  // And every screen it captures, so the test can tell whether one is still being captured.
  const devices = navigator.mediaDevices;
  const display = devices?.getDisplayMedia?.bind(devices);
  if (display) {
    window.__screens = [];
    devices.getDisplayMedia = async (...args) => {
      const stream = await display(...args);
      window.__screens.push(...stream.getTracks());
      return stream;
    };
  }
})();
"""

# The states of the screen tracks the page has captured.
SCREEN_STATES = "() => (window.__screens ?? []).map((track) => track.readyState)"


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


server = admin_server_fixture(ADMIN_PASSWORD)
PAGE_ERRORS: list[str] = []
browser = browser_fixture(PAGE_ERRORS, "The browser; at the end, no page may have thrown or logged an error.")


class SocketParticipant:
    """Someone in the classroom through socket.io only (no page, no media)."""

    def __init__(self, classroom: Classroom, username: str) -> None:
        self.classroom = classroom
        self.username = username
        self.sio = socketio.AsyncClient(reconnection=False)
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sio.on("participant_updated", self.updates.put_nowait, namespace="/classroom")

    async def join(self) -> None:
        url = self.classroom.url
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            login = await http.post(
                f"{url}/api/auth/login", json={"username": self.username, "password": PASSWORD}
            )
            assert login.status == 200, await login.text()
            cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
        await self.sio.connect(
            url,
            namespaces=["/classroom"],
            headers={"Cookie": cookie, "Origin": url},
            transports=["websocket"],
            wait_timeout=5,
        )
        await self.call("join", {"classroom_id": self.classroom.classroom_id})

    async def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        ack: dict[str, Any] = await self.sio.call(event, data, namespace="/classroom", timeout=5)
        assert ack.get("ok") is True, (event, ack)
        return ack

    async def hand_lowered(self, user_id: int) -> None:
        """Until a participant_updated says ``user_id``'s hand is down."""
        async with asyncio.timeout(5):
            while True:
                participant = (await self.updates.get())["participant"]
                if participant["user_id"] == user_id and not participant["hand_raised"]:
                    return

    async def close(self) -> None:
        await self.sio.disconnect()


async def enter(browser: Browser, classroom: Classroom, username: str) -> Page:
    """A logged-in page of its own browser context (own cookies, own fake devices), in the classroom."""
    context = await browser.new_context()
    login = await context.request.post(
        f"{classroom.url}/api/auth/login", data={"username": username, "password": PASSWORD}
    )
    assert login.status == 200, await login.text()
    await context.add_init_script(KEEP_PEER_CONNECTIONS)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    record_errors(page, PAGE_ERRORS)
    await page.goto(f"{classroom.url}/classrooms/{classroom.classroom_id}")
    # The pre-join check, when the page has one: join with the fake camera and microphone.
    join = page.get_by_role("button", name="Join classroom")
    listed = page.get_by_role("list", name="Participants")
    await expect(join.or_(listed)).to_be_visible()
    if await join.is_visible():
        await join.click()
    await expect(listed).to_be_visible()
    return page


def participants(page: Page) -> Locator:
    return page.get_by_role("list", name="Participants")


def row(page: Page, name: str) -> Locator:
    return participants(page).get_by_role("listitem").filter(has_text=name)


async def assert_sending(page: Page, kind: str) -> None:
    before = await outbound(page)

    async def check() -> str | None:
        now = (await outbound(page))[kind]
        if now["packetsSent"] > before[kind]["packetsSent"]:
            return None
        return f"no {kind} sent: {now} (before {before[kind]})"

    await eventually(check, within=10)


async def assert_not_sending(page: Page, kind: str) -> None:
    """Nothing of ``kind`` leaves the page for QUIET_S (after what was in flight has gone)."""

    async def quiet() -> str | None:
        before = (await outbound(page))[kind]
        await asyncio.sleep(QUIET_S)
        now = (await outbound(page))[kind]
        return None if now["packetsSent"] == before["packetsSent"] else f"{kind} still sent: {before} → {now}"

    await eventually(quiet, within=12)


async def test_hands_queue_in_raise_order_and_the_teacher_lowers_one_then_all(
    server: LiveServer, browser: Browser
) -> None:
    students = {"cleo": "Cleo Costa", "ada": "Ada Arnaud", "bob": "Bo Berg"}
    classroom = await set_up_classroom(server.url, students)
    tess = await enter(browser, classroom, "tess")
    socket_students = {name: SocketParticipant(classroom, name) for name in students}
    try:
        for student in socket_students.values():
            await student.join()
        for name in students:
            await expect(participants(tess)).to_contain_text(students[name])

        # Raised in this order: neither alphabetical nor by user id.
        for name in ("bob", "cleo", "ada"):
            await socket_students[name].call("hand", {"raised": True})
            await expect(tess.get_by_role("status")).to_contain_text(f"{students[name]} raised a hand.")
        queue = tess.get_by_role("list", name="Raised hands")
        await expect(queue.get_by_role("listitem")).to_have_text(
            [
                re.compile(rf"^\s*{i}\. {who}")
                for i, who in enumerate(["Bo Berg", "Cleo Costa", "Ada Arnaud"], 1)
            ]
        )
        await expect(row(tess, "Cleo Costa").get_by_role("img", name="Hand raised")).to_be_visible()
        await expect(row(tess, "Cleo Costa")).to_contain_text("Hand raised")
        await assert_accessible(tess, context="teacher with a queue of raised hands")

        await queue.get_by_role("button", name="Lower Cleo Costa's hand").click()
        await expect(queue.get_by_role("listitem")).to_have_text(
            [re.compile(r"^\s*1\. Bo Berg"), re.compile(r"^\s*2\. Ada Arnaud")]
        )
        await expect(row(tess, "Cleo Costa").get_by_role("img", name="Hand raised")).to_have_count(0)
        # Cleo's own client hears that her hand is down.
        await socket_students["cleo"].hand_lowered(classroom.user_ids["Cleo Costa"])

        await tess.get_by_role("button", name="Lower all hands").click()
        await expect(queue).to_be_hidden()
        await expect(participants(tess).get_by_role("img", name="Hand raised")).to_have_count(0)

        # A student whose media cannot connect is marked in words in everyone's list, until it recovers.
        await socket_students["ada"].call("media_health", {"state": "failed"})
        await expect(row(tess, "Ada Arnaud")).to_contain_text("Connection problem")
        await socket_students["ada"].call("media_health", {"state": "connected"})
        await expect(row(tess, "Ada Arnaud")).not_to_contain_text("Connection problem")

        # Raising again after being lowered puts one at the end of the queue.
        await socket_students["ada"].call("hand", {"raised": True})
        await socket_students["bob"].call("hand", {"raised": True})
        await expect(queue.get_by_role("listitem")).to_have_text(
            [re.compile(r"^\s*1\. Ada Arnaud"), re.compile(r"^\s*2\. Bo Berg")]
        )
    finally:
        for student in socket_students.values():
            await student.close()


async def test_the_teacher_denies_a_camera_asks_to_mute_and_removes_after_confirming(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(server.url, {"sam": "Sam Student"})
    tess, sam = await asyncio.gather(enter(browser, classroom, "tess"), enter(browser, classroom, "sam"))
    sam_row = row(tess, "Sam Student")
    await expect(sam_row.get_by_role("img", name="Camera on")).to_be_visible()
    await assert_sending(sam, "video")
    own_video = sam.locator("#media figure").filter(has_text="Sam Student (you)").locator("video")
    await expect(own_video).to_be_visible()

    # Students may not share their screen here (the classroom's default): the button says so and is off.
    share = sam.get_by_role("button", name="Share screen (not allowed by the moderator)")
    await expect(share).to_be_disabled()
    # Pressed anyway (as from a stale page): refused once, in words, and the screen is no longer captured.
    await share.evaluate("(button) => { button.disabled = false; }")
    await share.click()
    refusal = sam.get_by_role("alert").locator(".notice")
    await expect(refusal).to_have_text(
        re.compile(r"The moderator has not allowed you to share your screen\.")
    )
    await expect(refusal).to_have_count(1)
    await expect(share).to_be_disabled()
    assert await sam.evaluate(SCREEN_STATES) == ["ended"]
    await refusal.get_by_role("button", name="Dismiss").click()

    # A hand lowered by the teacher: the student is told, and may raise it again.
    await sam.get_by_role("button", name="Raise hand").click()
    queue = tess.get_by_role("list", name="Raised hands")
    await queue.get_by_role("button", name="Lower Sam Student's hand").click()
    await expect(sam.get_by_role("status")).to_contain_text("A moderator lowered your hand.")
    await expect(sam.get_by_role("button", name="Raise hand")).to_be_visible()

    # Camera denied through the student's media rights menu: the SFU stops it, the page stops sending it.
    await sam_row.get_by_role("button", name="Media rights for Sam Student").click()
    await sam_row.get_by_role("button", name="Deny camera for Sam Student").click()
    await expect(sam_row).to_contain_text("Camera: not allowed")
    await assert_accessible(tess, context="teacher with a student's media rights menu open")
    await sam_row.get_by_role("button", name="Media rights for Sam Student").click()
    await expect(sam_row.get_by_role("button", name="Allow camera for Sam Student")).to_be_hidden()
    await expect(sam_row.get_by_role("button", name="Media rights for Sam Student")).to_have_attribute(
        "aria-expanded", "false"
    )
    await expect(sam_row).to_contain_text("Not allowed: camera")
    await expect(sam.get_by_role("alert")).to_contain_text("A moderator has not allowed your camera.")
    await expect(sam_row.get_by_role("img", name="No camera")).to_be_visible()
    # The student's own page shows the camera off and not allowed, not a live picture nobody else sees.
    await expect(sam.get_by_role("button", name="Camera not allowed by the moderator")).to_be_disabled()
    await expect(own_video).to_be_hidden()
    await assert_not_sending(sam, "video")
    await assert_sending(sam, "audio")
    # Allowed again: the page joins media again with its camera, and the warning goes.
    await sam_row.get_by_role("button", name="Media rights for Sam Student").click()
    await sam_row.get_by_role("button", name="Allow camera for Sam Student").click()
    await expect(sam.get_by_role("status")).to_contain_text("A moderator allowed your camera.")
    await expect(sam.get_by_role("alert")).to_be_hidden()
    await expect(sam_row.get_by_role("img", name="Camera on")).to_be_visible()
    await expect(sam.get_by_role("button", name="Turn camera off")).to_be_enabled()
    await expect(own_video).to_be_visible()
    await assert_sending(sam, "video")
    await sam_row.get_by_role("button", name="Media rights for Sam Student").click()

    # A mute request: one click on "Mute now" and the microphone sends nothing more.
    await tess.get_by_role("button", name="Ask Sam Student to mute").click()
    request = (
        sam.get_by_role("status")
        .locator(".notice")
        .filter(has_text="Tess Teacher asks you to mute your microphone.")
    )
    await expect(request.get_by_role("button", name="Dismiss")).to_be_visible()
    await request.get_by_role("button", name="Mute now").click()
    await expect(request).to_have_count(0)
    await expect(sam.get_by_role("button", name="Unmute microphone")).to_be_visible()
    await expect(sam_row.get_by_role("img", name="Microphone muted")).to_be_visible()
    await assert_not_sending(sam, "audio")

    # Removal asks first; Cancel keeps the student in.
    await tess.get_by_role("button", name="Remove Sam Student").click()
    dialog = tess.get_by_role("dialog", name="Remove from the classroom?")
    await expect(dialog).to_contain_text("Sam Student leaves the classroom at once")
    await assert_accessible(tess, context="removal confirmation")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(tess.get_by_role("button", name="Remove Sam Student")).to_be_focused()
    await expect(participants(sam)).to_be_visible()

    await tess.get_by_role("button", name="Remove Sam Student").click()
    await dialog.get_by_role("button", name="Remove Sam Student").click()
    await expect(sam.get_by_role("alert")).to_have_text("You were removed from the classroom.")
    await expect(sam.get_by_role("heading", name="You are no longer in this classroom")).to_be_visible()
    await expect(sam.get_by_role("link", name="Back to My classrooms")).to_be_visible()
    await expect(participants(sam)).to_be_hidden()
    await expect(sam.get_by_role("button", name="Raise hand")).to_be_hidden()
    await expect(participants(tess)).not_to_contain_text("Sam Student")
    done = tess.get_by_role("status").locator(".notice").filter(has_text="Removed Sam Student.")
    await expect(done).to_be_visible()
    await assert_accessible(sam, context="a removed student's page")
    # What the teacher was told clears itself; it does not stay for the rest of the class.
    await expect(done).to_have_count(0, timeout=10_000)
