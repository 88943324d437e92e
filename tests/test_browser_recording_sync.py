"""A real class in Chromium, recorded: the teacher's camera flashes white on the frame its microphone
beeps, every 2 s (fake capture from generated files). In the downloaded recording the flashes and their beeps
line up: the median offset over all of them is within the target, and none is far off."""

from __future__ import annotations

import asyncio
import bisect
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
# so the clips are long enough that everything recorded comes from the first round of the clip (checked).
LOOP = 120.0
FLASH_EVERY = 2  # white frames and a 1 kHz beep for FLASH_LENGTH at 2, 4, 6, ... s of the clip
FLASH_LENGTH = 0.2
# Chromium reads a fake camera file one frame per timer tick and forgives a late tick rather than
# catching up, so its picture falls behind real time (and behind the file's sound, which keeps time)
# whenever the capture thread waits longer than a frame for the CPU: tens of ms per second on a loaded
# 2-core machine at 30 fps. At 10 fps a tick has 100 ms of slack, and the camera's 24 fps limit drops none.
CAMERA_FPS = 10
OUTPUT_FPS = 30
TARGET_OFFSET_S = 0.040
# One flash alone is at the mercy of a camera frame Chromium drops or delays under load; the median of
# many is not. A broken sync still fails: every pair must stay within BROKEN_S.
MIN_PAIRS = 6
PAIR_WITHIN_S = 0.5  # a flash and the nearest beep at most this far apart are one event
BROKEN_S = 0.250


def make_clips(folder: Path) -> dict[str, Path]:
    """The teacher's flash and beep, and the students' grey picture and silence (ffmpeg)."""
    clips = {
        "flash": folder / "flash.y4m",
        "beep": folder / "beep.wav",
        "grey": folder / "grey.y4m",
        "silence": folder / "silence.wav",
    }
    # On for FLASH_LENGTH from 2 s, 4 s, ...: the first white frame is the one at the beep's first sample
    # (frames counted by number, so no rounding of their times moves a flash by a frame).
    every, length = FLASH_EVERY * CAMERA_FPS, round(FLASH_LENGTH * CAMERA_FPS)
    white = f"gte(n,{every})*lt(mod(n,{every}),{length})"
    loud = f"gte(t,{FLASH_EVERY})*lt(mod(t,{FLASH_EVERY}),{FLASH_LENGTH})"
    commands = [
        ["-f", "lavfi", "-i", f"color=c=black:s=160x120:r={CAMERA_FPS}:d={LOOP}",
         "-vf", f"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='{white}'",
         "-pix_fmt", "yuv420p", str(clips["flash"])],
        ["-f", "lavfi", "-i", f"aevalsrc='{loud}*0.8*sin(2*PI*1000*t)':s=48000:d={LOOP}",
         str(clips["beep"])],
        ["-f", "lavfi", "-i", f"color=c=gray:s=160x120:r={CAMERA_FPS}:d={LOOP}",
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


def paired_offsets(flashes: list[float], beeps: list[float]) -> list[float]:
    """Beep minus flash for each flash that has a beep within PAIR_WITHIN_S (the nearest one); a flash or
    a beep without its partner (cut by the teacher's reload) is left out."""
    offsets: list[float] = []
    for flash in flashes:
        at = bisect.bisect_left(beeps, flash)
        nearest = min(beeps[max(at - 1, 0) : at + 1], key=lambda beep: abs(beep - flash), default=None)
        if nearest is not None and abs(nearest - flash) <= PAIR_WITHIN_S:
            offsets.append(nearest - flash)
    return offsets


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
        first_clip = time.monotonic()  # the teacher's clips start no earlier than this
        tess = await enter(teachers, classroom, "tess")
        sam = await enter(students, classroom, "sam")
        await enter(students, classroom, "sue")
        await expect(participant(tess, "Sue Student")).to_be_visible()

        pressed = time.monotonic()
        await rec_button(tess).click()
        await wait_recording(tess, classroom)
        await expect(participant(sam, "Session Recorder Robot")).to_be_visible()
        await expect(tess.locator("#seats")).to_have_text("Student seats: 2 / 30")
        # The teacher reloads: the camera and microphone files start again, so the recording holds ~16 s of
        # the clip's first round however long joining took; the recording goes on meanwhile.
        reloaded = time.monotonic()
        await tess.reload()
        await tess.get_by_role("button", name="Join classroom").click()
        await expect(rec_button(tess)).to_have_accessible_name(re.compile(r"^Stop REC .* — stop recording$"))
        await asyncio.sleep(16)
        await rec_button(tess).click()
        wall = time.monotonic() - pressed  # from pressing REC to pressing Stop
        await expect(rec_button(tess)).to_have_accessible_name("REC — start recording", timeout=WAIT_MS)
        ended = time.monotonic()  # the recording has ended

        listing = await (await tess.request.get(f"{server.url}/api/recordings")).json()
        (recording,) = listing["recordings"]
        assert recording["state"] == "ready"
        download = await tess.request.get(f"{server.url}/api/recordings/{recording['id']}/media?download=1")
        assert download.ok
        path = tmp_path / "downloaded.mp4"
        path.write_bytes(await download.body())

    flashes, beeps = flashes_and_beeps(path)  # printed first: what was measured, whatever fails below
    print(f"flashes at {[round(t, 3) for t in flashes]}, beeps at {[round(t, 3) for t in beeps]}")
    offsets = paired_offsets(flashes, beeps)
    print(f"flash-to-beep offsets (ms): {[round(1000 * offset) for offset in offsets]}")
    median = float(np.median(offsets)) if offsets else float("nan")
    p90 = float(np.percentile(np.abs(offsets), 90)) if offsets else float("nan")
    worst = max(offsets, key=abs, default=float("nan"))
    print(f"{len(offsets)} pairs: median {1000 * median:+.0f} ms, p90 |offset| {1000 * p90:.0f} ms,", end=" ")
    print(f"max {1000 * worst:+.0f} ms")
    with av.open(str(path)) as container:
        assert {s.type: s.codec_context.name for s in container.streams} == {"video": "h264", "audio": "aac"}
        decoded = sum(1 for _ in container.decode(video=0))
    assert abs(recording["duration_ms"] / 1000 - wall) < 1.0, (recording["duration_ms"], wall)
    assert decoded >= 30 * 16
    # Neither instance of the teacher's clip (before and after the reload) looped while recorded: a second
    # round's video lags its audio by a frame per round.
    assert reloaded - first_clip < LOOP, (first_clip, reloaded)
    assert ended - reloaded < LOOP, (reloaded, ended)

    assert len(offsets) >= MIN_PAIRS, (flashes, beeps)
    # The target is 40 ms; the flash is placed here only to the nearest 30 fps output frame (half a frame
    # either way), so that much is allowed on top. bench/sync.py places it to the camera frame and measures
    # the offset and its drift over 30 minutes (max 23 ms, no drift, in bench/results/).
    assert abs(median) < TARGET_OFFSET_S + 1 / (2 * OUTPUT_FPS), offsets
    # A frame Chromium drops under load moves one flash by a frame or two, never this far.
    assert abs(worst) < BROKEN_S, offsets
