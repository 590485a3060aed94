"""What the study page (templates/study.html) is given: display tables from the tables and plots alone; it adds
no numbers of its own, and the template escapes every string.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.report.answer import Answer, time_reading
from bench.report.effects import Criteria, schedule, verdict
from bench.report import html
from bench.report.html import drawn, grid
from bench.report.plots import Plot
from bench.record import StudyDoc, comparable_memory
from bench.report.board import NOTE, Leaderboard, key_view
from bench.report.tables import said

# What the effects table shows first; the rest (axis, other axes, p before correction, sizes timed, seeds) folds out
EFFECT_KEY_COLUMNS = ("reading", "Δ acc", "95% CI", "p (Holm)", "design", "seeds", "time ×", "memory ×")


@dataclass
class Page:
    """What one study page shows; bench.report.render fills it from the stored records."""

    study: StudyDoc
    facts: list[tuple[str, str]]      # header: label -> text
    warnings: list[str]
    board: Leaderboard
    seeds: pd.DataFrame               # variant x seed -> test accuracy
    effects: pd.DataFrame
    plots: list[Plot]
    tuning: pd.DataFrame
    files: list[str]
    answer: Answer | None = None      # bench.report.answer: what the tables support, in words
    out: Path | None = None           # the study folder: its figures/ get each figure as SVG and PNG
    criteria: Criteria = Criteria()   # how the verdicts were decided (stated above the effects table)
    profiles: dict = field(default_factory=dict)  # variant -> its profile's top operators / kernels (profile=true)
    together: list = field(default_factory=list)  # the groups of variants tuned together (tables.tuned_together)


def question(doc: StudyDoc) -> str:
    """The study file's question, and, when the command line named another dataset than the file's words may
    suggest (`study=smoke data.name=csv`), the data it was run on: the page never calls a CSV synthetic."""
    return (f"{doc.description} (Run here on {doc.data_named} data: data.name was given on the command line.)"
            if doc.data_named else doc.description)


def _fmt(value: float, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    shown = pd.DataFrame({
        "axis": effects["axis"], "change": effects["baseline"].astype(str) + " → " + effects["value"].astype(str),
        "other axes": effects["context"],
        "reading": [verdict(row) for _, row in effects.iterrows()],
        "Δ acc": effects["delta"].map(lambda v: _fmt(v, "+.4f")),
        "95% CI": [f"[{_fmt(a, '+.4f')}, {_fmt(b, '+.4f')}]" for a, b in zip(effects["ci_low"], effects["ci_high"])],
        "p (unadjusted)": effects["p_value"].map(lambda v: _fmt(v, ".3g")),
        "p (Holm)": effects["p_holm"].map(lambda v: _fmt(v, ".3g")),
        "p equivalence (TOST, Holm)": effects["p_tost_holm"].map(lambda v: _fmt(v, ".3g")),
        "level (this look)": effects["level"].map(lambda v: _fmt(v, ".3g")),
        "design": [_design(row) for _, row in effects.iterrows()],
        "seeds": [_seeds(row) for _, row in effects.iterrows()],
        "settings that differ": effects["settings_differ"].map(lambda v: v or "none"),
        "time ×": [time_reading(r, a, b) for r, a, b in zip(effects["time_ratio"], effects["time_low"],
                                                             effects["time_high"])],
        "timed at": effects["time_basis"],
        "memory ×": effects["memory_ratio"].map(lambda v: _fmt(v, ".2f")),
        "bootstrap 95% CI (BCa)": [f"[{_fmt(a, '+.4f')}, {_fmt(b, '+.4f')}]"
                                   for a, b in zip(effects["boot_low"], effects["boot_high"])],
        "ASO ε_min (change ≻ baseline / baseline ≻ change)": [f"{_fmt(a, '.2f')} / {_fmt(b, '.2f')}" for a, b in
                                                             zip(effects["aso_better"], effects["aso_worse"])],
        "P(Δ < −m) / P(|Δ| ≤ m) / P(Δ > m)": [
            "-" if math.isnan(lo) else f"{lo:.2f} / {mid:.2f} / {hi:.2f}"
            for lo, mid, hi in zip(effects["p_below"], effects["p_within"], effects["p_above"])],
        "lenses": [_lenses(row) for _, row in effects.iterrows()]})
    shown.index = effects["variant_baseline"] + " → " + effects["variant"]
    return shown


def _design(row: pd.Series) -> str:
    """'paired ρ 0.65' (the matched seeds' correlation, where it can be computed) or 'unpaired'."""
    if row["design"] != "paired":
        return "unpaired"
    return "paired" + ("" if pd.isna(row["rho"]) else f" ρ {row['rho']:.2f}")


def _seeds(row: pd.Series) -> str:
    shown = f"{row['seeds_baseline']} / {row['seeds']}"
    matched = row["seeds_paired"]
    if row["design"] == "paired" and not pd.isna(matched) and matched != min(row["seeds_baseline"], row["seeds"]):
        shown += f" ({int(matched)} matched)"
    return shown


def _lenses(row: pd.Series) -> str:
    agree = row.get("lenses_agree")
    if agree is None or (isinstance(agree, float) and math.isnan(agree)):
        return "-"
    return "lenses agree" if agree else "lenses disagree: " + row["lenses"]


def html_page(page: Page) -> str:
    key, effects, criteria = key_view(page.board), page.effects, page.criteria
    kinds = sorted(set(page.board.text["memory kind"]) - {"-", "nan"})
    memory_note = f" peak MiB: {', '.join(kinds)}." if kinds else ""
    if kinds and not (len(kinds) == 1 and comparable_memory(kinds[0])):
        memory_note += (" No ★ on peak MiB and no memory × here: " + (
            "the runs' memory was measured in different ways." if len(kinds) > 1 else
            "each figure is a process's peak since it started, which follows the order the runs ran in, not a "
            "run's own (on Linux each CPU run is measured in a fresh process; see docs/reading-a-report.md)."))
    parts = {"effects": None, "effects_all": None, "disagree": [], "rule": None}
    if not effects.empty:
        family = int((effects["question"] & effects["comparable"]).sum())
        shown = effects_display(effects)
        metric = said(effects["metric"].iloc[0])
        disagree = shown[(effects["lenses_agree"] == False).to_numpy()]  # noqa: E712 - None: no verdict
        parts = {"effects": grid(shown[list(EFFECT_KEY_COLUMNS)], caption=EFFECTS_NOTE.format(metric=metric),
                                 index_label="pair", table_id="effects-table"),
                 "effects_all": grid(shown, index_label="pair", table_id="effects-all"),
                 "disagree": [f"{pair} ({row['reading']}): {lenses}" for (pair, row), lenses in
                              zip(disagree.iterrows(), effects.loc[effects["lenses_agree"] == False, "lenses"])],  # noqa: E712
                 "rule": {"asked": ", ".join(sorted(set(effects.loc[effects["question"], "axis"]))),
                          "described": criteria.describe(family), "margin": criteria.margin,
                          "designs": sorted(set(effects["design"])),
                          "cap": criteria.cap, "schedule": ", ".join(map(str, schedule(criteria.first, criteria.cap)))
                          if criteria.cap > criteria.first else ""}}
    parts["profiles"] = [{"variant": variant, "steps": found["steps"], "device": found["device"], **{
        kind: grid(pd.DataFrame([{"calls per step": r["calls"], "ms per step": f"{r['ms_per_step']:.3g}",
                                  "share": f"{r['share']:.0%}"} for r in found[kind]],
                                index=[r["name"] for r in found[kind]]), index_label=label)
        if found.get(kind) else None
        for kind, label in (("operators", "operator (own CPU time)"), ("kernels", "kernel (own device time)"))}}
        for variant, found in page.profiles.items()]
    return html.page("study.html", f"rnnbench: {page.study.name}", question(page.study),
                page.warnings, page.facts, answer=page.answer,
                board=grid(key.text, key.best, key.hover, caption=NOTE + memory_note,
                           table_id="leaderboard-table"),
                board_all=grid(page.board.text, page.board.best, page.board.hover, text_columns=("hyperparameters",),
                               table_id="leaderboard-all"),
                seeds=grid(page.seeds.map(lambda v: _fmt(v, ".4f"))), drawn=drawn(page.plots, page.out),
                tuning=None if page.tuning.empty else grid(page.tuning.map(str), text_columns=(
                    "best_params", "importance")), together=page.together,
                config=json.dumps(page.study.model_dump(), indent=2, sort_keys=True, default=str), files=page.files, **parts)


EFFECTS_NOTE = ("Δ acc = mean {metric} of the changed variant minus the baseline's, over seeds (measure.metric "
                "chooses accuracy or macro-F1 for the verdicts, the ranking, early stopping and tuning); 95% CI and "
                "two-sided p from the design's t-test: paired = the two sides trained at the same settings from the "
                "same seeds (initial weights, batch order, dropout masks), tested on the per-seed differences, ρ the "
                "matched seeds' correlation; unpaired = each side at its own tuned settings, Welch's unequal-variance "
                "t. Every column (below) adds a BCa bootstrap interval of Δ and Almost Stochastic Order's "
                "ε_min each way (below 0.2: that side is almost stochastically larger), and says where these lenses "
                "do not point the way the verdict does. time × and memory × = changed / baseline: median time per "
                "training step and peak memory from the timing pass at the sizes under 'timed at', the same for both "
                "sides (memory: same kind only); [95% percentile bootstrap interval of the time ratio over the "
                "steps], 'same' when it spans 1: no difference in time this run can tell from noise. A packed "
                "variant reads each true end, so it pairs with padded true_last, not padded last.")
