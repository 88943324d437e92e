"""Encrypted cookie sessions (aiohttp-session) and the current user behind a request.

The cookie holds only the user id and the user's session epoch; the user row is read on every request,
so a deleted account or a changed password or role ends every session at once.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import aiohttp_session
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Config
from server.db.models import User
from server.errors import Unauthorized

COOKIE_NAME = "aula_session"


def load_secret(path: Path) -> bytes:
    """The 32-byte session key, created once (mode 0600) so sessions survive a restart."""
    if path.exists():
        key = path.read_bytes()
        if len(key) != 32:
            raise ValueError(f"{path}: the session key must be 32 bytes, found {len(key)}")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


def session_secret(config: Config) -> bytes:
    return load_secret(config.auth.session_secret_file or config.server.data_dir / "session.key")


def setup_sessions(app: web.Application, secret: bytes, config: Config) -> None:
    storage = EncryptedCookieStorage(
        secret,
        cookie_name=COOKIE_NAME,
        max_age=config.auth.session_max_age,
        httponly=True,
        secure=config.cookie_secure,
        samesite="Lax",
    )
    aiohttp_session.setup(app, storage)


async def start_session(request: web.Request, user: User) -> None:
    session = await aiohttp_session.new_session(request)
    session["uid"] = user.id
    session["epoch"] = user.session_epoch


async def end_session(request: web.Request) -> None:
    session = await aiohttp_session.get_session(request)
    session.invalidate()


async def session_user(request: web.Request, db: AsyncSession) -> User | None:
    """The logged-in user of ``request``, or None when the session is missing, stale or forged."""
    session = await aiohttp_session.get_session(request)
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    user = await db.get(User, uid)
    if user is None or user.session_epoch != session.get("epoch"):
        session.invalidate()
        return None
    return user


async def require_user(request: web.Request, db: AsyncSession) -> User:
    user = await session_user(request, db)
    if user is None:
        raise Unauthorized("log in first")
    return user
