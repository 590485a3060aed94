"""The study's answer in words: a short paragraph generated from the leaderboard and the effects table.

It says only what the tables support: an accuracy effect is stated as better / worse only at Holm
p < 0.05 over the effects table, a pair where a side did not learn is "not comparable", a pair with one
seed a side is "not tested"; time ratios are stated as measured (the timing pass at shared sizes, on
the device named), never as a significance claim. The caveats (partial data, small budget, one device,
unfinished runs, models that did not learn or may not have converged) close the same paragraph, so the
answer is never quoted without them.
"""

from __future__ import annotations

import math

import pandas as pd

ALPHA = 0.05
AXIS_WORDS = {"readout": "the read-out", "packing": "packing", "cell": "the cell", "bidirectional": "a second direction",
              "layers": "more layers", "batching": "length-bucketed batches", "embed_init": "the embedding init"}


def _where(row: pd.Series, constant: frozenset = frozenset()) -> str:
    """Where a pair sits: the changed model's name on the cell axis, else the other axes' values (less those
    that every pair of the axis shares)."""
    if row["axis"] == "cell":  # cells and baselines: the changed model's name says it best
        return str(row["variant"])
    parts = [p for p in str(row["context"]).split(", ") if p != "-" and p not in constant]
    return ", ".join(p.split("=", 1)[-1] for p in parts) or "all else equal"


def _shared(rows: pd.DataFrame) -> frozenset:
    """Context parts that every row of one axis has (e.g. readout=true_last for every packing pair)."""
    sets = [set(str(c).split(", ")) for c in rows["context"]]
    return frozenset(set.intersection(*sets)) if len(rows) > 1 else frozenset()


def _acc(mean: float, half: float) -> str:
    return f"{mean:.3f}" + ("" if math.isnan(half) else f" ± {half:.3f}")


def _failed(summary: pd.DataFrame, row: pd.Series) -> str:
    """Which side(s) of a pair did not learn, by name."""
    return " and ".join(v for v in (row["variant_baseline"], row["variant"]) if summary.loc[v, "learned"] == False)  # noqa: E712


def _axis_sentence(axis: str, rows: pd.DataFrame, summary: pd.DataFrame) -> str:
    """One sentence per axis: which pairs changed accuracy significantly, which did not, and the time ratio."""
    change = f"{rows['baseline'].iloc[0]} → " + "/".join(dict.fromkeys(rows["value"].astype(str)))
    groups: dict[str, list[str]] = {}
    constant = _shared(rows)
    for _, row in rows.iterrows():
        where = _where(row, constant)
        if not row["comparable"]:
            groups.setdefault("not comparable", []).append(f"{where} ({_failed(summary, row)} did not learn; "
                                                           f"Δ {row['delta']:+.3f})")
        elif math.isnan(row["p_holm"]):
            groups.setdefault("not tested (too few seeds)", []).append(f"{where} (Δ {row['delta']:+.3f})")
        elif row["p_holm"] < ALPHA:
            word = "higher accuracy" if row["delta"] > 0 else "lower accuracy"
            groups.setdefault(word, []).append(f"{where} (Δ {row['delta']:+.3f}, p {row['p_holm']:.2g})")
        else:
            groups.setdefault("no significant difference in accuracy", []).append(f"{where} (Δ {row['delta']:+.3f})")
    parts = [f"{what} for {'; '.join(items)}" for what, items in groups.items()]
    times = rows.dropna(subset=["time_ratio"])
    if not times.empty:
        basis = times["time_basis"].iloc[0]
        ratios = (", ".join(f"{r:.2g}× ({_where(row, constant)})" for r, (_, row) in zip(times["time_ratio"],
                                                                                       times.iterrows()))
                  if len(times) <= 3 else f"{times['time_ratio'].min():.2g}–{times['time_ratio'].max():.2g}× over "
                                          f"{len(times)} pairs")
        parts.append(f"time per step {ratios} at {basis}" if "no timing" not in str(basis)
                     else f"time per epoch {ratios} at each variant's tuned sizes (not like for like)")
    return f"{AXIS_WORDS.get(axis, axis).capitalize()} ({change}): " + "; ".join(parts) + "."


def _packing_vs_readout(effects: pd.DataFrame, summary: pd.DataFrame) -> str | None:
    """The packing study's question in one sentence, when both of its axes were compared. A read-out pair
    counts as an effect when it is significant, or when only its `last` side did not learn."""
    if not {"packing", "readout"} <= set(effects["axis"]):
        return None
    packing, readout = effects[effects["axis"] == "packing"], effects[effects["axis"] == "readout"]
    packing_sig = packing[packing["comparable"] & (packing["p_holm"] < ALPHA)]
    stuck = [r for _, r in readout.iterrows() if summary.loc[r["variant_baseline"], "learned"] == False  # noqa: E712
             and summary.loc[r["variant"], "learned"] != False]  # noqa: E712
    better = readout[readout["comparable"] & (readout["p_holm"] < ALPHA)]
    if not packing_sig.empty:
        return None  # packing has an effect of its own: the per-axis sentences say where
    tested = packing[packing["comparable"] & packing["p_holm"].notna()]
    cell = {v: str(summary.loc[v, "cell"]) for v in summary.index}
    if len(set(cell.values())) < len(cell) and len(set(cell.values())) == 1:
        cell = {v: v for v in summary.index}  # one cell, several other axes: the cell's name would say nothing
    deltas = ", ".join(f"{cell[r['variant']]} Δ {r['delta']:+.3f}" for _, r in tested.iterrows())
    same = (f"reading each true end of a padded batch matched packing (no significant difference: {deltas})"
            if deltas else "packing itself was not tested")
    if stuck:
        return (f"Packing changed accuracy only through the read-out: reading the state after the pads (padded + "
                f"last) did not learn for {', '.join(cell[r['variant_baseline']] for r in stuck)}, while {same}.")
    if not better.empty:
        return (f"Packing changed accuracy only through the read-out: reading each true end was better for "
                f"{', '.join(cell[r['variant']] for _, r in better.iterrows())}, and {same}.")
    return "Neither packing nor the read-out changed accuracy significantly here."


def answer(summary: pd.DataFrame, effects: pd.DataFrame, classical: dict | None, caveats: list[str]) -> str:
    """The paragraph that opens a study page (plain text; the page escapes it)."""
    sentences = []
    metric = "test" if summary["test_acc_mean"].notna().any() else "val"
    learned = summary[summary["learned"] != False]  # noqa: E712 - None: unknown, counted as learned
    failed = [v for v in summary.index if summary.loc[v, "learned"] == False]  # noqa: E712
    if learned.empty:
        sentences.append(f"No variant learned: every {metric} accuracy is within noise of the majority-class rate "
                         f"({summary['majority_acc'].iloc[0]:.3f}), so nothing here ranks the variants.")
    else:
        best = learned.index[0]
        row = learned.iloc[0]
        sentences.append(f"Most accurate: {best}, {metric} accuracy "
                         f"{_acc(row[f'{metric}_acc_mean'], row[f'{metric}_acc_ci'])} over {row['seeds']} seed(s).")
        if classical and classical.get("test_acc") is not None and metric == "test":
            gap = row["test_acc_mean"] - classical["test_acc"]
            sentences.append(f"The TF-IDF + logistic regression reference scores {classical['test_acc']:.3f} on the "
                             f"same split: the best variant is {abs(gap):.3f} {'above' if gap >= 0 else 'below'} it.")
    if failed:
        sentences.append(f"Did not learn (not ranked): {', '.join(failed)}.")
    if not effects.empty:
        special = _packing_vs_readout(effects, summary)
        if special:
            sentences.append(special)
        for axis, rows in effects.groupby("axis", sort=False):
            sentences.append(_axis_sentence(str(axis), rows, summary))
    else:
        sentences.append("No two variants differ on one axis only, so no effect is tested.")
    at_cap = [v for v in learned.index if summary.loc[v, "kept_at_cap"]] if "kept_at_cap" in summary else []
    if at_cap:
        sentences.append(f"Still improving at the epoch cap: {', '.join(at_cap)} (raise train.epochs).")
    if caveats:
        sentences.append("Caveats: " + "; ".join(caveats) + ".")
    return " ".join(sentences)
