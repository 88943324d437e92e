"""Pause and resume in the robot, without media on the wire: the pause clock's arithmetic, the commands
on its stdin, and a mixer fed through the clock, whose output keeps nothing captured while paused."""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pytest
from av import AudioFrame

from recorder_bot.job import Pause, Resume, RobotJob, parse_command
from recorder_bot.mixer import MediaFormat, Mixer, SourceKey
from recorder_bot.pause_clock import PauseClock
from recorder_bot.robot import HOLD_SECONDS, RobotSession, _Held
from recorder_bot.writer import RecorderPipeline

KEPT_HZ = 440.0
RATE = 48_000
STEP = 960  # 20 ms, as Opus arrives


def test_a_pause_cuts_its_span_and_later_moments_move_back_by_it() -> None:
    clock = PauseClock()
    assert clock.file_time(1.5) == 1.5
    assert clock.pause(2.0) == 2.0
    assert clock.paused
    assert clock.file_time(1.99) == pytest.approx(1.99)  # before the pause: kept where it was
    assert clock.file_time(2.0) is None
    assert clock.file_time(30.0) is None
    assert clock.now(2.5) == 2.0
    assert clock.now(60.0) == 2.0
    assert clock.resume(7.0) == 5.0
    assert not clock.paused
    assert clock.file_time(6.99) is None
    assert clock.file_time(7.0) == 2.0
    assert clock.file_time(8.25) == pytest.approx(3.25)
    assert clock.now(8.25) == pytest.approx(3.25)
    assert clock.paused_seconds(8.25) == pytest.approx(5.0)


def test_pausing_twice_or_resuming_unpaused_changes_nothing() -> None:
    clock = PauseClock()
    assert clock.resume(1.0) is None
    assert clock.pause(2.0) == 2.0
    assert clock.pause(3.0) is None
    assert len(clock.pauses) == 1
    assert clock.resume(4.0) == 2.0
    assert clock.resume(5.0) is None
    assert clock.pauses == ((2.0, 4.0),)


def test_several_pauses_add_up_and_a_resume_before_its_pause_is_empty() -> None:
    clock = PauseClock()
    clock.pause(1.0)
    clock.resume(2.0)
    assert clock.pause(3.0) == 2.0  # file time: 3 s less the first second paused
    clock.resume(5.5)
    assert clock.file_time(6.0) == pytest.approx(2.5)  # 3.5 s paused before it
    # A pause asked before the last one ended starts where it ended; a resume before it, is empty.
    assert clock.pause(4.0) == pytest.approx(2.0)
    assert clock.resume(1.0) == 0.0
    assert clock.file_time(6.0) == pytest.approx(2.5)


def test_a_frame_arriving_well_inside_a_pause_is_not_kept_whatever_its_stamp() -> None:
    """Stamps come from the sender's reports, which can place frames early; arrival (less the lateness
    a frame may have) cannot be before the capture."""
    clock = PauseClock()
    clock.pause(5.0)
    assert clock.file_time(4.9, arrived=4.95) == pytest.approx(4.9)  # on time, from before the pause
    assert clock.file_time(4.7, arrived=5.05) is None  # stamped before, but arrived well inside it
    clock.resume(10.0)
    assert clock.file_time(10.1, arrived=9.9) == pytest.approx(5.1)  # after the resume, on time
    assert clock.file_time(10.1, arrived=10.3) == pytest.approx(5.1)  # late, but after the resume
    assert clock.file_time(4.0, arrived=12.0) == pytest.approx(4.0)  # very late: the mixer decides


def test_the_commands_on_stdin_are_typed_and_anything_else_is_ignored() -> None:
    assert parse_command('{"command": "pause", "at": 1700000000.25}\n') == Pause(at=1700000000.25)
    assert parse_command(Resume(at=5.0).line()) == Resume(at=5.0)
    assert parse_command("") is None
    assert parse_command('{"command": "rewind", "at": 1}') is None
    assert parse_command('{"command": "pause"}') is None
    assert parse_command("not json") is None


def tone(frequency: float, start: int) -> AudioFrame:
    index = np.arange(start, start + STEP)
    wave = np.round(0.2 * 32767 * np.sin(2 * np.pi * frequency * index / RATE)).astype(np.int16)
    frame = AudioFrame.from_ndarray(wave[None, :], format="s16", layout="mono")
    frame.sample_rate = RATE
    return frame


def level(samples: npt.NDArray[np.float32], frequency: float) -> float:
    """Amplitude of ``frequency`` in ``samples`` (a single-bin DFT)."""
    n = np.arange(samples.size)
    bin_ = np.exp(-2j * np.pi * frequency * n / RATE)
    return float(2 * abs(np.dot(samples, bin_)) / samples.size)


def test_a_mixer_fed_through_the_clock_keeps_nothing_captured_while_paused() -> None:
    """A voice at 440 Hz all along, and 1500 Hz only while paused, some of whose frames reached the mixer
    before the robot heard of the pause: the output is 3 s of 440 Hz (8 s less 5 paused), no 1500 Hz."""
    mixer = Mixer(MediaFormat(width=64, height=48, fps=10))
    clock = PauseClock()
    voice, paused_tone = SourceKey(1, "microphone"), SourceKey(2, "microphone")
    out: list[npt.NDArray[np.float32]] = []
    for index in range(8 * RATE // STEP):
        t = index * STEP / RATE
        if math.isclose(t, 2.0):
            frames_before_the_command = [tone(1500, index * STEP + k * STEP) for k in range(5)]
            for k, frame in enumerate(frames_before_the_command):  # stamped as if not paused
                mixer.add_audio(paused_tone, frame, t + k * STEP / RATE)
            cut = clock.pause(2.0)
            assert cut is not None
            mixer.cut(cut)
        if math.isclose(t, 7.0):
            clock.resume(7.0)
        stamp = clock.file_time(t)
        if stamp is not None:
            mixer.add_audio(voice, tone(440, index * STEP), stamp)
        elif clock.paused:
            assert clock.file_time(t) is None  # the paused tone is captured now: never placed
        out.extend(f.to_ndarray()[0] for f in mixer.render(clock.now(t) - 0.1).audio)
    out.extend(f.to_ndarray()[0] for f in mixer.finish(clock.now(8.0)).audio)
    pcm = np.concatenate(out)
    assert pcm.size / RATE == pytest.approx(3.0, abs=0.03)
    assert mixer.rendered == pytest.approx(3.0, abs=0.1)
    around_the_cut = pcm[round(1.5 * RATE) : round(2.5 * RATE)]
    assert level(around_the_cut, 440) > 0.15
    assert level(around_the_cut, 1500) < 0.005
    assert level(pcm[: 2 * RATE], 440) > 0.15
    assert level(pcm[2 * RATE + 480 :], 440) > 0.15


class CountedPipeline:
    """Stands in for the pipeline where the session only reports who was heard."""

    def __init__(self) -> None:
        self.heard: list[int] = []

    def heard_from(self, user_id: int) -> None:
        self.heard.append(user_id)


async def test_frames_held_while_paused_reach_the_file_if_captured_after_the_resume() -> None:
    """The robot may hear the resume after frames captured since it arrived: those it held still go in."""
    job = RobotJob(
        server_url="http://127.0.0.1:1", token="t", classroom_id=1, classroom_name="Physics",
        storage_root=Path("/nonexistent"), file_name="x.mp4",
    )  # fmt: skip
    pauses = PauseClock()
    pauses.pause(2.0)
    session = RobotSession(job, cast(RecorderPipeline, CountedPipeline()), 0.0, pauses)
    added: list[tuple[SourceKey, float]] = []
    session._add = lambda key, frame, t: added.append((key, t))  # type: ignore[method-assign]
    voice = SourceKey(1, "microphone")
    for stamp in (3.0, 5.0, 6.7, 6.9, 7.05, 7.2):  # all received before the robot heard the resume
        session._hold(_Held(stamp, stamp, voice, tone(KEPT_HZ, 0)))
    # Only the last HOLD_SECONDS are held: the oldest were let go as newer ones came.
    assert [held.recorded for held in session._held] == [6.7, 6.9, 7.05, 7.2]
    assert HOLD_SECONDS == 0.5
    pauses.resume(7.0)
    session.release_held()
    assert [t for _, t in added] == pytest.approx([2.05, 2.2])  # after the resume, moved back by 5 s
    session.release_held()
    assert len(added) == 2  # released once
