"""`python -m bench.report`: re-render from stored records, no training, no torch."""

from __future__ import annotations

import sys
from pathlib import Path

from bench import runs, store
from bench.config import parse_overrides
from bench.errors import BenchError
from bench.report.index import studies, write_index
from bench.report.speed import render_speed
from bench.report.study import render
from bench.report.sweep import SWEEP, render_sweep

REPORTS = Path("reports")


def refresh_index(out: Path) -> None:
    """Keep reports/index.html current when `out` is a study folder directly under reports/."""
    if out.resolve().parent == REPORTS.resolve():
        write_index(REPORTS)


def render_any(out: Path) -> str:
    if (out / store.SPEED_RECORDS).is_file():
        return render_speed(out)
    return render_sweep(out) if (out / SWEEP).is_file() else render(out)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_overrides(sys.argv[1:] if argv is None else argv)
        unknown = set(args) - {"study", "out", "storage"}
        if unknown:
            raise BenchError(f"unknown key(s) {', '.join(sorted(unknown))}: python -m bench.report takes "
                             "study=NAME or out=FOLDER (or nothing: every study under reports/), and storage=URL")
        if args.get("storage"):
            if not args.get("study"):
                raise BenchError("storage=URL needs study=NAME: the database can hold several studies")
            out = Path(args["out"]) if args.get("out") else REPORTS / str(args["study"])
            count = runs.export(runs.open_storage(str(args["storage"]), out, lease=120), str(args["study"]), out)
            if not count:
                raise BenchError(f"the database holds no finished run of study '{args['study']}' yet")
            args["out"] = str(out)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args:
        found = studies(REPORTS)
        for entry in found:
            render_any(REPORTS / entry["folder"])
        print(f"rendered {len(found)} study folder(s); wrote {write_index(REPORTS)}")
        return 0
    out = Path(args["out"]) if args.get("out") else REPORTS / str(args.get("study", ""))
    if not any((out / name).is_file() for name in (store.RECORDS, SWEEP, store.SPEED_RECORDS)):
        print(f"error: no records in '{out}': give study=NAME (reports/NAME) or out=FOLDER of a finished run",
              file=sys.stderr)
        return 2
    print(render_any(out))
    refresh_index(out)
    print(f"\nwrote {out / 'index.html'}")
    return 0
