"""The benchmarks' summary: one JSON, one Markdown page and one chart from the latest result of each part.

    python -m bench.report                 # after the parts ran (``make bench`` runs them, then this)
    python -m bench.report --date 2026-11-23

Each part writes ``bench/results/<part>-<UTC date>.json`` when it runs (see the parts' own docstrings):

- ``forwarding``: server CPU per forwarded stream, Aula next to Janus 1.1.2 and aiortc ``MediaRelay``;
- ``capacity``: a 50-student class with REC on;
- ``recording-vs-janus``: the robot next to Janus's per-stream recording plus post-processing;
- ``recording``: the recorder's own costs (CPU by class size, stop to ready, memory);
- ``sync``: audio/video offset and drift over a 30-minute recording.

This module takes the newest file of each part (on or before ``--date``), and writes
``bench/results/<date>.json`` (every part's result under ``parts``, with the file it came from),
``bench/results/<date>.md`` (every part's table, as its module prints it) and
``bench/results/forwarding-cpu.png``: server CPU against N for each forwarder, with the fitted lines. It
measures nothing itself; a part that never ran is listed as missing.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure import RESULTS_DIR, utc_now

PARTS: dict[str, tuple[str, str]] = {
    # part (file name prefix) -> (module with ``table(result)``, title)
    "forwarding": ("bench.forwarding", "Forwarding: server CPU per forwarded video stream"),
    "capacity": ("bench.capacity", "Class capacity: 1 teacher, 50 students, REC on"),
    "recording-vs-janus": ("bench.recording_vs_janus", "Recording: the robot vs Janus + post-processing"),
    "recording": ("bench.recording", "Recording: the recorder's own costs"),
    "sync": ("bench.sync", "Sync: audio/video offset and drift in a long recording"),
}
CHART = "forwarding-cpu.png"
_DATED = re.compile(r"^(?P<part>.+)-(?P<date>\d{4}-\d\d-\d\d)\.json$")


def latest(results: Path, on_or_before: str) -> dict[str, Path]:
    """The newest result file of each part dated ``on_or_before`` or earlier."""
    found: dict[str, tuple[str, Path]] = {}
    for path in results.glob("*.json"):
        match = _DATED.match(path.name)
        if match is None or match["part"] not in PARTS or match["date"] > on_or_before:
            continue
        current = found.get(match["part"])
        if current is None or match["date"] > current[0]:
            found[match["part"]] = (match["date"], path)
    return {part: path for part, (_, path) in found.items()}


def _table_of(part: str) -> Callable[[dict[str, Any]], str] | None:
    try:
        module = importlib.import_module(PARTS[part][0])
    except ImportError:
        return None
    table = getattr(module, "table", None)
    return table if callable(table) else None


def _rendered(part: str, result: dict[str, Any]) -> str:
    """The part's own table; its JSON when the module is gone or the file predates its current format."""
    table = _table_of(part)
    if table is not None:
        try:
            return table(result)
        except (KeyError, TypeError, ValueError) as error:
            note = f"(the table could not be drawn from this file: {error!r}; its JSON follows)\n\n"
            return note + "```json\n" + json.dumps(result, indent=2) + "\n```"
    return "```json\n" + json.dumps(result, indent=2) + "\n```"


def markdown(date: str, parts: dict[str, dict[str, Any]], sources: dict[str, str]) -> str:
    lines = [f"# Aula benchmarks, {date}", ""]
    if "forwarding" in parts:
        lines += [f"![Server CPU against N for each forwarder]({CHART})", ""]
    for part, (_, title) in PARTS.items():
        lines.append(f"## {title}")
        lines.append("")
        if part not in parts:
            lines += ["Not run: no result file.", ""]
            continue
        lines.append(f"From `bench/results/{sources[part]}` (started {parts[part].get('started_at', '?')}).")
        lines.append("")
        lines.append(_rendered(part, parts[part]))
        lines.append("")
    return "\n".join(lines)


def chart(forwarding: dict[str, Any], path: Path) -> None:
    """Server CPU against N per forwarder, with least-squares fits: all three, then the two SFUs alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    forwarders: dict[str, Any] = forwarding["forwarders"]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = [(axes[0], list(forwarders)), (axes[1], [name for name in forwarders if name != "relay"])]
    for axis, names in panels:
        for name in names:
            forwarder = forwarders[name]
            points = forwarder["points"]
            n = [p["subscribers"] for p in points]
            cpu = [p["server_cpu_percent"] for p in points]
            slope = forwarder.get("cpu_percent_per_stream")
            intercept = forwarder.get("cpu_percent_intercept")
            label = forwarder["label"]
            if slope is not None:
                label += f": {slope:.2f}% per stream"
            (line,) = axis.plot(n, cpu, marker="o", label=label)
            failed = [(p["subscribers"], p["server_cpu_percent"]) for p in points if not p["sustained"]]
            if failed:
                axis.plot(
                    [x for x, _ in failed],
                    [y for _, y in failed],
                    linestyle="none",
                    marker="X",
                    markersize=11,
                    color="black",
                    label=f"{forwarder['label'].split(' (')[0]}: not sustained (under 90% of frames)",
                )
            if slope is not None and intercept is not None:
                axis.plot(
                    [min(n), max(n)],
                    [intercept + slope * min(n), intercept + slope * max(n)],
                    linestyle="--",
                    color=line.get_color(),
                    linewidth=1,
                )
        axis.set_xlabel("subscribers N (one 640x480 30 fps VP8 publisher at 1.5 Mbit/s)")
        axis.set_ylabel("server CPU, % of one core")
        axis.grid(True, alpha=0.3)
        axis.set_ylim(bottom=0)
        axis.legend(fontsize=8, loc="best")
    axes[0].set_title("All forwarders")
    axes[1].set_title("The two SFUs")
    figure.suptitle(f"Forwarding cost, measured in one run ({forwarding.get('started_at', '')})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def report(results: Path, date: str) -> dict[str, Any]:
    """Write the summary files for ``date``; returns the combined result."""
    sources = latest(results, date)
    parts = {part: json.loads(path.read_text()) for part, path in sources.items()}
    combined = {
        "benchmark": "all",
        "date": date,
        "written_at": utc_now(),
        "sources": {part: path.name for part, path in sources.items()},
        "missing": [part for part in PARTS if part not in parts],
        "parts": parts,
    }
    (results / f"{date}.json").write_text(json.dumps(combined, indent=2) + "\n")
    names = {part: path.name for part, path in sources.items()}
    (results / f"{date}.md").write_text(markdown(date, parts, names))
    if "forwarding" in parts:
        chart(parts["forwarding"], results / CHART)
    return combined


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    parser.add_argument("--date", default=today, help="take each part's newest result up to this date")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="the results folder")
    args = parser.parse_args(argv)
    combined = report(args.results, args.date)
    print((args.results / f"{args.date}.md").read_text())
    for part in combined["missing"]:
        print(f"missing: {part} (no bench/results/{part}-<date>.json)", file=sys.stderr)
    print(f"written to {args.results / (args.date + '.json')}, {args.date}.md and {CHART}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
