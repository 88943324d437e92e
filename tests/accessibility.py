"""axe-core (from npm, web/node_modules) run in a test's page: WCAG 2.0, 2.1 and 2.2, levels A and AA.

axe is injected by the test only: its file is never served to users. The pages' content policy forbids
inline scripts (``add_script_tag`` is refused), so its source is evaluated through the DevTools protocol,
which the policy does not govern; the page keeps its real policy while axe looks at it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parent.parent / "web" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
FAILING_IMPACTS = frozenset({"serious", "critical"})

RUN_AXE = """
async (tags) => {
  const options = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] };
  const results = await axe.run(document, options);
  return results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    helpUrl: violation.helpUrl,
    nodes: violation.nodes.map((node) => ({
      target: node.target.map(String).join(" "),
      impact: node.impact,
      summary: node.failureSummary,
    })),
  }));
}
"""


# Up to five elements that reach past the window's right edge, as "tag#id.class".
PAST_THE_EDGE = """
(width) => [...document.body.querySelectorAll("*")]
  .filter((node) => node.getBoundingClientRect().right > width + 1)
  .slice(0, 5)
  .map((node) => {
    const classes = typeof node.className === "string" ? node.className.split(" ").filter(Boolean) : [];
    return node.tagName.toLowerCase() + (node.id ? `#${node.id}` : "") + classes.map((c) => `.${c}`).join("");
  })
"""


# Each focusable control in turn takes focus (and so scrolls into view); those entirely hidden then by
# something the page keeps fixed or sticky on screen (a header, a sheet, floating notices) are listed, as
# "what (its name) under what". A state with a menu, listbox or dialog open is left alone: the person opened
# that layer and closes it with Escape, which WCAG 2.4.11 allows. Focus and scroll are put back.
HIDDEN_WHEN_FOCUSED = """
() => {
  const layers = document.querySelectorAll("dialog[open], [role=menu], [role=listbox]");
  if ([...layers].some((layer) => layer.checkVisibility())) return [];
  const describe = (node) => {
    const classes = typeof node.className === "string" ? node.className.split(" ").filter(Boolean) : [];
    return node.tagName.toLowerCase() + (node.id ? `#${node.id}` : "") + classes.map((c) => `.${c}`).join("");
  };
  const pinned = (node) => {
    for (let at = node; at && at !== document.body; at = at.parentElement) {
      if (["fixed", "sticky"].includes(getComputedStyle(at).position)) return at;
    }
    return null;
  };
  const before = document.activeElement;
  const [scrollX, scrollY] = [window.scrollX, window.scrollY];
  const hidden = [];
  const controls = "a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex='-1'])";
  for (const node of document.querySelectorAll(controls)) {
    if (node.disabled || !node.checkVisibility({ visibilityProperty: true })) continue;
    node.focus();
    if (document.activeElement !== node) continue;
    const box = node.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const points = [
      [box.left + box.width / 2, box.top + box.height / 2],
      [box.left + 2, box.top + 2],
      [box.right - 2, box.top + 2],
      [box.left + 2, box.bottom - 2],
      [box.right - 2, box.bottom - 2],
    ].filter(([x, y]) => x >= 0 && y >= 0 && x < innerWidth && y < innerHeight);
    const tops = points.map(([x, y]) => document.elementFromPoint(x, y)).filter(Boolean);
    if (tops.length === 0 || tops.some((top) => node === top || node.contains(top))) continue;
    const layer = pinned(tops[0]);
    if (layer && !layer.contains(node)) {
      const name = (node.getAttribute("aria-label") || node.textContent || "").trim().slice(0, 40);
      hidden.push(`${describe(node)} (${name}) under ${describe(tops[0])} in ${describe(layer)}`);
    }
  }
  if (before instanceof HTMLElement && before !== document.body) before.focus({ preventScroll: true });
  else document.activeElement?.blur();
  window.scrollTo(scrollX, scrollY);
  return hidden;
}
"""


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]
    summaries: tuple[str, ...]

    def describe(self) -> str:
        lines = [f"{self.rule} ({self.impact}): {self.help}"]
        for target, summary in zip(self.targets, self.summaries, strict=True):
            detail = " ".join(summary.split())
            lines.append(f"    {target}: {detail}")
        return "\n".join(lines)


@cache
def _axe_source() -> str:
    if not AXE.is_file():
        raise RuntimeError(f"{AXE} missing: run `npm ci` in web/ (make test does)")
    return AXE.read_text(encoding="utf-8")


async def axe_violations(page: Page) -> list[Violation]:
    """Every WCAG A/AA violation axe finds in the page as it is now (all impacts)."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(await asyncio.to_thread(_axe_source))
    found: list[dict[str, Any]] = await page.evaluate(RUN_AXE, WCAG_AA)
    return [
        Violation(
            rule=item["id"],
            impact=item["impact"] or "unknown",
            help=item["help"],
            targets=tuple(node["target"] for node in item["nodes"]),
            summaries=tuple(node["summary"] or "" for node in item["nodes"]),
        )
        for item in found
    ]


async def assert_accessible(page: Page, *, context: str) -> None:
    """Fails with a readable list when axe finds a serious or critical WCAG 2.2 AA violation."""
    serious = [v for v in await axe_violations(page) if v.impact in FAILING_IMPACTS]
    if serious:
        listing = "\n".join(v.describe() for v in serious)
        raise AssertionError(
            f"{context} ({page.url}): {len(serious)} serious or critical axe violations\n{listing}"
        )


async def assert_reflows(page: Page, *, context: str) -> None:
    """WCAG 1.4.10 (Reflow), which axe does not check: the page itself never scrolls sideways (a wide table
    may, inside its own scrolling box)."""
    scroll_width, client_width = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    if scroll_width > client_width:
        wide = await page.evaluate(PAST_THE_EDGE, client_width)
        raise AssertionError(
            f"{context} ({page.url}): the page is {scroll_width} px wide in a {client_width} px window; "
            f"reaching past it: {', '.join(wide)}"
        )


async def assert_focus_not_obscured(page: Page, *, context: str) -> None:
    """WCAG 2.2's 2.4.11 (Focus Not Obscured, Minimum), which axe does not check: no control that takes the
    keyboard's focus is then entirely hidden under something the page keeps fixed or sticky on screen."""
    hidden: list[str] = await page.evaluate(HIDDEN_WHEN_FOCUSED)
    if hidden:
        listing = "\n".join(f"    {item}" for item in hidden)
        raise AssertionError(f"{context} ({page.url}): focused but entirely hidden:\n{listing}")
