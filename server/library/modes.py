"""Which recording modes teachers may use: ``recording_modes`` in the configuration, unless the admin
changed it in the page (stored as the ``recording_modes`` server setting, which then wins).

A refused mode is a 403 with the reason (:func:`require_mode`); the five modes are
:data:`~server.db.models.ALL_RECORDING_MODES`.
"""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Config
from server.db.models import ALL_RECORDING_MODES, ServerSetting
from server.errors import AppError, Invalid

SETTING = "recording_modes"
DESCRIPTIONS = {
    "composite": "one mixed file of the class",
    "tracks": "each participant's own tracks",
    "both": "the mixed file and each participant's tracks",
    "multi_composite": "one file over several classrooms",
    "multi_separate": "one recording per classroom of a session",
}


class ModeRefused(AppError):
    status = 403
    code = "mode_refused"


async def allowed_modes(db: AsyncSession, config: Config) -> tuple[str, ...]:
    """The modes allowed now, in :data:`ALL_RECORDING_MODES` order."""
    stored = await db.get(ServerSetting, SETTING)
    chosen = set(config.recording.recording_modes)
    if stored is not None:
        try:
            value = json.loads(stored.value)
        except ValueError:
            value = None
        if isinstance(value, list):
            chosen = {mode for mode in value if isinstance(mode, str)}
    return tuple(mode for mode in ALL_RECORDING_MODES if mode in chosen)


async def require_mode(db: AsyncSession, config: Config, mode: str) -> None:
    """403 ``mode_refused`` unless the admin allows ``mode``."""
    if mode not in await allowed_modes(db, config):
        raise ModeRefused(
            f"The administrator does not allow recording {DESCRIPTIONS.get(mode, mode)} ({mode!r} mode)."
        )


async def set_allowed_modes(db: AsyncSession, modes: list[str]) -> tuple[str, ...]:
    """Store the admin's choice (committed); 400 for an unknown mode."""
    unknown = [mode for mode in modes if mode not in ALL_RECORDING_MODES]
    if unknown:
        raise Invalid.of_field(
            "recording_modes", f"Unknown mode {unknown[0]!r}: use {', '.join(ALL_RECORDING_MODES)}."
        )
    ordered = [mode for mode in ALL_RECORDING_MODES if mode in modes]
    stored = await db.get(ServerSetting, SETTING)
    if stored is None:
        db.add(ServerSetting(key=SETTING, value=json.dumps(ordered)))
    else:
        stored.value = json.dumps(ordered)
    await db.commit()
    return tuple(ordered)
