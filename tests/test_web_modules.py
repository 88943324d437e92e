"""The browser's DOM-free protocol module, tested with node's own test runner against a fake socket."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parent.parent / "web"


def test_protocol_module_follows_the_protocol() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for the web module tests (it also installs the socket.io client)")
    result = subprocess.run([node, "--test", "tests/"], cwd=WEB, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
    assert "# pass 0" not in result.stdout
