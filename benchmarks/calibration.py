"""Calibration of the verdicts (bench.report.effects): how often they claim what is not there, and find what is.

Takes the test accuracies of many seeds of one learned variant (a study folder's records, or trains them:
`--train` runs gru, padded, read at each true end, on the given AG News folder, untuned, 20 seeds). Then, on
those real seed-to-seed spreads:

- A/A: split the seeds at random into two disjoint pseudo-variants of n seeds each (n = 3, 5, 10), `--resamples`
  times; report how often the verdict is better/worse (a false claim: the goal is <= 5 %), equivalent, undecided.
- Power: the same with a planted shift (+0.015 by default) added to one side; report how often it is "better".
- `--spread K` scales every seed's distance from the mean by K: the same distribution's shape at another spread
  (a steadier model's), to show where the verdicts' power comes from. Say so wherever such figures are quoted.
- Sequential: the schedule rnnbench runs with measure.seeds=3, measure.max_seeds=8 (3, 6, 8 seeds a side, α spent
  over the three looks by O'Brien-Fleming, stopping at the first decided look), for A/A and for the shift; and the
  mean seeds used.

Every decision goes through bench.report.effects.decide with Welch's test and TOST (bench.report.stats), with
one pair as the family (Holm over one test changes nothing). A benchmark, not a test: it takes minutes.

`--paired` calibrates the paired design instead: matched seeds of pairs at shared settings (`--train`: 10 seeds
each of gru padded + true_last, gru packed (the same function) and lstm padded + true_last (another cell), untuned
at _base.yaml's settings, 3-epoch cap, so every pair shares settings, initial weights where shapes agree, batch order
and dropout masks). For each pair, on its real per-seed differences d:

- A/A: d centred on 0, n distinct seeds of them drawn and each sign flipped at random (under "no effect" a
  difference is as likely either way); how often the paired verdict says better/worse (goal <= 5 %);
- as measured: d itself (the same-function pair should read "equivalent");
- power: centred d plus a planted +0.015; how often it reads "better";
at n = 3, 5, 8 fixed and on the 3, 6, 8 schedule with O'Brien-Fleming's levels (stopping at the first decided
look); beside each, the unpaired design on the same pair's two sides (each side centred and n distinct seeds
drawn on its own, Welch's t), which is what the pair would get if its sides had been tuned apart. Drawing n of
only 10 real seeds makes the draws overlap, so these rates are rougher than a simulation's.

    python -m benchmarks.calibration --data ../shared/data/ag_news_first10k --train
    python -m benchmarks.calibration --records reports/calibration/records.jsonl
    python -m benchmarks.calibration --paired --train --data ../shared/data/ag_news_first10k
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
from bench.report.stats import ALPHA, MARGIN, correlation, paired, tost, welch

VARIANT = ["cell=gru", "packing=padded", "readout=true_last"]
PAIRED = ["gru-padded-l1-true_last", "gru-packed-l1", "lstm-padded-l1-true_last"]
PAIRS = {"same function: gru padded + true_last -> gru packed": ("gru-padded-l1-true_last", "gru-packed-l1"),
         "another cell: lstm -> gru (padded, true_last)": ("lstm-padded-l1-true_last", "gru-padded-l1-true_last")}


def train_paired(data: str, seeds: int, out: Path) -> Path:
    """Matched seeds of PAIRED at one set of settings (untuned: every side shares _base.yaml's), 3-epoch cap."""
    argv = [sys.executable, "-m", "bench.run", "study=packing", "budget=null", f"variants=[{','.join(PAIRED)}]",
            "tune.trials=0", f"measure.seeds={seeds}", "measure.timing_steps=0", "train.epochs=3",
            f"data.root={data}", f"out={out}"]
    subprocess.run(argv, check=True)
    return out / "records.jsonl"


def by_seed(path: Path) -> dict[str, dict[int, float]]:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    found: dict[str, dict[int, float]] = {}
    for r in records:
        found.setdefault(r["variant"], {})[r["seed"]] = r["test_acc"]
    return found


def decided(a, b, level: float, margin: float, is_paired: bool) -> str:
    test = paired(list(a), list(b)) if is_paired else welch(list(a), list(b))
    return decide(test.p, tost(test, margin), test.delta, level)


def paired_draws(a: np.ndarray, b: np.ndarray, n: int, kind: str, shift: float, rng, is_paired: bool):
    """One resampled pair of n seeds a side: A/A ('null'), as measured ('raw'), or a planted `shift`."""
    if is_paired:
        d = b - a
        if kind != "raw":
            d = d - d.mean()
        picked = rng.permutation(len(d))[:n]  # n distinct matched seeds of the real ones
        signs = rng.choice([-1.0, 1.0], n) if kind != "raw" else np.ones(n)
        base = a[picked]
        return base, base + signs * d[picked] + shift
    if kind == "raw":
        return a[rng.permutation(len(a))[:n]], b[rng.permutation(len(b))[:n]]
    return (a - a.mean())[rng.permutation(len(a))[:n]], (b - b.mean())[rng.permutation(len(b))[:n]] + shift


def paired_rates(a, b, kind: str, shift: float, sizes: list[int], resamples: int, rng, alpha: float, margin: float,
                 is_paired: bool, sequential: bool) -> tuple[dict, float]:
    """Verdict rates over `resamples` draws at the fixed size sizes[0], or on the schedule `sizes` (sequential)."""
    criteria = Criteria(alpha=alpha, margin=margin, first=sizes[0], cap=sizes[-1])
    levels = criteria.levels if sequential else (alpha,)
    seen, used = Counter(), []
    for _ in range(resamples):
        x, y = paired_draws(a, b, sizes[-1], kind, shift, rng, is_paired)
        for n, level in zip(sizes if sequential else sizes[-1:], levels):
            said = decided(x[:n], y[:n], level, margin, is_paired)
            if said != "undecided":
                break
        seen[said] += 1
        used.append(n)
    return rates(seen), float(np.mean(used))


def main_paired(args) -> int:
    path = train_paired(args.data, args.seeds, args.out) if args.train else args.records
    if path is None:
        raise SystemExit("give --records FILE, or --train --data FOLDER")
    scores = by_seed(path)
    rng = np.random.default_rng(0)
    print(f"{args.resamples} resamplings; α {args.alpha}, margin {args.margin}, planted +{args.shift}")
    for label, (base, other) in PAIRS.items():
        seeds = sorted(set(scores[base]) & set(scores[other]))
        a = np.array([scores[base][s] for s in seeds])
        b = np.array([scores[other][s] for s in seeds])
        d = b - a
        print(f"\n{label}: {len(seeds)} matched seeds; means {a.mean():.4f} -> {b.mean():.4f}; sd unpaired "
              f"{a.std(ddof=1):.4f} / {b.std(ddof=1):.4f}, sd of per-seed differences {d.std(ddof=1):.4f} "
              f"({int((d == 0).sum())} of {len(d)} identical); correlation of matched seeds {correlation(a, b):.4f}")
        print("\n| seeds a side | design | A/A: false better/worse | as measured: equivalent | as measured: "
              f"better/worse | +{args.shift}: better | mean seeds a side (A/A, +{args.shift}) |")
        print("|---|---|---|---|---|---|---|")
        for sizes, sequential in (([3], False), ([5], False), ([8], False), ([3, 6, 8], True)):
            for is_paired in (True, False):
                null, n_null = paired_rates(a, b, "null", 0.0, sizes, args.resamples, rng, args.alpha, args.margin,
                                            is_paired, sequential)
                raw, _ = paired_rates(a, b, "raw", 0.0, sizes, args.resamples, rng, args.alpha, args.margin,
                                      is_paired, sequential)
                shift, n_shift = paired_rates(a, b, "null", args.shift, sizes, args.resamples, rng, args.alpha,
                                              args.margin, is_paired, sequential)
                name = ", ".join(map(str, sizes)) + (" (sequential, O'Brien-Fleming)" if sequential else " (fixed)")
                print(f"| {name} | {'paired' if is_paired else 'unpaired (Welch)'} | "
                      f"{null['better'] + null['worse']:.1%} | {raw['equivalent']:.1%} | "
                      f"{raw['better'] + raw['worse']:.1%} | {shift['better']:.1%} | {n_null:.1f}, {n_shift:.1f} |")
    return 0


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
        for n, level in zip(criteria.sizes, criteria.levels):  # O'Brien-Fleming's level at each look
            said = verdict(a[:n], b[:n], level, margin)
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
    parser.add_argument("--paired", action="store_true", help="calibrate the paired design on matched seeds of "
                        "pairs at shared settings (--seeds defaults to 10 there)")
    args = parser.parse_args(argv)
    if args.paired:
        args.seeds = 10 if args.seeds == 20 else args.seeds
        args.out = args.out.with_name(args.out.name + "-paired") if args.out == Path("reports/calibration") else args.out
        return main_paired(args)
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
