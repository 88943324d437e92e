"""``python -I -m recorder_bot``: read one job on stdin, record, report progress on stdout.

The server starts this process for each recording (``server/recorders/robot_run.py``). The messages
both ways are the types of ``recorder_bot.job``, one JSON line each. SIGTERM asks the robot to finish the
file and exit; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from pydantic import ValidationError

from recorder_bot.job import Failed, Progress, RobotJob
from recorder_bot.robot import record

log = logging.getLogger("recorder_bot")


def report(message: Progress) -> None:
    """Write one progress message on stdout, at once (the server follows the robot by them)."""
    sys.stdout.write(message.line())
    sys.stdout.flush()


async def run(job: RobotJob) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await record(job, stop, report)
    except Exception as exc:
        log.exception("recording failed")
        report(Failed.of(f"{type(exc).__name__}: {exc}"))
        return 1
    return 0


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s robot %(levelname)s %(message)s"
    )
    try:
        job = RobotJob.model_validate_json(sys.stdin.readline())
    except ValidationError as exc:
        report(Failed.of(f"bad job: {exc}"))
        return 2
    return asyncio.run(run(job))


if __name__ == "__main__":
    raise SystemExit(main())
