"""What the server keeps on disk is readable by the server's user only."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from aiohttp import web

from server.config import Config
from server.services import SERVICES
from tests.conftest import ClientFactory
from tests.live_server import AULA


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_the_data_dir_database_and_session_key_are_private(
    app: web.Application, config: Config, users: dict[str, int], client_as: ClientFactory
) -> None:
    await client_as("teacher")  # a write, so SQLite has made its WAL files
    data = config.server.data_dir
    assert mode(data) == 0o700
    database = data / "aula.db"
    assert mode(database) == 0o600
    for companion in (data / "aula.db-wal", data / "aula.db-shm"):
        if companion.exists():
            assert mode(companion) == 0o600, companion
    assert mode(data / "session.key") == 0o600
    assert app[SERVICES].storage.root.is_relative_to(data)


def test_aula_user_add_creates_a_private_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    subprocess.run(
        [AULA, "user", "add", "ada", "--role", "teacher", "--password", "long enough 1", "--data-dir", data],
        check=True,
        capture_output=True,
    )
    assert mode(data) == 0o700
    assert mode(data / "aula.db") == 0o600
