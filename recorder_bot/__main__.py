"""``python -I -m recorder_bot``: read one job on stdin, record, report progress on stdout.

The server starts this process for each recording (``server/recorders/robot_run.py``). The messages
both ways are the types of ``recorder_bot.job``, one JSON line each: the job first, then the server's
commands (pause, resume) while it records. SIGTERM asks the robot to finish the file and exit; logs go to
stderr.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator

from pydantic import ValidationError

from recorder_bot.job import Command, Failed, Progress, RobotJob, parse_command
from recorder_bot.robot import record

log = logging.getLogger("recorder_bot")

MAX_LINE = 64 * 1024


def report(message: Progress) -> None:
    """Write one progress message on stdout, at once (the server follows the robot by them)."""
    sys.stdout.write(message.line())
    sys.stdout.flush()


async def open_stdin() -> asyncio.StreamReader | None:
    """stdin as a stream the event loop reads without blocking; None when it is no pipe (a file)."""
    reader = asyncio.StreamReader(limit=MAX_LINE)
    loop = asyncio.get_running_loop()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except ValueError:
        return None
    return reader


async def commands(stdin: asyncio.StreamReader) -> AsyncIterator[Command]:
    """The server's commands after the job, until it closes stdin."""
    while True:
        try:
            line = await stdin.readline()
        except ValueError:  # longer than MAX_LINE: dropped
            log.warning("the server sent an over-long line")
            continue
        if not line:
            return
        command = parse_command(line)
        if command is not None:
            yield command


async def run(job: RobotJob, orders: AsyncIterator[Command] | None = None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await record(job, stop, report, orders)
    except Exception as exc:
        log.exception("recording failed")
        report(Failed.of(f"{type(exc).__name__}: {exc}"))
        return 1
    return 0


async def serve() -> int:
    """Wait for the job (a waiting robot sits here), then record it, obeying the commands that follow."""
    stdin = await open_stdin()
    try:
        line = await (stdin.readline() if stdin is not None else asyncio.to_thread(sys.stdin.buffer.readline))
        job = RobotJob.model_validate_json(line)
    except (ValidationError, ValueError) as exc:  # ValueError: a line over MAX_LINE
        report(Failed.of(f"bad job: {exc}"))
        return 2
    return await run(job, commands(stdin) if stdin is not None else None)


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s robot %(levelname)s %(message)s"
    )
    return asyncio.run(serve())


if __name__ == "__main__":
    raise SystemExit(main())
