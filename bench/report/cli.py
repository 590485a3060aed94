"""`python -m bench.report`: re-render from stored records, no training, no torch."""

from __future__ import annotations

import sys
from pathlib import Path

from dataclasses import fields

from bench import store
from bench.config import ReportArgs, parse_overrides
from bench.errors import BenchError
from bench.help import report_help


REPORTS = Path("reports")


def refresh_index(out: Path) -> None:
    """Keep reports/index.html current when `out` is a study folder directly under reports/."""
    from bench.report.index import write_index
    if out.resolve().parent == REPORTS.resolve():
        write_index(REPORTS)


def render_any(out: Path) -> str:
    from bench.report.speed import render_speed
    from bench.report.study import render
    from bench.report.sweep import render_sweep
    if (out / store.SPEED_RECORDS).is_file():
        return render_speed(out)
    return render_sweep(out) if (out / store.SWEEP).is_file() else render(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("--help", "-h") or a.lower() == "help=true" for a in argv):
        print(report_help())
        return 0
    try:
        print(_main(argv))
        return 0
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _render_checked(out: Path) -> str:
    """render_any, with records of the wrong shape (a hand-edited or foreign file) as one line."""
    try:
        return render_any(out)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BenchError(f"{out}: its records lack what this rnnbench writes ({type(e).__name__}: {e}); re-export "
                         "the folder (python -m bench.run with the same command)") from None


def _main(argv: list[str]) -> str:
    args = parse_overrides(argv)
    unknown = set(args) - {f.name for f in fields(ReportArgs)}
    if unknown:
        raise BenchError(f"unknown key(s) {', '.join(sorted(unknown))}: python -m bench.report takes "
                         "study=NAME or out=FOLDER (or nothing: every study under reports/), and storage=URL")
    from bench import runs
    from bench.report.index import studies, write_index
    if args.get("storage"):
        if not args.get("study"):
            raise BenchError("storage=URL needs study=NAME: the database can hold several studies")
        out = Path(args["out"]) if args.get("out") else REPORTS / str(args["study"])
        count = runs.export(runs.open_storage(str(args["storage"]), out, lease=120), str(args["study"]), out)
        if not count:
            raise BenchError(f"the database holds no finished run of study '{args['study']}' yet")
        args["out"] = str(out)
    if not args:
        found = studies(REPORTS)
        if not found:
            raise BenchError(f"no study folders under {REPORTS}/: run a study first (python -m bench.run study=smoke)")
        for entry in found:
            _render_checked(REPORTS / entry["folder"])
        return f"rendered {len(found)} study folder(s); wrote {write_index(REPORTS)}"
    out = Path(args["out"]) if args.get("out") else REPORTS / str(args.get("study", ""))
    if not any((out / name).is_file() for name in (store.RECORDS, store.SWEEP, store.SPEED_RECORDS)):
        raise BenchError(f"no records in '{out}': give study=NAME (reports/NAME) or out=FOLDER of a finished run")
    if (out / store.RECORDS).is_file() and not store.load(out):
        raise BenchError(f"{out / store.RECORDS} holds no record: nothing to render (the page and tables there, if "
                         "any, are older than it); run the study again")
    text = _render_checked(out)
    refresh_index(out)
    return f"{text}\n\nwrote {out / 'index.html'}"
