"""Login sessions: a random token in an encrypted cookie (aiohttp-session), a row per login in the database.

The cookie carries only a random token; the row's id is the token's SHA-256, so the database never holds a
usable token. A request is logged in while its row exists and has not expired: logging out, deleting the
account or changing its password deletes rows, and a copied cookie is dead from then on. No id is ever
reused, so a cookie can never come to mean another account.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp_session
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Config
from server.db.models import AuthSession, User
from server.errors import Unauthorized

COOKIE_NAME = "aula_session"
_COOKIE_FIELD = "token"


@dataclass(frozen=True)
class Authenticated:
    """Who a request or socket acts as, and the login session that lets it."""

    user: User
    session_id: str


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


def session_id_of(token: str) -> str:
    """The database id of the session a cookie token opens."""
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; every time this server stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def start_session(request: web.Request, db: AsyncSession, user: User, max_age: int) -> str:
    """Log ``user`` in on ``request``'s cookie for ``max_age`` seconds; returns the new session's id."""
    now = datetime.now(UTC)
    await db.execute(delete(AuthSession).where(AuthSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session_id = session_id_of(token)
    db.add(
        AuthSession(
            id=session_id, user_id=user.id, created_at=now, expires_at=now + timedelta(seconds=max_age)
        )
    )
    await db.commit()
    session = await aiohttp_session.new_session(request)
    session[_COOKIE_FIELD] = token
    return session_id


async def _cookie_session_id(request: web.Request) -> str | None:
    session = await aiohttp_session.get_session(request)
    token = session.get(_COOKIE_FIELD)
    if not isinstance(token, str) or not token:
        if not session.empty:
            session.invalidate()
        return None
    return session_id_of(token)


async def end_session(request: web.Request, db: AsyncSession) -> str | None:
    """Log out: the session's row is deleted and the cookie cleared; returns the ended session's id."""
    session_id = await _cookie_session_id(request)
    (await aiohttp_session.get_session(request)).invalidate()
    if session_id is None:
        return None
    row = await db.get(AuthSession, session_id)
    if row is None:
        return None
    await db.delete(row)
    await db.commit()
    return session_id


async def session_alive(db: AsyncSession, session_id: str) -> User | None:
    """The user behind ``session_id`` while its row exists and has not expired; None otherwise."""
    row = await db.get(AuthSession, session_id)
    if row is None:
        return None
    if _utc(row.expires_at) <= datetime.now(UTC):
        await db.delete(row)
        await db.commit()
        return None
    user = await db.get(User, row.user_id)
    # Rows go with their user (ON DELETE CASCADE); a session older than its user is never honoured either.
    if user is None or _utc(row.created_at) < _utc(user.created_at):
        return None
    return user


async def authenticated(request: web.Request, db: AsyncSession) -> Authenticated | None:
    """Who ``request`` is logged in as, or None when its cookie is missing, forged, revoked or expired."""
    session_id = await _cookie_session_id(request)
    if session_id is None:
        return None
    user = await session_alive(db, session_id)
    if user is None:
        (await aiohttp_session.get_session(request)).invalidate()
        return None
    return Authenticated(user, session_id)


async def session_user(request: web.Request, db: AsyncSession) -> User | None:
    """The logged-in user of ``request``, or None."""
    found = await authenticated(request, db)
    return found.user if found else None


async def require_authenticated(request: web.Request, db: AsyncSession) -> Authenticated:
    found = await authenticated(request, db)
    if found is None:
        raise Unauthorized("log in first")
    return found


async def require_user(request: web.Request, db: AsyncSession) -> User:
    return (await require_authenticated(request, db)).user


async def end_user_sessions(db: AsyncSession, user_id: int, keep: str | None = None) -> Sequence[str]:
    """Delete every session of ``user_id`` except ``keep``; returns the ids ended (not committed)."""
    query = select(AuthSession.id).where(AuthSession.user_id == user_id)
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    ended = (await db.scalars(query)).all()
    if ended:
        await db.execute(delete(AuthSession).where(AuthSession.id.in_(ended)))
    return ended
