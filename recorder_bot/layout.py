"""Where each source goes on the recording's canvas, and how names are lettered onto it.

The featured source (a screen share, else the active speaker) takes the large slot and the others sit in a
strip along the bottom. A composite session over several classrooms splits the canvas into one region per
classroom (:func:`regions`), each laid out so inside it and labelled with its classroom's name.

Names are lettered in a TrueType font (Debian's DejaVu Sans by default: Latin, Greek and Cyrillic)
rendered by Pillow through FreeType, so "Léa Dubois" is recorded as written. Each label is rendered once
and kept: the same few names are drawn on every output frame.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

Alpha = npt.NDArray[np.uint8]
"""A label's coverage: 0 where the text is not, 255 where it fully is (anti-aliased edges between)."""

DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
"""Debian's ``fonts-dejavu-core``: the labels' font unless the configuration names another."""
ELLIPSIS = "\u2026"
MIN_SIZE = 10
"""Smallest font size in pixels: below it names are not legible."""

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


def arrange_in(region: Rect, count: int) -> list[Rect]:
    """:func:`arrange` inside ``region``: a classroom's tiles in its part of a session's canvas."""
    return [
        Rect(region.x + tile.x, region.y + tile.y, tile.width, tile.height)
        for tile in arrange(region.width, region.height, count)
    ]


def grid(count: int) -> tuple[int, int]:
    """Columns and rows of the regions of ``count`` classrooms: one; two side by side; three or four in
    2 x 2; up to nine in 3 x 3 (and so on: the smallest square grid holding them all)."""
    if count <= 1:
        return (1, 1)
    if count == 2:
        return (2, 1)
    side = math.isqrt(count - 1) + 1
    return (side, side)


def regions(width: int, height: int, count: int) -> list[Rect]:
    """The canvas split into one region per classroom of a composite session, row by row from the top
    left. Together they cover the canvas exactly; every edge is even (regions may differ by 2 pixels)."""
    if count <= 0:
        return []
    columns, rows = grid(count)
    xs = [width if i == columns else _even(width * i / columns) for i in range(columns + 1)]
    ys = [height if i == rows else _even(height * i / rows) for i in range(rows + 1)]
    cells = [
        Rect(xs[column], ys[row], xs[column + 1] - xs[column], ys[row + 1] - ys[row])
        for row in range(rows)
        for column in range(columns)
    ]
    return cells[:count]


def fit(source_width: int, source_height: int, box: Rect) -> Rect:
    """The largest rectangle of the source's aspect ratio centred in ``box`` (letterbox or pillarbox)."""
    scale = min(box.width / source_width, box.height / source_height)
    width = max(2, min(box.width, _even(source_width * scale)))
    height = max(2, min(box.height, _even(source_height * scale)))
    return Rect(
        box.x + _even((box.width - width) / 2), box.y + _even((box.height - height) / 2), width, height
    )


def label_size(canvas_height: int, large: bool) -> int:
    """Font size in pixels of a tile's name: a thirtieth of the picture's height on the large tile, a
    forty-fifth on the strip (24 and 16 pixels at 720p)."""
    return max(MIN_SIZE, round(canvas_height / (30 if large else 45)))


def room_label_size(region_height: int) -> int:
    """Font size in pixels of a classroom's name on its region of a session's canvas: a twenty-fourth of
    the region's height (30 pixels on a 720p region, 15 on a quarter of a 720p canvas)."""
    return max(MIN_SIZE, round(region_height / 24))


def title_size(canvas_height: int) -> int:
    """Font size in pixels of the class name on the picture shown while nobody sends video."""
    return max(MIN_SIZE, canvas_height // 12)


def clean(text: str) -> str:
    """``text`` as it is lettered: composed (NFC), with control characters and runs of white space as one
    space (format characters stay: a zero-width joiner shapes some scripts; names refuse bidi controls)."""
    composed = unicodedata.normalize("NFC", text)
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in composed).split())


class LabelFont:
    """Text in one TrueType font at any size, each distinct label rendered once and kept.

    The font file is read on first use, which is on the recorder's worker thread (never the event
    loop). A font that cannot be read is logged and Pillow's built-in font used instead, so a missing
    package costs the labels' accents, never the recording.
    """

    CACHE_SIZE = 256

    def __init__(self, path: Path = DEJAVU_SANS) -> None:
        self.path = path
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}
        self._labels: dict[tuple[str, int, int], Alpha | None] = {}

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        """The font at ``size`` pixels."""
        font = self._fonts.get(size)
        if font is None:
            try:
                font = ImageFont.truetype(str(self.path), size)
            except OSError as exc:
                log.warning("label font not readable: using the built-in font", extra={"problem": str(exc)})
                fallback = ImageFont.load_default(size)
                if not isinstance(fallback, ImageFont.FreeTypeFont):
                    raise
                font = fallback
            self._fonts[size] = font
        return font

    def width(self, text: str, size: int) -> int:
        """Width in pixels of ``text`` at ``size``."""
        return math.ceil(self.font(size).getlength(text))

    def fitting(self, text: str, max_width: int, size: int) -> str:
        """``text`` cut short with an ellipsis to at most ``max_width`` pixels wide ("" if nothing fits)."""
        if self.width(text, size) <= max_width:
            return text
        shortest, longest = 0, len(text)
        while shortest < longest:
            middle = (shortest + longest + 1) // 2
            if self.width(text[:middle].rstrip() + ELLIPSIS, size) <= max_width:
                shortest = middle
            else:
                longest = middle - 1
        return text[:shortest].rstrip() + ELLIPSIS if shortest else ""

    def render(self, text: str, size: int) -> Alpha:
        """The coverage of ``text`` at ``size``: as tall as the font's ascent plus descent, so every label
        of one size shares its baseline; as wide as the text's advance (or its ink, if wider)."""
        font = self.font(size)
        ascent, descent = font.getmetrics()
        left, _, right, _ = font.getbbox(text, anchor="ls")
        offset = max(0, -math.floor(left))
        width = max(1, offset + max(math.ceil(right), self.width(text, size)))
        image = Image.new("L", (width, ascent + descent))
        ImageDraw.Draw(image).text((offset, ascent), text, fill=255, font=font, anchor="ls")
        alpha: Alpha = np.asarray(image, dtype=np.uint8)
        alpha.flags.writeable = False
        return alpha

    def label(self, text: str, max_width: int, size: int) -> Alpha | None:
        """``text`` (see :func:`clean`) fitted into ``max_width`` and rendered; None when nothing fits.

        Cached: a label is rendered when a name or its room changes, not on every frame.
        """
        key = (text, max_width, size)
        if key in self._labels:
            return self._labels[key]
        fitted = self.fitting(text, max_width, size) if text else ""
        alpha = self.render(fitted, size) if fitted.strip() else None
        if len(self._labels) >= self.CACHE_SIZE:
            self._labels.clear()
        self._labels[key] = alpha
        return alpha
