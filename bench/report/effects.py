"""The effect of each scientific axis, paired by the others: the table that answers "does packing help?".

For an axis (say packing) every variant with the baseline value (padded) is paired with each variant
that differs from it only on that axis (packed, same cell, direction, depth, ...). A pair gets
Δ accuracy = mean(other) - mean(baseline) over seeds with Welch's t interval and two-sided p-value
(unequal variances: each variant is trained at its own tuned settings), the same p Holm-adjusted
over the whole table, and the ratios other / baseline of median epoch time and of peak memory.
The baseline of an axis is its first value in bench.variants' order (rnn, padded, uni, fewest layers).
"""

from __future__ import annotations

import math

import pandas as pd

from bench.report.stats import holm, welch
from bench.variants import AXES, BATCHINGS, CELLS, EMBED_INITS, PACKINGS, READOUTS

ORDER = {"cell": CELLS, "packing": PACKINGS, "readout": READOUTS, "embed_init": EMBED_INITS, "batching": BATCHINGS}
COLUMNS = ["axis", "baseline", "value", "context", "variant_baseline", "variant", "seeds_baseline", "seeds",
           "metric", "acc_baseline", "acc", "delta", "ci_low", "ci_high", "p_welch", "p_holm",
           "time_ratio", "memory_ratio", "memory_kind"]


def _rank(axis: str, value) -> tuple:
    order = ORDER.get(axis)
    return (order.index(value),) if order and value in order else (0, value)


def effects(records: list[dict], summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (axis, pair); `summary` (bench.report.tables.summarize) supplies the speed and memory."""
    frame = pd.DataFrame(records)
    axes = [a for a in AXES if a in frame and frame[a].nunique() > 1]
    metric = "test_acc" if frame["test_acc"].astype(float).notna().any() else "val_acc"
    by_variant = {v: runs for v, runs in frame.groupby("variant", sort=False)}
    settings = {v: {a: runs[a].iloc[0] for a in AXES if a in runs} for v, runs in by_variant.items()}
    rows = []
    for axis in axes:
        values = sorted({s[axis] for s in settings.values()}, key=lambda v: _rank(axis, v))
        base_value = values[0]
        for base, base_axes in settings.items():
            if base_axes[axis] != base_value:
                continue
            others = {a: v for a, v in base_axes.items() if a != axis}
            for variant, axes_of in settings.items():
                if axes_of[axis] == base_value or any(axes_of[a] != v for a, v in others.items()):
                    continue
                a = by_variant[base][metric].astype(float).dropna().tolist()
                b = by_variant[variant][metric].astype(float).dropna().tolist()
                test = welch(a, b)
                same_memory = summary.loc[base, "memory_kind"] == summary.loc[variant, "memory_kind"]
                rows.append({
                    "axis": axis, "baseline": base_value, "value": axes_of[axis],
                    "context": ", ".join(f"{k}={v}" for k, v in others.items() if frame[k].nunique() > 1) or "-",
                    "variant_baseline": base, "variant": variant, "seeds_baseline": len(a), "seeds": len(b),
                    "metric": metric, "acc_baseline": sum(a) / len(a) if a else math.nan,
                    "acc": sum(b) / len(b) if b else math.nan, "delta": test.delta, "ci_low": test.low,
                    "ci_high": test.high, "p_welch": test.p,
                    "time_ratio": summary.loc[variant, "epoch_time_s"] / summary.loc[base, "epoch_time_s"],
                    "memory_ratio": (summary.loc[variant, "peak_mem_mb"] / summary.loc[base, "peak_mem_mb"]
                                     if same_memory else math.nan),
                    "memory_kind": summary.loc[variant, "memory_kind"] if same_memory else "mixed"})
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["p_holm"] = holm(table["p_welch"].tolist())
    return table


def verdict(row: pd.Series, alpha: float = 0.05) -> str:
    """A plain-words reading of one pair, for the HTML table."""
    if math.isnan(row["p_holm"]):
        return "too few seeds to test" if not math.isnan(row["delta"]) else "no accuracy"
    if row["p_holm"] < alpha:
        return "better" if row["delta"] > 0 else "worse"
    return "no significant difference"
