"""The ``aula`` command: ``aula serve`` runs the server, ``aula user add`` creates an account."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from server.app import create_app, prepare_data_dir
from server.auth.passwords import random_password
from server.config import Config, ConfigError, load_config
from server.db.engine import make_engine, make_session_factory, migrate
from server.logs import setup_logging
from server.services import SERVICES
from server.users import create_user, ensure_admin


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aula", description="Aula live virtual classroom server")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML config file (see aula.sample.toml)")
    common.add_argument("--data-dir", type=Path, help="where the database and files live")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host", help="address to listen on")
    serve.add_argument("--port", type=int, help="port to listen on (0 picks a free one)")

    user = commands.add_parser("user", help="manage accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", parents=[common], help="create an account")
    add.add_argument("name", help="user name (a-z 0-9 . _ -)")
    add.add_argument("--role", choices=["admin", "teacher", "student"], required=True)
    add.add_argument("--display-name", help="name shown to others")
    add.add_argument("--password", help="password (default: a random one, printed once)")
    return parser


def _config(args: argparse.Namespace) -> Config:
    overrides: dict[str, Any] = {
        "data_dir": str(args.data_dir) if args.data_dir else None,
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
    }
    return load_config(args.config, os.environ, overrides)


async def _serve(config: Config) -> None:
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None)
    # Start-up (migrations, the robot check) and the first admin come before the port opens: the first
    # answer of /api/health can say ok, and the admin can log in from it on.
    await runner.setup()
    try:
        password = config.auth.admin_password or random_password()
        async with app[SERVICES].db() as db:
            created = await ensure_admin(db, password, generated=not config.auth.admin_password)
        site = web.TCPSite(runner, config.server.host, config.server.port)
        await site.start()
        host, port = _bound_address(site)
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - the robot connects here
        app[SERVICES].recorders.server_url = f"http://{local}:{port}"
        url = config.server.public_url or f"http://{host}:{port}/"
        print(f"Aula is running at {url}", flush=True)
        if created and not config.auth.admin_password:
            print(f"Log in as admin with password: {password}  (shown once; change it in Users)", flush=True)
        elif created:
            print("Log in as admin with the password from AULA_ADMIN_PASSWORD", flush=True)
        else:
            print("Log in with your account (the admin account was created on first start)", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def _bound_address(site: web.TCPSite) -> tuple[str, int]:
    server = site._server  # aiohttp exposes the bound socket only here; needed when port 0 was asked
    sockets = getattr(server, "sockets", None) or []
    host, port = sockets[0].getsockname()[:2]
    return str(host), int(port)


async def _add_user(config: Config, args: argparse.Namespace) -> None:
    prepare_data_dir(config.server.data_dir)
    engine = make_engine(config.database_url)
    try:
        await migrate(engine)
        password = args.password or random_password()
        async with make_session_factory(engine)() as db:
            user = await create_user(db, args.name, password, args.role, args.display_name)
        print(f"created {user.role} {user.username!r}")
        if not args.password:
            print(f"password: {password}")
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"aula: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.server.log_level, config.server.log_format)
    try:
        if args.command == "serve":
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(_serve(config))
        else:
            asyncio.run(_add_user(config, args))
    except Exception as exc:  # the command line shows the reason, not a traceback
        from server.errors import AppError

        if isinstance(exc, AppError):
            print(f"aula: {exc.message}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
