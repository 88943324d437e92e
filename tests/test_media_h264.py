"""A classroom configured for H.264 offers and forwards H.264 only."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from server.config import Config, load_config
from server.services import SERVICES
from tests.media_support import Classroom, Counter, wait_for
from tests.synthetic_media import SyntheticVideoTrack

pytestmark = pytest.mark.usefixtures("private_namespace")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(
        environ={},
        overrides={"data_dir": str(tmp_path / "data"), "log_format": "text", "video_codec": "H264"},
    )


async def test_an_h264_classroom_forwards_h264_only(
    classroom: Classroom, users: dict[str, int], app: web.Application
) -> None:
    await classroom.enter("teacher", {"camera": SyntheticVideoTrack(320, 240, 15)})
    counter = Counter()
    student = await classroom.enter("student", {}, counter)
    await wait_for(lambda: counter.count(users["teacher"], "camera") >= 15, 15)
    assert student.pc is not None
    assert "VP8" not in student.pc.remoteDescription.sdp
    media = app[SERVICES].media.get(classroom.classroom_id)
    assert media is not None
    (stream,) = media.router.streams(str(users["teacher"]))
    assert stream.codec.name == "H264"
