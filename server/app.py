"""The app factory: ``create_app(config)`` wires storage, database, sessions, API, pages and socket.io."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import socketio
from aiohttp import web

# Importing the API modules registers their routes on ``api``.
from server.api import (
    auth_api,
    classrooms_api,
    codes_api,
    modes_api,
    pause_api,
    recordings_api,
    replay_api,
    sessions_api,
    settings_api,
    system_api,
    timeline_api,
    tracks_api,
    users_api,
)
from server.api.middleware import (
    errors_middleware,
    headers_middleware,
    metrics_middleware,
    same_origin_middleware,
)
from server.api.registry import api
from server.api.system_api import STARTUP, Startup, check_robot
from server.auth.sessions import session_secret, setup_sessions
from server.auth.throttle import LoginThrottle
from server.config import Config, allowed_origins
from server.db.engine import make_engine, make_session_factory, migrate
from server.library.timeline import Timeline
from server.media.ice import restrict_host_addresses
from server.media.rooms import MediaRooms
from server.metrics import Metrics, watch_loop_lag
from server.pages import add_page_routes
from server.recorders.supervisor import RecorderSupervisor
from server.recorders.tokens import RobotTokens
from server.replay.grant import ReplayTokens
from server.replay.supervisor import ReplaySupervisor
from server.rooms.presence import Presence
from server.services import SERVICES, Services
from server.signalling.classroom_namespace import ClassroomNamespace
from server.signalling.socket_server import ClassroomSocketServer
from server.storage import LocalStorage

__all__ = [
    "auth_api",
    "classrooms_api",
    "codes_api",
    "create_app",
    "modes_api",
    "pause_api",
    "recordings_api",
    "replay_api",
    "sessions_api",
    "settings_api",
    "system_api",
    "timeline_api",
    "tracks_api",
    "users_api",
]

log = logging.getLogger(__name__)


def _socket_server(config: Config) -> socketio.AsyncServer:
    def same_origin(origin: str, environ: dict[str, str]) -> bool:
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin in {own, *allowed_origins(config)}

    return ClassroomSocketServer(
        async_mode="aiohttp",
        cors_allowed_origins=same_origin,
        max_http_buffer_size=config.classroom.max_socket_message_bytes,
        logger=False,
        engineio_logger=False,
    )


def prepare_data_dir(path: Path) -> None:
    """The data dir holds the database, the session key and recordings: created for this user only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def create_app(config: Config) -> web.Application:
    """A ready-to-run application; the database is migrated and the robot checked when it starts."""
    prepare_data_dir(config.server.data_dir)
    restrict_host_addresses(config.media.ice_enforce_list, config.media.ice_ignore_list)
    app = web.Application(
        client_max_size=config.server.max_body_bytes,
        middlewares=[metrics_middleware, headers_middleware, errors_middleware, same_origin_middleware],
    )
    engine = make_engine(config.database_url)
    storage = LocalStorage(config.storage_dir)
    sio = _socket_server(config)
    secret = session_secret(config)
    db = make_session_factory(engine)
    tokens = RobotTokens(secret, max_age=(config.recording.max_recording_hours + 1) * 3600)
    presence = Presence()
    replay_tokens = ReplayTokens(secret, max_age=(config.recording.max_recording_hours + 1) * 3600)
    recorders = RecorderSupervisor(config, db, storage, tokens)
    svc = Services(
        config=config,
        engine=engine,
        db=db,
        storage=storage,
        presence=presence,
        throttle=LoginThrottle(
            config.auth.login_max_failures_per_account,
            config.auth.login_max_failures_per_address,
            config.auth.login_failure_window,
        ),
        metrics=Metrics(),
        sio=sio,
        media=MediaRooms(config.media),
        tokens=tokens,
        recorders=recorders,
        timeline=Timeline(db, presence),
        replay_tokens=replay_tokens,
        replays=ReplaySupervisor(replay_tokens, lambda: recorders.server_url),
    )
    app[SERVICES] = svc
    app[STARTUP] = Startup()
    setup_sessions(app, secret, config)
    api.install(app)
    add_page_routes(app, config.server.web_dir)
    namespace = ClassroomNamespace(svc)
    sio.register_namespace(namespace)
    svc.recorders.listener = namespace.recording_changed
    svc.live = svc.recorders.live = namespace
    svc.replays.listener = namespace.replay_changed
    svc.replays.on_ended = namespace.replay_ended
    sio.attach(app)

    async def close_sockets(app: web.Application) -> None:
        await namespace.stop_sweeping()
        # Robots first: they finish their files while signalling still works.
        await svc.replays.close()
        await svc.recorders.close()
        await svc.timeline.close()
        await namespace.disconnect_all()
        await sio.shutdown()
        await svc.media.close()

    app.on_shutdown.append(close_sockets)

    async def database(app: web.Application) -> AsyncIterator[None]:
        storage.prepare()
        robot = asyncio.create_task(check_robot(app))
        await migrate(engine)
        await robot
        await svc.recorders.reconcile()
        svc.recorders.prepare()
        namespace.start_sweeping()
        yield
        await namespace.stop_sweeping()
        await engine.dispose()

    async def loop_lag(app: web.Application) -> AsyncIterator[None]:
        watcher = asyncio.create_task(watch_loop_lag(svc.metrics))
        yield
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(loop_lag)
    return app
