"""Janus 1.1.2 (Debian's ``janus``) as a benchmark peer: its process, its HTTP API, its VideoRoom.

Everything here runs inside the loopback-only network namespace (``bench/netns.sh``) and nowhere else.

* **Candidate address.** Janus skips every interface flagged loopback when it gathers ICE candidates, so in
  the namespace it would have none. :func:`ensure_candidate_device` adds an unconnected ``ifb`` device,
  ``jifb0``, holding ``127.0.0.3/32`` (IPv6 off); Janus's only candidate is that address
  (``ice_enforce_list = "jifb0"``) and the kernel delivers its traffic through ``lo`` all the same.
  :func:`in_private_namespace` is ``tests.netns.only_loopback()`` that also accepts this device, and
  every function that touches the network refuses to run outside it.
* **Process.** :func:`running_janus` writes a private config folder (:func:`write_config`: plugin and
  transport folders holding one symlink each, so only ``libjanus_videoroom.so`` and ``libjanus_http.so``
  load; no admin API, no event handlers, no loggers; the HTTP API on a free port of 127.0.0.1; the log,
  uncoloured, in ``janus.log``), starts ``janus -F <folder>`` as a child that dies with its parent, waits
  until ``GET /janus/info`` answers, yields a :class:`JanusServer` (its ``pid`` is what a benchmark reads
  CPU from) and always stops it.
* **HTTP API client.** :class:`JanusSession` (create, keepalive every 15 s, one long-poll of
  ``GET /janus/<session>`` routing events to their request by transaction) and :class:`JanusHandle` (a
  plugin handle: :meth:`JanusHandle.message` sends a body and an optional jsep and returns the plugin's
  answer, whether Janus gives it synchronously or as a later event). Janus's refusals raise
  :class:`JanusError`.
* **VideoRoom.** :func:`create_room` (``bitrate`` is the REMB Janus sends every publisher, which is what
  holds an aiortc publisher at a given rate; optional ``record``/``rec_dir``), :func:`publish` (join as
  a publisher with a chosen feed id, ``configure`` with the offer, apply the answer) and :func:`subscribe`
  (join as a subscriber to one feed, answer Janus's offer, ``start``). Descriptions are exchanged whole
  (``trickle: false``): aiortc gathers its candidates before its description is set, and Janus, in its
  default half-trickle mode, puts its own in its SDP.

Typical use, in a benchmark's event loop::

    async with running_janus(workdir) as janus, aiohttp.ClientSession() as http:
        admin = await JanusSession.create(http, janus.url)
        await create_room(await admin.attach(), ROOM, bitrate=1_500_000)
        ...  # publish() and subscribe() aiortc peer connections, read ProcessCpu.read(janus.pid)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import socket
import subprocess
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from bench.children import die_with_parent, stop_child
from bench.measure import BenchError
from tests.netns import only_loopback

JANUS = Path("/usr/bin/janus")
MODULES = Path("/usr/lib/x86_64-linux-gnu/janus")
PLUGIN = "libjanus_videoroom.so"
TRANSPORT = "libjanus_http.so"
VIDEOROOM = "janus.plugin.videoroom"
CANDIDATE_DEVICE = "jifb0"
CANDIDATE_ADDRESS = "127.0.0.3"
HTTP_HOST = "127.0.0.1"
KEEPALIVE_INTERVAL = 15.0  # s; Janus drops a session after 60 s without a request
LONG_POLL_TIMEOUT = 45.0  # s; Janus answers an idle long poll with a keepalive after 30 s
REQUEST_TIMEOUT = 30.0  # s; for an answer, synchronous or by event
STARTUP_TIMEOUT = 30.0


class JanusError(BenchError):
    """Janus, or one of its plugins, refused a request: its error code and reason."""


# -- the namespace and its candidate device -----------------------------------------------------------------


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _has_candidate_device() -> bool:
    # Not /sys/class/net: sysfs stays the one mounted outside the namespace, `ip` reads this namespace.
    links = _ip("-o", "link", "show").splitlines()
    return CANDIDATE_DEVICE in {line.split()[1].rstrip(":").split("@")[0] for line in links}


def in_private_namespace() -> bool:
    """Only loopback here: ``lo`` with 127.0.0.2 and, at most, Janus's candidate device with its address."""
    if only_loopback():
        return True
    addresses: dict[str, list[str]] = {}
    for line in _ip("-o", "addr", "show").splitlines():
        fields = line.split()
        addresses.setdefault(fields[1], []).append(fields[3])
    return (
        set(addresses) == {"lo", CANDIDATE_DEVICE}
        and "127.0.0.2/8" in addresses["lo"]
        and addresses[CANDIDATE_DEVICE] == [f"{CANDIDATE_ADDRESS}/32"]
    )


def ensure_candidate_device() -> bool:
    """Give Janus its candidate address (idempotent); True if this call created the device.

    Needs root in the namespace (which ``bench/netns.sh`` gives) and refuses to run anywhere else.
    """
    if not in_private_namespace():
        raise BenchError("Janus runs only in the loopback-only network namespace: bench/netns.sh")
    created = not _has_candidate_device()
    if created:
        _ip("link", "add", CANDIDATE_DEVICE, "type", "ifb")
    # Off before the link is up, so the device never gets an IPv6 link-local address.
    Path(f"/proc/sys/net/ipv6/conf/{CANDIDATE_DEVICE}/disable_ipv6").write_text("1\n")
    _ip("addr", "replace", f"{CANDIDATE_ADDRESS}/32", "dev", CANDIDATE_DEVICE)
    _ip("link", "set", CANDIDATE_DEVICE, "up")
    return created


def remove_candidate_device() -> None:
    """Delete the candidate device, so the namespace is ``only_loopback()`` again (no error if absent)."""
    if _has_candidate_device():
        _ip("link", "del", CANDIDATE_DEVICE)


# -- the process --------------------------------------------------------------------------------------------


def janus_version() -> str:
    """The installed Janus's version string (``1.1.2``), from its ``--help`` banner."""
    banner = subprocess.run([str(JANUS), "--help"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"Janus version: \d+ \(([^)]+)\)", banner)
    if match is None:
        raise BenchError(f"cannot tell {JANUS}'s version")
    return match.group(1)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (Janus cannot be told to pick one and report it)."""
    with socket.socket() as probe:
        probe.bind((HTTP_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def write_config(folder: Path, http_port: int, debug_level: int = 4) -> Path:
    """A private Janus config folder loading only the VideoRoom plugin and the HTTP transport; returns it."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for kind, module in (("plugins", PLUGIN), ("transports", TRANSPORT)):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        link = folder / kind / module
        if not link.is_symlink():
            link.symlink_to(MODULES / kind / module)
    for kind in ("events", "loggers"):
        (folder / kind).mkdir(exist_ok=True)
    (folder / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{folder / "plugins"}"
    transports_folder = "{folder / "transports"}"
    events_folder = "{folder / "events"}"
    loggers_folder = "{folder / "loggers"}"
    log_to_stdout = true
    debug_level = {debug_level}
    debug_colors = false
}}
media: {{
}}
nat: {{
    ice_enforce_list = "{CANDIDATE_DEVICE}"
}}
plugins: {{
}}
transports: {{
}}
loggers: {{
}}
events: {{
    broadcast = false
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    ip = "{HTTP_HOST}"
    port = {http_port}
    https = false
}}
admin: {{
    admin_http = false
    admin_https = false
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    return folder


@dataclass
class JanusServer:
    """A running Janus: its HTTP API's base URL, its process (all its threads: CPU), its log."""

    url: str
    process: asyncio.subprocess.Process
    config: Path
    log: Path
    version: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.asynccontextmanager
async def running_janus(
    workdir: Path, debug_level: int = 4, startup_timeout: float = STARTUP_TIMEOUT
) -> AsyncIterator[JanusServer]:
    """Start a fresh Janus with its config and log under ``workdir``; stop it (and the device it added)."""
    created = ensure_candidate_device()
    try:
        port = free_port()
        config = write_config(workdir / "janus-config", port, debug_level)
        log = workdir / "janus.log"
        # stdout and stderr into the log file, never a pipe that could fill.
        with log.open("ab") as output:
            process = await asyncio.create_subprocess_exec(
                str(JANUS),
                "-F",
                str(config),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                preexec_fn=die_with_parent,
            )
        server = JanusServer(f"http://{HTTP_HOST}:{port}/janus", process, config, log, janus_version())
        try:
            await _wait_for_api(server, startup_timeout)
            yield server
        finally:
            await stop_child(process)
    finally:
        if created:
            remove_candidate_device()


async def _wait_for_api(server: JanusServer, within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    async with aiohttp.ClientSession() as http:
        while True:
            if server.process.returncode is not None:
                raise BenchError(f"Janus exited with {server.process.returncode}:\n{server.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{server.url}/info") as response:
                    if response.status == 200:
                        return
            if asyncio.get_running_loop().time() > deadline:
                raise BenchError(f"Janus's HTTP API did not answer within {within:g} s:\n{server.log_tail()}")
            await asyncio.sleep(0.1)


# -- the HTTP API -------------------------------------------------------------------------------------------

_transactions = itertools.count(1)


def _transaction() -> str:
    return f"t{next(_transactions)}"


def _check(reply: dict[str, Any], what: str) -> dict[str, Any]:
    """The reply itself, unless it is a Janus error or carries a plugin error."""
    if reply.get("janus") == "error":
        error = reply.get("error", {})
        raise JanusError(f"{what}: Janus error {error.get('code')}: {error.get('reason')}")
    data = reply.get("plugindata", {}).get("data", {})
    if "error_code" in data or "error" in data:
        raise JanusError(f"{what}: {data.get('error_code')}: {data.get('error')}")
    return reply


class JanusSession:
    """One Janus API session over HTTP: requests by POST, events by long-polling ``GET /janus/<session>``.

    Create with :meth:`create`; :meth:`destroy` ends it (and its handles) on Janus's side and here.
    """

    def __init__(self, http: aiohttp.ClientSession, url: str, session_id: int) -> None:
        self.http = http
        self.url = url
        self.id = session_id
        self.handles: dict[int, JanusHandle] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._closed = False
        self._tasks = [asyncio.ensure_future(self._poll()), asyncio.ensure_future(self._keepalive())]

    @classmethod
    async def create(cls, http: aiohttp.ClientSession, url: str) -> JanusSession:
        reply = await _post(http, url, {"janus": "create"}, "create a session")
        return cls(http, url, reply["data"]["id"])

    @property
    def session_url(self) -> str:
        return f"{self.url}/{self.id}"

    async def attach(self, plugin: str = VIDEOROOM) -> JanusHandle:
        reply = await _post(self.http, self.session_url, {"janus": "attach", "plugin": plugin}, "attach")
        handle = JanusHandle(self, reply["data"]["id"])
        self.handles[handle.id] = handle
        return handle

    async def send(self, url: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        """POST one request; an asynchronous plugin answer (``ack``, then an event) is awaited too."""
        transaction = _transaction()
        answer = asyncio.get_running_loop().create_future()
        # Registered before the POST: the event can come back on the long poll before the ack does.
        self._waiting[transaction] = answer
        try:
            reply = await _post(self.http, url, body, what, transaction)
            if reply["janus"] != "ack" or body.get("janus") != "message":
                return reply
            async with asyncio.timeout(REQUEST_TIMEOUT):
                return _check(await answer, what)
        finally:
            self._waiting.pop(transaction, None)

    async def _poll(self) -> None:
        timeout = aiohttp.ClientTimeout(total=LONG_POLL_TIMEOUT)
        while not (self._closed or self.http.closed):
            try:
                async with self.http.get(f"{self.session_url}?maxev=10", timeout=timeout) as response:
                    payload = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError):
                if self._closed:
                    return
                await asyncio.sleep(0.5)
                continue
            events = payload if isinstance(payload, list) else [payload]
            for event in events:
                if event.get("janus") == "error":
                    # 458: no such session, i.e. it was destroyed or timed out; nothing more will come.
                    self._fail(JanusError(f"session {self.id}: {event.get('error')}"))
                    return
                self._route(event)

    def _route(self, event: dict[str, Any]) -> None:
        answer = self._waiting.get(event.get("transaction", ""))
        if event.get("janus") == "event" and answer is not None and not answer.done():
            answer.set_result(event)
            return
        handle = self.handles.get(event.get("sender", 0))
        if handle is not None:
            handle.notice(event)

    def _fail(self, error: Exception) -> None:
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(error)

    async def _keepalive(self) -> None:
        while not self._closed:
            await asyncio.sleep(KEEPALIVE_INTERVAL)
            with contextlib.suppress(aiohttp.ClientError, JanusError, TimeoutError):
                await _post(self.http, self.session_url, {"janus": "keepalive"}, "keepalive")

    async def destroy(self) -> None:
        """Tell Janus the session is over (it hangs up its peer connections), stop polling."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(aiohttp.ClientError, JanusError, TimeoutError):
            await _post(self.http, self.session_url, {"janus": "destroy"}, "destroy the session")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._fail(JanusError(f"session {self.id} destroyed"))


async def _post(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], what: str, transaction: str | None = None
) -> dict[str, Any]:
    request = {**body, "transaction": transaction or _transaction()}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with http.post(url, json=request, timeout=timeout) as response:
        reply: dict[str, Any] = await response.json(content_type=None)
    return _check(reply, what)


class JanusHandle:
    """A handle attached to a plugin: messages to it, and what Janus said about it unasked.

    ``webrtc_up`` is set when Janus reports the handle's peer connection up (DTLS done); ``hangup`` holds
    Janus's reason if it hung up; ``notices`` keeps the latest unsolicited events (``media``,
    ``slowlink``, plugin notifications) for a post-mortem.
    """

    def __init__(self, session: JanusSession, handle_id: int) -> None:
        self.session = session
        self.id = handle_id
        self.webrtc_up = asyncio.Event()
        self.hangup: str | None = None
        self.notices: deque[dict[str, Any]] = deque(maxlen=50)

    @property
    def url(self) -> str:
        return f"{self.session.session_url}/{self.id}"

    async def message(
        self, body: dict[str, Any], jsep: RTCSessionDescription | None = None
    ) -> tuple[dict[str, Any], RTCSessionDescription | None]:
        """Send a plugin request (and a description); the plugin's data and description in its answer."""
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = {"type": jsep.type, "sdp": jsep.sdp, "trickle": False}
        reply = await self.session.send(self.url, request, f"{body.get('request')} on handle {self.id}")
        data: dict[str, Any] = reply.get("plugindata", {}).get("data", {})
        answer = reply.get("jsep")
        return data, RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]) if answer else None

    def notice(self, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        if kind == "webrtcup":
            self.webrtc_up.set()
        elif kind == "hangup":
            self.hangup = str(event.get("reason"))
        self.notices.append(event)

    async def detach(self) -> None:
        await self.session.send(self.url, {"janus": "detach"}, f"detach handle {self.id}")
        self.session.handles.pop(self.id, None)


# -- VideoRoom ----------------------------------------------------------------------------------------------


async def create_room(
    handle: JanusHandle,
    room: int,
    bitrate: int,
    publishers: int = 6,
    record: bool = False,
    rec_dir: Path | None = None,
    videocodec: str = "vp8",
) -> int:
    """Create VideoRoom ``room``; ``bitrate`` (bit/s) is the REMB every publisher gets. Returns the room.

    With ``record``, Janus writes every publisher's streams as ``.mjr`` files into ``rec_dir`` (absolute);
    ``enable_recording`` on the same handle switches recording later.
    """
    body: dict[str, Any] = {
        "request": "create",
        "room": room,
        "publishers": publishers,
        "bitrate": bitrate,
        "videocodec": videocodec,
        "record": record,
    }
    if rec_dir is not None:
        if not rec_dir.is_absolute():
            raise ValueError(f"rec_dir must be absolute (Janus has its own working directory): {rec_dir}")
        body["rec_dir"] = str(rec_dir)
    data, _ = await handle.message(body)
    if data.get("videoroom") != "created":
        raise JanusError(f"creating room {room}: unexpected answer {data}")
    created: int = data["room"]
    return created


async def publish(
    session: JanusSession, room: int, pc: RTCPeerConnection, feed: int, display: str = "publisher"
) -> JanusHandle:
    """Publish ``pc``'s tracks (already added) to ``room`` as feed ``feed``; returns the publisher's handle.

    Joins as a publisher, sends the offer with ``configure``, applies Janus's answer and waits until Janus
    reports the connection up (before that, subscribing to the feed fails with "No such feed").
    """
    handle = await session.attach()
    joined, _ = await handle.message(
        {"request": "join", "ptype": "publisher", "room": room, "id": feed, "display": display}
    )
    if joined.get("videoroom") != "joined":
        raise JanusError(f"joining room {room} as a publisher: unexpected answer {joined}")
    await pc.setLocalDescription(await pc.createOffer())
    _, answer = await handle.message(
        {"request": "configure", "audio": True, "video": True}, pc.localDescription
    )
    if answer is None:
        raise JanusError(f"publishing in room {room}: Janus sent no answer")
    await pc.setRemoteDescription(answer)
    # Janus lists the feed (and lets anyone subscribe) only once the publisher's media is up.
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            await handle.webrtc_up.wait()
    except TimeoutError:
        raise JanusError(f"publishing in room {room}: the peer connection never came up") from None
    return handle


async def subscribe(session: JanusSession, room: int, feed: int, pc: RTCPeerConnection) -> JanusHandle:
    """Receive feed ``feed`` of ``room`` on ``pc`` (which offers nothing itself); returns the handle.

    Joins as a subscriber, answers Janus's offer and sends ``start`` with the answer.
    """
    handle = await session.attach()
    attached, offer = await handle.message(
        {"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}]}
    )
    if attached.get("videoroom") != "attached" or offer is None:
        raise JanusError(f"subscribing to feed {feed} in room {room}: unexpected answer {attached}")
    await pc.setRemoteDescription(offer)
    await pc.setLocalDescription(await pc.createAnswer())
    started, _ = await handle.message({"request": "start"}, pc.localDescription)
    if started.get("started") != "ok":
        raise JanusError(f"starting the subscription to feed {feed}: unexpected answer {started}")
    return handle
