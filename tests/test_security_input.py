"""Hostile input gets a 400 that names what is wrong, never a 500 or a dropped connection: deeply nested
JSON, unknown fields, broken Unicode, control characters in names, and any name in a download header."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import av
import numpy as np
import pytest
from aiohttp import ClientSession, web

from server.api.registry import api
from server.db.models import Recording
from server.errors import Invalid
from server.names import check_message
from server.services import SERVICES
from tests.conftest import ClientFactory


async def error_of(response: Any) -> tuple[int, str, str]:
    body = await response.json()
    return response.status, body["error"]["code"], body["error"]["message"]


def tiny_mp4(path: Path) -> None:
    """A playable one-second MP4 (H.264 and AAC), made here rather than checked in."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=48000)
        for n in range(10):
            picture = np.full((48, 64, 3), n * 20, dtype=np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        for n in range(47):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), "fltp", "mono")
            frame.sample_rate, frame.pts = 48000, n * 1024
            container.mux(audio.encode(frame))
        container.mux(video.encode())
        container.mux(audio.encode())


async def test_a_body_nested_100000_deep_is_a_400_for_anyone(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    anonymous = await client_as(None)
    deep = "[" * 100_000 + "]" * 100_000
    for body in (deep, '{"username": ' + deep + ', "password": "x"}', '{"a":' * 50 + "1" + "}" * 50):
        response = await anonymous.post(
            "/api/auth/login", data=body, headers={"Content-Type": "application/json"}
        )
        status, code, _ = await error_of(response)
        assert (status, code) == (400, "invalid")
    # The server is fine afterwards.
    assert (await anonymous.get("/api/health")).status == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"username": "\\ud800", "password": "x"}',  # a lone surrogate: not text
        b'{"username": "teacher", "password": "\xff\xfe"}',  # not UTF-8
        b'{"username": "teacher", "password": ' + b"9" * 5000 + b"}",  # a number too long to parse
        b'{"username": "teacher", "password": NaN}',
    ],
)
async def test_broken_json_is_a_400(users: dict[str, int], client_as: ClientFactory, body: bytes) -> None:
    response = await (await client_as(None)).post(
        "/api/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    assert (await error_of(response))[:2] == (400, "invalid")


async def test_an_unknown_field_is_refused_by_name_and_nothing_is_created(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher = await client_as("teacher")
    status, code, message = await error_of(
        await teacher.post("/api/classrooms", json={"name": "x", "seats": 1})
    )
    assert (status, code) == (400, "invalid")
    assert "seats" in message
    assert (await (await teacher.get("/api/classrooms")).json())["classrooms"] == []


def test_every_body_model_refuses_unknown_fields() -> None:
    bodies = {spec.body for spec in api.routes if spec.body is not None}
    assert bodies
    for model in bodies:
        assert model.model_config.get("extra") == "forbid", model.__name__


@pytest.fixture
async def recording(app: web.Application, users: dict[str, int], client_as: ClientFactory) -> int:
    """A ready recording of the teacher's classroom with a real file."""
    teacher = await client_as("teacher")
    created = await teacher.post("/api/classrooms", json={"name": "Physics"})
    classroom_id = (await created.json())["classroom"]["id"]
    tiny_mp4(app[SERVICES].storage.recordings / "tiny.mp4")
    async with app[SERVICES].db() as db:
        row = Recording(
            classroom_id=classroom_id,
            classroom_name="Physics",
            number=1,
            name="Physics 1",
            state="ready",
            started_by_id=users["teacher"],
            file_name="tiny.mp4",
        )
        db.add(row)
        await db.commit()
        return row.id


@pytest.mark.parametrize(
    "name", ["Physics\x7f 1", "Physics\r\nSet-Cookie: x=1", "Tab\there", "Bell\x07", "Line\u2028break"]
)
async def test_control_characters_in_names_are_refused(
    recording: int, client_as: ClientFactory, name: str
) -> None:
    await name_refused_everywhere(await client_as("teacher"), recording, name)


@pytest.mark.parametrize(
    "name",
    [
        "\u200b\u200b",
        "\u200d \u200d",
        "\u2060",
        "\ufeff\u200c",
        "\u202e",
        "Report \u202eeliF.exe",
        "a\u2066b\u2069",
    ],
)
async def test_invisible_names_and_bidi_controls_are_refused(
    recording: int, client_as: ClientFactory, name: str
) -> None:
    await name_refused_everywhere(await client_as("teacher"), recording, name)


async def name_refused_everywhere(teacher: ClientSession, recording: int, name: str) -> None:
    """``name`` is refused, naming the field, as a recording's new name and as a new classroom's, and
    nothing changes."""
    status, code, message = await error_of(
        await teacher.patch(f"/api/recordings/{recording}", json={"name": name})
    )
    assert (status, code) == (400, "invalid")
    assert message.startswith("name")
    refused = await teacher.post("/api/classrooms", json={"name": name})
    assert (refused.status, (await refused.json())["error"]["code"]) == (400, "invalid")
    assert list((await refused.json())["error"]["fields"]) == ["name"]
    kept = (await (await teacher.get(f"/api/recordings/{recording}")).json())["recording"]
    assert kept["name"] == "Physics 1"
    assert (await (await teacher.get("/api/classrooms")).json())["classrooms"][0]["name"] == "Physics"


async def test_a_bidi_override_is_named_in_the_refusal(recording: int, client_as: ClientFactory) -> None:
    teacher = await client_as("teacher")
    response = await teacher.patch(f"/api/recordings/{recording}", json={"name": "Report \u202eeliF.exe"})
    status, code, message = await error_of(response)
    assert (status, code) == (400, "invalid")
    assert message.startswith("name")
    assert "U+202E" in message
    # Invisible characters next to visible ones are not a problem on their own.
    renamed = await teacher.patch(f"/api/recordings/{recording}", json={"name": "Physics\u200d 2"})
    assert renamed.status == 200


def test_check_message_keeps_line_breaks_and_refuses_controls() -> None:
    assert check_message("  hi  ", "text", 100) == "hi"
    assert check_message("a\r\nb", "text", 100) == "a\nb"
    assert check_message("a\rb\n\tc", "text", 100) == "a\nb\n\tc"
    assert check_message("\n  line one\n\nline  two \r\n", "text", 100) == "line one\n\nline  two"
    assert check_message("é 📚", "text", 3) == "é 📚"
    for bad, found in (("a\x00b", "U+0000"), ("\u202e", "U+202E"), ("a\x1bb", "U+001B"), ("\x7f", "U+007F")):
        with pytest.raises(Invalid) as refused:
            check_message(bad, "text", 100)
        assert refused.value.message.startswith("text")
        assert found in refused.value.message
    for empty in ("", "  \r\n\t ", "\u200b\u200b"):
        with pytest.raises(Invalid, match=r"^A message cannot be empty\.$"):
            check_message(empty, "text", 100)
    with pytest.raises(Invalid, match=r"^A message can be at most 3 characters\.$"):
        check_message("abcd", "text", 3)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/classrooms/%C2%B2"),  # superscript two
        ("GET", "/api/classrooms/%E2%91%A0"),  # circled one
        ("GET", "/api/classrooms/%D9%A1"),  # Arabic-Indic one: int() reads it as 1
        ("GET", "/api/classrooms/%EF%BC%91"),  # fullwidth one
        ("GET", "/api/classrooms/1%20"),
        ("GET", "/api/classrooms/+1"),
        ("GET", "/api/classrooms/1_0"),
        ("GET", "/api/classrooms/" + "1" * 13),
        ("GET", "/api/recordings/%C2%B9"),  # superscript one
        ("GET", "/api/recordings/%D9%A1/media"),
        ("PATCH", "/api/classrooms/%D9%A1"),
        ("DELETE", "/api/users/\u00b2"),
    ],
)
async def test_a_path_id_that_is_not_ascii_digits_is_a_400(
    recording: int, client_as: ClientFactory, method: str, path: str
) -> None:
    admin = await client_as("admin")
    # Classroom 1 and recording 1 exist: a look-alike of "1" must not reach them.
    assert (await admin.get("/api/classrooms/1")).status == 200
    response = await admin.request(method, path, json={"name": "Renamed"} if method == "PATCH" else None)
    status, code, message = await error_of(response)
    assert (status, code) == (400, "invalid")
    assert message.startswith("id")
    assert (await (await admin.get("/api/classrooms/1")).json())["classroom"]["name"] == "Physics"


# RFC 6266 with RFC 5987's ext-value: a quoted ASCII fallback (no quote or backslash inside), then the name.
DISPOSITION = re.compile(
    r"(?P<type>attachment|inline); filename=\"(?P<fallback>[\x20\x21\x23-\x5b\x5d-\x7e]*)\"; "
    r"filename\*=UTF-8''(?P<name>(?:[A-Za-z0-9!#$&+.^_`|~-]|%[0-9A-F]{2})+)"
)


def parse_disposition(header: str) -> tuple[str, str, str]:
    """(type, fallback, file name), the way a recipient following RFC 6266 reads it (``filename*`` wins)."""
    match = DISPOSITION.fullmatch(header)
    assert match is not None, header
    return match["type"], match["fallback"], unquote(match["name"], errors="strict")


async def download(client: ClientSession, recording: int, query: str) -> tuple[int, str, bytes]:
    response = await client.get(f"/api/recordings/{recording}/media{query}")
    return response.status, response.headers.get("Content-Disposition", ""), await response.read()


async def test_any_recording_name_downloads_with_a_parseable_header(
    app: web.Application, recording: int, client_as: ClientFactory
) -> None:
    name = 'Ph\x7fysics "3B" é 🎉'
    # Stored as it came before names were checked: the header must be safe whatever the name.
    async with app[SERVICES].db() as db:
        row = await db.get(Recording, recording)
        assert row is not None
        row.name = name
        await db.commit()
    teacher = await client_as("teacher")
    for query, disposition in (("?download=1", "attachment"), ("", "inline")):
        status, header, body = await download(teacher, recording, query)
        assert status == 200
        assert body[4:8] == b"ftyp"
        assert header.isascii()
        assert header.isprintable()
        assert parse_disposition(header) == (disposition, "Ph ysics 3B e.mp4", "Ph ysics 3B é 🎉.mp4")
    with av.open(str(app[SERVICES].storage.recordings / "tiny.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10

    renamed = await teacher.patch(f"/api/recordings/{recording}", json={"name": "Ünïcode — naïve 📚"})
    assert renamed.status == 200
    status, header, _ = await download(teacher, recording, "?download=1")
    assert status == 200
    assert parse_disposition(header) == ("attachment", "Unicode naive.mp4", "Ünïcode — naïve 📚.mp4")


def test_a_stored_name_with_a_bidi_override_cannot_reorder_its_download_file_name() -> None:
    from server.library.files import download_name

    assert download_name("Homework \u202eexe.mp4") == "Homework exe.mp4.mp4"
    assert "\u2066" not in download_name("a\u2066b\u2069c")
