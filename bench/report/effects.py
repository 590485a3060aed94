"""The effect of each scientific axis, paired by the others: the table that answers "does packing help?".

For an axis (say packing) every variant with the baseline value (padded) is paired with each variant
that differs from it only on that axis (packed, same cell, direction, depth, ...). A pair gets
Δ accuracy = mean(other) - mean(baseline) over seeds with a t interval and a two-sided p-value, and the ratios
other / baseline of time per training step and of peak memory. The baseline of an axis is its first value in
bench.variants' order (rnn, padded, uni, fewest layers).

Two designs, chosen by how the runs were made, never by what they scored (`design`):
- paired: the two sides were trained at the same settings (one tuning study chose them for both: the study's
  `share:` axes, or no tuning at all) and so, seed for seed, from the same initial weights, batch order and
  dropout masks (bench.train.fit). The test is on the per-seed differences of the seeds both sides ran (the paired
  t, `ttest_rel`); the row shows the matched seeds' correlation, which says how much the pairing removed.
- unpaired: each side at its own tuned settings: Welch's unequal-variance t over the two sides' seeds.
A folder written before settings were shared carries no `settings_from` and reads unpaired.

A pair gets one of four verdicts (`Criteria`), and no others, decided equivalence first (`decide`):
- equivalent: the difference is shown to lie within ±margin (TOST on the same t, Holm-adjusted over the
  question's family: the (1 - 2 level) interval inside the margin), even when it also excludes 0: a precise
  "better by 0.0002" is no practical difference;
- better / worse: otherwise, the t-test's p, Holm-adjusted the same way, below the level;
- undecided: neither; `seeds_needed` says about how many seeds a side would settle it at the spread seen;
- not comparable: a side did not learn.
Sides that score the same at every seed read equivalent (a zero-width interval inside the margin).
The family is the question: the pairs along the axes a study asks about (`question:`, default every axis it
varies). Pairs along the other axes are context: shown with their Δ and unadjusted p, without a verdict.
The level depends on the look: adding seeds while a pair is undecided tests it again, so α is spent over the
seed schedule's looks with O'Brien-Fleming's spending function (Lan-DeMets; bench.report.stats.spending_levels):
almost nothing at the first wave, most of α at the cap. A pair is at the look of the seeds its smaller side has.
Beside the t, two lenses that assume less: a BCa bootstrap interval of Δ (of the per-seed differences, paired),
and Almost Stochastic Order's ε_min in each direction (over the two sides' scores: on a paired row it is shown but not
counted, as it cannot see what the pairing removed); where they do not point the way the verdict does, the row
says so (`lenses`). Paired rows add a Bayesian reading of the same t (P(Δ < -m), P(|Δ| <= m), P(Δ > m)).

One cause per row. A packed variant's `last` read-out *is* the state at each true end, so for pairing
it counts as `true_last`: padded+last -> padded+true_last is the read-out's effect, padded+true_last ->
packed is packing's own, and padded+last -> packed (two causes at once) is not a row. A baseline
(bag, transformer) has no packing, direction or read-out: on the cell axis only the axes that apply to
both sides must match. Settings that differ between the sides (their tuned values, or a width a variant fixes,
as GloVe's 50) are named in the row (`settings_differ`). Times and memory come from each run's timing pass at
the study's shared sizes (`timing`), so a ratio compares the same sizes and batch; records without one fall back
to the tuned runs' epoch times, and the row says so (`time_basis`). A pair where either side did not learn
(bench.report.tables.summarize) is "not comparable": its Δ is shown, never a verdict.
"""

from __future__ import annotations

import math

import pandas as pd

from dataclasses import dataclass

from bench.report.stats import (ALPHA, MARGIN, TAU, aso, bootstrap_ci, correlation, holm, paired, paired_bootstrap_ci,
                                posterior, ratio_ci, seeds_needed, spending_levels, tost, welch)
from bench.record import StudyDoc, comparable_memory
from bench.report.tables import scored
from bench.variants import AXES, BATCHINGS, CELLS, EMBED_INITS, NOT_APPLICABLE, PACKINGS, READOUTS

ORDER = {"cell": CELLS, "packing": PACKINGS, "readout": READOUTS, "embed_init": EMBED_INITS, "batching": BATCHINGS}
COLUMNS = ["axis", "baseline", "value", "context", "variant_baseline", "variant", "seeds_baseline", "seeds",
           "metric", "design", "seeds_paired", "rho", "settings_differ", "acc_baseline", "acc", "delta", "ci_low",
           "ci_high", "p_value", "p_holm", "p_tost", "p_tost_holm", "level", "question", "verdict", "seeds_needed",
           "boot_low", "boot_high", "aso_better", "aso_worse", "p_below", "p_within", "p_above", "lenses",
           "lenses_agree", "time_ratio", "time_low", "time_high", "timed", "time_basis", "memory_ratio", "memory_kind",
           "comparable"]
DESIGNS = ("paired", "unpaired")
VERDICTS = ("better", "worse", "equivalent", "undecided", "not comparable")
CONTEXT = "context"  # a pair off the question: Δ shown, no verdict


@dataclass(frozen=True)
class Criteria:
    """How a pair is decided: α, the practical margin, the question's axes (None: every axis the study varies), and
    the seed schedule (the first wave's seeds, the cap) whose looks α is spent over (O'Brien-Fleming)."""

    alpha: float = ALPHA
    margin: float = MARGIN
    question: tuple[str, ...] | None = None
    first: int = 1
    cap: int = 1

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(schedule(self.first, self.cap))

    @property
    def looks(self) -> int:
        return len(self.sizes)

    @property
    def levels(self) -> tuple[float, ...]:
        """The nominal level of each look (seeds a side at the look: `sizes`)."""
        return spending_levels(self.sizes, self.alpha)

    def level_at(self, seeds: int) -> float:
        """The level of a pair whose smaller side has `seeds`: that of the last look it has reached (the first
        look's below it; an interrupted wave is not a look yet)."""
        reached = [level for size, level in zip(self.sizes, self.levels) if size <= seeds]
        return reached[-1] if reached else self.levels[0]

    @classmethod
    def of(cls, doc: StudyDoc) -> "Criteria":
        """The criteria a study's document sets: the one place both the run (its sequential waves) and the report
        read them from."""
        measure = doc.measure
        seeds = measure.get("seeds", 1)
        first = seeds if isinstance(seeds, int) else len(seeds)
        return cls(alpha=float(measure.get("alpha", ALPHA)), margin=float(measure.get("margin", MARGIN)),
                   question=tuple(doc.question) if doc.question else None, first=first,
                   cap=max(first, measure.get("max_seeds") or first))

    def describe(self, family: int) -> str:
        looks = (" spent over the seed schedule's looks by O'Brien-Fleming (" + ", ".join(
            f"{level:.3g} at {size} seeds" for size, level in zip(self.sizes, self.levels)) + ")"
                 if self.looks > 1 else "")
        return (f"α = {self.alpha:g}{looks}, Holm over the question's {family} pair(s); equivalent first = the "
                f"difference shown within ±{self.margin:g} accuracy (TOST)")


def schedule(first: int, cap: int) -> list[int]:
    """Seeds per side at each look: the first wave, then doubled, up to the cap (3, 6, 8 for quick)."""
    sizes = [first]
    while sizes[-1] < cap:
        sizes.append(min(cap, 2 * sizes[-1]))
    return sizes


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


def design(base: pd.DataFrame, other: pd.DataFrame) -> str:
    """'paired' when the two sides were trained at the same settings by construction: the same source of settings
    (`settings_from`: the one tuning study that chose them for both, or 'train' when nothing was tuned) and the
    same hyperparameters; else 'unpaired'. Decided from how the runs were made, never from their scores."""
    def source(runs: pd.DataFrame):
        values = {str(v) for v in runs["settings_from"].dropna()}
        return values.pop() if len(values) == 1 else None
    a, b = source(base), source(other)
    if a is None or a != b:
        return "unpaired"
    return "paired" if _settings(base) == _settings(other) else "unpaired"


def _settings(runs: pd.DataFrame) -> dict:
    first = runs["hyperparameters"].iloc[0] if "hyperparameters" in runs else None
    return dict(first) if isinstance(first, dict) else {}


def settings_differ(base: pd.DataFrame, other: pd.DataFrame) -> str:
    """The settings the two sides trained with that differ, 'key a → b' (their tuned values, or a width one side
    fixes); '' when they are the same."""
    a, b = _settings(base), _settings(other)
    return ", ".join(f"{k} {_short(a.get(k))} → {_short(b.get(k))}" for k in sorted(set(a) | set(b))
                     if a.get(k) != b.get(k))


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def sides(base: pd.DataFrame, other: pd.DataFrame, metric: str, paired_design: bool) -> tuple[list, list]:
    """The two sides' scores: every seed of each (unpaired), or the seeds both ran, in seed order (paired)."""
    a = base.set_index("seed")[metric].astype(float).dropna()
    b = other.set_index("seed")[metric].astype(float).dropna()
    if paired_design:
        common = sorted(set(a.index) & set(b.index))
        return [float(a[s]) for s in common], [float(b[s]) for s in common]
    return a.tolist(), b.tolist()


def effects(records: list[dict], summary: pd.DataFrame, criteria: Criteria = Criteria()) -> pd.DataFrame:
    """One row per (axis, pair); `summary` (bench.report.tables.summarize) supplies speed, memory, learning."""
    frame = pd.DataFrame(records)
    metric = scored(frame)
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
                how = design(by_variant[base], by_variant[variant])
                a, b = sides(by_variant[base], by_variant[variant], metric, how == "paired")
                test = paired(a, b) if how == "paired" else welch(a, b)
                timed = all(pd.notna(summary.loc[v, "timing_step_ms"]) for v in (base, variant)) \
                    if "timing_step_ms" in summary else False
                time_col, mem_col, kind_col = (("timing_step_ms", "timing_peak_mem_mb", "timing_memory_kind") if timed
                                               else ("epoch_time_s", "peak_mem_mb", "memory_kind"))
                kind = summary.loc[base, kind_col] if summary.loc[base, kind_col] == summary.loc[variant, kind_col] \
                    else "mixed"
                learned = [summary.loc[v, "learned"] if "learned" in summary else None for v in (base, variant)]
                every_a, every_b = sides(by_variant[base], by_variant[variant], metric, False)
                rows.append({
                    "axis": axis, "baseline": by_variant[base][axis].iloc[0], "value": by_variant[variant][axis].iloc[0],
                    "context": ", ".join(f"{k}={v}" for k, v in base_axes.items()
                                         if k != axis and k in axes
                                         and not (axis == "cell" and k in NOT_APPLICABLE.get(axes_of["cell"], {})))
                    or "-",
                    "variant_baseline": base, "variant": variant, "seeds_baseline": len(every_a),
                    "seeds": len(every_b), "metric": metric, "design": how,
                    "seeds_paired": len(a) if how == "paired" else math.nan,
                    "rho": correlation(a, b) if how == "paired" else math.nan,
                    "settings_differ": settings_differ(by_variant[base], by_variant[variant]),
                    "acc_baseline": sum(every_a) / len(every_a) if every_a else math.nan,
                    "acc": sum(every_b) / len(every_b) if every_b else math.nan, "delta": test.delta,
                    "ci_low": test.low, "ci_high": test.high, "p_value": test.p, "p_tost": tost(test, criteria.margin),
                    "level": criteria.level_at(min(len(a), len(b))),
                    "question": criteria.question is None or axis in criteria.question,
                    "time_ratio": _ratio(summary, time_col, base, variant),
                    **dict(zip(("time_low", "time_high"), ratio_ci(times(by_variant[base], timed),
                                                                  times(by_variant[variant], timed)))),
                    "timed": timed, "time_basis": _basis(summary, base, variant) if timed else "tuned sizes (no timing pass)",
                    # a ratio only of one kind, each figure a run's own (bench.record.comparable_memory)
                    "memory_ratio": _ratio(summary, mem_col, base, variant) if comparable_memory(kind) else math.nan,
                    "memory_kind": kind,
                    "comparable": all(x != False for x in learned),  # noqa: E712 - None: not known
                    **dict(zip(("p_below", "p_within", "p_above"), posterior(test, criteria.margin)
                               if how == "paired" else (math.nan,) * 3)),
                    **_lenses(a, b, how == "paired")})
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["question"] = table["question"].astype(bool)
    table["comparable"] = table["comparable"].astype(bool)
    # Holm's family: the question's pairs that get a verdict (not a pair where a side did not learn, not context)
    family = table["question"] & table["comparable"]
    table["p_holm"] = holm([p if ok else math.nan for p, ok in zip(table["p_value"], family)])
    table["p_tost_holm"] = holm([p if ok else math.nan for p, ok in zip(table["p_tost"], family)])
    table["verdict"] = [_verdict(row) for _, row in table.iterrows()]
    # an undecided pair: the seeds a side that would decide it at Holm's strictest step (the cap's level / family)
    strictest = criteria.levels[-1] / max(1, int(family.sum()))
    table["seeds_needed"] = [
        seeds_needed(*sides(by_variant[row["variant_baseline"]], by_variant[row["variant"]], metric,
                             row["design"] == "paired"), strictest, criteria.margin,
                     is_paired=row["design"] == "paired")
        if row["verdict"] == "undecided" else math.nan for _, row in table.iterrows()]
    said = [_disagreement(row) if row["verdict"] in VERDICTS[:4] else None for _, row in table.iterrows()]
    table["lenses"] = ["; ".join(notes) if notes else "" for notes in said]
    table["lenses_agree"] = [None if notes is None else not notes for notes in said]
    return table


def times(runs: pd.DataFrame, timed: bool) -> list[float]:
    """A variant's time samples: every step of its timing passes, else every epoch of its seeds."""
    if timed:
        return [ms for t in runs["timing"] if t for ms in t["step_ms"]]
    return [s for times in runs["epoch_times_s"] for s in times]


def _basis(summary: pd.DataFrame, base: str, variant: str) -> str:
    """The sizes both sides were timed at; a variant that fixes its own (GloVe's width) says so."""
    a, b = summary.loc[base, "timing_sizes"], summary.loc[variant, "timing_sizes"]
    return a if a == b else f"{a} → {b}"


def _lenses(a: list[float], b: list[float], is_paired: bool) -> dict:
    low, high = paired_bootstrap_ci(a, b) if is_paired else bootstrap_ci(a, b)
    return {"boot_low": low, "boot_high": high, "aso_better": aso(b, a), "aso_worse": aso(a, b)}


def _verdict(row: pd.Series) -> str:
    if not row["question"]:
        return CONTEXT
    if not row["comparable"]:
        return "not comparable"
    return decide(row["p_holm"], row["p_tost_holm"], row["delta"], row["level"])


def decide(p_difference: float, p_equivalence: float, delta: float, level: float) -> str:
    """Equivalence first: equivalent when the difference is shown inside ±margin at `level` (even if it also
    excludes 0), else better / worse when a difference is shown, else undecided (p-values already adjusted for
    their family; nan, with one seed a side, shows nothing)."""
    if p_equivalence < level:  # nan compares False
        return "equivalent"
    if p_difference < level:
        return "better" if delta > 0 else "worse"
    return "undecided"


def _direction(low: float, high: float) -> int | None:
    if math.isnan(low) or math.isnan(high):
        return None
    return 1 if low > 0 else -1 if high < 0 else 0


def _disagreement(row: pd.Series) -> list[str]:
    """Where the bootstrap interval or ASO does not point the way the verdict does, in words; [] where they agree."""
    said = {"better": 1, "worse": -1}.get(row["verdict"], 0)
    notes = []
    boot = _direction(row["boot_low"], row["boot_high"])
    if boot is not None and boot != said:
        notes.append("the bootstrap interval " + ("excludes 0" if boot else "includes 0"))
    aso_says = 1 if row["aso_better"] < TAU else -1 if row["aso_worse"] < TAU else 0
    # ASO compares the two sides' score distributions, unpaired: on a paired row it cannot see what pairing removed
    # (a shift smaller than the seeds' common spread), so it is shown there, not counted against the verdict
    if not math.isnan(row["aso_better"]) and aso_says != said and row.get("design") != "paired":
        side = {1: "the change", -1: "the baseline"}.get(aso_says)
        notes.append(f"ASO finds {side} almost stochastically larger (ε_min < {TAU:g})" if side
                     else f"ASO finds neither side almost stochastically larger (ε_min >= {TAU:g} both ways)")
    return notes


def verdict(row: pd.Series) -> str:
    """The reading of one pair for tables and the console: the verdict, or what a context row is."""
    word = row["verdict"]
    if word == "not comparable":
        return "not comparable (did not learn)"
    if word == CONTEXT:
        return "context (not in the question)"
    if word == "undecided" and not math.isnan(row["seeds_needed"]):
        return f"undecided (~{row['seeds_needed']:.0f} seeds a side)" if math.isfinite(row["seeds_needed"]) \
            else "undecided"
    if word == "undecided" and min(row["seeds_baseline"], row["seeds"]) < 2:
        return "undecided (one seed: no test)"
    return word


def next_wave(records: list[dict], summary: pd.DataFrame, criteria: Criteria) -> dict[str, int]:
    """Sequential seeds: {variant: seeds it should have} for the variants of the question's undecided pairs (both
    sides learned) below the cap, each to the schedule's next size above what the pair's smaller side has; {} when every pair
    of the question is decided, not comparable, or at the cap. A function of the finished records only, so
    every worker computes the same wave."""
    if criteria.cap <= criteria.first or not records:
        return {}
    table = effects(records, summary, criteria)
    sizes = schedule(criteria.first, criteria.cap)
    want: dict[str, int] = {}
    for _, row in table[table["verdict"] == "undecided"].iterrows():
        have = min(row["seeds_baseline"], row["seeds"])  # an interrupted wave: its lagging side finishes it first
        target = next((s for s in sizes if s > have), None)
        if target is not None:
            for v in (row["variant_baseline"], row["variant"]):
                want[v] = max(want.get(v, 0), target)
    return want


def seed_stops(summary: pd.DataFrame, table: pd.DataFrame, criteria: Criteria) -> dict[str, str]:
    """Why each variant has the seeds it has, as a kind (bench.report.board.stop_words says it): 'decided' (its
    pairs of the question are decided), 'cap' (a pair is still undecided at measure.max_seeds), 'unfinished'
    (undecided below the cap: the same command adds the next wave), 'no_sequential' (undecided, and no sequential
    seeds were asked for), 'not_comparable' (a side of each pair did not learn) or 'no_pair' (in no pair of the
    question)."""
    stops = {}
    asked = table[table["question"]] if not table.empty else table
    for variant in summary.index:
        mine = asked[(asked["variant"] == variant) | (asked["variant_baseline"] == variant)] if not asked.empty \
            else asked
        if mine.empty:
            stops[variant] = "no_pair"
        elif (mine["verdict"] == "not comparable").all():
            stops[variant] = "not_comparable"
        elif (mine["verdict"] == "undecided").any():
            stops[variant] = ("no_sequential" if criteria.cap <= criteria.first else
                              "cap" if int(summary.loc[variant, "seeds"]) >= criteria.cap else "unfinished")
        else:
            stops[variant] = "decided"
    return stops
