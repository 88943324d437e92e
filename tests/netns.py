"""Media tests carry real WebRTC traffic, which must stay inside the test command's private namespace."""

from __future__ import annotations

import subprocess

import pytest


def only_loopback() -> bool:
    out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
    return {line.split()[1] for line in out.splitlines()} == {"lo"} and "127.0.0.2" in out


def require_private_namespace() -> None:
    """Fail (not skip) outside it: ``make test`` creates the namespace, so this never passes by silence."""
    if not only_loopback():
        pytest.fail("media tests run only in the loopback-only network namespace: use `make test`")
