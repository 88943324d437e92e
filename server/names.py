"""Names people type (classrooms, recordings, display names): trimmed, bounded, printable.

A control character (CR, LF, DEL, ...) in a name is refused rather than cleaned: names travel into headers,
file names and other people's screens, and a name nobody can see whole should not be stored.
"""

from __future__ import annotations

import unicodedata

from server.errors import Invalid

# Cc: C0/C1 controls and DEL; Cs: lone surrogates (not encodable); Zl/Zp: line and paragraph separators.
_REFUSED = {"Cc", "Cs", "Zl", "Zp"}


def check_text(value: str, field: str, maximum: int) -> str:
    """``value`` with runs of spaces collapsed and its ends trimmed; ``Invalid`` naming ``field`` if it
    is empty, longer than ``maximum`` or holds a control character."""
    bad = next((char for char in value if unicodedata.category(char) in _REFUSED), None)
    if bad is not None:
        raise Invalid(f"{field}: must not contain control characters (found U+{ord(bad):04X})")
    cleaned = " ".join(value.split())
    if not 1 <= len(cleaned) <= maximum:
        raise Invalid(f"{field}: 1 to {maximum} characters")
    return cleaned
