"""Text people type: names (classrooms, recordings, display names) and chat messages.

A control character (CR, LF, DEL, ...) in a name is refused rather than cleaned: names travel into headers,
file names and other people's screens, and a name nobody can see whole should not be stored. For the same
reason bidirectional embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069) are refused
everywhere: they make text display in another order than it is stored ("Report \\u202eeliF.exe" shows as
"Report exe.File"). A name made only of invisible characters (spaces, zero-width spaces and joiners, word
joiners, ...) is refused too. Chat messages follow the same rules but keep their line breaks and tabs.
"""

from __future__ import annotations

import unicodedata

from server.errors import Invalid

# Cc: C0/C1 controls and DEL; Cs: lone surrogates (not encodable); Zl/Zp: line and paragraph separators.
_REFUSED = {"Cc", "Cs", "Zl", "Zp"}
# Bidirectional embeddings, overrides (U+202A to U+202E) and isolates (U+2066 to U+2069), all category Cf.
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
# What a chat message may hold of _REFUSED: line feed (after CR and CRLF become LF) and tab.
_MESSAGE_ALLOWED = frozenset("\n\t")


def _refuse_controls(value: str, field: str, allowed: frozenset[str] = frozenset()) -> None:
    for char in value:
        if char in allowed:
            continue
        if unicodedata.category(char) in _REFUSED:
            raise Invalid(f"{field}: must not contain control characters (found U+{ord(char):04X})")
        if char in BIDI_CONTROLS:
            raise Invalid(
                f"{field}: must not contain bidirectional control characters (found U+{ord(char):04X})"
            )


def _is_visible(text: str) -> bool:
    """Whether anything in ``text`` is neither white space nor an invisible format character (Cf)."""
    return any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text)


def check_text(value: str, field: str, maximum: int) -> str:
    """``value`` with runs of spaces collapsed and its ends trimmed; ``Invalid`` naming ``field`` if it
    is empty, longer than ``maximum``, holds a control character or a bidirectional control, or has
    nothing visible in it."""
    _refuse_controls(value, field)
    cleaned = " ".join(value.split())
    if not 1 <= len(cleaned) <= maximum:
        raise Invalid(f"{field}: use 1 to {maximum} characters")
    if not _is_visible(cleaned):
        raise Invalid(f"{field}: must contain a visible character")
    return cleaned


def check_message(value: str, field: str, maximum: int) -> str:
    """A chat message: CRLF and CR become LF, the ends are trimmed, inner spacing and line breaks are kept.

    ``Invalid`` naming ``field`` if it holds a control character other than LF and tab (NUL, ESC, DEL,
    U+2028, ...) or a bidirectional control; ``Invalid`` in plain words if it has nothing visible in it or
    is longer than ``maximum`` characters after trimming.
    """
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    _refuse_controls(text, field, _MESSAGE_ALLOWED)
    text = text.strip()
    # The sender sees these two beside the field they typed in, so they speak plainly and name no field.
    if not _is_visible(text):
        raise Invalid("A message cannot be empty.")
    if len(text) > maximum:
        raise Invalid(f"A message can be at most {maximum} characters.")
    return text
