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


def test_the_browser_protocol_module_names_the_servers_events() -> None:
    """web/js/protocol.js listens to every event the server pushes and can send every event it takes."""
    from server.signalling.namespace_core import EVENTS
    from server.signalling.protocol import SERVER_EVENTS

    source = (WEB / "js" / "protocol.js").read_text()
    listed = re.search(r"SERVER_EVENTS = Object\.freeze\(\[(.*?)\]\)", source, re.S)
    assert listed is not None
    assert set(re.findall(r'"([a-z_]+)"', listed.group(1))) == {event.event for event in SERVER_EVENTS}
    assert set(re.findall(r'_request\("([a-z_]+)"', source)) == set(EVENTS)
