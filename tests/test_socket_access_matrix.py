"""Who may send which socket event: every kind of caller against every event of the handler table.

The expected outcome of each (event, caller) pair is written down in :data:`EXPECTED`; the table must name
exactly the events of ``EVENTS`` (a new event without a row fails) and every caller in each row. The live
test sends each event with a payload its model accepts, from a real socket of each caller in a classroom
that is being recorded (consent mode ``ask``), so what differs between callers is who gets past the rights
checks. ``media_answer`` cannot succeed without a real peer on the other side: callers allowed to send it
get ``conflict`` (no offer with that revision waits), which is past every rights check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.classrooms import get_classroom
from server.config import Config, load_config
from server.db.models import RecordingState, User
from server.library.recordings import create_recording, transition
from server.recorders.tokens import new_grant
from server.services import SERVICES
from server.signalling.namespace_core import COMMON_ERRORS, EVENTS, NAMESPACE, Who
from tests.conftest import ClientFactory, ParticipantFactory
from tests.support import add_user, cookie_header

CALLERS = (
    "admin",
    "owner",
    "other_moderator",
    "other_teacher",
    "enrolled_student",
    "other_student",
    "robot",
    "anonymous",
)
# The account each person caller logs in as (``users`` fixture, plus ``teacher3``).
USERNAMES = {
    "admin": "admin",
    "owner": "teacher",
    "other_moderator": "teacher2",
    "other_teacher": "teacher3",
    "enrolled_student": "student",
    "other_student": "student2",
}
PEOPLE = tuple(USERNAMES)

EXPECTED: dict[str, dict[str, str]] = {
    "join": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_found",
        "enrolled_student": "ok",
        "other_student": "not_found",
        "robot": "ok",
        "anonymous": "unauthorized",
    },
    "leave": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "ok",
        "other_student": "not_joined",
        "robot": "ok",
        "anonymous": "unauthorized",
    },
    "chat": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "ok",
        "other_student": "not_joined",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
    "hand": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "ok",
        "other_student": "not_joined",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
    "mute_request": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "forbidden",
        "other_student": "not_joined",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
    "remove": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "forbidden",
        "other_student": "not_joined",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
    "media_join": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "ok",
        "other_student": "not_joined",
        "robot": "forbidden",  # it asks to publish a microphone
        "anonymous": "unauthorized",
    },
    "media_answer": {
        "admin": "conflict",
        "owner": "conflict",
        "other_moderator": "conflict",
        "other_teacher": "not_joined",
        "enrolled_student": "conflict",
        "other_student": "not_joined",
        "robot": "conflict",
        "anonymous": "unauthorized",
    },
    "media_candidate": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "ok",
        "other_student": "not_joined",
        "robot": "ok",
        "anonymous": "unauthorized",
    },
    "media_screen": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "forbidden",  # students share their screen only when a moderator allows it
        "other_student": "not_joined",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
    "media_state": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "ok",
        "other_student": "not_joined",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
    "media_leave": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "ok",
        "other_student": "not_joined",
        "robot": "ok",
        "anonymous": "unauthorized",
    },
    "recording_consent": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "ok",
        "other_student": "not_joined",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
    "lower_hand": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "forbidden",
        "other_student": "not_joined",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
    "media_permission": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "forbidden",
        "other_student": "not_joined",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
    "media_health": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "not_joined",
        "enrolled_student": "ok",
        "other_student": "not_joined",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
    "watch_classrooms": {
        "admin": "ok",
        "owner": "ok",
        "other_moderator": "ok",
        "other_teacher": "ok",
        "enrolled_student": "ok",
        "other_student": "ok",
        "robot": "forbidden",
        "anonymous": "unauthorized",
    },
}

# Who each ``Who`` lets past the rights checks in this scene (the robot's token names this classroom).
SEATED = frozenset({"admin", "owner", "other_moderator", "enrolled_student", "robot"})
PASSES: dict[Who, frozenset[str]] = {
    Who.CONNECTED: frozenset(PEOPLE),
    Who.SEEING: SEATED,
    Who.JOINED: SEATED,
    Who.PERSON: SEATED - {"robot"},
    Who.PUBLISHER: SEATED - {"robot"},
    Who.MODERATOR: frozenset({"admin", "owner", "other_moderator"}),
}
# The answers of a rights check; a caller who passes them never gets one.
REFUSALS = frozenset({"unauthorized", "forbidden", "not_found", "not_joined"})
# Refused for what the payload asks rather than for who asks it: the robot may take a peer, never publish;
# a student's screen needs a moderator's leave (the classroom's default).
REFUSED_FOR_THE_PAYLOAD = {("media_join", "robot"), ("media_screen", "enrolled_student")}

# The state a caller's socket is brought to before the event is sent: out of the classroom, seated, or
# seated with a server peer (``media_join`` publishing nothing) so the media events reach their peer.
State = Literal["outside", "joined", "media"]
NEEDS: dict[str, State] = {
    "join": "outside",
    "media_answer": "media",
    "media_candidate": "media",
    "media_screen": "media",
}


@dataclass
class Scene:
    classroom_id: int
    # Per caller, an enrolled student sitting in the classroom for that caller to ask to mute and remove.
    pupils: dict[str, int]
    # A student who stays seated throughout, whose media rights every caller tries to change.
    bystander: int


Payload = Callable[[Scene, str], dict[str, Any]]
PAYLOADS: dict[str, Payload] = {
    "join": lambda scene, caller: {"classroom_id": scene.classroom_id},
    "leave": lambda scene, caller: {},
    "chat": lambda scene, caller: {"text": f"hello from {caller}"},
    "hand": lambda scene, caller: {"raised": True},
    "mute_request": lambda scene, caller: {"user_id": scene.pupils[caller], "kind": "video"},
    "remove": lambda scene, caller: {"user_id": scene.pupils[caller]},
    "media_join": lambda scene, caller: {"publish": ["microphone"]},
    # No offer ever has this revision: whoever gets past the rights checks hears ``conflict``.
    "media_answer": lambda scene, caller: {"revision": 1_000_000, "sdp": "v=0\r\n"},
    "media_candidate": lambda scene, caller: {
        "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    },
    "media_screen": lambda scene, caller: {},
    "media_state": lambda scene, caller: {"audio_muted": True},
    "media_leave": lambda scene, caller: {},
    "recording_consent": lambda scene, caller: {"accepted": True},
    "lower_hand": lambda scene, caller: {"user_id": None},
    "media_permission": lambda scene, caller: {
        "user_id": scene.bystander,
        "source": "camera",
        "allowed": False,
    },
    "media_health": lambda scene, caller: {"state": "connected"},
    "watch_classrooms": lambda scene, caller: {},
}


def test_the_table_has_a_row_for_every_event_and_a_cell_for_every_caller() -> None:
    assert set(EXPECTED) == set(EVENTS)
    assert set(PAYLOADS) == set(EVENTS)
    for name, row in EXPECTED.items():
        assert set(row) == set(CALLERS), name


def test_every_expected_error_is_one_the_event_declares() -> None:
    for name, row in EXPECTED.items():
        declared = {"ok", "unauthorized", *EVENTS[name].errors, *COMMON_ERRORS}
        assert set(row.values()) <= declared, (name, set(row.values()) - declared)


def test_the_table_agrees_with_who_each_event_admits() -> None:
    for name, row in EXPECTED.items():
        passing = PASSES[EVENTS[name].who]
        for caller, outcome in row.items():
            refused = outcome in REFUSALS
            admitted = caller in passing and (name, caller) not in REFUSED_FOR_THE_PAYLOAD
            assert refused != admitted, (name, caller, outcome, EVENTS[name].who)


@dataclass
class Caller:
    """One socket of one caller, and where it stands: out of the classroom, seated, with a peer."""

    name: str
    sio: socketio.AsyncClient
    refused: str | None = None
    joined: bool = False
    media: bool = False

    async def call(self, event: str, data: dict[str, Any]) -> Any:
        return await self.sio.call(event, data, namespace=NAMESPACE, timeout=10)

    async def reach(self, state: State, classroom_id: int) -> None:
        if state == "outside" and self.joined:
            self.settle("leave", await self.call("leave", {}))
        if state in ("joined", "media") and not self.joined:
            self.settle("join", await self.call("join", {"classroom_id": classroom_id}))
        if state == "media" and self.joined and not self.media:
            self.settle("media_join", await self.call("media_join", {"publish": []}))

    def settle(self, event: str, ack: Any) -> str:
        """The outcome of an ack, and where the socket stands after it."""
        if isinstance(ack, dict) and ack.get("ok") is True:
            if event == "join":
                self.joined, self.media = True, False
            elif event == "leave":
                self.joined, self.media = False, False
            elif event == "media_join":
                self.media = True
            elif event == "media_leave":
                self.media = False
            return "ok"
        assert isinstance(ack, dict), (self.name, event, ack)
        assert set(ack) == {"error"}, (self.name, event, ack)
        assert set(ack["error"]) >= {"code", "message"}, ack
        return str(ack["error"]["code"])


async def connect(url: str, name: str, *, cookie: str | None = None, token: str | None = None) -> Caller:
    sio = socketio.AsyncClient(reconnection=False)
    caller = Caller(name, sio)

    async def refused(data: Any = None) -> None:
        caller.refused = data.get("message") if isinstance(data, dict) else str(data)

    sio.on("connect_error", refused, namespace=NAMESPACE)
    try:
        await sio.connect(
            url,
            namespaces=[NAMESPACE],
            headers={"Cookie": cookie} if cookie else {},
            auth={"robot_token": token} if token else None,
            transports=["websocket"],
            wait_timeout=5,
        )
    except socketio.exceptions.ConnectionError:
        assert caller.refused is not None, f"{name}: refused without a reason"
    return caller


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Consent mode ``ask``, so a consent answer is a right to check and not refused for everyone."""
    return load_config(
        environ={},
        overrides={
            "data_dir": str(tmp_path / "data"),
            "log_format": "text",
            "warm_robots": 0,
            "consent": "ask",
        },
    )


async def recording_robot_token(app: web.Application, classroom_id: int, starter_id: int) -> str:
    """A recording in ``recording`` state with a robot secret, as the supervisor leaves it; no process."""
    svc = app[SERVICES]
    async with svc.db() as db:
        classroom = await get_classroom(db, classroom_id)
        starter = await db.get(User, starter_id)
        assert starter is not None
        recording = await create_recording(db, classroom, starter, "Session Recorder Robot")
        grant = new_grant(recording.id, classroom_id)
        recording.robot_secret = grant.secret
        transition(recording, RecordingState.RECORDING)
        await db.commit()
        return svc.tokens.issue(grant)


async def test_every_caller_against_every_event(
    server: TestServer,
    app: web.Application,
    users: dict[str, int],
    client_as: ClientFactory,
    participant: ParticipantFactory,
) -> None:
    users["teacher3"] = await add_user(app, "teacher3", "teacher", "Tom Teacher")
    pupil_names = {who: f"pupil{n}" for n, who in enumerate(CALLERS) if who != "anonymous"}
    for name in (*pupil_names.values(), "bystander"):
        await add_user(app, name, "student")
    sessions = {who: await client_as(username) for who, username in USERNAMES.items()}
    response = await sessions["owner"].post(
        "/api/classrooms",
        json={
            "name": "Matrix",
            "moderators": ["teacher2"],
            "students": ["student", "bystander", *pupil_names.values()],
        },
    )
    assert response.status == 201, await response.text()
    classroom_id = (await response.json())["classroom"]["id"]
    token = await recording_robot_token(app, classroom_id, users["teacher"])

    pupils: dict[str, int] = {}
    for who, name in {**pupil_names, "bystander": "bystander"}.items():
        pupil = await participant(await client_as(name))
        joined = await pupil.call("join", {"classroom_id": classroom_id})
        assert joined["ok"] is True, joined
        pupils[who] = joined["self"]["user_id"]
    scene = Scene(classroom_id, pupils, pupils.pop("bystander"))

    url = str(server.make_url("")).rstrip("/")
    credentials: dict[str, dict[str, str]] = {who: {"cookie": cookie_header(sessions[who])} for who in PEOPLE}
    credentials |= {"robot": {"token": token}, "anonymous": {}}
    answers: dict[str, dict[str, str]] = {name: {} for name in EVENTS}
    for who in CALLERS:
        caller = await connect(url, who, **credentials[who])  # a fresh socket: its own rate limits
        for name in EVENTS:
            if caller.refused is not None:  # the connection itself was refused: no event reaches the server
                answers[name][who] = caller.refused
                continue
            await caller.reach(NEEDS.get(name, "joined"), classroom_id)
            payload = PAYLOADS[name](scene, who)
            EVENTS[name].payload.model_validate(payload)  # the payload is a valid one
            answers[name][who] = caller.settle(name, await caller.call(name, payload))
        await caller.sio.disconnect()

    wrong = {
        (name, caller): (answers[name].get(caller), expected)
        for name, row in EXPECTED.items()
        for caller, expected in row.items()
        if answers[name].get(caller) != expected
    }
    assert not wrong, "\n".join(
        f"{name} by {caller}: got {got}, expected {expected}"
        for (name, caller), (got, expected) in sorted(wrong.items())
    )
