"""What the browser tests share about their pages: the browser fixture that fails a test whose pages threw or
logged an error, the recording of those errors, polling until a check passes, and what a page sends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page

from tests.browser import chromium
from tests.live_server import LiveServer, live_server

# What the page's current peer connection has sent, per kind: the outbound-rtp counters summed over its
# streams. Needs the page's peer connections kept in ``window.__pcs`` (an init script of the test's).
OUTBOUND_STATS = """
async () => {
  const pc = (window.__pcs ?? []).filter((pc) => pc.signalingState !== "closed").at(-1);
  const sent = { audio: { bytesSent: 0, packetsSent: 0 }, video: { bytesSent: 0, packetsSent: 0 } };
  if (pc) {
    (await pc.getStats()).forEach((stats) => {
      if (stats.type !== "outbound-rtp") return;
      sent[stats.kind].bytesSent += stats.bytesSent ?? 0;
      sent[stats.kind].packetsSent += stats.packetsSent ?? 0;
    });
  }
  return sent;
}
"""


def admin_server_fixture(admin_password: str) -> Any:
    """A ``server`` fixture: ``aula serve`` on fresh data whose admin logs in with ``admin_password``.
    In a test module: ``server = admin_server_fixture(ADMIN_PASSWORD)``."""

    @pytest.fixture
    async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
        async with live_server(tmp_path / "data", {"AULA_ADMIN_PASSWORD": admin_password}) as running:
            yield running

    return server


def browser_fixture(page_errors: list[str], doc: str) -> Any:
    """A ``browser`` fixture (Debian's Chromium) that fails the test if ``page_errors`` is not empty at the
    end; the module's pages report into that list (e.g. through ``record_errors``). ``doc`` says what
    counts as an error. In a test module: ``browser = browser_fixture(PAGE_ERRORS, "...")``."""

    @pytest.fixture
    async def browser() -> AsyncIterator[Browser]:
        page_errors.clear()
        async with chromium() as launched:
            yield launched
            assert page_errors == []

    browser.__doc__ = doc
    return browser


def record_errors(page: Page, page_errors: list[str]) -> None:
    """Puts into ``page_errors`` what ``page`` throws and logs as an error, except failed loads: refused
    requests (401, 409, 507) and closed sockets show as those, and the tests provoke them."""

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            page_errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: page_errors.append(str(error)))


async def eventually(check: Callable[[], Awaitable[str | None]], within: float) -> None:
    """Polls ``check`` (None when satisfied, else what is missing) until it passes or ``within`` seconds
    have gone."""
    deadline = time.monotonic() + within
    while (missing := await check()) is not None:
        if time.monotonic() > deadline:
            raise AssertionError(missing)
        await asyncio.sleep(0.25)


async def outbound(page: Page) -> dict[str, dict[str, int]]:
    """What the page has sent so far, per kind ("audio", "video"): ``bytesSent`` and ``packetsSent``."""
    sent: dict[str, dict[str, int]] = await page.evaluate(OUTBOUND_STATS)
    return sent
