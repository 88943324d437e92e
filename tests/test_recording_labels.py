"""Names burned into a recording read as they are written: accents, Greek and Cyrillic included.

Léa Dubois, Σωκράτης and Юлия join with cameras, a REC is made by the robot, and a frame of the file is
searched for each name, rendered independently here with the same font at the same size. Each is found
almost exactly; the name with its accents dropped ("Lea Dubois", what the old bitmap font drew) matches
clearly worse.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from PIL import Image, ImageDraw, ImageFont

from recorder_bot import layout
from server.config import Config, load_config
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.media_support import Classroom
from tests.support import add_user
from tests.test_consent_in_sfu import BLUE, GREEN, MAGENTA, SolidVideoTrack
from tests.test_recording_rules import start, state_of, stop, until_state

pytestmark = pytest.mark.usefixtures("private_namespace")

Luma = npt.NDArray[np.float64]
NAMES = {"lea": "Léa Dubois", "sokratis": "Σωκράτης", "yulia": "Юлия"}
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
HEIGHT = 720


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A robot waits, as a school runs it."""
    return load_config(environ={}, overrides={"data_dir": str(tmp_path / "data"), "log_format": "text"})


@pytest.fixture
async def named_classroom(server: TestServer, client_as: ClientFactory) -> AsyncIterator[Classroom]:
    app = server.app
    await add_user(app, "lea", "teacher", NAMES["lea"])
    for username in ("sokratis", "yulia"):
        await add_user(app, username, "student", NAMES[username])
    sessions: dict[str, ClientSession] = {name: await client_as(name) for name in NAMES}
    response = await sessions["lea"].post(
        "/api/classrooms", json={"name": "Φυσική", "students": ["sokratis", "yulia"]}
    )
    assert response.status == 201, await response.text()
    room = Classroom(server, sessions, (await response.json())["classroom"]["id"])
    yield room
    await room.close()


def expected(text: str, size: int) -> Luma:
    """``text`` as DejaVu Sans draws it at ``size`` pixels, white on black, one line box tall."""
    font = ImageFont.truetype(str(FONT), size)
    ascent, descent = font.getmetrics()
    image = Image.new("L", (int(font.getlength(text)) + 2, ascent + descent))
    ImageDraw.Draw(image).text((0, ascent), text, fill=255, font=font, anchor="ls")
    return np.asarray(image, dtype=np.float64)


def windows_sum(values: Luma, height: int, width: int) -> Luma:
    """Sum of ``values`` over every ``height`` x ``width`` window (valid positions only)."""
    total = np.pad(values, ((1, 0), (1, 0))).cumsum(axis=0).cumsum(axis=1)
    result: Luma = (
        total[height:, width:] - total[:-height, width:] - total[height:, :-width] + total[:-height, :-width]
    )
    return result


@dataclass(frozen=True)
class Match:
    similarity: float
    "Normalised cross-correlation of the text with the picture at its best place (1: identical)."
    mismatch: float
    "Sum of squared differences there, in wholly wrong pixels (text where none is, or none where it is)."
    size: int = 0
    "The font size in pixels it was found at."


def best_match(picture: Luma, template: Luma) -> Match:
    """Where ``template`` fits the picture best, and how well."""
    height, width = template.shape
    centred = template - template.mean()
    shape = (picture.shape[0] + height, picture.shape[1] + width)
    spectrum = np.fft.rfft2(picture, shape) * np.conj(np.fft.rfft2(centred, shape))
    products = np.fft.irfft2(spectrum, shape)[: picture.shape[0] - height + 1, : picture.shape[1] - width + 1]
    count = height * width
    sums = windows_sum(picture, height, width)
    variance = windows_sum(picture**2, height, width) - sums**2 / count
    spread = np.sqrt(np.maximum(variance, 1e-6)) * np.sqrt((centred**2).sum())
    # Flat windows (solid camera colour) cannot hold text: they are left out, not divided by ~0.
    similarity = np.where(variance > count, products / spread, 0.0)
    y, x = np.unravel_index(int(similarity.argmax()), similarity.shape)
    crop = picture[y : y + height, x : x + width]
    crop = (crop - crop.min()) / max(1.0, float(crop.max() - crop.min()))
    return Match(float(similarity[y, x]), float(((crop - template / 255) ** 2).sum()))


def match(picture: Luma, text: str) -> Match:
    """``text``'s best match in the picture at either label size (large tile or strip)."""
    sizes = (layout.label_size(HEIGHT, large) for large in (True, False))
    found = (dataclasses.replace(best_match(picture, expected(text, size)), size=size) for size in sizes)
    return max(found, key=lambda m: m.similarity)


def last_picture(path: Path) -> Luma:
    with av.open(str(path)) as container:
        *_, frame = container.decode(video=0)
    assert frame.height == HEIGHT
    return np.asarray(frame.to_ndarray(format="gray"), dtype=np.float64)


async def test_accented_greek_and_cyrillic_names_are_recorded_as_written(
    named_classroom: Classroom, app: web.Application
) -> None:
    for username, colour in zip(NAMES, (BLUE, GREEN, MAGENTA), strict=True):
        await named_classroom.enter(username, {"camera": SolidVideoTrack(colour)})
    status, body = await start(named_classroom.sessions["lea"], named_classroom.classroom_id)
    assert status == 201, body
    recording_id = body["recording"]["id"]
    await until_state(app, recording_id, "recording")
    await asyncio.sleep(4)  # every camera reaches the robot and sits still for a few frames
    status, body = await stop(named_classroom.sessions["lea"], named_classroom.classroom_id)
    assert status == 200, body
    assert body["recording"]["state"] == "ready"
    path = (await state_of(app, recording_id)).file_name
    assert path is not None
    picture = await asyncio.to_thread(last_picture, app[SERVICES].storage.recordings / path)

    found = {text: match(picture, text) for text in (*NAMES.values(), "Lea Dubois")}
    print("labels found:", found)
    for name in NAMES.values():
        assert found[name].similarity > 0.98, f"{name!r} is in the picture as written: {found}"
        assert found[name].mismatch < 0.5, f"{name!r} is in the picture as written: {found}"
    # An acute accent is about 3 wholly wrong pixels at the strip's size, 7 on the large tile.
    accentless = found["Lea Dubois"]
    assert accentless.similarity < found["Léa Dubois"].similarity, found
    assert accentless.mismatch > 2, f"the accent is in the picture: {found}"
