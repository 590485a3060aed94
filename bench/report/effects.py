"""The effect of each scientific axis, paired by the others: the table that answers "does packing help?".

For an axis (say packing) every variant with the baseline value (padded) is paired with each variant
that differs from it only on that axis (packed, same cell, direction, depth, ...). A pair gets
Δ accuracy = mean(other) - mean(baseline) over seeds with Welch's t interval and two-sided p-value
(unequal variances: each variant is trained at its own tuned settings), the same p Holm-adjusted
over the whole table, and the ratios other / baseline of time per training step and of peak memory.
The baseline of an axis is its first value in bench.variants' order (rnn, padded, uni, fewest layers).

One cause per row. A packed variant's `last` read-out *is* the state at each true end, so for pairing
it counts as `true_last`: padded+last -> padded+true_last is the read-out's effect, padded+true_last ->
packed is packing's own, and padded+last -> packed (two causes at once) is not a row. A baseline
(bag, transformer) has no packing, direction or read-out: on the cell axis only the axes that apply to
both sides must match. Times and memory come from each run's timing pass at the study's shared sizes
(`timing`), so a ratio compares the same sizes and batch; records without one fall back to the tuned
runs' epoch times, and the row says so (`time_basis`). A pair where either side did not learn
(bench.report.tables.summarize) is "not comparable": its Δ is shown, never a verdict.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.report.stats import holm, welch
from bench.variants import AXES, BATCHINGS, CELLS, EMBED_INITS, NOT_APPLICABLE, PACKINGS, READOUTS

ORDER = {"cell": CELLS, "packing": PACKINGS, "readout": READOUTS, "embed_init": EMBED_INITS, "batching": BATCHINGS}
COLUMNS = ["axis", "baseline", "value", "context", "variant_baseline", "variant", "seeds_baseline", "seeds",
           "metric", "acc_baseline", "acc", "delta", "ci_low", "ci_high", "p_welch", "p_holm",
           "time_ratio", "time_basis", "memory_ratio", "memory_kind", "comparable"]


def _rank(axis: str, value) -> tuple:
    order = ORDER.get(axis)
    return (order.index(value),) if order and value in order else (0, value)


def _effective(axes: dict) -> dict:
    """The axes as the model computes them: packed `last` reads each true end, as `true_last` does."""
    if axes.get("packing") == "packed" and axes.get("readout") == "last":
        return {**axes, "readout": "true_last"}
    return axes


def _others_match(axis: str, base: dict, other: dict) -> bool:
    """Do two variants agree on every axis but `axis` (among those that apply to both)?"""
    skip = set(NOT_APPLICABLE.get(base.get("cell"), {})) | set(NOT_APPLICABLE.get(other.get("cell"), {}))
    return all(other.get(a) == v for a, v in base.items() if a != axis and (axis != "cell" or a not in skip))


def _ratio(summary: pd.DataFrame, column: str, base: str, variant: str) -> float:
    a, b = summary.loc[base, column], summary.loc[variant, column]
    return float(b / a) if not (pd.isna(a) or pd.isna(b) or a == 0) else math.nan


def effects(records: list[dict], summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (axis, pair); `summary` (bench.report.tables.summarize) supplies speed, memory, learning."""
    frame = pd.DataFrame(records)
    metric = "test_acc" if frame["test_acc"].astype(float).notna().any() else "val_acc"
    by_variant = {v: runs for v, runs in frame.groupby("variant", sort=False)}
    settings = {v: _effective({a: runs[a].iloc[0] for a in AXES if a in runs}) for v, runs in by_variant.items()}
    axes = [a for a in AXES if len({str(s.get(a)) for s in settings.values()}) > 1]  # varying, as computed
    rows = []
    for axis in axes:
        values = sorted({s[axis] for s in settings.values()}, key=lambda v: _rank(axis, v))
        base_value = values[0]
        for base, base_axes in settings.items():
            if base_axes[axis] != base_value:
                continue
            for variant, axes_of in settings.items():
                if axes_of[axis] == base_value or not _others_match(axis, base_axes, axes_of):
                    continue
                a = by_variant[base][metric].astype(float).dropna().tolist()
                b = by_variant[variant][metric].astype(float).dropna().tolist()
                test = welch(a, b)
                timed = all(pd.notna(summary.loc[v, "timing_step_ms"]) for v in (base, variant)) \
                    if "timing_step_ms" in summary else False
                time_col, mem_col, kind_col = (("timing_step_ms", "timing_peak_mem_mb", "timing_memory_kind") if timed
                                               else ("epoch_time_s", "peak_mem_mb", "memory_kind"))
                same_memory = summary.loc[base, kind_col] == summary.loc[variant, kind_col]
                learned = [summary.loc[v, "learned"] if "learned" in summary else None for v in (base, variant)]
                rows.append({
                    "axis": axis, "baseline": by_variant[base][axis].iloc[0], "value": by_variant[variant][axis].iloc[0],
                    "context": ", ".join(f"{k}={v}" for k, v in base_axes.items()
                                         if k != axis and k in axes
                                         and not (axis == "cell" and k in NOT_APPLICABLE.get(axes_of["cell"], {})))
                    or "-",
                    "variant_baseline": base, "variant": variant, "seeds_baseline": len(a), "seeds": len(b),
                    "metric": metric, "acc_baseline": sum(a) / len(a) if a else math.nan,
                    "acc": sum(b) / len(b) if b else math.nan, "delta": test.delta, "ci_low": test.low,
                    "ci_high": test.high, "p_welch": test.p,
                    "time_ratio": _ratio(summary, time_col, base, variant),
                    "time_basis": summary.loc[base, "timing_sizes"] if timed else "tuned sizes (no timing pass)",
                    "memory_ratio": _ratio(summary, mem_col, base, variant) if same_memory else math.nan,
                    "memory_kind": summary.loc[variant, kind_col] if same_memory else "mixed",
                    "comparable": all(x != False for x in learned)})  # noqa: E712 - None: not known
    table = pd.DataFrame(rows, columns=COLUMNS)
    # Holm's family is the rows that get a verdict: a pair that is not comparable is not a test
    table["p_holm"] = holm([p if ok else math.nan for p, ok in zip(table["p_welch"], table["comparable"])])
    return table


def verdict(row: pd.Series, alpha: float = 0.05) -> str:
    """A plain-words reading of one pair, for the HTML table."""
    if row.get("comparable", True) == False:  # noqa: E712 - numpy booleans
        return "not comparable (did not learn)"
    if math.isnan(row["p_holm"]):
        return "too few seeds to test" if not math.isnan(row["delta"]) else "no accuracy"
    if row["p_holm"] < alpha:
        return "better" if row["delta"] > 0 else "worse"
    return "no significant difference"
