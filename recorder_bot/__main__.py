"""``python -m recorder_bot``: read one job (JSON) on stdin, record, report progress as JSON lines.

The server starts this process for each recording (``server/recorders/supervisor.py``). SIGTERM asks it
to finish the file and exit; progress lines are ``{"event": "joined" | "recording" | "finished" |
"failed", ...}`` on stdout; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from typing import Any

from recorder_bot.robot import Job, record


def report(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def run(job: Job) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await record(job, stop, report)
    except Exception as exc:
        logging.getLogger("recorder_bot").exception("recording failed")
        report({"event": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]})
        return 1
    return 0


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s robot %(levelname)s %(message)s"
    )
    try:
        job = Job.from_json(json.loads(sys.stdin.readline()))
    except (ValueError, TypeError) as exc:
        report({"event": "failed", "error": f"bad job: {exc}"})
        return 2
    return asyncio.run(run(job))


if __name__ == "__main__":
    raise SystemExit(main())
