"""Local storage under the data dir: where recordings and other files live, and whether it works."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StorageStatus:
    ok: bool
    free_bytes: int
    detail: str


class LocalStorage:
    """Files under one root; nothing is ever read or written outside it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.recordings = self.root / "recordings"

    def prepare(self) -> None:
        self.recordings.mkdir(parents=True, exist_ok=True)

    def _probe(self) -> StorageStatus:
        probe = self.root / f".probe-{secrets.token_hex(4)}"
        try:
            descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(descriptor, b"ok")
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            probe.unlink()
            free = shutil.disk_usage(self.root).free
        except OSError as exc:
            return StorageStatus(False, 0, f"{type(exc).__name__}: {exc.strerror or exc}")
        return StorageStatus(True, free, "writable")

    async def check(self) -> StorageStatus:
        """Write, sync and delete a probe file in a worker thread."""
        return await asyncio.to_thread(self._probe)
