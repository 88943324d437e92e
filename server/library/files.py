"""Recording file names: made by the server from the recording's id, date and a cleaned name.

Nothing a user typed becomes a path: the name is reduced to ASCII letters, digits, ``-`` and ``_``,
bounded in length, and the recording id makes it unique. Every path is checked to stay under the root.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path

NAME_PART_MAX = 60


def recording_file_name(recording_id: int, name: str, started_at: datetime) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")[:NAME_PART_MAX].strip("-") or "recording"
    return f"{started_at:%Y%m%d-%H%M%S}-{recording_id}-{cleaned}.mp4"


def path_under(root: Path, file_name: str) -> Path:
    """``root / file_name``, refusing anything that is not a plain file name inside ``root``."""
    if not file_name or "/" in file_name or "\\" in file_name or file_name in {".", ".."}:
        raise ValueError(f"not a plain file name: {file_name!r}")
    path = (root / file_name).resolve()
    if path.parent != root.resolve():
        raise ValueError(f"{file_name!r} is outside {root}")
    return path


def download_name(name: str) -> str:
    """A file name for ``Content-Disposition`` built from the recording's display name."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', " ", name).strip(" .") or "recording"
    return f"{cleaned[:150]}.mp4"
