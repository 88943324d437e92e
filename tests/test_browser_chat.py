"""Chat in a real browser: every message shows its time, the messages of an earlier session sit under
"Earlier sessions" apart from this session's, the length limit shows while typing, and a message of spaces,
an over-long one or one the server refuses is refused in words next to the field. Messages from others
arrive in the chat's log region. The earlier session and the other participant are socket.io clients."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.accessibility import assert_accessible
from tests.browser_pages import admin_server_fixture, browser_fixture
from tests.live_server import LiveServer
from tests.netns import require_private_namespace
from tests.test_browser_media import set_up_classroom
from tests.test_browser_moderation import (
    ADMIN_PASSWORD,
    PAGE_ERRORS,
    SocketParticipant,
    enter,
)

pytestmark = pytest.mark.browser
MAX_LENGTH = 2000
HH_MM = re.compile(r"^\d\d:\d\d$")


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


server = admin_server_fixture(ADMIN_PASSWORD)
browser = browser_fixture(PAGE_ERRORS, "The browser; at the end, no page may have thrown or logged an error.")


def messages(page: Page) -> Locator:
    return page.get_by_role("list", name="Chat messages").locator(".chat-message")


async def send(page: Page, text: str) -> None:
    await page.get_by_role("textbox", name="Message").fill(text)
    await page.get_by_role("button", name="Send").click()


async def test_chat_times_sessions_and_refusals(server: LiveServer, browser: Browser) -> None:
    classroom = await set_up_classroom(server.url, {"sam": "Sam Student"})

    # An earlier session: Tess and Sam meet through their sockets, chat and both leave.
    tess_before, sam = SocketParticipant(classroom, "tess"), SocketParticipant(classroom, "sam")
    await tess_before.join()
    await sam.join()
    await tess_before.call("chat", {"text": "Homework: chapter 3"})
    await sam.call("chat", {"text": "Thank you!"})
    await sam.call("leave", {})
    await tess_before.close()
    await sam.close()
    # Times go to the second: the next session must open in a later one.
    await asyncio.sleep(1.2)

    tess = await enter(browser, classroom, "tess")
    chat = tess.get_by_role("list", name="Chat messages")
    await expect(chat.get_by_role("heading")).to_have_text(["Earlier sessions", "This session"])
    await expect(messages(tess)).to_have_count(2)
    await expect(messages(tess).nth(0)).to_contain_text("Tess Teacher: Homework: chapter 3")

    # Typing shows the length against the limit.
    box = tess.get_by_role("textbox", name="Message")
    await box.fill("Good morning")
    await expect(tess.get_by_text(f"12 / {MAX_LENGTH}")).to_be_visible()
    await tess.get_by_role("button", name="Send").click()
    await expect(messages(tess)).to_have_count(3)
    await expect(tess.get_by_text(f"0 / {MAX_LENGTH}")).to_be_visible()

    # Sam comes back: this session's messages follow "This session", in the log region, in order.
    sam = SocketParticipant(classroom, "sam")
    await sam.join()
    await sam.call("chat", {"text": "Good morning, Miss!"})
    log = tess.get_by_role("log", name="Chat")
    await expect(log).to_contain_text("Sam Student: Good morning, Miss!")
    kinds_and_texts = (
        "items => items.map((i) => [i.matches('.chat-divider') ? 'divider' : 'message', i.innerText])"
    )
    rows: list[list[str]] = await chat.locator(":scope > li").evaluate_all(kinds_and_texts)
    assert [kind for kind, _ in rows] == ["divider", "message", "message", "divider", "message", "message"], (
        rows
    )
    assert rows[4][1].endswith("Tess Teacher: Good morning"), rows
    assert rows[5][1].endswith("Sam Student: Good morning, Miss!"), rows

    # Every message shows its time as HH:MM, with the machine-readable time beside it.
    times = messages(tess).locator("time")
    await expect(times).to_have_count(4)
    for time_element in await times.all():
        assert HH_MM.match(await time_element.inner_text())
        assert await time_element.get_attribute("datetime")

    # Refusals, next to the field, before anything is sent.
    error = tess.locator("#chat-error")
    await send(tess, "     ")
    await expect(error).to_have_text("A message cannot be empty.")
    await expect(box).to_have_attribute("aria-invalid", "true")
    await box.fill("Better now")
    await expect(error).to_have_text("")

    await box.fill("a" * (MAX_LENGTH + 1))
    await expect(tess.get_by_text(f"{MAX_LENGTH + 1} / {MAX_LENGTH}")).to_be_visible()
    await expect(error).to_have_text(f"A message can be at most {MAX_LENGTH} characters.")
    await tess.get_by_role("button", name="Send").click()
    await expect(error).to_have_text(f"A message can be at most {MAX_LENGTH} characters.")
    await expect(box).to_be_focused()
    await assert_accessible(tess, context="chat with sessions and a refused message")

    # What only the server can judge (a bidirectional control) is refused in its words, in the same place.
    await send(tess, "abc\u202edef")
    await expect(error).not_to_have_text("")
    await expect(messages(tess)).to_have_count(4)
    await sam.close()
