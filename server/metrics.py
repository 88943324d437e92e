"""Prometheus metrics, one registry per app so several apps (tests) never collide."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "aula_http_requests", "HTTP requests served", ["method", "route", "status"], registry=r
        )
        self.http_seconds = Histogram("aula_http_request_seconds", "HTTP request time", ["route"], registry=r)
        self.login_failures = Counter("aula_login_failures", "Failed or throttled logins", registry=r)
        self.socket_connections = Gauge(
            "aula_socket_connections", "Open socket.io connections on /classroom", registry=r
        )
        self.participants = Gauge("aula_participants", "Participants seated in classrooms", registry=r)
        self.active_classrooms = Gauge("aula_active_classrooms", "Classrooms with participants", registry=r)
        self.chat_messages = Counter("aula_chat_messages", "Chat messages sent", registry=r)
        self.loop_lag = Histogram(
            "aula_event_loop_lag_seconds",
            "How late the event loop ran a timer (sampled every 100 ms)",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
        self.media_peers = Gauge("aula_media_peers", "Open media peer connections", registry=r)
        self.socket_errors = Counter(
            "aula_socket_errors", "socket.io events refused", ["event", "code"], registry=r
        )


async def watch_loop_lag(metrics: Metrics, interval: float = 0.1) -> None:
    """Sample event-loop lag forever: a timer due every ``interval`` fires late by the loop's backlog."""
    while True:
        due = time.perf_counter() + interval
        await asyncio.sleep(interval)
        metrics.loop_lag.observe(max(0.0, time.perf_counter() - due))
