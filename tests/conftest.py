from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.config import Config, load_config
from server.services import SERVICES
from tests.media_support import Classroom
from tests.netns import require_private_namespace
from tests.support import Participant, add_user, logged_in

ClientFactory = Callable[[str | None], Awaitable[ClientSession]]
ParticipantFactory = Callable[[ClientSession], Awaitable[Participant]]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    # No waiting robot per test server (the recording tests ask for one).
    return load_config(
        environ={}, overrides={"data_dir": str(tmp_path / "data"), "log_format": "text", "warm_robots": 0}
    )


@pytest.fixture
async def server(config: Config) -> AsyncIterator[TestServer]:
    test_server = TestServer(create_app(config), host="127.0.0.1")
    await test_server.start_server()
    # The recorder robot connects back the way `aula serve` tells it to.
    test_server.app[SERVICES].recorders.server_url = str(test_server.make_url("")).rstrip("/")
    yield test_server
    await test_server.close()


@pytest.fixture
def app(server: TestServer) -> web.Application:
    return server.app


@pytest.fixture
async def users(app: web.Application) -> dict[str, int]:
    """admin, two teachers and two students; ``teacher`` owns no classroom yet."""
    return {
        "admin": await add_user(app, "admin", "admin", "Admin"),
        "teacher": await add_user(app, "teacher", "teacher", "Tess Teacher"),
        "teacher2": await add_user(app, "teacher2", "teacher", "Theo Teacher"),
        "student": await add_user(app, "student", "student", "Sam Student"),
        "student2": await add_user(app, "student2", "student", "Sue Student"),
    }


@pytest.fixture
async def client_as(server: TestServer) -> AsyncIterator[ClientFactory]:
    clients: list[ClientSession] = []

    async def make(username: str | None) -> ClientSession:
        client = await logged_in(server, username)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def participant(server: TestServer) -> AsyncIterator[ParticipantFactory]:
    made: list[Participant] = []

    async def make(client: ClientSession) -> Participant:
        person = Participant(server, client)
        await person.connect()
        made.append(person)
        return person

    yield make
    for person in made:
        await person.close()


@pytest.fixture
def private_namespace() -> None:
    """Media tests carry WebRTC traffic: only inside the test command's loopback-only namespace."""
    require_private_namespace()


@pytest.fixture
async def classroom(
    server: TestServer, users: dict[str, int], client_as: ClientFactory
) -> AsyncIterator[Classroom]:
    sessions = {name: await client_as(name) for name in ("teacher", "student", "student2")}
    response = await sessions["teacher"].post(
        "/api/classrooms", json={"name": "Physics", "students": ["student", "student2"]}
    )
    room = Classroom(server, sessions, (await response.json())["classroom"]["id"])
    yield room
    await room.close()
