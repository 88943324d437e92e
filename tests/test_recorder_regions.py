"""A composite session over several classrooms: one canvas split into a region per classroom.

Each region is laid out like a whole canvas of its own (featured source large, the others in a strip)
with the classroom's name lettered at its top left; a classroom sending no video shows its name on the
title card's black; the sound is every classroom's voices. Generated participants (flat colours, pure
tones) say from a pixel or a frequency whose media it is.
"""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest
from av import VideoFrame

from recorder_bot import layout, robot
from recorder_bot.layout import LabelFont, Rect
from recorder_bot.mixer import BLACK_Y, REGION_GUTTER, TEXT_Y, MediaFormat, Mixer, SourceKey
from tests.test_recorder_mixer import (
    AUDIO_STEP,
    BLUE,
    GREEN,
    RATE,
    RED,
    YELLOW,
    YUV,
    camera_frame,
    colour_at,
    near,
    planes,
    tone_frame,
)

WIDTH, HEIGHT = 1280, 720
ROOMS = ["Physics 3B", "Chimie 2ᵉ année"]


def luma_of(frame: VideoFrame) -> npt.NDArray[np.uint8]:
    return planes(frame)[:HEIGHT]


def centre_of_large_tile(region: Rect, count: int) -> tuple[int, int]:
    tile = layout.arrange_in(region, count)[0]
    return (tile.x + tile.width // 2, tile.y + tile.height // 2)


def inner(region: Rect) -> Rect:
    """Where a room's tiles go inside its region (the compositor keeps a black gutter round it)."""
    g = REGION_GUTTER
    return Rect(region.x + g, region.y + g, region.width - 2 * g, region.height - 2 * g)


def send_cameras(mixer: Mixer, cameras: dict[SourceKey, YUV], until: float, fps: int = 15) -> None:
    for index in range(round(until * fps) + 1):
        for key, colour in cameras.items():
            mixer.add_video(key, camera_frame(colour), index / fps)


def expected_band(font: LabelFont, name: str, region: Rect) -> npt.NDArray[np.uint8]:
    """The classroom's name band as the compositor should draw it: the label LabelFont renders at the
    region's label size, white on black with the band's padding."""
    size = layout.room_label_size(region.height)
    pad = max(2, size // 4)
    alpha = font.label(layout.clean(name), region.width - 2 * pad, size)
    assert alpha is not None
    band = np.full((alpha.shape[0] + 2 * pad, alpha.shape[1] + 2 * pad), BLACK_Y, np.uint8)
    lettered = BLACK_Y + (alpha.astype(np.uint16) * (TEXT_Y - BLACK_Y) + 127) // 255
    band[pad : pad + alpha.shape[0], pad : pad + alpha.shape[1]] = lettered
    return band


# -- the regions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", range(1, 10))
def test_regions_cover_the_canvas_once_with_even_edges(count: int) -> None:
    regions = layout.regions(WIDTH, HEIGHT, count)
    assert len(regions) == count
    covered = np.zeros((HEIGHT, WIDTH), dtype=np.int32)
    for region in regions:
        assert all(v % 2 == 0 for v in (region.x, region.y, region.width, region.height)), region
        assert region.x >= 0
        assert region.y >= 0
        assert region.x + region.width <= WIDTH
        assert region.y + region.height <= HEIGHT
        covered[region.y : region.y + region.height, region.x : region.x + region.width] += 1
    assert covered.max() == 1, "no two regions overlap"
    columns, rows = layout.grid(count)
    if count == columns * rows:
        assert covered.min() == 1, "a full grid covers the whole canvas"
    # Regions of one grid are the same size, give or take the 2 pixels even edges cost.
    assert max(r.width for r in regions) - min(r.width for r in regions) <= 2
    assert max(r.height for r in regions) - min(r.height for r in regions) <= 2


@pytest.mark.parametrize(
    ("count", "grid"),
    [(1, (1, 1)), (2, (2, 1)), (3, (2, 2)), (4, (2, 2)), (5, (3, 3)), (7, (3, 3)), (9, (3, 3)), (10, (4, 4))],
)
def test_two_side_by_side_up_to_four_in_2x2_up_to_nine_in_3x3(count: int, grid: tuple[int, int]) -> None:
    assert layout.grid(count) == grid
    regions = layout.regions(WIDTH, HEIGHT, count)
    columns, rows = grid
    assert len({r.x for r in regions}) == min(columns, count), "as many columns as the grid has"
    assert len({r.y for r in regions}) == -(-count // columns), "filled row by row from the top"
    assert (regions[0].x, regions[0].y) == (0, 0)
    assert all(abs(r.width - WIDTH / columns) <= 2 and abs(r.height - HEIGHT / rows) <= 2 for r in regions)


def test_two_classrooms_sit_side_by_side() -> None:
    assert layout.regions(WIDTH, HEIGHT, 2) == [Rect(0, 0, 640, 720), Rect(640, 0, 640, 720)]


def test_a_region_is_laid_out_like_a_whole_canvas_inside_it() -> None:
    region = Rect(640, 360, 640, 360)
    tiles = layout.arrange_in(region, 4)
    assert tiles == [
        Rect(region.x + t.x, region.y + t.y, t.width, t.height) for t in layout.arrange(640, 360, 4)
    ]
    for tile in tiles:
        assert region.x <= tile.x <= tile.x + tile.width <= region.x + region.width
        assert region.y <= tile.y <= tile.y + tile.height <= region.y + region.height


# -- the picture ---------------------------------------------------------------------------------------------


def test_one_classroom_is_recorded_exactly_as_before_sessions() -> None:
    alone, as_session_of_one = Mixer(class_name="Physics"), Mixer(class_name="Physics", rooms=["Physics"])
    for mixer in (alone, as_session_of_one):
        mixer.set_names({1: "Ada", 2: "Bob"})
        send_cameras(mixer, {SourceKey(1, "camera"): RED, SourceKey(2, "camera"): GREEN}, 1.0)
    idle_a, idle_b = Mixer(class_name="Physics"), Mixer(class_name="Physics", rooms=["Physics"])
    for a, b in ((alone, as_session_of_one), (idle_a, idle_b)):
        frames_a, frames_b = a.render(1.0).video, b.render(1.0).video
        assert len(frames_a) == len(frames_b) == 15
        for fa, fb in zip(frames_a, frames_b, strict=True):
            assert np.array_equal(planes(fa), planes(fb))


@pytest.mark.parametrize("count", [2, 3, 4, 5, 9])
def test_every_classroom_shows_its_camera_in_its_region_with_its_name_at_the_top_left(count: int) -> None:
    font = LabelFont()
    names = [f"Classroom {chr(65 + i)}" for i in range(count)]
    mixer = Mixer(class_name=names[0], rooms=names, font=font)
    colours = [RED, GREEN, BLUE, YELLOW] * 3
    send_cameras(mixer, {SourceKey(7, "camera", room): colours[room] for room in range(count)}, 1.0)
    frame = mixer.render(1.0).video[-1]
    luma = luma_of(frame)
    for room, region in enumerate(layout.regions(WIDTH, HEIGHT, count)):
        box = inner(region)
        x, y = centre_of_large_tile(box, 1)
        assert near(colour_at(frame, x, y), colours[room]), f"room {room}'s camera fills its region"
        band = expected_band(font, names[room], box)
        drawn = luma[box.y : box.y + band.shape[0], box.x : box.x + band.shape[1]]
        assert np.array_equal(drawn, band), f"{names[room]!r} lettered at the top left of its region"
        # Its letters are inside its region, nowhere else.
        bright = np.argwhere(
            luma[region.y : region.y + region.height, region.x : region.x + region.width]
            > 220  # text (235): no camera colour is that bright
        )
        assert bright.size, names[room]
        assert bright[:, 0].max() < band.shape[0], "no letters below the band"
        assert bright[:, 1].max() < band.shape[1], "no letters right of the band"


def test_regions_are_kept_apart_by_a_black_gutter() -> None:
    mixer = Mixer(rooms=ROOMS)
    send_cameras(mixer, {SourceKey(1, "camera", 0): RED, SourceKey(2, "camera", 1): GREEN}, 0.5)
    luma = luma_of(mixer.render(0.5).video[-1])
    assert (luma[100:700, 640 - REGION_GUTTER : 640 + REGION_GUTTER] == BLACK_Y).all()


def test_a_classroom_without_video_shows_its_name_on_the_title_card() -> None:
    mixer = Mixer(class_name=ROOMS[0], rooms=ROOMS)
    send_cameras(mixer, {SourceKey(1, "camera", 0): RED}, 1.0)
    frame = mixer.render(1.0).video[-1]
    luma = luma_of(frame)
    left, right = layout.regions(WIDTH, HEIGHT, 2)
    assert near(colour_at(frame, *centre_of_large_tile(inner(left), 1)), RED)
    quiet = luma[right.y : right.y + right.height, right.x : right.x + right.width]
    assert np.count_nonzero(quiet == BLACK_Y) / quiet.size > 0.9, "the title card is black"
    middle = quiet[right.height // 2 - 40 : right.height // 2 + 40, 30 : right.width - 30]
    assert np.count_nonzero(middle == TEXT_Y) > 300, "with the classroom's name in its middle"
    # Nobody anywhere: every region is its title card.
    idle = luma_of(Mixer(class_name=ROOMS[0], rooms=ROOMS).render(0.2).video[-1])
    for region in (left, right):
        card = idle[region.y + region.height // 2 - 40 : region.y + region.height // 2 + 40]
        assert np.count_nonzero(card[:, region.x : region.x + region.width] == TEXT_Y) > 300


def test_someone_in_two_classrooms_is_shown_in_each_and_speakers_are_per_classroom() -> None:
    mixer = Mixer(rooms=ROOMS)
    cameras = {
        SourceKey(1, "camera", 0): RED,
        SourceKey(2, "camera", 0): GREEN,
        SourceKey(1, "camera", 1): BLUE,  # the same user, in the other classroom: another camera
        SourceKey(3, "camera", 1): YELLOW,
    }
    send_cameras(mixer, cameras, 2.0)
    mixer.set_active_speaker(2, 0.5, room=0)
    mixer.set_active_speaker(3, 1.0, room=1)
    left, right = (inner(r) for r in layout.regions(WIDTH, HEIGHT, 2))
    frames = {round(f.time, 2): f for f in mixer.render(2.0).video}
    early, late = frames[0.8], frames[1.6]
    assert near(colour_at(early, *centre_of_large_tile(left, 2)), GREEN), "room 0's speaker is large there"
    assert near(colour_at(early, *centre_of_large_tile(right, 2)), BLUE), "room 1 has no speaker yet"
    assert near(colour_at(late, *centre_of_large_tile(left, 2)), GREEN)
    assert near(colour_at(late, *centre_of_large_tile(right, 2)), YELLOW)
    strip = layout.arrange_in(right, 2)[1]
    assert near(colour_at(late, strip.x + strip.width // 2, strip.y + strip.height // 2), BLUE)


def test_a_screen_share_is_featured_in_its_own_classroom_only() -> None:
    mixer = Mixer(rooms=ROOMS)
    send_cameras(mixer, {SourceKey(1, "camera", 0): RED, SourceKey(2, "camera", 1): GREEN}, 1.0)
    for index in range(16):
        mixer.add_video(SourceKey(2, "screen", 1), camera_frame(YELLOW, 1280, 720), index / 15)
    frame = mixer.render(1.0).video[-1]
    left, right = (inner(r) for r in layout.regions(WIDTH, HEIGHT, 2))
    assert near(colour_at(frame, *centre_of_large_tile(left, 1)), RED)
    assert near(colour_at(frame, *centre_of_large_tile(right, 2)), YELLOW)


def test_names_are_drawn_per_classroom_and_labels_are_rendered_once() -> None:
    renders = 0

    class CountingFont(LabelFont):
        def render(self, text: str, size: int) -> npt.NDArray[np.uint8]:
            nonlocal renders
            renders += 1
            return super().render(text, size)

    mixer = Mixer(rooms=ROOMS, font=CountingFont())
    mixer.set_names({1: "Ada"}, room=0)
    mixer.set_names({1: "Ada Lovelace", 4: "Dan"}, room=1)
    send_cameras(mixer, {SourceKey(1, "camera", 0): RED, SourceKey(1, "camera", 1): GREEN}, 4.0)
    mixer.render(1.0)
    after_first_second = renders
    assert after_first_second == 4, "two room names and two people's names"
    mixer.render(4.0)
    assert renders == after_first_second, "nothing is re-rendered frame by frame"


def test_the_sound_is_every_classrooms_voices() -> None:
    mixer = Mixer(MediaFormat(width=320, height=180), rooms=ROOMS)
    for index in range(50):
        t = index * AUDIO_STEP
        start = round(t * RATE)
        mixer.add_audio(SourceKey(1, "microphone", 0), tone_frame(440, 0.2, start), t)
        mixer.add_audio(SourceKey(1, "microphone", 1), tone_frame(660, 0.2, start), t)
    frames = mixer.render(1.0).audio
    pcm = np.concatenate([np.asarray(f.to_ndarray(), dtype=np.float32)[0] for f in frames])
    spectrum = np.abs(np.fft.rfft(pcm[RATE // 10 :]))
    frequencies = np.fft.rfftfreq(pcm[RATE // 10 :].size, 1 / RATE)
    peaks = sorted(frequencies[np.argsort(spectrum)[-2:]].round())
    assert peaks == [440, 660], "both classrooms' voices, the same user id in each notwithstanding"


def test_a_source_of_no_classroom_of_the_session_is_refused() -> None:
    mixer = Mixer(rooms=ROOMS)
    mixer.add_video(SourceKey(1, "camera", 2), camera_frame(RED), 0.0)
    assert mixer.stats.rejected_video_frames == 1


# -- the robot in several classrooms ----------------------------------------------------------------------


async def test_the_robot_records_until_it_is_out_of_every_classroom() -> None:
    """One classroom's connection going (its region turns to its title card) does not end the file."""

    class InClassroom:
        def __init__(self, classroom_id: int) -> None:
            self.classroom_id = classroom_id
            self.disconnected = asyncio.Event()

    first, second = InClassroom(1), InClassroom(2)
    gone = asyncio.Event()
    following = asyncio.create_task(robot._until_all_left([first, second], gone))  # type: ignore[list-item]
    second.disconnected.set()
    await asyncio.sleep(0.05)
    assert not gone.is_set(), "the other classroom is still recorded"
    first.disconnected.set()
    await asyncio.wait_for(gone.wait(), 1)
    await following
