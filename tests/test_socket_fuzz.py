"""Hostile payloads for every socket event, drawn from the typed models, against a real server.

Only the sender of a bad payload hears about it: it gets an ack ``{"ok": true, ...}`` (valid for one of the
event's ack models) or ``{"error": {"code", "message"}}`` with a code the event declares, never
``internal``, and the same error as an ``error`` event; the server, the other participants and a running
recording keep going (the robot logs no error, and Stop gives a ready file that plays).

How the examples run: Hypothesis's ``@given`` calls its test synchronously, once per example, and an event
loop that is running cannot be entered again from inside. So the server, its sockets and the aiortc peers
live on an event loop of their own in a background thread (:class:`LoopThread`), which keeps running
between examples (media keeps flowing while Hypothesis draws). Each fuzz test is a plain function: it builds
its scene on that loop, calls an inner ``@given`` function whose every example is submitted with
``asyncio.run_coroutine_threadsafe``, then checks that everyone else is still there. (pytest-asyncio's own
support for ``@given`` on async tests would re-run the loop per example and stop it in between.) The
regressions found this way are plain tests at the end.

Payloads come from each event's pydantic model (``model_json_schema``): (a) values of the schema's types
and bounds, joined by hints for fields whose meaning the schema cannot carry (the classroom's id, the ids
of the people present, the pending offer's revision, answers made by editing the server's own offer, ICE
candidate lines); (b) the same field names with hostile values (huge strings, lone surrogates, deep
nesting, NaN, huge and negative ints, bools for ints, lists, null, unknown fields); (c) arbitrary JSON.
"""

from __future__ import annotations

import asyncio
import json
import math
import string
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import av
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, assume, example, find, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from recorder_bot.client import ClassroomClient
from server.app import create_app
from server.classrooms import get_classroom
from server.config import Config, load_config
from server.db.models import RecordingState
from server.library.recordings import create_recording, transition
from server.services import SERVICES
from server.signalling.namespace_core import COMMON_ERRORS, EVENTS, NAMESPACE
from server.signalling.protocol import (
    ActiveSpeaker,
    LeaveReason,
    Message,
    ParticipantLeft,
    Removed,
    RemovedReason,
    ServerEvent,
)
from tests.conftest import ClientFactory, ParticipantFactory
from tests.media_support import Classroom, Counter, wait_for
from tests.support import Participant, add_user, logged_in
from tests.synthetic_media import SyntheticAudioTrack, SyntheticVideoTrack

pytestmark = pytest.mark.usefixtures("private_namespace")

T = TypeVar("T")
# High enough that most examples reach their handler instead of ``rate_limited``.
FUZZ_LIMITS = {
    "socket_events_per_10s": 100_000,
    "socket_broadcasts_per_10s": 100_000,
    "chat_rate_per_minute": 10_000,
}
# A frame over ``max_socket_message_bytes`` (512 KiB) closes the connection before any handler sees it
# (its own test below); payloads stay under it so that each one reaches the namespace whole.
MAX_FRAME = 500_000
EXAMPLES_IN_CLASS = 1500
EXAMPLES_WHILE_RECORDING = 600


# -- references into the live scene, resolved when an example is sent ----------------------------------


@dataclass(frozen=True)
class Ref:
    """The classroom's id, the pending offer's revision, or the id of the ``index``-th person present."""

    name: Literal["classroom", "revision", "participant"]
    index: int = 0


@dataclass(frozen=True)
class Edit:
    """One change to an SDP line (the ``nth`` one starting with ``where``): drop, copy, replace, or
    overwrite part of it with ``text`` from ``at``."""

    where: str
    nth: int
    kind: Literal["drop", "copy", "replace", "splice"]
    text: str
    at: int = 0

    def apply(self, lines: list[str]) -> None:
        matching = [n for n, line in enumerate(lines) if line.startswith(self.where)]
        if not matching:
            return
        n = matching[self.nth % len(matching)]
        if self.kind == "drop":
            del lines[n]
        elif self.kind == "copy":
            lines.insert(n, lines[n])
        elif self.kind == "replace":
            lines[n] = self.text
        else:
            at = self.at % (len(lines[n]) + 1)
            lines[n] = lines[n][:at] + self.text + lines[n][at + len(self.text) :]


@dataclass(frozen=True)
class AnswerFromOffer:
    """An answer made from the server's pending offer: its ``a=setup`` set to ``setup``, then edited."""

    setup: str
    edits: tuple[Edit, ...]

    def make(self, offer: str) -> str:
        lines = offer.replace("a=setup:actpass", f"a=setup:{self.setup}").split("\r\n")
        for edit in self.edits:
            edit.apply(lines)
        return "\r\n".join(lines)


# -- strategies -------------------------------------------------------------------------------------------

SDP_TOKENS = st.sampled_from(
    ["x", "", " ", "0", "-1", "99999999999", "a=", "m=audio", "\r\n", "=", ":", "/", "IN IP6 ::1", "\x00"]
)
SDP_LINES = [
    "",
    "v=",
    "o=",
    "s=",
    "t=",
    "c=",
    "m=",
    "a=group",
    "a=mid",
    "a=msid",
    "a=rtpmap",
    "a=fmtp",
    "a=rtcp",
]
SDP_LINES += ["a=ssrc", "a=extmap", "a=candidate", "a=ice-", "a=fingerprint", "a=setup", "a=recvonly"]
SDP_EDITS = st.builds(
    Edit,
    where=st.sampled_from(SDP_LINES),
    nth=st.integers(0, 8),
    kind=st.sampled_from(["drop", "copy", "replace", "splice"]),
    text=SDP_TOKENS | st.text(max_size=12),
    at=st.integers(0, 200),
)
ANSWERS = st.builds(
    AnswerFromOffer,
    setup=st.sampled_from(["active", "passive", "actpass", "holdconn", ""]),
    edits=st.lists(SDP_EDITS, max_size=4).map(tuple),
)
CANDIDATES = st.builds(
    "{}{} {} {} {} {} {} typ {}{}".format,
    st.sampled_from(["candidate:", ""]),
    st.text(string.ascii_letters + string.digits + "+/", max_size=33),
    st.sampled_from(["1", "2", "0", "256", "-1", "x"]),
    st.sampled_from(["udp", "UDP", "tcp", "sctp", ""]),
    st.integers(-1, 1 << 33).map(str) | st.sampled_from(["x", ""]),
    st.ip_addresses().map(str) | st.sampled_from(["0.0.0.0", "999.1.1.1", "host.invalid", "fe80::1%lo", ""]),  # noqa: S104
    st.integers(-1, 70_000).map(str) | st.just("x"),
    st.sampled_from(["host", "srflx", "prflx", "relay", "bogus", ""]),
    st.sampled_from(["", " raddr 0.0.0.0 rport 0", " generation 0", " tcptype active", " raddr", " rport"]),
)
# Hints for fields whose meaning the schema cannot say, tried alongside the schema's own values.
HINTS: dict[str, st.SearchStrategy[Any]] = {
    "classroom_id": st.just(Ref("classroom")),
    "user_id": st.integers(0, 5).map(lambda n: Ref("participant", n)),
    "revision": st.just(Ref("revision")),
    "sdp": ANSWERS,
    "candidate": CANDIDATES,
    "sdpMid": st.sampled_from(["0", "1", "2", "3", ""]),
}


def from_schema(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of one JSON schema, with its bounds and a step past each of them."""
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return st.one_of([from_schema(option, defs) for option in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -(1 << 63)))
        high = schema.get("maximum", schema.get("exclusiveMaximum", 1 << 63))
        return st.integers(low, high) | st.sampled_from([low - 1, low, low + 1, high - 1, high, high + 1])
    if kind == "string":
        most = schema.get("maxLength", 1 << 20)
        at_the_limit = (
            st.sampled_from([most, most + 1]).filter(lambda n: n < MAX_FRAME).map(lambda n: "x" * n)
        )
        return st.text(max_size=min(most, 40)) | at_the_limit
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        most = schema.get("maxItems", 8)
        return st.lists(from_schema(schema["items"], defs), max_size=most + 1)
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fields = {name: field_values(name, sub, defs) for name, sub in properties.items()}
        return st.fixed_dictionaries(
            {name: fields[name] for name in properties if name in required},
            optional={name: fields[name] for name in properties if name not in required},
        )
    raise ValueError(f"no strategy for the schema {schema!r}")  # a new construct must get one


def field_values(name: str, schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    values = from_schema(schema, defs)
    hint = HINTS.get(name)
    return values if hint is None else values | hint


def model_payloads(model: type[Message]) -> st.SearchStrategy[Any]:
    """(a) Payloads built from the model's fields."""
    schema = model.model_json_schema()
    return from_schema(schema, schema.get("$defs", {}))


def scene_payloads(model: type[Message]) -> st.SearchStrategy[Any] | None:
    """(a) again, with every hinted field taken from its hint: what reaches a handler's deepest path (an
    answer to the pending offer, a candidate for its m-lines, a participant who is there)."""
    schema = model.model_json_schema()
    defs, properties = schema.get("$defs", {}), schema.get("properties", {})
    required = set(schema.get("required", ()))
    hinted = {name: HINTS[name] for name in properties if name in HINTS}
    if not hinted:
        return None
    rest = {name: from_schema(sub, defs) for name, sub in properties.items() if name not in hinted}
    return st.fixed_dictionaries(
        hinted | {name: values for name, values in rest.items() if name in required},
        optional={name: values for name, values in rest.items() if name not in required},
    )


def nested(depth: int, kind: str) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def huge(char: str, chars: int) -> str:
    # As many as fit in a frame once JSON-escaped (a non-ASCII character costs six or twelve bytes).
    return char * min(chars, MAX_FRAME // len(json.dumps(char)) - 64)


HOSTILE: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, 0.5]),
    st.sampled_from([0, -1, 1 << 53, (1 << 53) + 1, 1 << 63, -(1 << 63) - 1, 1 << 64, -(10**30)]),
    st.integers(),
    st.builds(
        huge, st.sampled_from(["x", "é", "\x00", "😀", "\ud800"]), st.sampled_from([1025, 100_001, 400_000])
    ),
    st.text(alphabet=st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp", "Co"]), min_size=1, max_size=8),
    st.builds(nested, st.integers(2, 300), st.sampled_from(["list", "dict"])),
    st.lists(st.integers() | st.text(max_size=4) | st.none(), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers() | st.none(), max_size=3),
)
UNKNOWN_FIELDS = st.sampled_from(["__proto__", "constructor", "", "x" * 200, "classroom_id", "ok", "error"])


def hostile_payloads(model: type[Message]) -> st.SearchStrategy[Any]:
    """(b) The model's field names (and a few unknown ones) with wrong-typed or hostile values."""
    names = list(model.model_fields)
    if not names:
        return st.dictionaries(UNKNOWN_FIELDS, HOSTILE, min_size=1, max_size=2)
    every = st.fixed_dictionaries({}, optional=dict.fromkeys(names, HOSTILE))
    one_spoiled = st.tuples(model_payloads(model), st.sampled_from(names), HOSTILE).map(
        lambda parts: {**parts[0], parts[1]: parts[2]}
    )
    unknown = st.tuples(model_payloads(model), UNKNOWN_FIELDS, HOSTILE).map(
        lambda parts: {**parts[0], parts[1]: parts[2]}
    )
    return st.one_of(every, one_spoiled, unknown)


# (c) Any JSON at all, NaN and infinities included (Python's json writes and reads them).
ARBITRARY_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)


def payloads_for(name: str) -> st.SearchStrategy[Any]:
    model = EVENTS[name].payload
    scene = scene_payloads(model)
    return st.one_of(
        model_payloads(model),
        *([scene] if scene is not None else []),
        hostile_payloads(model),
        ARBITRARY_JSON,
    )


# The events whose payloads are parsed furthest (SDP, ICE, chat text) get more of the examples.
WEIGHTS = {"media_answer": 4, "media_candidate": 3, "media_join": 2, "chat": 2}
SENDS: st.SearchStrategy[tuple[str, Any]] = st.sampled_from(
    [name for name in sorted(EVENTS) for _ in range(WEIGHTS.get(name, 1))]
).flatmap(lambda name: st.tuples(st.just(name), payloads_for(name)))


def test_the_model_strategies_reach_every_handler_with_a_valid_payload() -> None:
    """Strategy (a) draws payloads the model accepts, for every event (else it only fuzzes the parser)."""
    for name, spec in EVENTS.items():

        def valid(payload: Any, model: type[Message] = spec.payload) -> bool:
            return accepts(model, resolve_offline(payload))

        found = find(model_payloads(spec.payload), valid, settings=settings(database=None, max_examples=200))
        assert valid(found), name


def accepts(model: type[Message], payload: Any) -> bool:
    try:
        model.model_validate({} if payload is None else payload)
    except ValidationError:
        return False
    return True


def resolve_offline(value: Any) -> Any:
    """References as a scene would fill them in: ids 1, revision 1, an answer from an empty offer."""
    return resolve(value, lambda ref: 1, "v=0\r\n")


def resolve(value: Any, ref: Callable[[Ref], int], offer: str) -> Any:
    if isinstance(value, Ref):
        return ref(value)
    if isinstance(value, AnswerFromOffer):
        return value.make(offer)
    if isinstance(value, dict):
        return {key: resolve(item, ref, offer) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, ref, offer) for item in value]
    return value


# -- the scene ----------------------------------------------------------------------------------------------


class LoopThread:
    """An event loop in a thread of its own: the server and its clients live there, Hypothesis here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="server-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_the_rest() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


def fuzz_config(tmp_path: Path, **overrides: Any) -> Config:
    return load_config(
        environ={},
        overrides={"data_dir": str(tmp_path / "data"), "log_format": "text", **FUZZ_LIMITS, **overrides},
    )


@dataclass
class Arena:
    """A classroom on a live server where one socket, the fuzzer, sends whatever Hypothesis draws."""

    server: TestServer
    classroom_id: int
    fuzzer: Participant
    # Who is present, the fuzzer first (``Ref("participant", n)`` is the n-th, modulo).
    roster: list[int]
    # People the fuzzer could legitimately remove; removing them would end the scene, not test it.
    bystanders: set[int]
    stack: AsyncExitStack
    offer: dict[str, Any] | None = None

    def ref(self, ref: Ref) -> int:
        if ref.name == "classroom":
            return self.classroom_id
        if ref.name == "revision":
            return int(self.offer["revision"]) if self.offer else 0
        return self.roster[ref.index % len(self.roster)]

    def payload(self, drawn: Any) -> Any:
        return resolve(drawn, self.ref, str(self.offer["sdp"]) if self.offer else "")

    async def send(self, name: str, payload: Any) -> None:
        """Send one example and check what comes back to the fuzzer, and only to it."""
        ack = await self.fuzzer.sio.call(name, payload, namespace=NAMESPACE, timeout=10)
        assert self.fuzzer.sio.connected, f"{name} {payload!r:.200} cut the sender off"
        spec = EVENTS[name]
        assert isinstance(ack, dict), (name, ack)
        if ack.get("ok") is True:
            wire = json.dumps(ack)
            assert any(accepts_json(model, wire) for model in spec.acks), (name, ack)
        else:
            told = await self.fuzzer.next("error")  # taken first: a failed check leaves no stale event
            assert set(ack) == {"error"}, (name, ack)
            code, message = ack["error"].get("code"), ack["error"].get("message")
            assert told == {"code": code, "message": message, "event": name}, (told, ack)
            assert code != "internal", f"{name} {payload!r:.300} → {message}"
            assert code in (*spec.errors, *COMMON_ERRORS), (name, code, message)
            assert isinstance(message, str), ack
            assert message, ack
        await self.settle(name, ack)

    async def settle(self, name: str, ack: dict[str, Any]) -> None:
        """Keep the fuzzer seated with an offer waiting for its answer, so the next example goes deep."""
        ok = ack.get("ok") is True
        if name in ("join", "leave"):
            seated = await self.fuzzer.call("join", {"classroom_id": self.classroom_id})
            assert seated.get("ok") is True, seated
        if name in ("join", "leave") or (ok and name in ("media_leave", "media_answer")):
            ack = await self.fuzzer.call("media_join", {"publish": []})
            assert ack.get("ok") is True, ack
            name, ok = "media_join", True
        if ok and name == "media_join":
            self.offer = ack["offer"]
        while self.fuzzer.pending("media_offer"):
            self.offer = await self.fuzzer.next("media_offer")

    async def close(self) -> None:
        await self.stack.aclose()


def accepts_json(model: type[Message], wire: str) -> bool:
    try:
        model.model_validate_json(wire)
    except ValidationError:
        return False
    return True


async def open_server(config: Config, stack: AsyncExitStack) -> TestServer:
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    stack.push_async_callback(server.close)
    server.app[SERVICES].recorders.server_url = str(server.make_url("")).rstrip("/")
    return server


async def session(server: TestServer, stack: AsyncExitStack, username: str) -> ClientSession:
    client = await logged_in(server, username)
    stack.push_async_callback(client.close)
    return client


async def seated(
    server: TestServer, stack: AsyncExitStack, http: ClientSession, classroom_id: int
) -> tuple[Participant, int]:
    """A socket of ``http``'s user, joined; and that user's id."""
    person = Participant(server, http)
    await person.connect()
    stack.push_async_callback(person.close)
    joined = await person.call("join", {"classroom_id": classroom_id})
    assert joined["ok"] is True, joined
    return person, int(joined["self"]["user_id"])


async def new_classroom(http: ClientSession, students: list[str]) -> int:
    response = await http.post("/api/classrooms", json={"name": "Physics", "students": students})
    assert response.status == 201, await response.text()
    return int((await response.json())["classroom"]["id"])


def fuzz(loop: LoopThread, arena: Arena, examples: int) -> None:
    """Send ``examples`` drawn events from the arena's fuzzer, each checked as it comes back."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(sent=SENDS)
    def one(sent: tuple[str, Any]) -> None:
        name, drawn = sent
        payload = arena.payload(drawn)
        assume(len(json.dumps(payload)) < MAX_FRAME)
        target = payload.get("user_id") if isinstance(payload, dict) else None
        assume(not (name == "remove" and isinstance(target, int) and target in arena.bystanders))
        loop.run(arena.send(name, payload), timeout=30)

    for name in EVENTS:  # every event at least once, whatever the draw: bare, as ``socket.emit(name)``
        one = example(sent=(name, None))(one)
    one()


# -- a class in session -----------------------------------------------------------------------------------


@dataclass
class InClass:
    arena: Arena
    listener: Participant
    chatter: Participant
    listener_http: ClientSession


async def open_class(config: Config) -> InClass:
    """The teacher's socket fuzzes (a moderator reaches every handler); two students sit in.

    The classroom counts as recording (a row in ``recording`` with no robot), so consent answers are
    stored and forwarded like in a real recording.
    """
    stack = AsyncExitStack()
    server = await open_server(config, stack)
    for username, role in (("teacher", "teacher"), ("student", "student"), ("student2", "student")):
        await add_user(server.app, username, role)
    http = {name: await session(server, stack, name) for name in ("teacher", "student", "student2")}
    classroom_id = await new_classroom(http["teacher"], ["student", "student2"])
    async with server.app[SERVICES].db() as db:
        classroom = await get_classroom(db, classroom_id)
        recording = await create_recording(db, classroom, classroom.owner, "Session Recorder Robot")
        transition(recording, RecordingState.RECORDING)
        await db.commit()
    fuzzer, fuzzer_id = await seated(server, stack, http["teacher"], classroom_id)
    listener, listener_id = await seated(server, stack, http["student"], classroom_id)
    chatter, chatter_id = await seated(server, stack, http["student2"], classroom_id)
    arena = Arena(
        server, classroom_id, fuzzer, [fuzzer_id, listener_id, chatter_id], {listener_id, chatter_id}, stack
    )
    await arena.settle("leave", {"ok": True})  # seated again, with an offer waiting
    return InClass(arena, listener, chatter, http["student"])


async def everyone_else_carries_on(scene: InClass) -> None:
    arena = scene.arena
    assert (await arena.fuzzer.call("hand", {"raised": True}))["ok"] is True
    marker = f"still here {time.monotonic()}"
    assert (await scene.chatter.call("chat", {"text": marker}))["ok"] is True
    while (await scene.listener.next("chat"))["message"]["text"] != marker:
        pass
    for person in (scene.listener, scene.chatter):
        assert person.pending("error") == 0, await person.next("error")
        assert person.pending("removed") == 0
    response = await scene.listener_http.get(f"/api/classrooms/{arena.classroom_id}")
    assert response.status == 200, await response.text()
    assert (await response.json())["classroom"]["seats_used"] == 2  # the two students; moderators take none


# The server's thread uses the global ``random`` (aiortc's ids) while Hypothesis draws in this one.
QUIET_RANDOM = pytest.mark.filterwarnings("ignore:Do not use the `random` module")


@QUIET_RANDOM
def test_fuzzed_events_answer_only_their_sender_and_the_class_goes_on(
    loop: LoopThread, tmp_path: Path
) -> None:
    scene = loop.run(open_class(fuzz_config(tmp_path, warm_robots=0, consent="ask")))
    try:
        fuzz(loop, scene.arena, EXAMPLES_IN_CLASS)
        loop.run(everyone_else_carries_on(scene))
    finally:
        loop.run(scene.arena.close())


# -- a recording in progress -------------------------------------------------------------------------------


@dataclass
class Recorded:
    arena: Arena
    teacher: ClassroomClient
    student: ClassroomClient
    counter: Counter
    teacher_http: ClientSession
    teacher_id: int
    recording_id: int


async def open_recorded_class(config: Config) -> Recorded:
    """Teacher and student on aiortc with synthetic media, REC pressed; an admin's socket fuzzes."""
    stack = AsyncExitStack()
    server = await open_server(config, stack)
    ids = {
        name: await add_user(server.app, name, role)
        for name, role in (("teacher", "teacher"), ("student", "student"), ("admin", "admin"))
    }
    http = {name: await session(server, stack, name) for name in ids}
    classroom_id = await new_classroom(http["teacher"], ["student"])
    room = Classroom(server, http, classroom_id)
    stack.push_async_callback(room.close)
    teacher = await room.enter(
        "teacher", {"camera": SyntheticVideoTrack(320, 240, 15), "microphone": SyntheticAudioTrack()}
    )
    counter = Counter()
    student = await room.enter("student", {"microphone": SyntheticAudioTrack(660)}, counter)
    await wait_for(lambda: counter.count(ids["teacher"], "camera") > 5, 15)
    response = await http["teacher"].post(f"/api/classrooms/{classroom_id}/recording", json={})
    assert response.status == 201, await response.text()
    recording_id = int((await response.json())["recording"]["id"])
    while (await teacher.next_event("recording_state", wait=20))["recording"]["state"] != "recording":
        pass
    fuzzer, _ = await seated(server, stack, http["admin"], classroom_id)
    roster = [ids["admin"], ids["teacher"], ids["student"], -recording_id]  # the robot's id is negative
    arena = Arena(server, classroom_id, fuzzer, roster, {ids["student"]}, stack)
    await arena.settle("leave", {"ok": True})
    return Recorded(arena, teacher, student, counter, http["teacher"], ids["teacher"], recording_id)


async def stop_after_checking_it_still_records(scene: Recorded) -> Path:
    """The class and its recording went on through the fuzzing; Stop gives a ready file."""
    arena = scene.arena
    seen = scene.counter.count(scene.teacher_id, "camera")
    await wait_for(lambda: scene.counter.count(scene.teacher_id, "camera") > seen + 10, 10)
    marker = f"still recording {time.monotonic()}"
    await scene.student.call("chat", {"text": marker})
    while (await scene.teacher.next_event("chat"))["message"]["text"] != marker:
        pass
    for client in (scene.teacher, scene.student):
        for kind in ("error", "removed"):
            assert client.events.get(kind, asyncio.Queue()).empty(), kind
    states = scene.teacher.events.get("recording_state", asyncio.Queue())
    while not states.empty():
        assert states.get_nowait()["recording"]["state"] == "recording"
    classroom_path = f"/api/classrooms/{arena.classroom_id}"
    listed = (await (await scene.teacher_http.get(classroom_path)).json())["classroom"]["recording"]
    assert (listed["id"], listed["state"]) == (scene.recording_id, "recording")
    stopped = await scene.teacher_http.post(f"{classroom_path}/recording/stop")
    assert stopped.status == 200, await stopped.text()
    done = (await stopped.json())["recording"]
    assert done["state"] == "ready", done
    return next(arena.server.app[SERVICES].storage.recordings.glob("*.mp4"))


@QUIET_RANDOM
def test_fuzzed_events_leave_a_running_recording_recording(
    loop: LoopThread, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    scene = loop.run(open_recorded_class(fuzz_config(tmp_path)))
    try:
        fuzz(loop, scene.arena, EXAMPLES_WHILE_RECORDING)
        path = loop.run(stop_after_checking_it_still_records(scene))
    finally:
        loop.run(scene.arena.close())
    # The robot's log (its stderr is this process's): it handled every event the fuzzing caused.
    log = capfd.readouterr().err.splitlines()
    robot_errors = ["\n".join(log[n : n + 3]) for n, line in enumerate(log) if " robot ERROR " in line]
    assert not robot_errors, "\n\n".join(robot_errors[:3])
    with av.open(str(path)) as container:
        assert {stream.type for stream in container.streams} >= {"video", "audio"}
        assert container.duration is not None
        assert container.duration > 0
        assert next(container.decode(video=0), None) is not None
    with av.open(str(path)) as container:
        assert next(container.decode(audio=0), None) is not None


# -- regressions the fuzzing found ---------------------------------------------------------------------------


def as_answer(offer: str) -> str:
    return offer.replace("a=setup:actpass", "a=setup:active")


# Answers aiortc refuses with something else than the ValueError, KeyError or IndexError the server expects.
BROKEN_ANSWERS: dict[str, Callable[[str], str]] = {
    # sdp.py asserts that each line matches its pattern: AssertionError
    "a line that does not parse": lambda offer: as_answer(offer).replace("c=IN IP4", "c=xN IP4"),
    # no DTLS parameters for the m-line: AttributeError on None
    "no a=setup line": lambda offer: "\r\n".join(
        line for line in offer.split("\r\n") if not line.startswith("a=setup")
    ),
    # no codec in common: aiortc's OperationError
    "no codec the offer has": lambda offer: as_answer(offer).replace("opus/48000/2", "PCMX/8000"),
}


@pytest.mark.parametrize("broken", list(BROKEN_ANSWERS))
async def test_an_answer_aiortc_refuses_is_invalid_not_internal(
    broken: str, users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    teacher_http = await client_as("teacher")
    teacher = await participant(teacher_http)
    classroom_id = await new_classroom(teacher_http, [])
    await teacher.call("join", {"classroom_id": classroom_id})
    offer = (await teacher.call("media_join", {"publish": ["microphone"]}))["offer"]
    answer = BROKEN_ANSWERS[broken](offer["sdp"])
    refused = await teacher.call("media_answer", {"revision": offer["revision"], "sdp": answer})
    assert refused.get("error", {}).get("code") == "invalid", refused


@pytest.mark.parametrize(
    "sent",
    [
        ParticipantLeft(user_id=7, reason=LeaveReason.LEFT, seats_used=1),
        Removed(reason=RemovedReason.REMOVED, by=None),
        ActiveSpeaker(user_id=None),
    ],
    ids=lambda event: event.event,
)
def test_a_server_event_reads_back_from_what_the_socket_carries(sent: ServerEvent) -> None:
    """The robot validates the dicts socket.io hands it (``recorder_bot/robot.py``): strict models must
    take an enum's value there, as the server wrote it, or the robot drops the event."""
    carried = json.loads(json.dumps(sent.model_dump(mode="json", by_alias=True)))
    assert type(sent).model_validate(carried) == sent


async def test_an_event_with_two_arguments_is_refused_as_invalid(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    teacher_http = await client_as("teacher")
    teacher = await participant(teacher_http)
    classroom_id = await new_classroom(teacher_http, [])
    await teacher.call("join", {"classroom_id": classroom_id})
    two = ({"text": "one"}, {"text": "two"})  # socket.emit("chat", a, b, ack) from a browser
    refused = await teacher.sio.call("chat", two, namespace=NAMESPACE, timeout=3)
    assert refused.get("error", {}).get("code") == "invalid", refused
    assert (await teacher.call("hand", {"raised": True})) == {"ok": True}


async def test_json_nested_deeper_than_the_parser_goes_is_answered(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    """The server answers ``invalid`` (or closes the sender's socket); a packet dropped unanswered leaves
    the client waiting for its ack. Sent raw: no JSON encoder writes it."""
    teacher_http = await client_as("teacher")
    teacher = await participant(teacher_http)
    classroom_id = await new_classroom(teacher_http, [])
    await teacher.call("join", {"classroom_id": classroom_id})
    answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    ack_id = teacher.sio._generate_ack_id(NAMESPACE, lambda *args: answered.set_result(args))
    deep = "[" * 100_000 + "]" * 100_000
    await teacher.sio.eio.send(f'2{NAMESPACE},{ack_id}["chat",{{"text":{deep}}}]')
    try:
        (ack,) = await asyncio.wait_for(answered, 3)
    except TimeoutError:
        assert not teacher.sio.connected, "no ack, and the socket stays open"
    else:
        assert ack["error"]["code"] == "invalid", ack


async def test_a_frame_over_the_size_limit_cuts_off_only_its_sender(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory, config: Config
) -> None:
    teacher_http = await client_as("teacher")
    classroom_id = await new_classroom(teacher_http, ["student", "student2"])
    teacher = await participant(teacher_http)
    await teacher.call("join", {"classroom_id": classroom_id})
    student = await participant(await client_as("student"))
    joined = await student.call("join", {"classroom_id": classroom_id})
    sender = await participant(await client_as("student2"))
    await sender.call("join", {"classroom_id": classroom_id})
    too_big = "x" * config.classroom.max_socket_message_bytes
    await sender.sio.emit("chat", {"text": too_big}, namespace=NAMESPACE)
    await wait_for(lambda: not sender.sio.connected, 5)
    while (left := await teacher.next("participant_left"))["user_id"] == joined["self"]["user_id"]:
        pass
    assert left["reason"] == "disconnected"
    assert (await student.call("chat", {"text": "carry on"}))["ok"] is True
    while (await teacher.next("chat"))["message"]["text"] != "carry on":
        pass


async def test_events_named_connect_disconnect_or_nothing_known_are_refused_and_the_sender_stays(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    """A client naming a reserved event could once make the server believe it had left while it stayed."""
    teacher_http = await client_as("teacher")
    teacher = await participant(teacher_http)
    classroom_id = await new_classroom(teacher_http, ["student"])
    student = await participant(await client_as("student"))
    await teacher.call("join", {"classroom_id": classroom_id})
    await student.call("join", {"classroom_id": classroom_id})
    await teacher.next("participant_joined")
    packets = ('["disconnect","client disconnect"]', '["connect",{}]', '["no_such_event",{}]', "{}", "[7]")
    for packet in packets:
        answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ack_id = student.sio._generate_ack_id(NAMESPACE, lambda *args, f=answered: f.set_result(args))
        await student.sio.eio.send(f"2{NAMESPACE},{ack_id}{packet}")
        (ack,) = await asyncio.wait_for(answered, 3)
        assert ack["error"]["code"] == "invalid", packet
    assert (await student.call("chat", {"text": "still here"}))["ok"] is True
    assert teacher.pending("participant_left") == 0
    assert (await teacher.next("chat"))["message"]["text"] == "still here"
