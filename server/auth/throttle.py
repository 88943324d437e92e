"""Throttling: events counted per key in a sliding window (failed logins, chat messages)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """Counts events per key over the last ``window`` seconds; at ``limit`` the key is blocked."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = self._clock()
        entries = self._events.get(key)
        if entries is None:
            return deque()
        while entries and entries[0] <= now - self.window:
            entries.popleft()
        if not entries:
            del self._events[key]
        return entries

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it is not blocked."""
        entries = self._recent(key)
        if len(entries) < self.limit:
            return 0
        return max(1, int(entries[0] + self.window - self._clock()) + 1)

    def record(self, key: str) -> None:
        self._recent(key)
        self._events.setdefault(key, deque()).append(self._clock())
        if len(self._events) > 100_000:
            # Bound memory under a spray of random keys: forget the stalest half.
            for stale in list(self._events)[: len(self._events) // 2]:
                del self._events[stale]

    def reset(self, key: str) -> None:
        self._events.pop(key, None)


class LoginThrottle:
    """Failed logins slow down whoever fails, never the account's owner elsewhere.

    Failures are counted per (account, address) and per address, never per account alone: five wrong
    passwords for ``ada`` from one address block ``ada`` from that address only, and ``ada`` still logs in
    from hers. An address that fails too often, whatever the account names, is blocked as a whole.
    """

    def __init__(
        self, per_account: int, per_address: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.pairs = SlidingWindow(per_account, window, clock)
        self.addresses = SlidingWindow(per_address, window, clock)

    @staticmethod
    def _pair(username: str, address: str) -> str:
        return f"{address} {username}"

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until this address may try this account again; 0 when it may now."""
        return max(self.pairs.retry_after(self._pair(username, address)), self.addresses.retry_after(address))

    def failed(self, username: str, address: str) -> None:
        self.pairs.record(self._pair(username, address))
        self.addresses.record(address)

    def succeeded(self, username: str, address: str) -> None:
        self.pairs.reset(self._pair(username, address))
