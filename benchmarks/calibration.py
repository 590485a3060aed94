"""Calibration of the verdicts (bench.report.effects): how often they claim what is not there, and find what is.

Takes the test accuracies of many seeds of one learned variant (a study folder's records, or trains them:
`--train` runs gru, padded, read at each true end, on the given AG News folder, untuned, 20 seeds). Then, on
those real seed-to-seed spreads:

- A/A: split the seeds at random into two disjoint pseudo-variants of n seeds each (n = 3, 5, 10), `--resamples`
  times; report how often the verdict is better/worse (a false claim: the goal is <= 5 %), equivalent, undecided.
- Power: the same with a planted shift (+0.015 by default) added to one side; report how often it is "better".
- `--spread K` scales every seed's distance from the mean by K: the same distribution's shape at another spread
  (a steadier model's), to show where the verdicts' power comes from. Say so wherever such figures are quoted.
- Sequential: the schedule rnnbench runs with measure.seeds=3, measure.max_seeds=8 (3, 6, 8 seeds a side, α split
  over the three looks, stopping at the first decided look), for A/A and for the shift; and the mean seeds used.

Every decision goes through bench.report.effects.decide with Welch's test and TOST (bench.report.stats), with
one pair as the family (Holm over one test changes nothing). A benchmark, not a test: it takes minutes.

    python -m benchmarks.calibration --data ../shared/data/ag_news_first10k --train
    python -m benchmarks.calibration --records reports/calibration/records.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from bench.report.effects import Criteria, decide, schedule
from bench.report.stats import ALPHA, MARGIN, tost, welch

VARIANT = ["cell=gru", "packing=padded", "readout=true_last"]


def train(data: str, seeds: int, out: Path) -> Path:
    """`seeds` measured runs of one variant through the harness itself (no tuning, no timing pass)."""
    argv = [sys.executable, "-m", "bench.run", "study=packing", "budget=null", *VARIANT, "tune.trials=0",
            f"measure.seeds={seeds}", "measure.timing_steps=0", f"data.root={data}", f"out={out}"]
    subprocess.run(argv, check=True)
    return out / "records.jsonl"


def scores(path: Path) -> np.ndarray:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    variants = Counter(r["variant"] for r in records)
    variant = variants.most_common(1)[0][0]
    return np.array([r["test_acc"] for r in records if r["variant"] == variant], dtype=float)


def verdict(a: np.ndarray, b: np.ndarray, level: float, margin: float) -> str:
    test = welch(list(a), list(b))
    return decide(test.p, tost(test, margin), test.delta, level)


def fixed(values: np.ndarray, n: int, shift: float, resamples: int, rng, alpha: float, margin: float) -> Counter:
    seen = Counter()
    for _ in range(resamples):
        drawn = rng.permutation(values)
        seen[verdict(drawn[:n], drawn[n:2 * n] + shift, alpha, margin)] += 1
    return seen


def sequential(values: np.ndarray, first: int, cap: int, shift: float, resamples: int, rng, alpha: float,
               margin: float) -> tuple[Counter, float]:
    """The schedule rnnbench runs: test at each size, stop at the first decided look; (verdicts, mean seeds)."""
    criteria = Criteria(alpha=alpha, margin=margin, first=first, cap=cap)
    seen, used = Counter(), []
    for _ in range(resamples):
        drawn = rng.permutation(values)
        a, b = drawn[:cap], drawn[cap:2 * cap] + shift
        for n in schedule(first, cap):
            said = verdict(a[:n], b[:n], criteria.level, margin)
            if said != "undecided":
                break
        seen[said] += 1
        used.append(n)
    return seen, float(np.mean(used))


def rates(seen: Counter) -> dict:
    total = sum(seen.values())
    return {k: seen[k] / total for k in ("better", "worse", "equivalent", "undecided")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, help="a records.jsonl of one variant's seeds")
    parser.add_argument("--data", help="an AG News folder, for --train")
    parser.add_argument("--train", action="store_true", help="train the seeds first (20, ~4 min on 2 cores)")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("reports/calibration"))
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--shift", type=float, default=0.015)
    parser.add_argument("--alpha", type=float, default=ALPHA)
    parser.add_argument("--margin", type=float, default=MARGIN)
    parser.add_argument("--spread", type=float, default=1.0,
                        help="scale each seed's distance from the mean by this factor (0.25: the same shape at a "
                             "quarter of the spread), to see the verdicts at the spread of a steadier model")
    args = parser.parse_args(argv)
    path = train(args.data, args.seeds, args.out) if args.train else args.records
    if path is None:
        parser.error("give --records FILE, or --train --data FOLDER")
    values = scores(path)
    values = values.mean() + args.spread * (values - values.mean())
    if len(values) < 20:
        parser.error(f"{path} holds {len(values)} seeds of its variant; the splits at n = 10 need 20")
    scaled = f" (their spread scaled by {args.spread:g})" if args.spread != 1 else ""
    print(f"{len(values)} seeds{scaled}: test accuracy mean {values.mean():.4f}, sd {values.std(ddof=1):.4f}; "
          f"{args.resamples} resamplings; α {args.alpha}, margin {args.margin}, shift +{args.shift}")
    rng = np.random.default_rng(0)
    print("\n| seeds a side | A/A: false better/worse | A/A: equivalent | A/A: undecided | "
          f"+{args.shift}: better | +{args.shift}: equivalent | mean seeds a side |")
    print("|---|---|---|---|---|---|---|")
    for n in (3, 5, 10):
        null = rates(fixed(values, n, 0.0, args.resamples, rng, args.alpha, args.margin))
        shift = rates(fixed(values, n, args.shift, args.resamples, rng, args.alpha, args.margin))
        print(f"| {n} (fixed) | {null['better'] + null['worse']:.1%} | {null['equivalent']:.1%} | "
              f"{null['undecided']:.1%} | {shift['better']:.1%} | {shift['equivalent']:.1%} | {n} |")
    for first, cap in ((3, 8), (3, 10)):
        null, n_null = sequential(values, first, cap, 0.0, args.resamples, rng, args.alpha, args.margin)
        shift, n_shift = sequential(values, first, cap, args.shift, args.resamples, rng, args.alpha, args.margin)
        null, shift = rates(null), rates(shift)
        sizes = ", ".join(map(str, schedule(first, cap)))
        print(f"| {sizes} (sequential) | {null['better'] + null['worse']:.1%} | {null['equivalent']:.1%} | "
              f"{null['undecided']:.1%} | {shift['better']:.1%} | {shift['equivalent']:.1%} | "
              f"{n_null:.1f} (A/A), {n_shift:.1f} (shift) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
