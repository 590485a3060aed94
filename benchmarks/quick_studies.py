"""Time whole studies as a user runs them, and print what their pages conclude.

    python -m benchmarks.quick_studies --data ../shared/data/ag_news_first10k                  # packing, baselines
    python -m benchmarks.quick_studies --data DIR --studies packing --budget smoke

Each study runs as `python -m bench.run study=NAME budget=BUDGET data.root=DIR out=OUT/NAME` in a fresh
process (a fresh folder unless --resume), timed from start to exit; then, from the folder's summary.csv
and study.json: each variant's test accuracy (mean ± 95 % half-width over seeds), whether it learned,
the epochs kept / run, and the TF-IDF + logistic regression reference on the same split. This is a
benchmark, not a test: it takes minutes, and its times depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd


def run(study: str, budget: str, data: str, out: Path, resume: bool) -> float:
    if out.exists() and not resume:
        shutil.rmtree(out)
    start = time.perf_counter()
    code = subprocess.run([sys.executable, "-m", "bench.run", f"study={study}", f"budget={budget}",
                           f"data.root={data}", f"out={out}"], stdout=subprocess.DEVNULL).returncode
    elapsed = time.perf_counter() - start
    if code != 0:
        print(f"{study}: exit code {code} (see its page in {out})")
    return elapsed


def describe(study: str, out: Path, seconds: float) -> str:
    summary = pd.read_csv(out / "summary.csv", index_col="variant")
    classical = json.loads((out / "study.json").read_text()).get("classical") or {}
    lines = [f"## {study}: {seconds / 60:.1f} min wall on this machine",
             "| variant | test acc (mean ± 95 % CI) | learned | epochs kept / run (median) | per seed |",
             "| --- | --- | --- | --- | --- |"]
    for variant, row in summary.iterrows():
        lines.append(f"| {variant} | {row['test_acc_mean']:.4f} ± {row['test_acc_ci']:.4f} | {row['learned']} | "
                     f"{row['epochs_kept']:g} / {row['epochs_run']:g} | {row['epochs_by_seed']} |")
    if classical:
        lines.append(f"| reference: {classical['model']} | {classical['test_acc']:.4f} | | | C={classical['C']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a folder with AG News's train.csv[.gz] and test.csv[.gz]")
    parser.add_argument("--studies", default="packing,baselines")
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--out", default="reports/benchmark")
    parser.add_argument("--resume", action="store_true", help="keep existing folders (times then exclude done work)")
    args = parser.parse_args()
    for study in args.studies.split(","):
        out = Path(args.out) / study
        seconds = run(study, args.budget, args.data, out, args.resume)
        print(describe(study, out, seconds), flush=True)


if __name__ == "__main__":
    main()
