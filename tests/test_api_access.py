"""Who may call which route: every route of the API against every kind of caller, from a real server."""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.api.registry import api
from server.errors import AppError
from server.services import SERVICES
from tests.support import PASSWORD, add_user, held, logged_in

CALLERS = ("anonymous", "student", "outsider_student", "owner_teacher", "other_teacher", "admin")
USERNAMES = {
    "student": "student",
    "outsider_student": "student2",
    "owner_teacher": "teacher",
    "other_teacher": "teacher2",
    "admin": "admin",
}
_serial = itertools.count()


async def fresh_classroom(app: web.Application) -> int:
    """A classroom owned by ``teacher`` with ``student`` enrolled."""
    from server.classrooms import set_members, users_by_name
    from server.db.models import Classroom

    async with app[SERVICES].db() as db:
        owner, student = await users_by_name(db, ["teacher", "student"])
        classroom = Classroom(name=f"Room {next(_serial)}", owner=owner, seat_limit=10, members=[])
        set_members(classroom, [], [student])
        db.add(classroom)
        await db.commit()
        return classroom.id


async def fresh_recording(app: web.Application, state: str = "ready") -> tuple[int, int]:
    """A recording of a fresh classroom (unpublished), with a file and a thumbnail on disk."""
    from server.db.models import Classroom, Recording

    classroom_id = await fresh_classroom(app)
    storage = app[SERVICES].storage.recordings
    number = next(_serial)
    async with app[SERVICES].db() as db:
        recording = Recording(
            classroom_id=classroom_id,
            classroom_name="Room",
            number=1,
            name=f"Room {number}",
            state=state,
            started_by_id=(await db.get(Classroom, classroom_id)).owner_id,  # type: ignore[union-attr]
            file_name=f"table-{number}.mp4",
            covers=held(classroom_id, "Room", state),
        )
        db.add(recording)
        await db.commit()
    (storage / f"table-{number}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (storage / f"table-{number}.jpg").write_bytes(b"\xff\xd8\xff")
    return classroom_id, recording.id


async def fresh_user(app: web.Application) -> int:
    return await add_user(app, f"victim{next(_serial)}", "student")


Target = Callable[[web.Application, str], Awaitable[tuple[str, Any]]]


def fixed(path: str, body: Any = None) -> Target:
    async def target(app: web.Application, caller: str) -> tuple[str, Any]:
        return path, body

    return target


def on_classroom(suffix: str = "", body: Any = None) -> Target:
    async def target(app: web.Application, caller: str) -> tuple[str, Any]:
        return f"/api/classrooms/{await fresh_classroom(app)}{suffix}", body

    return target


def on_user(body: Any = None) -> Target:
    async def target(app: web.Application, caller: str) -> tuple[str, Any]:
        return f"/api/users/{await fresh_user(app)}", body

    return target


def on_recording(suffix: str = "", body: Any = None) -> Target:
    async def target(app: web.Application, caller: str) -> tuple[str, Any]:
        _, recording_id = await fresh_recording(app)
        return f"/api/recordings/{recording_id}{suffix}", body

    return target


def on_tracks(suffix: str) -> Target:
    """A route of a fresh (ready) recording made in tracks mode, with one track on disk; ``{track}`` in
    ``suffix`` is its track's id."""

    async def target(app: web.Application, caller: str) -> tuple[str, Any]:
        from server.db.models import Recording, RecordingTrack

        _, recording_id = await fresh_recording(app)
        file_name = f"table-tracks-{recording_id}-1-microphone.webm"
        async with app[SERVICES].db() as db:
            recording = await db.get(Recording, recording_id)
            assert recording is not None
            recording.mode = "tracks"
            track = RecordingTrack(
                recording_id=recording_id, user_id=1, display_name="Tess", source="microphone",
                kind="audio", codec="opus", file_name=file_name,
            )  # fmt: skip
            db.add(track)
            await db.commit()
        (app[SERVICES].storage.recordings / file_name).write_bytes(b"\x1a\x45\xdf\xa3")
        return f"/api/recordings/{recording_id}{suffix.format(track=track.id)}", None

    return target


async def recording_in_progress(app: web.Application, caller: str) -> tuple[str, Any]:
    classroom_id, _ = await fresh_recording(app, state="recording")
    return f"/api/classrooms/{classroom_id}/recording/stop", None


def active_recording_route(action: str, paused: bool = False) -> Target:
    """``/recording/<action>`` of a fresh classroom being recorded (no robot), paused if asked."""

    async def target(app: web.Application, caller: str) -> tuple[str, Any]:
        from datetime import UTC, datetime

        from server.db.models import Recording

        classroom_id, recording_id = await fresh_recording(app, state="recording")
        if paused:
            async with app[SERVICES].db() as db:
                recording = await db.get(Recording, recording_id)
                assert recording is not None
                recording.paused_at = datetime.now(UTC)
                await db.commit()
        return f"/api/classrooms/{classroom_id}/recording/{action}", None

    return target


async def login_target(app: web.Application, caller: str) -> tuple[str, Any]:
    return "/api/auth/login", {"username": USERNAMES.get(caller, "admin"), "password": PASSWORD}


async def new_user_target(app: web.Application, caller: str) -> tuple[str, Any]:
    return "/api/users", {"username": f"new{next(_serial)}", "password": PASSWORD, "role": "student"}


EVERYONE = dict.fromkeys(CALLERS, 200)
USERS_ONLY = {**EVERYONE, "anonymous": 401}
# An unpublished recording: its classroom's moderators and admins; for anyone else it does not exist.
MODERATORS_ONLY = {"anonymous": 401, "student": 404, "outsider_student": 404, "owner_teacher": 200} | {
    "other_teacher": 404,
    "admin": 200,
}
ADMIN_ONLY = dict.fromkeys(CALLERS, 403) | {"anonymous": 401, "admin": 200}

# Pausing, resuming or stopping where nothing is replayed: refused to students, not found for moderators.
NO_REPLAY = MODERATORS_ONLY | {"student": 403, "owner_teacher": 404, "admin": 404}


async def replay_target(app: web.Application, caller: str) -> tuple[str, Any]:
    """A ready recording of a fresh classroom, replayed into that classroom (its file is not a real one:
    the replay starts, then ends by itself)."""
    classroom_id, recording_id = await fresh_recording(app)
    return f"/api/classrooms/{classroom_id}/replay", {"recording_id": recording_id}


def on_running_recording(suffix: str = "", body: Any = None) -> Target:
    async def target(app: web.Application, caller: str) -> tuple[str, Any]:
        _, recording_id = await fresh_recording(app, state="recording")
        return f"/api/recordings/{recording_id}{suffix}", body

    return target


def on_bookmark(body: Any = None) -> Target:
    """A bookmark of a fresh (ready) recording."""

    async def target(app: web.Application, caller: str) -> tuple[str, Any]:
        from server.db.models import Bookmark

        _, recording_id = await fresh_recording(app)
        async with app[SERVICES].db() as db:
            bookmark = Bookmark(recording_id=recording_id, remark="Here", media_ms=0)
            db.add(bookmark)
            await db.commit()
        return f"/api/recordings/{recording_id}/bookmarks/{bookmark.id}", body

    return target


CLASSROOM_MODERATORS = {**USERS_ONLY, "student": 403, "outsider_student": 404, "other_teacher": 404}


async def new_session_target(app: web.Application, caller: str) -> tuple[str, Any]:
    """Two fresh classrooms (``student`` attends both) to start a separate session over."""
    ids = [await fresh_classroom(app), await fresh_classroom(app)]
    return "/api/recording-sessions", {"classroom_ids": ids, "mode": "separate"}


async def session_target(app: web.Application, caller: str) -> tuple[str, Any]:
    """A separate session over two fresh classrooms, its (unpublished) recordings ready."""
    from server.db.models import Classroom, RecordingState, SessionMode, User
    from server.library.recordings import transition
    from server.library.sessions import start_session

    ids = [await fresh_classroom(app), await fresh_classroom(app)]
    async with app[SERVICES].db() as db:
        classrooms = [c for c in [await db.get(Classroom, i) for i in ids] if c is not None]
        owner = await db.get(User, classrooms[0].owner_id)
        assert owner is not None
        session, recordings = await start_session(db, classrooms, owner, "Robot", SessionMode.SEPARATE)
        for recording in recordings:
            transition(recording, RecordingState.FINISHING)
            transition(recording, RecordingState.READY)
        await db.commit()
    return f"/api/recording-sessions/{session.id}", None


# (method, route, how to make the request, expected status per caller)
TABLE: list[tuple[str, str, Target, dict[str, int]]] = [
    ("GET", "/api/health", fixed("/api/health"), EVERYONE),
    ("GET", "/api/openapi.json", fixed("/api/openapi.json"), EVERYONE),
    ("GET", "/metrics", fixed("/metrics"), EVERYONE),
    ("POST", "/api/auth/login", login_target, EVERYONE),
    ("POST", "/api/auth/logout", fixed("/api/auth/logout"), dict.fromkeys(CALLERS, 204)),
    ("GET", "/api/me", fixed("/api/me"), USERS_ONLY),
    ("GET", "/api/me/settings", fixed("/api/me/settings"), USERS_ONLY),
    ("PATCH", "/api/me/settings", fixed("/api/me/settings", {"recording_reminder": True}), USERS_ONLY),
    ("GET", "/api/users", fixed("/api/users"), ADMIN_ONLY),
    (
        "GET",
        "/api/users/directory",
        fixed("/api/users/directory?q=stu&role=student"),
        {**USERS_ONLY, "student": 403, "outsider_student": 403},
    ),
    ("POST", "/api/users", new_user_target, ADMIN_ONLY | {"admin": 201}),
    ("PATCH", "/api/users/{id}", on_user({"display_name": "Renamed"}), ADMIN_ONLY),
    ("DELETE", "/api/users/{id}", on_user(), ADMIN_ONLY | {"admin": 204}),
    ("GET", "/api/recording-modes", fixed("/api/recording-modes"), USERS_ONLY),
    (
        "PUT",
        "/api/recording-modes",
        fixed(
            "/api/recording-modes",
            {"allowed": ["composite", "tracks", "both", "multi_composite", "multi_separate"]},
        ),
        ADMIN_ONLY,
    ),
    ("GET", "/api/classrooms", fixed("/api/classrooms"), USERS_ONLY),
    (
        "POST",
        "/api/classrooms",
        fixed("/api/classrooms", {"name": "Chemistry"}),
        {**USERS_ONLY, "student": 403, "outsider_student": 403, "owner_teacher": 201, "other_teacher": 201}
        | {"admin": 201},
    ),
    (
        "GET",
        "/api/classrooms/{id}",
        on_classroom(),
        {**USERS_ONLY, "outsider_student": 404, "other_teacher": 404},
    ),
    (
        "PATCH",
        "/api/classrooms/{id}",
        on_classroom(body={"name": "Renamed"}),
        {**USERS_ONLY, "student": 403, "outsider_student": 404, "other_teacher": 404},
    ),
    (
        "DELETE",
        "/api/classrooms/{id}",
        on_classroom(),
        {"anonymous": 401, "student": 403, "outsider_student": 404, "owner_teacher": 204}
        | {"other_teacher": 404, "admin": 204},
    ),
    ("GET", "/api/recordings", fixed("/api/recordings"), USERS_ONLY),
    (
        "POST",
        "/api/classrooms/{id}/recording",
        on_classroom("/recording", {}),
        {"anonymous": 401, "student": 403, "outsider_student": 404, "owner_teacher": 201}
        | {"other_teacher": 404, "admin": 201},
    ),
    (
        "POST",
        "/api/classrooms/{id}/recording/stop",
        recording_in_progress,
        {"anonymous": 401, "student": 403, "outsider_student": 404, "owner_teacher": 200}
        | {"other_teacher": 404, "admin": 200},
    ),
    (
        "POST",
        "/api/classrooms/{id}/recording/pause",
        active_recording_route("pause"),
        {"anonymous": 401, "student": 403, "outsider_student": 404, "owner_teacher": 200}
        | {"other_teacher": 404, "admin": 200},
    ),
    (
        "POST",
        "/api/classrooms/{id}/recording/resume",
        active_recording_route("resume", paused=True),
        {"anonymous": 401, "student": 403, "outsider_student": 404, "owner_teacher": 200}
        | {"other_teacher": 404, "admin": 200},
    ),
    (
        "GET",
        "/api/classrooms/{id}/recording",
        on_classroom("/recording"),
        {**USERS_ONLY, "outsider_student": 404, "other_teacher": 404},
    ),
    (
        "POST",
        "/api/recording-sessions",
        new_session_target,
        {"anonymous": 401, "student": 403, "outsider_student": 404, "owner_teacher": 201}
        | {"other_teacher": 404, "admin": 201},
    ),
    ("GET", "/api/recording-sessions/{id}", session_target, MODERATORS_ONLY),
    ("GET", "/api/recordings/{id}", on_recording(), MODERATORS_ONLY),
    ("PATCH", "/api/recordings/{id}", on_recording(body={"name": "Renamed"}), MODERATORS_ONLY),
    (
        "DELETE",
        "/api/recordings/{id}",
        on_recording(),
        MODERATORS_ONLY | {"owner_teacher": 204, "admin": 204},
    ),
    ("GET", "/api/recordings/{id}/media", on_recording("/media"), MODERATORS_ONLY),
    ("GET", "/api/recordings/{id}/thumbnail", on_recording("/thumbnail"), MODERATORS_ONLY),
    ("GET", "/api/recordings/{id}/tracks", on_tracks("/tracks"), MODERATORS_ONLY),
    (
        "GET",
        "/api/recordings/{id}/tracks/{track_id}/media",
        on_tracks("/tracks/{track}/media"),
        MODERATORS_ONLY,
    ),
    ("GET", "/api/recordings/{id}/tracks.zip", on_tracks("/tracks.zip"), MODERATORS_ONLY),
    *(
        ("GET", f"/api/recordings/{{id}}/{export}", on_recording(f"/{export}"), MODERATORS_ONLY)
        for export in ("timeline", "timeline.txt", "chapters", "chapters.vtt", "chat.vtt", "bookmarks")
    ),
    (
        "POST",
        "/api/recordings/{id}/bookmarks",
        on_running_recording("/bookmarks", {"remark": "Look"}),
        MODERATORS_ONLY | {"owner_teacher": 201, "admin": 201},
    ),
    ("PATCH", "/api/recordings/{id}/bookmarks/{bookmark_id}", on_bookmark({"remark": "x"}), MODERATORS_ONLY),
    (
        "DELETE",
        "/api/recordings/{id}/bookmarks/{bookmark_id}",
        on_bookmark(),
        MODERATORS_ONLY | {"owner_teacher": 204, "admin": 204},
    ),
    ("GET", "/api/classrooms/{id}/codes", on_classroom("/codes"), CLASSROOM_MODERATORS),
    ("PUT", "/api/classrooms/{id}/codes", on_classroom("/codes", {"lists": []}), CLASSROOM_MODERATORS),
    (
        "POST",
        "/api/classrooms/{id}/replay",
        replay_target,
        MODERATORS_ONLY | {"student": 403, "owner_teacher": 201, "admin": 201},
    ),
    *(
        ("POST", f"/api/classrooms/{{id}}/replay/{action}", on_classroom(f"/replay/{action}"), NO_REPLAY)
        for action in ("pause", "resume", "stop")
    ),
    (
        "GET",
        "/api/classrooms/{id}/replay",
        on_classroom("/replay"),
        {**USERS_ONLY, "outsider_student": 404, "other_teacher": 404},
    ),
]


def test_the_table_covers_every_route() -> None:
    registered = {(spec.method, spec.path) for spec in api.routes}
    assert registered == {(method, route) for method, route, _, _ in TABLE}


def _http_part_of_the_protocol_document() -> str:
    text = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    return text.split("## socket.io", 1)[0]


def test_the_protocol_document_lists_every_route_and_http_error_code() -> None:
    import server.app  # noqa: F401  every route and error class is defined once the app is importable

    http = _http_part_of_the_protocol_document()
    documented = set(re.findall(r"^\| (GET|POST|PATCH|PUT|DELETE) \| `([^`]+)` \|", http, flags=re.MULTILINE))
    assert documented == {(spec.method, spec.path) for spec in api.routes}

    def subclasses(cls: type[AppError]) -> list[type[AppError]]:
        return [cls, *(sub for child in cls.__subclasses__() for sub in subclasses(child))]

    # Errors of the live classroom (e.g. classroom_full) are the socket section's to document.
    http_errors = [
        c for c in subclasses(AppError) if not c.__module__.startswith(("server.signalling", "server.rooms"))
    ]
    codes = {(c.status, c.code) for c in http_errors} | {(405, "method_not_allowed"), (500, "internal")}
    table = set(re.findall(r"^\| (\d{3}) \| `(\w+)` \|", http, flags=re.MULTILINE))
    assert {(str(status), code) for status, code in codes} <= table


@pytest.mark.parametrize(
    ("method", "route", "target", "expected"), TABLE, ids=[f"{m} {r}" for m, r, _, _ in TABLE]
)
async def test_route_answers_each_caller(
    server: TestServer,
    users: dict[str, int],
    method: str,
    route: str,
    target: Target,
    expected: dict[str, int],
) -> None:
    seen: dict[str, int] = {}
    for caller in CALLERS:
        client = await logged_in(server, USERNAMES.get(caller))
        try:
            path, body = await target(server.app, caller)
            response = await client.request(method, path, json=body)
            seen[caller] = response.status
            if response.status >= 400:
                error = (await response.json())["error"]
                assert error["code"], (caller, error)
                assert error["message"], (caller, error)
        finally:
            await client.close()
    assert seen == expected
