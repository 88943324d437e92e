"""Recording file names: made by the server from the recording's id, date and a cleaned name.

Nothing a user typed becomes a path: the name is reduced to ASCII letters, digits, ``-`` and ``_``,
bounded in length, and the recording id makes it unique. Every path is checked to stay under the root.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from server.names import BIDI_CONTROLS

NAME_PART_MAX = 60


def recording_file_name(recording_id: int, name: str, started_at: datetime) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")[:NAME_PART_MAX].strip("-") or "recording"
    return f"{started_at:%Y%m%d-%H%M%S}-{recording_id}-{cleaned}.mp4"


def tracks_prefix(file_name: str) -> str:
    """What a recording's track files are named after: its own file's name without ``.mp4``. The robot
    names each track ``f"{prefix}-{user}-{source}.webm"`` (``recorder_bot.job.RobotJob.tracks_prefix``),
    which no other recording's file can be named, as every file name carries its recording's id."""
    return file_name.removesuffix(".mp4")


def path_under(root: Path, file_name: str) -> Path:
    """``root / file_name``, refusing anything that is not a plain file name inside ``root``."""
    if not file_name or "/" in file_name or "\\" in file_name or file_name in {".", ".."}:
        raise ValueError(f"not a plain file name: {file_name!r}")
    path = (root / file_name).resolve()
    if path.parent != root.resolve():
        raise ValueError(f"{file_name!r} is outside {root}")
    return path


def download_name(name: str) -> str:
    """A file name for a download built from the recording's display name (any characters but path and
    control ones)."""
    cleaned = "".join(
        " "
        if char in '\\/:*?"<>|'
        or char in BIDI_CONTROLS  # a name stored before they were refused must not reorder the file name
        or unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"}
        else char
        for char in name
    )
    cleaned = " ".join(cleaned.split()).strip(" .") or "recording"
    return f"{cleaned[:150]}.mp4"


# RFC 5987 attr-char: what ``filename*`` may carry unencoded.
_ATTR_CHARS = "!#$&+-.^_`|~"


def content_disposition(disposition: str, file_name: str) -> str:
    """A ``Content-Disposition`` value (RFC 6266) that is safe for any ``file_name``.

    ``filename`` is an ASCII fallback of letters, digits and a few safe marks for old clients;
    ``filename*`` carries the real name as percent-encoded UTF-8.
    """
    ascii_name = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
    fallback = re.sub(r"[^A-Za-z0-9 ._()+,-]+", "_", ascii_name)
    fallback = re.sub(r" +(?=\.[^.]*$)", "", " ".join(fallback.split())).strip(" _")
    stem, dot, extension = fallback.rpartition(".")
    if not re.search(r"[A-Za-z0-9]", stem if dot else fallback):
        fallback = f"download.{extension}" if dot and extension else "download"
    encoded = quote(file_name.encode("utf-8", "replace"), safe=_ATTR_CHARS)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
