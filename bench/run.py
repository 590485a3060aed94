"""The command line: `python -m bench.run study=NAME [key=value ...]` (or `rnnbench ...`).

    python -m bench.run study=lesson data.root=../shared/data/ag_news_first10k
    python -m bench.run study=packing budget=quick data.root=../shared/data/ag_news_first10k
    python -m bench.run --help

The arguments are read and checked here, before torch and the rest are imported, so a mistake is reported
in a fraction of a second; bench.pipeline then runs the stages in order.
"""

from __future__ import annotations

import logging
import sys

from bench.config import load_study
from bench.errors import BenchError
from bench.help import run_help


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("--help", "-h") or a.lower() == "help=true" for a in argv):
        print(run_help())
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if hasattr(sys.stdout, "reconfigure"):  # a log file gets each line when it is said, in order with stderr's
        sys.stdout.reconfigure(line_buffering=True)
    try:
        study = load_study(argv)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from bench import pipeline  # torch, Optuna, the data: only once the command line is known to be good
    return pipeline.start(argv, study)


if __name__ == "__main__":
    sys.exit(main())
