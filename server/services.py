"""What the HTTP handlers and socket.io namespace share, held on the app under one typed key."""

from __future__ import annotations

from dataclasses import dataclass, field

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.auth.throttle import LoginThrottle
from server.config import Config
from server.library.timeline import Timeline
from server.live import LiveClassrooms, NoLiveClassrooms
from server.media.rooms import MediaRooms
from server.metrics import Metrics
from server.recorders.supervisor import RecorderSupervisor
from server.recorders.tokens import RobotTokens
from server.replay.grant import ReplayTokens
from server.replay.supervisor import ReplaySupervisor
from server.rooms.presence import Presence
from server.storage import LocalStorage


@dataclass
class Services:
    config: Config
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    storage: LocalStorage
    presence: Presence
    throttle: LoginThrottle
    metrics: Metrics
    sio: socketio.AsyncServer
    media: MediaRooms
    tokens: RobotTokens
    recorders: RecorderSupervisor
    timeline: Timeline
    replay_tokens: ReplayTokens
    replays: ReplaySupervisor
    live: LiveClassrooms = field(default_factory=NoLiveClassrooms)


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]
