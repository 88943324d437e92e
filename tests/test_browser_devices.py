"""Devices in real browsers: the check before entering (a live preview, a moving microphone level, joining
with the camera off publishes no camera) and switching camera and microphone during the class, which keeps
the others receiving and needs no renegotiation.

Chromium's fake capture offers one camera, so the switching test adds a second one before the page loads:
a canvas painting a red test pattern, listed by enumerateDevices and opened by getUserMedia for its id.
What the others receive is read from their getStats() and from the pixels of the tile's <video>.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests import test_browser_media as media
from tests.live_server import LiveServer
from tests.test_browser_media import (
    assert_sending,
    assert_sends_nothing,
    assert_still_receiving,
    enter,
    open_page,
    set_up_classroom,
    tile,
    wait_receiving,
)

pytestmark = pytest.mark.browser
server = media.server
browser = media.browser

PATTERN_ID = "test-pattern-camera"
# A second camera: a canvas painted red with a moving white square, 25 frames a second.
SECOND_CAMERA = """
(() => {
  const ID = "PATTERN_ID";
  const enumerate = MediaDevices.prototype.enumerateDevices;
  const getUserMedia = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.enumerateDevices = async function () {
    const devices = await enumerate.call(this);
    if (!devices.some((device) => device.kind === "videoinput" && device.deviceId)) return devices;
    const pattern = { deviceId: ID, groupId: ID, kind: "videoinput", label: "Test pattern camera" };
    return [...devices, { ...pattern, toJSON: () => pattern }];
  };
  MediaDevices.prototype.getUserMedia = async function (constraints) {
    if (constraints?.video?.deviceId?.exact !== ID) return getUserMedia.call(this, constraints);
    const canvas = document.createElement("canvas");
    canvas.width = 320;
    canvas.height = 240;
    const context = canvas.getContext("2d");
    let frame = 0;
    setInterval(() => {
      context.fillStyle = "rgb(230, 20, 20)";
      context.fillRect(0, 0, 320, 240);
      context.fillStyle = "#fff";
      context.fillRect((frame++ * 4) % 300, 110, 20, 20);
    }, 40);
    const stream = canvas.captureStream(25);
    const [track] = stream.getVideoTracks();
    const settings = track.getSettings.bind(track);
    track.getSettings = () => ({ ...settings(), deviceId: ID });
    window.__patternTrack = track;
    return stream;
  };
})();
""".replace("PATTERN_ID", PATTERN_ID)

# Counts the media offers the server sends this page (a renegotiation is a new offer).
COUNT_OFFERS = """
(() => {
  window.__offers = 0;
  const Native = WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (message) => {
        if (typeof message.data === "string" && message.data.includes('["media_offer"')) window.__offers += 1;
      });
    }
  };
})();
"""

# The mean colour of the picture a tile's <video> shows now.
TILE_COLOUR = """
(name) => {
  const figure = [...document.querySelectorAll("#media figure")]
    .find((f) => f.querySelector("figcaption").textContent === name);
  const video = figure.querySelector("video");
  const canvas = document.createElement("canvas");
  canvas.width = 32;
  canvas.height = 24;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0, 32, 24);
  const pixels = context.getImageData(0, 0, 32, 24).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < pixels.length; i += 4) for (let c = 0; c < 3; c += 1) sum[c] += pixels[i + c];
  return sum.map((value) => value / (pixels.length / 4));
}
"""

# What the page's peer connection sends on its video m-line, and how many m-lines it has.
VIDEO_SENDER = """
() => {
  const pc = window.__pcs.filter((pc) => pc.signalingState !== "closed").at(-1);
  const senders = pc.getSenders().filter((sender) => sender.track?.kind === "video");
  return {
    pattern: senders.some((sender) => sender.track === window.__patternTrack),
    transceivers: pc.getTransceivers().length,
    pcs: window.__pcs.length,
  };
}
"""


def check(page: Page) -> Locator:
    """The check before joining."""
    return page.get_by_role("region", name="Check your camera and microphone")


async def meter_values(page: Page, seconds: float) -> list[float]:
    values = []
    for _ in range(int(seconds / 0.1)):
        values.append(await check(page).get_by_label("Microphone level").evaluate("meter => meter.value"))
        await asyncio.sleep(0.1)
    return values


async def test_the_check_before_joining_shows_a_preview_and_a_moving_level_and_joining_with_the_camera_off(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(server.url, {"sam": "Sam Student"})
    tess = await enter(browser, classroom, "tess")
    sam = await open_page(browser, server.url, "sam")
    await sam.goto(f"{server.url}/classrooms/{classroom.classroom_id}")
    await expect(check(sam)).to_be_visible()
    await expect(sam.get_by_role("button", name="Join classroom")).to_be_enabled()
    # Not in the classroom yet: Tess does not see Sam.
    await expect(tile(tess, "Sam Student")).to_have_count(0)

    preview = sam.locator("#prejoin-video")
    first = await preview.evaluate("video => [video.videoWidth, video.currentTime]")
    await asyncio.sleep(0.5)
    later = await preview.evaluate("video => [video.videoWidth, video.currentTime]")
    assert first[0] > 0, first
    assert later[1] > first[1], (first, later)
    # Chromium's fake microphone beeps: the level goes up and down.
    levels = await meter_values(sam, 2.5)
    assert max(levels) > 0.02, levels
    assert len({round(level, 3) for level in levels}) >= 3, levels
    await expect(check(sam).get_by_label("Camera", exact=True)).to_contain_text("fake_device_0")
    await expect(check(sam).get_by_label("Microphone", exact=True)).to_contain_text(
        "Fake Default Audio Input"
    )

    await check(sam).get_by_label("Camera on").uncheck()
    await expect(check(sam).get_by_text("Camera off", exact=True)).to_be_visible()
    assert await preview.evaluate("video => video.srcObject") is None
    await sam.get_by_role("button", name="Join classroom").click()

    # In: heard, not seen, and not one video packet leaves Sam's page.
    sam_on_tess = tile(tess, "Sam Student")
    await expect(sam_on_tess.get_by_role("img", name="No camera")).to_be_visible()
    await assert_sending(sam, "audio")
    await assert_sends_nothing(sam, "video")
    # Turning the camera on later publishes it.
    await sam.get_by_role("button", name="Turn camera on").click()
    await expect(sam.get_by_role("button", name="Turn camera off")).to_be_enabled()
    await wait_receiving(tess, classroom, ["Sam Student"])


async def test_the_check_before_joining_shows_a_camera_the_classroom_does_not_allow_as_not_allowed(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(server.url, {"sam": "Sam Student"}, student_media={"camera": False})
    sam = await open_page(browser, server.url, "sam")
    await sam.goto(f"{server.url}/classrooms/{classroom.classroom_id}")
    await expect(sam.get_by_role("button", name="Join classroom")).to_be_enabled()
    camera_on = check(sam).get_by_role("checkbox", name="Camera on (not allowed by the moderator)")
    await expect(camera_on).not_to_be_checked()
    await expect(camera_on).to_be_disabled()
    await expect(check(sam).get_by_text("Camera not allowed", exact=True)).to_be_visible()
    assert await sam.locator("#prejoin-video").evaluate("video => video.srcObject") is None
    await expect(check(sam).get_by_role("checkbox", name="Microphone on")).to_be_checked()
    await sam.get_by_role("button", name="Join classroom").click()

    await expect(sam.get_by_role("button", name="Camera not allowed by the moderator")).to_be_disabled()
    await expect(sam.get_by_role("button", name="Mute microphone")).to_be_enabled()
    await assert_sending(sam, "audio")
    await assert_sends_nothing(sam, "video")


async def test_switching_camera_and_microphone_during_class_keeps_the_others_receiving_without_renegotiation(
    server: LiveServer, browser: Browser
) -> None:
    classroom = await set_up_classroom(server.url, {"sam": "Sam Student"})
    tess, sam = await asyncio.gather(
        enter(browser, classroom, "tess", SECOND_CAMERA, COUNT_OFFERS), enter(browser, classroom, "sam")
    )
    await wait_receiving(sam, classroom, ["Tess Teacher"])
    await wait_receiving(tess, classroom, ["Sam Student"])
    red, green, _ = await sam.evaluate(TILE_COLOUR, "Tess Teacher")
    assert green > red, "Chromium's fake camera is green"
    offers = await tess.evaluate("window.__offers")
    before = await tess.evaluate(VIDEO_SENDER)

    await tess.get_by_role("button", name="Devices").click()
    menu = tess.get_by_role("group", name="Devices")
    await expect(menu).to_be_visible()
    await menu.get_by_label("Camera").select_option(label="Test pattern camera")

    async def red_on_sam() -> str | None:
        colour = await sam.evaluate(TILE_COLOUR, "Tess Teacher")
        return None if colour[0] > 150 and colour[1] < 100 else f"Sam still sees {colour}"

    await media.eventually(red_on_sam, within=15)
    await assert_still_receiving(sam, ["Tess Teacher"], counters=("framesDecoded",))
    after = await tess.evaluate(VIDEO_SENDER)
    assert after["pattern"], after
    assert after["transceivers"] == before["transceivers"], (before, after)
    assert after["pcs"] == before["pcs"], (before, after)

    await menu.get_by_label("Microphone").select_option(label="Fake Audio Input 1")
    await assert_still_receiving(sam, ["Tess Teacher"])
    # Replaced in place: the server sent no new offer, the peer connection is the same.
    assert await tess.evaluate("window.__offers") == offers
    assert (await tess.evaluate(VIDEO_SENDER))["pcs"] == before["pcs"]
    await expect(tess.get_by_role("button", name="Mute microphone")).to_be_enabled()
