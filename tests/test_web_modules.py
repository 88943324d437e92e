"""The browser's DOM-free modules, tested with node's own test runner (web/tests/*.test.mjs) against fakes;
and the pages' modules hold no copy of a rule: rights come from the server with the objects they concern."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parent.parent / "web"
# A role compared in a page (`user.role === "admin"`, `role !== "teacher"`) is a rule decided in the browser.
ROLE_COMPARISON = re.compile(r"""\brole\s*[!=]==?|[!=]==?\s*["'](admin|teacher|student)["']""")


def test_protocol_module_follows_the_protocol() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for the web module tests (it also installs the socket.io client)")
    result = subprocess.run([node, "--test", "tests/"], cwd=WEB, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
    assert "# pass 0" not in result.stdout


def test_pages_decide_no_rights_from_roles() -> None:
    found = [
        f"{path.relative_to(WEB)}:{number}: {line.strip()}"
        for path in sorted((WEB / "js").glob("*.js"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ROLE_COMPARISON.search(line)
    ]
    assert found == []
