"""Accounts: creating, changing and removing users, and the first admin."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.passwords import hash_password
from server.auth.permissions import can_be_moderator, can_create_classroom, can_delete_user, can_manage_users
from server.auth.sessions import end_user_sessions
from server.db.models import Classroom, Role, User, UserSettings
from server.errors import Conflict, FieldProblems, Invalid, NotFound, plain_words
from server.names import check_text
from server.timefmt import iso

log = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 256
DISPLAY_NAME_MAX = 80


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_PATTERN.fullmatch(name):
        raise Invalid.of_field(
            "username",
            "A user name has 3 to 32 characters: letters a-z, digits, '.', '_' or '-', starting with a "
            "letter or digit.",
        )
    return name


def check_password(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise Invalid.of_field("password", f"A password needs {PASSWORD_MIN} to {PASSWORD_MAX} characters.")


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid.of_field("role", "Choose admin, teacher or student.") from None


def check_form_text(value: str, field: str, maximum: int, what: str) -> str:
    """A name typed in a form (``what``: "a classroom name"), trimmed, or ``Invalid`` for ``field`` in
    plain words: empty, too long, or holding characters ``check_text`` refuses."""
    cleaned = " ".join(value.split())
    if not cleaned:
        raise Invalid.of_field(field, f"Enter {what}.")
    if len(cleaned) > maximum:
        raise Invalid.of_field(field, f"{what[0].upper()}{what[1:]} can have at most {maximum} characters.")
    try:
        return check_text(value, field, maximum)
    except Invalid as exc:
        raise Invalid.of_field(field, plain_words(exc.message, field)) from None


def check_display_name(display_name: str) -> str:
    return check_form_text(display_name, "display_name", DISPLAY_NAME_MAX, "a display name")


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
    """A new account; every field's problem is reported at once (``Invalid`` with ``fields``)."""
    given_name = display_name if display_name and display_name.strip() else None
    problems = FieldProblems()
    problems.check("username", lambda: normalise_username(username))
    problems.check("password", lambda: check_password(password))
    problems.check("role", lambda: check_role(role))
    if given_name is not None:
        problems.check("display_name", lambda: check_display_name(given_name))
    problems.raise_if_any()
    # Every check passed: run again for the values (cheap, and no Optional to carry).
    name = normalise_username(username)
    user = User(
        username=name,
        display_name=name if given_name is None else check_display_name(given_name),
        password_hash=await hash_password(password),
        role=check_role(role).value,
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        taken = f"The user name {name!r} is taken."
        raise Conflict(taken, fields={"username": taken}) from None
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
    problems = FieldProblems()
    new_name: str | None = None
    if display_name is not None:
        shown = display_name
        new_name = problems.check("display_name", lambda: check_display_name(shown))
    new_role: Role | None = None
    if role is not None and role != user.role:
        wanted = role
        new_role = problems.check("role", lambda: check_role(wanted))
    if password is not None:
        secret = password
        problems.check("password", lambda: check_password(secret))
    problems.raise_if_any()
    if new_name is not None:
        user.display_name = new_name
    if new_role is not None:
        if user.role == Role.ADMIN and await count_admins(db) <= 1:
            last = "The last admin cannot lose the admin role."
            raise Conflict(last, fields={"role": last})
        user.role = new_role.value
    ended: Sequence[str] = ()
    if password is not None:
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
        raise Conflict("You cannot delete your own account.")
    await db.execute(update(Classroom).where(Classroom.owner_id == user.id).values(owner_id=acting.id))
    await db.delete(user)
    await db.commit()


DIRECTORY_LIMIT = 20


def folded(text: str) -> str:
    """``text`` lower-cased without accents, for matching what people type ("lea" finds "Léa")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


async def search_directory(db: AsyncSession, query: str, roles: Sequence[str] = ()) -> list[User]:
    """Up to ``DIRECTORY_LIMIT`` users whose user name or display name holds every word of ``query`` (case
    and accents ignored), of one of ``roles`` if any are given, by display name."""
    statement = select(User).order_by(User.display_name, User.username)
    if roles:
        statement = statement.where(User.role.in_([check_role(role).value for role in roles]))
    words = folded(query).split()
    if not words:
        return list((await db.scalars(statement.limit(DIRECTORY_LIMIT))).all())
    # Accents are folded in Python (SQLite has no unaccent); a school's user table is small enough to scan.
    matches: list[User] = []
    for user in (await db.scalars(statement)).all():
        haystack = f"{folded(user.username)} {folded(user.display_name)}"
        if all(word in haystack for word in words):
            matches.append(user)
            if len(matches) == DIRECTORY_LIMIT:
                break
    return matches


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
