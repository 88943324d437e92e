"""The job and progress messages between the server and its robot: one type each, both sides the same."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from recorder_bot.job import (
    Failed,
    Finished,
    FirstFragment,
    Joined,
    Progress,
    Receiving,
    RobotJob,
    parse_progress,
)


def job() -> RobotJob:
    return RobotJob(
        server_url="http://127.0.0.1:8080",
        token="t",
        classroom_id=3,
        classroom_name="Physics",
        storage_root=Path("/srv/aula/storage/recordings"),
        file_name="physics-1.mp4",
    )


def test_a_job_reads_back_as_it_was_written() -> None:
    line = job().line()
    assert line.endswith("\n")
    assert line.count("\n") == 1
    assert RobotJob.model_validate_json(line) == job()


@pytest.mark.parametrize("change", [{"classroom_id": 0}, {"fps": -15}, {"surprise": True}, {"token": None}])
def test_a_job_the_robot_cannot_do_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RobotJob.model_validate({**job().model_dump(), **change})


@pytest.mark.parametrize(
    "message",
    [
        Joined(),
        FirstFragment(),
        Receiving(receiving=()),
        Receiving(receiving=(2, 5)),
        Finished(duration_ms=61_000, size_bytes=12_345_678, fragments=61, dropped=0, late_frames=2),
        Failed(error="ConnectionError: refused"),
    ],
)
def test_every_progress_message_is_one_line_that_parses_back(message: Progress) -> None:
    assert parse_progress(message.line()) == message
    assert parse_progress(message.line().encode()) == message


def test_a_long_error_is_cut_to_what_the_wire_takes() -> None:
    failed = Failed.of("x" * 10_000)
    assert parse_progress(failed.line()) == failed
    assert len(failed.error) == 500


@pytest.mark.parametrize(
    "line",
    [
        b"not json at all\n",
        b"[1, 2]\n",
        b'{"event": "exploded"}\n',
        b'{"event": "finished", "duration_ms": -1, "size_bytes": 0}\n',
        b'{"event": "finished"}\n',
        b'{"duration_ms": 5}\n',
        b'{"event": "receiving", "receiving": [0]}\n',
        b"\xff\xfe\n",
    ],
)
def test_anything_else_on_the_robots_stdout_is_logged_and_ignored(
    line: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="recorder_bot.job"):
        assert parse_progress(line) is None
    assert "no progress message" in caplog.text


def test_blank_lines_are_ignored_quietly(caplog: pytest.LogCaptureFixture) -> None:
    assert parse_progress(b"\n") is None
    assert caplog.text == ""
