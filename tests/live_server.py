"""Runs ``aula serve`` as a user would, on a free loopback port, for browser and CLI tests."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

AULA = Path(sys.executable).with_name("aula")


@dataclass
class LiveServer:
    url: str
    output: list[str]
    process: asyncio.subprocess.Process


@asynccontextmanager
async def live_server(data_dir: Path, env: dict[str, str] | None = None) -> AsyncIterator[LiveServer]:
    environ = {**os.environ, "AULA_LOG_FORMAT": "text", **(env or {})}
    process = await asyncio.create_subprocess_exec(
        str(AULA),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=environ,
    )
    assert process.stdout is not None
    output: list[str] = []
    url = ""
    try:
        async with asyncio.timeout(30):
            # The URL line is followed by one telling how to log in; the server is ready after both.
            while not (url and output[-1].startswith("Log in")):
                line = (await process.stdout.readline()).decode()
                if not line:
                    raise RuntimeError("aula serve exited:\n" + "".join(output))
                output.append(line)
                if match := re.search(r"Aula is running at (\S+)", line):
                    url = match.group(1).rstrip("/")

        # Keep reading the rest of the output so the pipe never fills.
        async def drain() -> None:
            assert process.stdout is not None
            async for line in process.stdout:
                output.append(line.decode())

        reader = asyncio.create_task(drain())
        yield LiveServer(url, output, process)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if url:
            reader.cancel()
