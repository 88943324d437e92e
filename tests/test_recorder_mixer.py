"""The recorder's mixer: a classroom's sources in, one picture and one sound out, on the recording clock.

Scenarios use generated participants: flat-coloured cameras and pure tones, so a pixel or a sample of the
output says exactly whose it is and when it happened.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from av import AudioFrame, VideoFrame

from recorder_bot import layout
from recorder_bot.layout import Rect
from recorder_bot.mixer import BLACK_Y, TEXT_Y, AudioMixer, MediaFormat, Mixer, MixerStats, SourceKey
from recorder_bot.writer import RecorderPipeline

RATE = 48_000
AUDIO_STEP = 0.02  # 20 ms frames, as Opus arrives from aiortc
YUV = tuple[int, int, int]
RED: YUV = (81, 90, 240)
GREEN: YUV = (145, 54, 34)
BLUE: YUV = (41, 240, 110)
YELLOW: YUV = (210, 16, 146)
WHITE: YUV = (235, 128, 128)


def camera_frame(colour: YUV, width: int = 320, height: int = 240) -> VideoFrame:
    """A flat-coloured picture, as a decoded camera frame (yuv420p)."""
    planes = np.empty((height * 3 // 2, width), dtype=np.uint8)
    flat = planes.reshape(-1)
    luma, quarter = width * height, width * height // 4
    flat[:luma], flat[luma : luma + quarter], flat[luma + quarter :] = colour
    return VideoFrame.from_ndarray(planes, format="yuv420p")


def tone_frame(frequency: float, amplitude: float, start: int, samples: int = 960) -> AudioFrame:
    """Stereo s16 at 48 kHz, as aiortc's Opus decoder delivers it; ``start`` is the first sample's index."""
    index = np.arange(start, start + samples)
    wave = np.round(amplitude * 32767 * np.sin(2 * np.pi * frequency * index / RATE)).astype(np.int16)
    frame = AudioFrame.from_ndarray(np.repeat(wave, 2)[None, :], format="s16", layout="stereo")
    frame.sample_rate = RATE
    return frame


@dataclass
class Participant:
    """A generated participant: a camera of one colour and a microphone with one tone."""

    user_id: int
    colour: YUV = RED
    frequency: float = 440.0
    amplitude: float = 0.2
    camera: bool = True
    microphone: bool = True
    fps: int = 30
    size: tuple[int, int] = (320, 240)
    flash_at: float | None = None
    """From here on the camera shows white and the microphone a 1 kHz beep (instead of its tone)."""
    silent: tuple[float, float] | None = None
    """The microphone sends nothing at all in this span (a muted or stalled source)."""
    audio_lag: float = 0.0
    """How much later than its video this participant's audio reaches the robot (negative: earlier)."""

    def video(self, t: float) -> VideoFrame:
        flashing = self.flash_at is not None and t >= self.flash_at
        return camera_frame(WHITE if flashing else self.colour, *self.size)

    def audio(self, t: float) -> AudioFrame | None:
        if self.silent is not None and self.silent[0] <= t < self.silent[1]:
            return None
        start = round(t * RATE)
        if self.flash_at is None:
            return tone_frame(self.frequency, self.amplitude, start)
        beep = tone_frame(1000.0, 0.5, start)
        onset = round(self.flash_at * RATE) - start
        if onset > 0:
            silence = np.asarray(beep.to_ndarray(), dtype=np.int16).copy()
            silence[:, : min(onset, 960) * 2] = 0
            beep = AudioFrame.from_ndarray(silence, format="s16", layout="stereo")
            beep.sample_rate = RATE
        return beep


Arrival = tuple[float, int, Callable[[], None]]


def arrivals(pipeline: RecorderPipeline, people: list[Participant], duration: float) -> Iterator[Arrival]:
    """Every frame of every participant with the moment it reaches the robot, in no particular order."""
    sequence = 0
    for person in people:
        if person.camera:
            key = SourceKey(person.user_id, "camera")
            for index in range(math.ceil(duration * person.fps)):
                t = index / person.fps

                def send_video(p: Participant = person, k: SourceKey = key, at: float = t) -> None:
                    pipeline.add_video(k, p.video(at), at)

                sequence += 1
                yield (t, sequence, send_video)
        if person.microphone:
            key = SourceKey(person.user_id, "microphone")
            for index in range(math.ceil(duration / AUDIO_STEP)):
                t = index * AUDIO_STEP

                def send_audio(p: Participant = person, k: SourceKey = key, at: float = t) -> None:
                    frame = p.audio(at)
                    if frame is not None:
                        pipeline.add_audio(k, frame, at)

                sequence += 1
                yield (t + person.audio_lag, sequence, send_audio)


def play(
    pipeline: RecorderPipeline,
    people: list[Participant],
    duration: float,
    on_time: dict[float, Callable[[], None]] | None = None,
) -> None:
    """Deliver the participants' frames in arrival order, faster than real time, rendering as the robot
    would: up to "arrival time minus the pipeline's delay" every 20 ms. ``on_time`` runs actions (speaker
    changes) at given arrival times."""
    actions = sorted((on_time or {}).items())
    clock = 0.0
    for arrival, _, send in sorted(arrivals(pipeline, people, duration)):
        while actions and actions[0][0] <= arrival:
            actions.pop(0)[1]()
        while clock + AUDIO_STEP <= arrival:
            clock += AUDIO_STEP
            pipeline.advance(clock - pipeline.delay)
            if round(clock / AUDIO_STEP) % 25 == 0:
                assert pipeline.flush(30)
        send()


# -- audio ---------------------------------------------------------------------------------------------------


def mix_audio(mixer: AudioMixer, until: float) -> npt.NDArray[np.float32]:
    frames = mixer.render(until)
    mixed: npt.NDArray[np.float32] = np.concatenate(
        [np.asarray(frame.to_ndarray(), dtype=np.float32) for frame in frames], axis=1
    )[0]
    return mixed


def test_four_loud_voices_never_clip_and_stay_audible() -> None:
    mixer = AudioMixer(MediaFormat(), MixerStats())
    for user in range(4):
        for index in range(50):
            t = index * AUDIO_STEP
            frame = tone_frame(300 + 170 * user, 0.9, round(t * RATE))
            mixer.add(SourceKey(user, "microphone"), frame, t)
    mix = mix_audio(mixer, 1.0)
    as_int16 = np.round(mix * 32768)
    assert as_int16.max() <= 32767
    assert as_int16.min() >= -32768
    assert np.count_nonzero(np.abs(as_int16) >= 32767) == 0, "no flat-topped (clipped) samples"
    assert float(np.sqrt(np.mean(mix**2))) > 0.2, "loud enough to hear"


def test_one_voice_at_a_normal_level_passes_unchanged() -> None:
    mixer = AudioMixer(MediaFormat(), MixerStats())
    for index in range(25):
        t = index * AUDIO_STEP
        mixer.add(SourceKey(1, "microphone"), tone_frame(440, 0.3, round(t * RATE)), t)
    mix = mix_audio(mixer, 0.5)
    expected = np.round(0.3 * 32767 * np.sin(2 * np.pi * 440 * np.arange(mix.size) / RATE)) / 32768
    assert np.max(np.abs(mix - expected)) < 1e-4


def test_a_silent_gap_in_one_source_does_not_move_the_others() -> None:
    """Ada talks throughout; Bob's microphone sends nothing for a second and his frames come late and out
    of order. The output is exactly Ada's tone plus Bob's where he sent it, sample for sample."""
    mixer = AudioMixer(MediaFormat(), MixerStats())
    ada, bob = SourceKey(1, "microphone"), SourceKey(2, "microphone")
    bob_frames = []
    for index in range(150):
        t = index * AUDIO_STEP
        mixer.add(ada, tone_frame(440, 0.2, round(t * RATE)), t)
        if not 1.0 <= t < 2.0:
            bob_frames.append((t, tone_frame(660, 0.2, round(t * RATE))))
        if index % 10 == 9:
            # Bob's frames of the last 200 ms arrive now, newest first.
            for bob_t, frame in reversed(bob_frames):
                mixer.add(bob, frame, bob_t)
            bob_frames.clear()
    mix = mix_audio(mixer, 3.0)
    n = np.arange(mix.size)
    ada_wave = np.round(0.2 * 32767 * np.sin(2 * np.pi * 440 * n / RATE)) / 32768
    bob_wave = np.round(0.2 * 32767 * np.sin(2 * np.pi * 660 * n / RATE)) / 32768
    bob_wave[RATE : 2 * RATE] = 0
    assert np.max(np.abs(mix - (ada_wave + bob_wave))) < 1e-4


def test_audio_arriving_after_its_moment_is_dropped_and_counted() -> None:
    stats = MixerStats()
    mixer = AudioMixer(MediaFormat(), stats)
    mixer.render(1.0)
    mixer.add(SourceKey(1, "microphone"), tone_frame(440, 0.2, 0), 0.5)
    assert stats.late_audio_frames == 1
    assert np.max(np.abs(mix_audio(mixer, 1.5))) == 0


def test_a_removed_source_stops_at_its_end() -> None:
    mixer = AudioMixer(MediaFormat(), MixerStats())
    key = SourceKey(1, "microphone")
    for index in range(50):
        mixer.add(key, tone_frame(440, 0.2, index * 960), index * AUDIO_STEP)
    mixer.remove(key, 0.5)
    mix = mix_audio(mixer, 1.0)
    assert np.max(np.abs(mix[: RATE // 2])) > 0.15
    assert np.max(np.abs(mix[RATE // 2 :])) == 0


# -- video ---------------------------------------------------------------------------------------------------


def planes(frame: VideoFrame) -> npt.NDArray[np.uint8]:
    return np.asarray(frame.to_ndarray(), dtype=np.uint8)


def colour_at(frame: VideoFrame, x: int, y: int) -> YUV:
    """The (Y, U, V) of the output picture at pixel (x, y)."""
    data = planes(frame).reshape(-1)
    width, height = frame.width, frame.height
    luma = width * height
    chroma = (y // 2) * (width // 2) + x // 2
    return (int(data[y * width + x]), int(data[luma + chroma]), int(data[luma * 5 // 4 + chroma]))


def near(actual: YUV, expected: YUV, tolerance: int = 6) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def last_frame(mixer: Mixer, until: float) -> VideoFrame:
    return mixer.render(until).video[-1]


LARGE_CENTRE = (640, 288)


def strip_centre(index: int, count: int) -> tuple[int, int]:
    tile = layout.arrange(1280, 720, count)[index + 1]
    return (tile.x + tile.width // 2, tile.y + tile.height // 2)


def three_cameras(mixer: Mixer, until: float) -> None:
    for index in range(round(until * 30) + 1):
        t = index / 30
        for user, colour in ((1, RED), (2, GREEN), (3, BLUE)):
            mixer.add_video(SourceKey(user, "camera"), camera_frame(colour), t)


def test_the_active_speaker_is_large_and_the_others_in_the_strip() -> None:
    mixer = Mixer()
    three_cameras(mixer, 2.0)
    first = last_frame(mixer, 1.0)
    assert near(colour_at(first, *LARGE_CENTRE), RED), "nobody spoke yet: the first camera is large"
    mixer.set_active_speaker(2, 1.0)
    frame = last_frame(mixer, 2.0)
    assert near(colour_at(frame, *LARGE_CENTRE), GREEN)
    assert near(colour_at(frame, *strip_centre(0, 3)), RED)
    assert near(colour_at(frame, *strip_centre(1, 3)), BLUE)


def test_the_large_tile_stays_when_nobody_speaks() -> None:
    mixer = Mixer()
    three_cameras(mixer, 2.0)
    mixer.set_active_speaker(3, 0.5)
    mixer.set_active_speaker(None, 1.0)
    assert near(colour_at(last_frame(mixer, 2.0), *LARGE_CENTRE), BLUE)


def test_a_screen_share_takes_the_large_slot() -> None:
    mixer = Mixer()
    three_cameras(mixer, 2.0)
    mixer.set_active_speaker(2, 0.0)
    for index in range(4):
        mixer.add_video(SourceKey(1, "screen"), camera_frame(YELLOW, 1280, 720), 1.0 + index * 0.25)
    frame = last_frame(mixer, 2.0)
    assert near(colour_at(frame, *LARGE_CENTRE), YELLOW)
    strip = [colour_at(frame, *strip_centre(i, 4)) for i in range(3)]
    assert [near(c, RED) for c in strip] == [True, False, False]
    assert near(strip[1], GREEN)
    assert near(strip[2], BLUE)


def test_a_still_screen_stays_until_removed_but_a_silent_camera_leaves() -> None:
    mixer = Mixer(camera_hold=1.0)
    mixer.add_video(SourceKey(1, "screen"), camera_frame(YELLOW, 1280, 720), 0.0)
    mixer.add_video(SourceKey(2, "camera"), camera_frame(GREEN), 0.0)
    frame = last_frame(mixer, 3.0)
    assert near(colour_at(frame, 640, 360), YELLOW), "the screen alone fills the picture"
    mixer.remove_source(SourceKey(1, "screen"), 3.5)
    frame = last_frame(mixer, 4.0)
    assert near(colour_at(frame, 640, 360), (BLACK_Y, 128, 128)), "nobody has video: the idle picture"


def test_names_are_drawn_on_the_tiles() -> None:
    mixer = Mixer()
    three_cameras(mixer, 1.0)
    unnamed = planes(last_frame(mixer, 0.5))[:720]
    mixer.set_names({1: "Ada Lovelace", 2: "Zoë Müller", 3: "Bob"})
    named = planes(last_frame(mixer, 1.0))[:720]
    assert np.count_nonzero(unnamed == TEXT_Y) == 0
    for rect in layout.arrange(1280, 720, 3):
        band = named[rect.y + rect.height * 3 // 4 : rect.y + rect.height, rect.x : rect.x + rect.width]
        assert np.count_nonzero(band == TEXT_Y) > 20, f"a name in the tile at {rect}"


def test_no_video_is_a_black_frame_with_the_class_name() -> None:
    mixer = Mixer(class_name="Physics 3B")
    luma = planes(last_frame(mixer, 0.2))[:720]
    assert np.count_nonzero(luma == BLACK_Y) / luma.size > 0.9
    middle = luma[300:420, 200:1080]
    assert np.count_nonzero(middle == TEXT_Y) > 500, "the class name is lettered in the middle"


def test_video_is_shown_at_its_moment_whatever_the_arrival_order() -> None:
    mixer = Mixer()
    key = SourceKey(1, "camera")
    for index in reversed(range(60)):
        colour = WHITE if index >= 30 else RED
        mixer.add_video(key, camera_frame(colour), index / 30)
    frames = mixer.render(2.0).video
    whites = [frame.time for frame in frames if near(colour_at(frame, 640, 360), WHITE)]
    assert whites[0] == pytest.approx(1.0, abs=1 / 30)


def test_video_arriving_after_its_moment_is_dropped_and_counted() -> None:
    mixer = Mixer()
    mixer.render(1.0)
    mixer.add_video(SourceKey(1, "camera"), camera_frame(RED), 0.5)
    assert mixer.stats.late_video_frames == 1


# -- layout --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 4, 5, 6, 9])
def test_tiles_are_inside_the_canvas_and_never_overlap(count: int) -> None:
    tiles = layout.arrange(1280, 720, count)
    assert len(tiles) == count
    for tile in tiles:
        assert tile.x >= 0
        assert tile.y >= 0
        assert tile.x + tile.width <= 1280
        assert tile.y + tile.height <= 720
        assert all(value % 2 == 0 for value in (tile.x, tile.y, tile.width, tile.height))
    for a in tiles:
        for b in tiles:
            if a is not b:
                assert (
                    a.x + a.width <= b.x
                    or b.x + b.width <= a.x
                    or a.y + a.height <= b.y
                    or b.y + b.height <= a.y
                )
    assert tiles[0].width * tiles[0].height >= max(t.width * t.height for t in tiles)


def test_pictures_keep_their_shape() -> None:
    box = Rect(0, 0, 1280, 576)
    assert layout.fit(640, 480, box) == Rect(256, 0, 768, 576)
    assert layout.fit(1920, 1080, box) == Rect(128, 0, 1024, 576)


def test_names_are_lettered_as_written_and_fitted_with_an_ellipsis() -> None:
    assert layout.clean("Zoe\u0308  Mu\u0308ller\n") == "Zoë Müller"
    font = layout.LabelFont()
    name = "A very long display name indeed"
    short = font.fitting(name, 120, 16)
    assert short.endswith("…")
    assert name.startswith(short[:-1])
    assert font.width(short, 16) <= 120 < font.width(name, 16)
    assert font.fitting(name, 4, 16) == ""


def test_labels_of_one_size_share_their_height_and_are_rendered_once() -> None:
    font = layout.LabelFont()
    heights = {font.render(text, 24).shape[0] for text in ("Léa", "Σωκράτης", "Юлия", "gjpqy", "ÉÅ")}
    assert len(heights) == 1
    assert font.label("Léa Dubois", 400, 24) is font.label("Léa Dubois", 400, 24)
    assert font.label("   ", 400, 24) is None


def test_a_missing_font_file_falls_back_to_the_built_in_font(tmp_path: Path) -> None:
    alpha = layout.LabelFont(tmp_path / "absent.ttf").label("Ada", 400, 16)
    assert alpha is not None
    assert alpha.max() == 255
