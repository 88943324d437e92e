"""A real class in Chromium, recorded: the teacher's camera flashes white on the frame its microphone
beeps (fake capture from generated files). In the downloaded recording every flash and its beep line up."""

from __future__ import annotations

import asyncio
import itertools
import re
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np
import pytest
from playwright.async_api import expect

from tests.browser import chromium
from tests.live_server import LiveServer, live_server
from tests.test_browser_recording import (
    ADMIN_PASSWORD,
    WAIT_MS,
    Classroom,
    enter,
    participant,
    rec_button,
    set_up_classroom,
    wait_recording,
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("private_namespace")]
# Chromium plays the files in a loop, and its looping video falls a frame behind the audio each round,
# so the clips are long enough that the recorded flash comes from the first round.
LOOP = 24.0
FLASH_AT = 9.0  # white frames and a 1 kHz beep for 200 ms
OUTPUT_FPS = 30
TARGET_OFFSET_S = 0.040


def make_clips(folder: Path) -> dict[str, Path]:
    """The teacher's flash and beep, and the students' grey picture and silence (ffmpeg, 30 fps)."""
    clips = {
        "flash": folder / "flash.y4m",
        "beep": folder / "beep.wav",
        "grey": folder / "grey.y4m",
        "silence": folder / "silence.wav",
    }
    end = FLASH_AT + 0.2
    commands = [
        ["-f", "lavfi", "-i", f"color=c=black:s=160x120:r=30:d={LOOP}",
         "-vf", f"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,{FLASH_AT},{end})'",
         "-pix_fmt", "yuv420p", str(clips["flash"])],
        ["-f", "lavfi", "-i",
         f"aevalsrc='if(between(t,{FLASH_AT},{end}),0.8*sin(2*PI*1000*t),0)':s=48000:d={LOOP}",
         str(clips["beep"])],
        ["-f", "lavfi", "-i", f"color=c=gray:s=160x120:r=30:d={LOOP}",
         "-pix_fmt", "yuv420p", str(clips["grey"])],
        ["-f", "lavfi", "-i", f"anullsrc=r=48000:cl=mono:d={LOOP}", "-t", str(LOOP), str(clips["silence"])],
    ]  # fmt: skip
    for command in commands:
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *command], check=True, timeout=60)
    return clips


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    # 30 fps output, so picking the nearest frame costs at most 17 ms.
    env = {"AULA_ADMIN_PASSWORD": ADMIN_PASSWORD, "AULA_VIDEO_FPS": str(OUTPUT_FPS)}
    async with live_server(tmp_path / "data", env) as running:
        yield running


def flashes_and_beeps(path: Path) -> tuple[list[float], list[float]]:
    """Times the picture turns bright and the beep starts, each time, in the file."""
    flashes: list[float] = []
    bright = False
    with av.open(str(path)) as container:
        for picture in container.decode(video=0):
            # White, not the students' grey: at least a strip tile's worth of the picture is near full
            # brightness (the teacher may be large or in the strip; names alone are far less).
            now = float((picture.to_ndarray(format="gray") > 200).mean()) > 0.015
            if now and not bright and picture.time is not None:
                flashes.append(picture.time)
            bright = now
    chunks: list[np.ndarray] = []
    start: float | None = None
    with av.open(str(path)) as container:
        for sound in container.decode(audio=0):
            if start is None:
                start = sound.time
            chunks.append(sound.to_ndarray()[0])
    assert start is not None
    loud = np.flatnonzero(np.abs(np.concatenate(chunks)) > 0.1)
    beeps = [start + loud[0] / 48_000] if loud.size else []
    for previous, index in itertools.pairwise(loud):
        if index - previous > 48_000:  # a new beep, a second or more after the last loud sample
            beeps.append(start + index / 48_000)
    return flashes, beeps


async def test_flash_and_beep_from_a_real_browser_line_up_in_the_recording(
    server: LiveServer, tmp_path: Path
) -> None:
    clips = make_clips(tmp_path)
    people = {"sam": ("Sam Student", "student"), "sue": ("Sue Student", "student")}
    classroom: Classroom = await set_up_classroom(server.url, people)
    teacher_files = (
        f"--use-file-for-fake-video-capture={clips['flash']}",
        f"--use-file-for-fake-audio-capture={clips['beep']}",
    )
    student_files = (
        f"--use-file-for-fake-video-capture={clips['grey']}",
        f"--use-file-for-fake-audio-capture={clips['silence']}",
    )
    async with chromium(teacher_files) as teachers, chromium(student_files) as students:
        tess = await enter(teachers, classroom, "tess")
        sam = await enter(students, classroom, "sam")
        await enter(students, classroom, "sue")
        await expect(participant(tess, "Sue Student")).to_be_visible()

        pressed = time.monotonic()
        await rec_button(tess).click()
        await wait_recording(tess, classroom)
        await expect(participant(sam, "Session Recorder Robot")).to_be_visible()
        await expect(tess.locator("#seats")).to_have_text("Student seats: 2 / 30")
        # The teacher reloads: the camera and microphone files start again, so the flash (9 s in) falls
        # inside the recording however long joining took; the recording goes on meanwhile.
        await tess.reload()
        await tess.get_by_role("button", name="Join classroom").click()
        await expect(rec_button(tess)).to_have_accessible_name(re.compile(r"^Stop REC .* — stop recording$"))
        await asyncio.sleep(20)
        await rec_button(tess).click()
        wall = time.monotonic() - pressed  # from pressing REC to pressing Stop
        await expect(rec_button(tess)).to_have_accessible_name("REC — start recording", timeout=WAIT_MS)

        listing = await (await tess.request.get(f"{server.url}/api/recordings")).json()
        (recording,) = listing["recordings"]
        assert recording["state"] == "ready"
        download = await tess.request.get(f"{server.url}/api/recordings/{recording['id']}/media?download=1")
        assert download.ok
        path = tmp_path / "downloaded.mp4"
        path.write_bytes(await download.body())

    with av.open(str(path)) as container:
        assert {s.type: s.codec_context.name for s in container.streams} == {"video": "h264", "audio": "aac"}
        decoded = sum(1 for _ in container.decode(video=0))
    assert abs(recording["duration_ms"] / 1000 - wall) < 1.0, (recording["duration_ms"], wall)
    assert decoded >= 30 * 18
    flashes, beeps = flashes_and_beeps(path)
    print(f"flashes at {flashes}, beeps at {beeps}")
    assert len(flashes) == len(beeps) == 1, (flashes, beeps)
    offset = beeps[0] - flashes[0]
    print(f"flash-to-beep offset {1000 * offset:+.0f} ms")
    # The target is 40 ms; the flash is placed here only to the nearest 30 fps output frame (half a frame
    # either way), so that much is allowed on top. bench/sync.py places it to the camera frame and measures
    # the offset and its drift over 30 minutes (max 23 ms, no drift, in bench/results/).
    assert abs(offset) < TARGET_OFFSET_S + 1 / (2 * OUTPUT_FPS)
