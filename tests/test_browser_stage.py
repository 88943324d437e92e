"""The classroom's stage in real browsers: speaker and grid views, pin, a screen share taking the stage,
the side panel collapsing, full screen, and a phone-sized window where nothing overflows and every toolbar
button can be reached.

Where a tile sits is read from the page as a user sees it: which figure is in the stage's large area, the
tiles' boxes on screen, the buttons' names and pressed states.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, Locator, Page, ViewportSize, expect

from tests import test_browser_media as media
from tests.live_server import LiveServer
from tests.test_browser_media import Classroom, enter, open_page, set_up_classroom, tile, wait_receiving

pytestmark = pytest.mark.browser
# The live server and the browser (which fails the test if a page logs an error) of the media tests.
server = media.server
browser = media.browser
PHONE: ViewportSize = {"width": 375, "height": 812}


def large(page: Page) -> Locator:
    """The stage's large area of the speaker view (empty in the grid view)."""
    return page.locator("#stage-main")


async def area(page: Page, name: str) -> float:
    box = await tile(page, name).bounding_box()
    assert box is not None, f"{name}'s tile is not shown"
    return box["width"] * box["height"]


async def join(page: Page) -> None:
    await page.get_by_role("button", name="Join classroom").click()
    await expect(page.locator("#seats")).to_be_visible()


async def test_speaker_and_grid_views_pin_and_a_screen_share_taking_the_stage(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(server.url, {"sam": "Sam Student", "sue": "Sue Student"})
    names = ("tess", "sam", "sue")
    tess, sam, _sue = await asyncio.gather(*(enter(browser, classroom, name) for name in names))
    await wait_receiving(tess, classroom, ["Sam Student", "Sue Student"])

    # A raised hand shows on the tile, in words, for everyone.
    await sam.get_by_role("button", name="Raise hand").click()
    await expect(tile(tess, "Sam Student").get_by_text("Hand raised", exact=True)).to_be_visible()
    await expect(tile(sam, "Sam Student (you)").get_by_text("Hand raised", exact=True)).to_be_visible()
    await sam.get_by_role("button", name="Lower hand").click()
    await expect(tile(tess, "Sam Student").get_by_text("Hand raised", exact=True)).to_be_hidden()

    # Speaker view: someone else is large, the others (and Tess herself) in the strip.
    layout = tess.get_by_role("button", name="Grid view")
    await expect(layout).to_have_attribute("aria-pressed", "false")
    await expect(large(tess).get_by_role("figure")).to_have_count(1)
    await expect(large(tess).get_by_role("figure", name="Tess Teacher (you)")).to_have_count(0)

    # Pinning Sue makes her tile the large one, whoever speaks; pressing again unpins.
    await tile(tess, "Sue Student").get_by_role("button", name="Pin Sue Student").click()
    unpin = tile(tess, "Sue Student").get_by_role("button", name="Unpin Sue Student")
    await expect(unpin).to_have_attribute("aria-pressed", "true")
    await expect(large(tess).get_by_role("figure", name="Sue Student")).to_be_visible()
    for other in ("Sam Student", "Tess Teacher (you)"):
        assert await area(tess, "Sue Student") > 4 * await area(tess, other)
    await asyncio.sleep(2)  # the fake microphones beep: speakers change, the pin holds
    await expect(large(tess).get_by_role("figure", name="Sue Student")).to_be_visible()
    await unpin.click()
    await expect(tile(tess, "Sue Student").get_by_role("button", name="Pin Sue Student")).to_have_attribute(
        "aria-pressed", "false"
    )

    # Grid view: every tile the same size, filling the stage.
    await layout.click()
    await expect(layout).to_have_attribute("aria-pressed", "true")
    await expect(large(tess).get_by_role("figure")).to_have_count(0)
    areas = [await area(tess, name) for name in ("Tess Teacher (you)", "Sam Student", "Sue Student")]
    assert max(areas) < 1.05 * min(areas), areas
    stage_box = await tess.locator("#media").bounding_box()
    assert stage_box is not None
    assert sum(areas) > 0.35 * stage_box["width"] * stage_box["height"], (areas, stage_box)

    # Tess shares her screen: it takes Sam's stage, who watched the grid, larger than any tile there.
    sam_layout = sam.get_by_role("button", name="Grid view")
    await sam_layout.click()
    await expect(sam_layout).to_have_attribute("aria-pressed", "true")
    await tess.get_by_role("button", name="Share screen").click()
    screen = tile(sam, "Tess Teacher's screen")
    await expect(large(sam).get_by_role("figure", name="Tess Teacher's screen")).to_be_visible()
    await expect(sam_layout).to_have_attribute("aria-pressed", "false")
    for name in ("Tess Teacher", "Sue Student", "Sam Student (you)"):
        assert await area(sam, "Tess Teacher's screen") > 4 * await area(sam, name)
    screen_box = await screen.bounding_box()
    camera_box = await tile(sam, "Tess Teacher").bounding_box()
    assert screen_box is not None
    assert camera_box is not None
    assert screen_box["y"] < camera_box["y"]
    await tess.get_by_role("button", name="Stop sharing").click()
    await expect(screen).to_have_count(0)
    await expect(large(sam).get_by_role("figure")).to_have_count(1)

    # The side panel collapses and the stage takes its room.
    panel = tess.get_by_role("button", name="Participants and chat")
    await expect(panel).to_have_attribute("aria-expanded", "true")
    before = await tess.locator("#media").bounding_box()
    await panel.click()
    await expect(panel).to_have_attribute("aria-expanded", "false")
    await expect(tess.get_by_role("list", name="Participants")).to_be_hidden()
    after = await tess.locator("#media").bounding_box()
    assert before is not None
    assert after is not None
    assert after["width"] > before["width"] + 200, (before, after)
    await panel.click()
    await expect(tess.get_by_role("list", name="Participants")).to_be_visible()

    # Full screen for the classroom (toolbar and panel in reach), and out again.
    await tess.get_by_role("button", name="Full screen", exact=True).click()
    await expect(tess.get_by_role("button", name="Exit full screen")).to_be_visible()
    assert await tess.evaluate("document.fullscreenElement?.id") == "classroom"
    await tess.get_by_role("button", name="Exit full screen").click()
    await expect(tess.get_by_role("button", name="Full screen", exact=True)).to_be_visible()
    assert await tess.evaluate("document.fullscreenElement") is None


async def test_on_a_phone_nothing_overflows_and_every_toolbar_button_is_in_reach(
    server: LiveServer, browser: Browser
) -> None:
    classroom: Classroom = await set_up_classroom(server.url, {"sam": "Sam Student"})
    await enter(browser, classroom, "tess")
    sam = await open_page(browser, server.url, "sam")
    await sam.set_viewport_size(PHONE)
    await sam.goto(f"{server.url}/classrooms/{classroom.classroom_id}")
    await expect(sam.get_by_role("button", name="Join classroom")).to_be_enabled()
    assert await sam.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    await join(sam)
    await wait_receiving(sam, classroom, ["Tess Teacher"])

    assert await sam.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    toolbar = sam.get_by_role("region", name="Classroom controls")
    buttons = toolbar.get_by_role("button")
    names = []
    for index in range(await buttons.count()):
        button = buttons.nth(index)
        names.append(await button.inner_text())
        await button.scroll_into_view_if_needed()
        box = await button.bounding_box()
        assert box is not None
        assert box["x"] >= 0, (names[-1], box)
        assert box["x"] + box["width"] <= PHONE["width"], (names[-1], box)
        # WCAG 2.2 target size: at least 24 by 24 CSS pixels.
        assert box["width"] >= 24, (names[-1], box)
        assert box["height"] >= 24, (names[-1], box)
    assert len(names) >= 8, names

    # The panel is a sheet, closed at first; opened, it fits the screen and closes again.
    panel = sam.get_by_role("button", name="Participants and chat")
    await expect(panel).to_have_attribute("aria-expanded", "false")
    await expect(sam.get_by_role("list", name="Participants")).to_be_hidden()
    await panel.click()
    await expect(sam.get_by_role("list", name="Participants")).to_contain_text("Tess Teacher")
    assert await sam.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    await panel.click()
    await expect(sam.get_by_role("list", name="Participants")).to_be_hidden()

    # A raised hand on a small tile of the strip: its badge is whole, inside the tile and clear of the
    # muted-microphone mark (an icon, its words kept for screen readers).
    await sam.get_by_role("button", name="Raise hand").click()
    await sam.get_by_role("button", name="Mute microphone").click()
    own = sam.locator("#stage-strip figure").filter(has_text="Sam Student (you)")
    hand = own.locator(".badge-hand")
    await expect(hand).to_have_text("Hand raised")
    await expect(own.get_by_role("img", name="Microphone muted")).to_be_visible()
    hand_box = await hand.bounding_box()
    own_box = await own.bounding_box()
    mark_box = await own.get_by_role("img", name="Microphone muted").bounding_box()
    assert hand_box is not None
    assert own_box is not None
    assert mark_box is not None
    assert hand_box["x"] + hand_box["width"] <= min(own_box["x"] + own_box["width"], mark_box["x"]), (
        hand_box,
        mark_box,
        own_box,
    )
    assert await own.locator("figcaption").get_attribute("title") == "Sam Student (you)"
    await sam.get_by_role("button", name="Unmute microphone").click()
    await sam.get_by_role("button", name="Lower hand").click()

    # Grid view and a press of each media button work there too.
    await sam.get_by_role("button", name="Grid view").click()
    await expect(tile(sam, "Tess Teacher")).to_be_visible()
    await sam.get_by_role("button", name="Mute microphone").click()
    await expect(sam.get_by_role("button", name="Unmute microphone")).to_be_visible()
    assert await sam.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
