"""Accounts: creating, changing and removing users, and the first admin."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.passwords import hash_password
from server.auth.permissions import can_be_moderator, can_create_classroom, can_delete_user, can_manage_users
from server.auth.sessions import end_user_sessions
from server.db.models import Classroom, Role, User, UserSettings
from server.errors import Conflict, Invalid, NotFound
from server.names import check_text
from server.timefmt import iso

log = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 256
DISPLAY_NAME_MAX = 80


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_PATTERN.fullmatch(name):
        raise Invalid(
            "username: 3-32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def check_password(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise Invalid(f"password: {PASSWORD_MIN} to {PASSWORD_MAX} characters")


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid("role: one of admin, teacher, student") from None


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "created_at": iso(user.created_at),
    }


def me_json(user: User) -> dict[str, Any]:
    """The logged-in user with what they may do across the site (``GET /api/me``)."""
    return {
        **user_json(user),
        "can_create_classroom": can_create_classroom(user),
        "can_manage_users": can_manage_users(user),
        # Recording settings (reminder, robot name) matter to those who may moderate, hence record.
        "can_record": can_be_moderator(user),
    }


def user_row_json(user: User, viewer: User) -> dict[str, Any]:
    """A row of the admins' user list, with ``viewer``'s rights on it."""
    return {**user_json(user), "can_delete": can_delete_user(viewer, user)}


def user_ref(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


async def create_user(
    db: AsyncSession, username: str, password: str, role: str, display_name: str | None = None
) -> User:
    name = normalise_username(username)
    check_password(password)
    user = User(
        username=name,
        display_name=check_text(display_name, "display_name", DISPLAY_NAME_MAX)
        if display_name and display_name.strip()
        else name,
        password_hash=await hash_password(password),
        role=check_role(role).value,
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise Conflict(f"the user name {name!r} is taken") from None
    db.add(UserSettings(user_id=user.id))
    await db.commit()
    return user


async def get_user(db: AsyncSession, user_id: int) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


async def update_user(
    db: AsyncSession,
    user: User,
    *,
    display_name: str | None = None,
    password: str | None = None,
    role: str | None = None,
    keep_session: str | None = None,
) -> Sequence[str]:
    """Change a user; returns the login sessions this ended.

    A new password ends every session of the user but ``keep_session`` (the one asking, when users change
    their own). A new role keeps sessions: rights are read from the role on every request.
    """
    if display_name is not None:
        user.display_name = check_text(display_name, "display_name", DISPLAY_NAME_MAX)
    if role is not None and role != user.role:
        new_role = check_role(role)
        if user.role == Role.ADMIN and await count_admins(db) <= 1:
            raise Conflict("the last admin cannot lose the admin role")
        user.role = new_role.value
    ended: Sequence[str] = ()
    if password is not None:
        check_password(password)
        user.password_hash = await hash_password(password)
        ended = await end_user_sessions(db, user.id, keep=keep_session)
    await db.commit()
    return ended


async def count_admins(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN)) or 0)


async def delete_user(db: AsyncSession, user: User, acting: User) -> None:
    """Remove an account with its sessions; the classrooms it owns pass to the acting admin so nothing is
    lost."""
    if not can_delete_user(acting, user):
        raise Conflict("you cannot delete your own account")
    await db.execute(update(Classroom).where(Classroom.owner_id == user.id).values(owner_id=acting.id))
    await db.delete(user)
    await db.commit()


async def ensure_admin(db: AsyncSession, password: str, generated: bool) -> bool:
    """Create the ``admin`` account when the database has no admin; True if it was created."""
    if await count_admins(db) > 0:
        return False
    existing = await db.scalar(select(User).where(User.username == "admin"))
    if existing is not None:
        existing.role = Role.ADMIN.value
        existing.password_hash = await hash_password(password)
        await end_user_sessions(db, existing.id)
        await db.commit()
    else:
        await create_user(db, "admin", password, Role.ADMIN.value, "Administrator")
    log.info("admin account created", extra={"generated_password": generated})
    return True
