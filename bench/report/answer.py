"""The study's answer in words, generated from the effects table, the leaderboard and the tuning budget.

Short: one sentence per question axis (its verdicts with their Δ, and the time ratio at the shared sizes),
then the best variant against the TF-IDF line, the variants that did not learn, whether the winner depends on
the tuning budget, and the caveats as a list. Every sentence rests on rows of the effects table and says only
their verdicts (bench.report.effects: better / worse / equivalent / undecided / not comparable); where a row
is undecided it says so, with the seeds that would settle it, and claims nothing more.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import pandas as pd

from bench.report.board import bound_key
from bench.report.effects import CONTEXT, VERDICTS
from bench.report.tables import said as words, scored

AXIS_WORDS = {"readout": "the read-out", "packing": "packing", "cell": "the cell", "bidirectional": "a second direction",
              "layers": "more layers", "batching": "length-bucketed batches", "embed_init": "the embedding init"}


@dataclass
class Answer:
    """What the page opens with and the console prints: sentences, then the caveats as a list."""

    sentences: list[str]
    caveats: list[str] = field(default_factory=list)

    def text(self) -> str:
        caveats = "".join("\n" + textwrap.fill(c, 120, initial_indent="  - ", subsequent_indent="    ")
                          for c in self.caveats)
        return " ".join(self.sentences) + (f"\nCaveats:{caveats}" if caveats else "")


def _where(row: pd.Series, constant: frozenset = frozenset()) -> str:
    """Where a pair sits: the changed model's name on the cell axis, else the other axes' values (less those
    that every pair of the axis shares)."""
    if row["axis"] == "cell":
        return str(row["variant"])
    parts = [p for p in str(row["context"]).split(", ") if p != "-" and p not in constant]
    return "/".join(p.split("=", 1)[-1] for p in parts) or "all else equal"  # one place: its values, joined by /


def _shared(rows: pd.DataFrame) -> frozenset:
    """Context parts that every row of one axis has (e.g. readout=true_last for every packing pair)."""
    sets = [set(str(c).split(", ")) for c in rows["context"]]
    return frozenset(set.intersection(*sets)) if len(rows) > 1 else frozenset()


def _acc(mean: float, half: float) -> str:
    return f"{mean:.3f}" + ("" if math.isnan(half) else f" ± {half:.3f}")


def _span(low: float, high: float, unit: str = "×") -> str:
    return f"{low:.2g}{unit}" if f"{low:.2g}" == f"{high:.2g}" else f"{low:.2g}–{high:.2g}{unit}"


def _ratios(rows: pd.DataFrame) -> str:
    """Time ratios as a claim: a ratio whose 95 % interval spans 1 is "the same within noise", never a speed-up."""
    same = rows[(rows["time_low"] <= 1) & (rows["time_high"] >= 1)]
    differ = rows.drop(same.index)
    parts = []
    if not differ.empty:
        known = differ.dropna(subset=["time_low", "time_high"])
        parts.append(_span(differ["time_ratio"].min(), differ["time_ratio"].max()) + (
            f" (95% CI {_span(known['time_low'].min(), known['time_high'].max(), '')})" if not known.empty
            else " (too few samples for an interval)"))
    if not same.empty:
        parts.append("the same within noise" + (f" for {len(same)} of {len(rows)} pairs" if not differ.empty else "")
                     + f" ({_span(same['time_ratio'].min(), same['time_ratio'].max())})")
    return "; ".join(parts)


def time_reading(ratio: float, low: float, high: float) -> str:
    """One pair's time ratio for the effects table: the ratio, its 95 % interval, and "same" when it spans 1."""
    if pd.isna(ratio):
        return "-"
    if pd.isna(low) or pd.isna(high):
        return f"{ratio:.2f}"
    return f"{ratio:.2f} [{low:.2f}, {high:.2f}]" + (" same" if low <= 1 <= high else "")


def _axis_sentence(axis: str, rows: pd.DataFrame) -> str:
    """One sentence per question axis: each verdict with where it holds and its Δ; the time ratio."""
    change = f"{rows['baseline'].iloc[0]} → " + "/".join(dict.fromkeys(rows["value"].astype(str)))
    constant = _shared(rows)
    parts = []
    for word in VERDICTS:
        group = rows[rows["verdict"] == word]
        if group.empty:
            continue
        wheres = [_where(r, constant) for _, r in group.iterrows()]
        if len(set(wheres)) < len(wheres):  # several values of the axis at one place: name the value
            wheres = [f"{r['value']}" + ("" if w == "all else equal" else f" at {w}")
                      for w, (_, r) in zip(wheres, group.iterrows())]
        where = ", ".join(wheres)
        if word == "not comparable":
            parts.append(f"not comparable for {where} (a side did not learn)")
            continue
        deltas = ", ".join(f"{d:+.3f}" for d in group["delta"])
        said = f"{word} for {where} (Δ {deltas})"
        if word == "undecided":
            needed = [n for n in group["seeds_needed"] if not math.isnan(n)]
            said += ("; more than one seed a side is needed to test it" if not needed else
                     f"; ~{' / '.join(f'{n:.0f}' if math.isfinite(n) else 'too many' for n in needed)} seeds a side "
                     f"would settle {'it' if len(needed) == 1 else 'them'}")
        parts.append(said)
    decided = rows[rows["verdict"] != "not comparable"]
    paired = int((decided.get("design", pd.Series(dtype=str)) == "paired").sum())
    if paired:  # the design that decided them: shared settings and seeds, per-seed differences
        parts.append("decided on per-seed differences (shared settings and seeds)" if paired == len(decided) else
                     f"{paired} of {len(decided)} decided on per-seed differences (shared settings and seeds)")
    times = rows.dropna(subset=["time_ratio"])
    if not times.empty:
        basis = str(times["time_basis"].iloc[0])
        parts.append(f"time per step {_ratios(times)} at {basis}" if times["timed"].iloc[0]
                     else f"time per epoch {_ratios(times)} at each variant's tuned sizes (not like for like)")
    return f"{AXIS_WORDS.get(axis, axis).capitalize()} ({change}): " + "; ".join(parts) + "."


def answer(summary: pd.DataFrame, effects: pd.DataFrame, classical: dict | None, caveats: list[str],
           budget: tuple[str | None, list[int]] = (None, [])) -> Answer:
    """The answer that opens a study page (plain text; the page escapes it)."""
    sentences = []
    column = scored(summary, "_mean")
    asked = effects[effects["verdict"] != CONTEXT] if not effects.empty else effects
    for axis, rows in asked.groupby("axis", sort=False) if not asked.empty else []:
        sentences.append(_axis_sentence(str(axis), rows))
    if effects.empty:
        sentences.append("No two variants differ on one axis only, so no effect is tested.")
    learned = summary[summary["learned"] != False]  # noqa: E712 - None: unknown, counted as learned
    failed = [v for v in summary.index if summary.loc[v, "learned"] == False]  # noqa: E712
    if learned.empty:
        sentences.append(f"No variant learned: every {words(column.replace('macro_f1', 'acc'))} is within noise of "
                         "the majority-class rate "
                         f"({summary['majority_acc'].iloc[0]:.3f}), so nothing here ranks the variants.")
    else:
        best, row = learned.index[0], learned.iloc[0]
        said = (f"{'Most accurate' if 'acc' in column else 'Best by ' + words(column)}: {best}, {words(column)} "
                f"{_acc(row[column], row[column.replace('_mean', '_ci')])} over {row['seeds']} seed(s)")
        if classical and classical.get("test_acc") is not None and column == "test_acc_mean":
            gap = row["test_acc_mean"] - classical["test_acc"]
            said += f", {abs(gap):.3f} {'above' if gap >= 0 else 'below'} TF-IDF + LR ({classical['test_acc']:.3f})"
        sentences.append(said + ".")
    if failed:
        sentences.append(f"Did not learn (not ranked): {', '.join(failed)}.")
    leader, ks = budget
    if leader:
        sentences.append(f"Tuning budget: {leader} leads at every number of trials tried (stable)." if not ks else
                         f"Tuning budget: {leader} leads at the full budget but not at k = "
                         f"{', '.join(map(str, ks))} trial(s): the ranking depends on the tuning budget.")
    at_cap = [v for v in learned.index if summary.loc[v, "kept_at_cap"]] if "kept_at_cap" in summary else []
    notes = list(caveats)
    if at_cap:
        notes.append(f"still improving at the epoch cap: {', '.join(at_cap)} "
                     f"(raise {bound_key(summary.loc[at_cap[0]])})")
    return Answer(sentences, notes)
