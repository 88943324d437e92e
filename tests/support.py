"""Test helpers: logged-in HTTP clients and socket.io participants against a real server on loopback."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import socketio
from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer
from yarl import URL

from server.db.models import RecordingClassroom
from server.services import SERVICES
from server.users import create_user

PASSWORD = "correct horse battery"


async def add_user(app: web.Application, username: str, role: str, display_name: str | None = None) -> int:
    async with app[SERVICES].db() as db:
        user = await create_user(db, username, PASSWORD, role, display_name)
    return user.id


async def logged_in(server: TestServer, username: str | None, password: str = PASSWORD) -> ClientSession:
    """A browser-like HTTP session (own cookie jar) on the server, logged in as ``username`` if given."""
    client = ClientSession(base_url=str(server.make_url("/")), cookie_jar=CookieJar(unsafe=True))
    if username is not None:
        response = await client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status == 200, await response.text()
    return client


def cookie_header(client: ClientSession) -> str:
    cookies = client.cookie_jar.filter_cookies(client._base_url or URL())
    return "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())


class Participant:
    """A socket.io client on /classroom that records every event it is sent."""

    def __init__(self, server: TestServer, client: ClientSession) -> None:
        self.url = str(server.make_url("")).rstrip("/")
        self.cookie = cookie_header(client)
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.sio.on("*", self._record, namespace="/classroom")

    async def _record(self, event: str, data: Any = None) -> None:
        self.events[event].put_nowait(data)

    async def connect(self, origin: str | None = None) -> None:
        headers = {"Cookie": self.cookie}
        if origin is not None:
            headers["Origin"] = origin
        await self.sio.connect(
            self.url, namespaces=["/classroom"], headers=headers, transports=["websocket"], wait_timeout=5
        )

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, namespace="/classroom", timeout=5)

    async def next(self, event: str, wait: float = 5) -> Any:
        return await asyncio.wait_for(self.events[event].get(), wait)

    def pending(self, event: str) -> int:
        return self.events[event].qsize()

    async def close(self) -> None:
        await self.sio.disconnect()


def held(classroom_id: int | None, name: str, state: str) -> list[RecordingClassroom]:
    """The ``covers`` of a recording made by hand in a test: an active one holds its classroom, as
    ``server.library.recordings.new_recording`` leaves it."""
    if classroom_id is None:
        return []
    active = state in ("starting", "recording", "finishing")
    return [
        RecordingClassroom(
            classroom_id=classroom_id,
            classroom_name=name,
            active_classroom_id=classroom_id if active else None,
        )
    ]
