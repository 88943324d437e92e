"""Prometheus metrics, one registry per app so several apps (tests) never collide."""

from __future__ import annotations

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
        self.socket_errors = Counter(
            "aula_socket_errors", "socket.io events refused", ["event", "code"], registry=r
        )
