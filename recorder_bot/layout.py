"""Where each source goes on the recording's canvas, and how names are lettered onto it.

The featured source (a screen share, else the active speaker) takes the large slot and the others sit in a
strip along the bottom. Names are drawn with a small built-in bitmap font, so the recorder needs no font
files or text-rendering library on the machine; names are folded to ASCII for it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

Mask = npt.NDArray[np.bool_]

STRIP_SLOTS = 5
"""The strip holds this many tiles at full width; more tiles share the strip and get narrower."""


@dataclass(frozen=True)
class Rect:
    """A tile on the canvas, in pixels; every edge is even so the half-size chroma planes line up."""

    x: int
    y: int
    width: int
    height: int


def _even(value: float) -> int:
    return int(value) // 2 * 2


def arrange(width: int, height: int, count: int) -> list[Rect]:
    """Tiles for ``count`` sources: the first is the large slot, the rest a bottom strip, left to right.

    One source fills the canvas. With more, the strip is a fifth of the height and the large slot the rest,
    so the featured picture keeps most of the frame however many people are in the class.
    """
    if count <= 0:
        return []
    if count == 1:
        return [Rect(0, 0, width, height)]
    strip_height = _even(height / 5)
    others = count - 1
    tile_width = _even(width / max(STRIP_SLOTS, others))
    left = _even((width - tile_width * others) / 2)
    strip_top = height - strip_height
    tiles = [Rect(0, 0, width, strip_top)]
    tiles += [Rect(left + i * tile_width, strip_top, tile_width, strip_height) for i in range(others)]
    return tiles


def fit(source_width: int, source_height: int, box: Rect) -> Rect:
    """The largest rectangle of the source's aspect ratio centred in ``box`` (letterbox or pillarbox)."""
    scale = min(box.width / source_width, box.height / source_height)
    width = max(2, min(box.width, _even(source_width * scale)))
    height = max(2, min(box.height, _even(source_height * scale)))
    return Rect(
        box.x + _even((box.width - width) / 2), box.y + _even((box.height - height) / 2), width, height
    )


# A 5x7 font (8 rows, so g, j, p, q and y can descend), drawn for this project. Lower case is included
# because names are read far more easily in mixed case.
_GLYPH_ROWS = 8
_GLYPH_WIDTH = 5
_ADVANCE = _GLYPH_WIDTH + 1
_GLYPHS: dict[str, str] = {
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "####. #...# #...# #...# #...# #...# ####.",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "a": "..... ..... .###. ....# .#### #...# .####",
    "b": "#.... #.... #.##. ##..# #...# #...# ####.",
    "c": "..... ..... .###. #.... #.... #...# .###.",
    "d": "....# ....# .##.# #..## #...# #...# .####",
    "e": "..... ..... .###. #...# ##### #.... .###.",
    "f": "..##. .#..# .#... ###.. .#... .#... .#...",
    "g": "..... ..... .#### #...# #...# .#### ....# .###.",
    "h": "#.... #.... #.##. ##..# #...# #...# #...#",
    "i": "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",
    "j": "...#. ..... ..##. ...#. ...#. ...#. #..#. .##..",
    "k": "#.... #.... #..#. #.#.. ##... #.#.. #..#.",
    "l": ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "m": "..... ..... ##.#. #.#.# #.#.# #...# #...#",
    "n": "..... ..... #.##. ##..# #...# #...# #...#",
    "o": "..... ..... .###. #...# #...# #...# .###.",
    "p": "..... ..... ####. #...# #...# ####. #.... #....",
    "q": "..... ..... .#### #...# #...# .#### ....# ....#",
    "r": "..... ..... #.##. ##..# #.... #.... #....",
    "s": "..... ..... .#### #.... .###. ....# ####.",
    "t": ".#... .#... ###.. .#... .#... .#..# ..##.",
    "u": "..... ..... #...# #...# #...# #..## .##.#",
    "v": "..... ..... #...# #...# #...# .#.#. ..#..",
    "w": "..... ..... #...# #...# #.#.# #.#.# .#.#.",
    "x": "..... ..... #...# .#.#. ..#.. .#.#. #...#",
    "y": "..... ..... #...# #...# #...# .#### ....# .###.",
    "z": "..... ..... ##### ...#. ..#.. .#... #####",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    " ": "..... ..... ..... ..... ..... ..... .....",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    ",": "..... ..... ..... ..... ..... .##.. ..#.. .#...",
    "-": "..... ..... ..... ##### ..... ..... .....",
    "_": "..... ..... ..... ..... ..... ..... #####",
    "'": "..#.. ..#.. .#... ..... ..... ..... .....",
    "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    "/": "..... ....# ...#. ..#.. .#... #.... .....",
    "&": ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",
    "!": "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
    "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
}
_UNKNOWN = "?"


def _glyph(rows: str) -> Mask:
    lines = rows.split()
    lines += ["." * _GLYPH_WIDTH] * (_GLYPH_ROWS - len(lines))
    return np.array([[c == "#" for c in line] for line in lines], dtype=np.bool_)


_FONT: dict[str, Mask] = {char: _glyph(rows) for char, rows in _GLYPHS.items()}


def printable(text: str) -> str:
    """``text`` in the font's characters: accents dropped (é → e), anything else unknown becomes ``?``."""
    folded = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in folded if not unicodedata.combining(c))
    return "".join(c if c in _FONT else _UNKNOWN for c in " ".join(kept.split()))


def text_size(length: int, scale: int) -> tuple[int, int]:
    """Width and height in pixels of ``length`` characters drawn at ``scale``."""
    return (max(0, length * _ADVANCE - 1) * scale, _GLYPH_ROWS * scale)


def fitting(text: str, max_width: int, scale: int) -> str:
    """``text`` shortened with ``..`` so it is at most ``max_width`` pixels wide at ``scale``."""
    limit = (max_width // scale + 1) // _ADVANCE
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 2)].rstrip() + ".." if limit >= 3 else text[:limit]


@lru_cache(maxsize=256)
def render_text(text: str, scale: int) -> Mask:
    """A boolean mask of ``text`` (already :func:`printable`), each font pixel a ``scale`` square.

    Cached: the same few names are drawn on every output frame.
    """
    width, height = text_size(len(text), 1)
    mask = np.zeros((height, max(width, 1)), dtype=np.bool_)
    for i, char in enumerate(text):
        mask[:, i * _ADVANCE : i * _ADVANCE + _GLYPH_WIDTH] = _FONT.get(char, _FONT[_UNKNOWN])
    mask.flags.writeable = False
    scaled: Mask = np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)
    scaled.flags.writeable = False
    return scaled
