"""Frames are placed on the recording clock from RTP/RTCP timing, whatever order they arrive in."""

from __future__ import annotations

from recorder_bot.rtp_clock import NTP_UNIX_OFFSET, PublisherClock, StreamClock


def ntp(unix: float) -> int:
    seconds = unix + NTP_UNIX_OFFSET
    return (int(seconds) << 32) | int((seconds % 1) * (1 << 32))


def test_rtp_timestamps_map_to_wall_time_across_a_wrap() -> None:
    clock = StreamClock(90_000)
    assert clock.wall_time(1234) is None
    clock.sender_report(ntp(1000.0), 0xFFFF_FF00)
    assert abs((clock.wall_time(0xFFFF_FF00 + 90_000 - (1 << 32)) or 0) - 1001.0) < 1e-6  # wrapped
    assert abs((clock.wall_time(0xFFFF_FF00 - 45_000) or 0) - 999.5) < 1e-6


def test_one_publishers_audio_and_video_keep_their_relation_whatever_the_arrival() -> None:
    publisher = PublisherClock(recording_start=1000.0)
    video, audio = StreamClock(90_000), StreamClock(48_000)
    video.sender_report(ntp(5000.0), 10_000)  # the publisher's clock is an hour ahead of ours
    audio.sender_report(ntp(5000.0), 70_000)
    # Captured together at 5001.0 on the publisher; video arrives 40 ms after capture, audio 250 ms.
    video_wall = video.wall_time(10_000 + 90_000)
    audio_wall = audio.wall_time(70_000 + 48_000)
    assert video_wall is not None
    assert audio_wall is not None
    t_video = publisher.recording_time(video_wall, arrival=1010.040)
    t_audio = publisher.recording_time(audio_wall, arrival=1010.250)
    assert abs(t_video - 10.040) < 1e-6
    assert abs(t_audio - 10.040) < 1e-3  # same moment, though the audio came 210 ms later


def test_a_publisher_clock_running_slow_does_not_drift_out_of_the_mix() -> None:
    publisher = PublisherClock(recording_start=0.0)
    # The publisher's clock loses 200 ppm against ours; every frame arrives 50 ms after capture.
    placed = []
    for second in range(0, 3600, 10):
        capture_ours = float(second)
        capture_theirs = capture_ours * (1 - 200e-6)
        placed.append(publisher.recording_time(capture_theirs, arrival=capture_ours + 0.050) - capture_ours)
    # After an hour frames still land within a few tens of ms of when they happened, not 0.7 s early.
    assert max(abs(error) for error in placed) < 0.06
