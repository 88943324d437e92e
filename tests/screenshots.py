"""Screenshots of each page at 1280x720 and 375x812: ``python -m tests.screenshots docs/screenshots``.

Starts ``aula serve`` on a fresh data folder, sets up a small school (tests/tour.py: Léa Dubois teaches
Physique 3B to Sam Okafor and others), and walks the same tour of the pages as the accessibility test,
saving ``<page>-<size>.png`` for the states listed in ``SHOWN`` and for any page the tour does not know by
name. The classroom is live with a teacher and a student on Chromium's fake cameras, so it runs, like the
tests, inside the loopback-only network namespace (``make screenshots`` does that). PNGs are reduced to a
palette of 256 colours, which keeps them small with flat interface colours.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.async_api import Page

from tests.browser import chromium
from tests.live_server import live_server
from tests.netns import only_loopback
from tests.tour import ADMIN_PASSWORD, OTHER_PAGE, at_each_size, set_up_school, tour

# The states of the tour worth a picture (the others are checked by the accessibility test only).
SHOWN = frozenset(
    {
        "login",
        "classrooms-teacher",
        "classroom-prejoin",
        "classrooms-admin",
        "users",
        "settings-teacher",
        "classroom-settings",
        "classroom-teacher",
        "classroom-student",
        "classroom-teacher-hand",
        "classroom-teacher-recording",
        "recordings",
    }
)


def _shrink(path: Path) -> None:
    """Rewrites the PNG with a 256-colour palette (off the event loop: it is CPU work)."""
    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    reduced.save(path, optimize=True)


async def take(out_dir: Path) -> list[Path]:
    """Runs the tour on a fresh server and writes the screenshots; returns the files written."""
    written: list[Path] = []

    async def visit(page: Page, name: str) -> None:
        if name not in SHOWN and not name.startswith(OTHER_PAGE):
            return

        # The tour types and clicks with the keyboard's focus; a picture shows the page at rest.
        await page.evaluate("document.activeElement instanceof HTMLElement && document.activeElement.blur()")

        async def shoot(size: str) -> None:
            path = out_dir / f"{name}-{size}.png"
            await page.screenshot(path=str(path), animations="disabled", caret="hide")
            await asyncio.to_thread(_shrink, path)
            written.append(path)

        await at_each_size(page, shoot)

    with tempfile.TemporaryDirectory(prefix="aula-screenshots-") as data:
        async with live_server(Path(data) / "data", {"AULA_ADMIN_PASSWORD": ADMIN_PASSWORD}) as server:
            school = await set_up_school(server.url)
            async with chromium() as browser:
                await tour(browser, school, visit)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path, help="where to write the PNGs, e.g. docs/screenshots")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if not only_loopback():
        print(
            "run inside the loopback-only network namespace, as the tests do: make screenshots",
            file=sys.stderr,
        )
        return 2
    written = asyncio.run(take(args.out_dir))
    for path in written:
        print(f"{path} {path.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
