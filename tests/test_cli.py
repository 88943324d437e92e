"""The ``aula`` command as an admin uses it: first start, accounts from the shell, clean stop."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
from pathlib import Path

import aiohttp

from tests.live_server import AULA, live_server


async def login(url: str, username: str, password: str) -> int:
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{url}/api/auth/login", json={"username": username, "password": password}
        )
        return response.status


async def test_first_start_prints_the_url_and_a_one_time_admin_password(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data") as server:
        text = "".join(server.output)
        password = re.search(r"Log in as admin with password: (\S+)", text)
        assert password is not None
        assert await login(server.url, "admin", password.group(1)) == 200
        assert await login(server.url, "admin", "wrong") == 401
    async with live_server(tmp_path / "data") as server:
        assert "Log in as admin with password" not in "".join(server.output)
        assert password.group(1) not in "".join(server.output)
        assert await login(server.url, "admin", password.group(1)) == 200


async def test_admin_password_from_the_environment(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data", {"AULA_ADMIN_PASSWORD": "from the env 42"}) as server:
        assert "AULA_ADMIN_PASSWORD" in "".join(server.output)
        assert await login(server.url, "admin", "from the env 42") == 200
        server.process.terminate()
        assert await asyncio.wait_for(server.process.wait(), 10) == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def first_healthy_then_login(data: Path, password: str) -> tuple[int, int]:
    """Start ``aula serve``, poll /api/health from the very start, log in at its first 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = await asyncio.create_subprocess_exec(
        str(AULA), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "AULA_ADMIN_PASSWORD": password, "AULA_LOG_FORMAT": "text"},
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(30):
            while True:
                try:
                    health = await session.get(f"{url}/api/health")
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.005)
                    continue
                if health.status == 200:
                    break
                await asyncio.sleep(0.005)
            login = await session.post(
                f"{url}/api/auth/login", json={"username": "admin", "password": password}
            )
            return health.status, login.status
    finally:
        process.terminate()
        await process.wait()


async def test_the_admin_logs_in_as_soon_as_health_says_ok(tmp_path: Path) -> None:
    for attempt in range(3):
        statuses = await first_healthy_then_login(tmp_path / f"data{attempt}", "first start 42")
        assert statuses == (200, 200), attempt


def test_user_add_creates_an_account_that_can_log_in(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = subprocess.run(
        [AULA, "user", "add", "ada", "--role", "teacher", "--data-dir", data],
        capture_output=True,
        text=True,
        check=True,
    )
    generated = re.search(r"password: (\S+)", made.stdout)
    assert generated is not None
    again = subprocess.run(
        [AULA, "user", "add", "ada", "--role", "teacher", "--data-dir", data], capture_output=True, text=True
    )
    assert again.returncode == 1
    assert "taken" in again.stderr
    bad = subprocess.run(
        [AULA, "user", "add", "x", "--role", "wizard", "--data-dir", data], capture_output=True
    )
    assert bad.returncode == 2

    async def check() -> None:
        async with live_server(data, {"AULA_ADMIN_PASSWORD": "admin password"}) as server:
            assert await login(server.url, "ada", generated.group(1)) == 200

    asyncio.run(check())


def test_a_bad_config_is_reported_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [AULA, "serve", "--data-dir", tmp_path], capture_output=True, text=True, env={"AULA_PORT": "99999"}
    )
    assert result.returncode == 2
    assert "port" in result.stderr
    assert "Traceback" not in result.stderr
