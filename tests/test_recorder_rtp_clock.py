"""Frames are placed on the recording clock from RTP/RTCP timing, whatever order they arrive in."""

from __future__ import annotations

import pytest

from recorder_bot.rtp_clock import CREEP, StreamClock
from server.media.ntp import NTP_UNIX_OFFSET, PublisherClock, ntp_to_unix, unix_to_ntp


def ntp(unix: float) -> int:
    seconds = unix + NTP_UNIX_OFFSET
    return (int(seconds) << 32) | int((seconds % 1) * (1 << 32))


def recording_time(publisher: PublisherClock, wall: float, arrival: float, recording_start: float) -> float:
    """As the robot places a frame: observe its arrival, then move its capture time onto our clock."""
    publisher.observe(wall, arrival)
    return publisher.local(wall) - recording_start


def test_ntp_and_unix_time_convert_both_ways() -> None:
    assert ntp_to_unix(ntp(1_700_000_000.25)) == pytest.approx(1_700_000_000.25, abs=1e-6)
    assert unix_to_ntp(1_700_000_000.25) == ntp(1_700_000_000.25)
    assert unix_to_ntp(-NTP_UNIX_OFFSET) == 0


def test_rtp_timestamps_map_to_wall_time_across_a_wrap() -> None:
    clock = StreamClock(90_000)
    assert clock.wall_time(1234) is None
    clock.sender_report(ntp(1000.0), 0xFFFF_FF00)
    assert abs((clock.wall_time(0xFFFF_FF00 + 90_000 - (1 << 32)) or 0) - 1001.0) < 1e-6  # wrapped
    assert abs((clock.wall_time(0xFFFF_FF00 - 45_000) or 0) - 999.5) < 1e-6


def test_one_publishers_audio_and_video_keep_their_relation_whatever_the_arrival() -> None:
    publisher = PublisherClock(creep=CREEP)
    video, audio = StreamClock(90_000), StreamClock(48_000)
    video.sender_report(ntp(5000.0), 10_000)  # the publisher's clock is an hour ahead of ours
    audio.sender_report(ntp(5000.0), 70_000)
    # Captured together at 5001.0 on the publisher; video arrives 40 ms after capture, audio 250 ms.
    video_wall = video.wall_time(10_000 + 90_000)
    audio_wall = audio.wall_time(70_000 + 48_000)
    assert video_wall is not None
    assert audio_wall is not None
    t_video = recording_time(publisher, video_wall, arrival=1010.040, recording_start=1000.0)
    t_audio = recording_time(publisher, audio_wall, arrival=1010.250, recording_start=1000.0)
    assert abs(t_video - 10.040) < 1e-6
    assert abs(t_audio - 10.040) < 1e-3  # same moment, though the audio came 210 ms later


def test_a_publisher_clock_running_slow_does_not_drift_out_of_the_mix() -> None:
    publisher = PublisherClock(creep=CREEP)
    # The publisher's clock loses 200 ppm against ours; every frame arrives 50 ms after capture.
    placed = []
    for second in range(0, 3600, 10):
        capture_ours = float(second)
        capture_theirs = capture_ours * (1 - 200e-6)
        placed.append(recording_time(publisher, capture_theirs, capture_ours + 0.050, 0.0) - capture_ours)
    # After an hour frames still land within a few tens of ms of when they happened, not 0.7 s early.
    assert max(abs(error) for error in placed) < 0.06


def test_the_sfu_moves_sender_reports_by_the_least_delayed_one_and_never_creeps() -> None:
    publisher = PublisherClock()  # as the router keeps one per publisher
    assert publisher.local(50.0) == 50.0  # nothing observed yet: unmoved
    publisher.observe(sent=100.0, arrived=1100.3)
    publisher.observe(sent=101.0, arrived=1101.1)  # the least delayed so far
    publisher.observe(sent=500.0, arrived=1500.9)  # much later, more delayed: the offset stays
    assert publisher.offset == pytest.approx(1000.1)
    assert publisher.local(600.0) == pytest.approx(1600.1)
    with pytest.raises(ValueError, match="creep"):
        PublisherClock(creep=-0.001)
