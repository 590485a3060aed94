"""The study page's sections, on the one page skeleton (bench.report.html).

Every string that comes from a study, a record or a dataset goes through `esc`; the page is built
from the tables and plots alone and adds no numbers of its own.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.report.answer import Answer
from bench.report.effects import Criteria, schedule, verdict
from bench.report.html import document, esc, facts, figures, table, warnings
from bench.report.plots import Plot
from bench.report.tables import CI_NOTE, Leaderboard, key_view

# What the effects table shows first; the rest (axis, other axes, p before correction, sizes timed, seeds) folds out
EFFECT_KEY_COLUMNS = ("reading", "Δ acc", "95% CI", "p (Holm)", "seeds", "time ×", "memory ×")


@dataclass
class Page:
    """What one study page shows; bench.report.render fills it from the stored records."""

    study: dict
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


def _fmt(value: float, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    shown = pd.DataFrame({
        "axis": effects["axis"], "change": effects["baseline"].astype(str) + " → " + effects["value"].astype(str),
        "other axes": effects["context"],
        "reading": [verdict(row) for _, row in effects.iterrows()],
        "Δ acc": effects["delta"].map(lambda v: _fmt(v, "+.4f")),
        "95% CI": [f"[{_fmt(a, '+.4f')}, {_fmt(b, '+.4f')}]" for a, b in zip(effects["ci_low"], effects["ci_high"])],
        "p (Welch)": effects["p_welch"].map(lambda v: _fmt(v, ".3g")),
        "p (Holm)": effects["p_holm"].map(lambda v: _fmt(v, ".3g")),
        "p equivalence (TOST, Holm)": effects["p_tost_holm"].map(lambda v: _fmt(v, ".3g")),
        "seeds": effects["seeds_baseline"].astype(str) + " / " + effects["seeds"].astype(str),
        "time ×": effects["time_ratio"].map(lambda v: _fmt(v, ".2f")),
        "timed at": effects["time_basis"],
        "memory ×": effects["memory_ratio"].map(lambda v: _fmt(v, ".2f")),
        "bootstrap 95% CI (BCa)": [f"[{_fmt(a, '+.4f')}, {_fmt(b, '+.4f')}]"
                                   for a, b in zip(effects["boot_low"], effects["boot_high"])],
        "ASO ε_min (change ≻ baseline / baseline ≻ change)": [f"{_fmt(a, '.2f')} / {_fmt(b, '.2f')}" for a, b in
                                                             zip(effects["aso_better"], effects["aso_worse"])],
        "lenses": effects["lenses"]})
    shown.index = effects["variant_baseline"] + " → " + effects["variant"]
    return shown


def _effects_html(effects: pd.DataFrame, criteria: Criteria) -> str:
    if effects.empty:
        return ("<h2 id='effects'>Effects of each axis</h2><p class='note'>No pair of variants differs on exactly one "
                "axis, so no effect can be isolated.</p>")
    metric = effects["metric"].iloc[0].replace("_acc", "").replace("val", "validation")
    family = int((effects["question"] & effects["comparable"]).sum())
    asked = sorted(set(effects.loc[effects["question"], "axis"]))
    rule = (f"<p class='rule'><b>How a pair is decided.</b> The question's axes: {esc(', '.join(asked) or '-')}; "
            f"{esc(criteria.describe(family))}. <b>better / worse</b>: Welch's p after Holm below "
            f"{criteria.level:.3g}. <b>equivalent</b>: the difference shown to lie within ±{criteria.margin:g} (both "
            "one-sided tests of TOST, Holm-adjusted, below the same level). <b>undecided</b>: neither; the reading "
            "gives about how many seeds a side would settle it at the spread seen. <b>not comparable</b>: a side did "
            "not learn. Pairs along other axes are context: Δ and unadjusted p, no verdict. "
            + (f"Sequential seeds: while a pair of the question is undecided, both sides get another wave of seeds, "
               f"up to {criteria.cap} (schedule {esc(', '.join(map(str, schedule(criteria.first, criteria.cap))))}); "
               "the seeds column says how many each side got." if criteria.cap > criteria.first else "") + "</p>")
    caption = (f"Δ acc = mean {metric} accuracy of the changed variant minus the baseline's, over seeds; 95% CI and "
               "two-sided p from Welch's unequal-variance t-test (seeds as samples; each variant at its own tuned "
               "settings). Every column (below) adds a BCa bootstrap interval of Δ and Almost Stochastic Order's "
               "ε_min each way (below 0.2: that side is almost stochastically larger), and says where these lenses "
               "do not point the way the verdict does. time × and memory × = changed / baseline: median time per "
               "training step and peak memory from the timing pass at the sizes under 'timed at', the same for both "
               "sides (memory: same kind only). A packed variant reads each true end, so it pairs with padded "
               "true_last, not padded last.")
    shown = effects_display(effects)
    disagree = shown[shown["lenses"].str.startswith("lenses disagree")]
    lenses = ("" if disagree.empty else "<p class='note'>Where the lenses disagree: " + esc("; ".join(
        f"{pair} ({row['reading']}): {row['lenses'].removeprefix('lenses disagree: ')}"
        for pair, row in disagree.iterrows())) + ".</p>")
    return ("<h2 id='effects'>Effects of each axis</h2><p>Each row pairs two variants that differ on one axis only, "
            "so the row answers \"what does this change do, all else equal?\".</p>" + rule
            + table(shown[list(EFFECT_KEY_COLUMNS)], caption=caption, index_label="pair", table_id="effects-table")
            + lenses
            + "<details><summary>Every column: the axis, the other axes held, p before correction, the equivalence "
              "test, the bootstrap interval, ASO, the sizes timed</summary>"
            + table(shown, index_label="pair", table_id="effects-all") + "</details>")


def _answer_html(answer: Answer | None) -> str:
    if answer is None:
        return ""
    caveats = "".join(f"<li>{esc(c)}</li>" for c in answer.caveats)
    return (f'<section id="answer"><h2>The answer</h2><p class="answer">{esc(" ".join(answer.sentences))}</p>'
            + (f"<p class='note'>Caveats:</p><ul class='caveats'>{caveats}</ul>" if caveats else "") + "</section>")


def html_page(page: Page) -> str:
    name = str(page.study.get("name", "study"))
    key = key_view(page.board)
    kinds = sorted(set(page.board.text["memory kind"]) - {"-", "nan"})
    memory_note = f" peak MiB: {', '.join(kinds)}." if kinds else ""
    seeds = ("<details><summary>Each seed's test accuracy</summary>"
             + table(page.seeds.map(lambda v: _fmt(v, ".4f")), index_label="variant") + "</details>")
    tuning = "" if page.tuning.empty else (
        "<h2 id='tuning'>Tuning</h2><p class='note'>Each variant got the same Optuna budget on validation accuracy; "
        "a parameter under on_edge won at the end of its range (widen that range). importance is fANOVA's share "
        "of the variance in validation accuracy.</p>"
        + table(page.tuning.map(str), text_columns=("best_params", "importance", "trials")))
    files = " · ".join(f"<a href='{esc(f)}'>{esc(f)}</a>" for f in page.files)
    config = json.dumps(page.study, indent=2, sort_keys=True, default=str)
    answer = _answer_html(page.answer)
    body = f"""{answer}
<h2 id="leaderboard">Leaderboard</h2>
{table(key.text, key.best, key.hover, caption=LEADERBOARD_NOTE + memory_note, table_id="leaderboard-table")}
<details><summary>Every column: seeds, validation and running train accuracy, throughput, parameters,
hyperparameters</summary>
{table(page.board.text, page.board.best, page.board.hover, text_columns=("hyperparameters",),
       table_id="leaderboard-all")}
</details>
{seeds}
{_effects_html(page.effects, page.criteria)}
<h2 id="figures">Figures</h2>
{figures(page.plots, page.out)}
<p class="note">Each figure is also in <a href='figures/'>figures/</a> as SVG and PNG, named by its id.</p>
{tuning}
<h2 id="config">Configuration</h2>
<details><summary>The resolved configuration (study.json)</summary><pre>{esc(config)}</pre></details>
<p class="note">Files beside this page: {files}. Re-render from the records with
<code>python -m bench.report out=FOLDER</code>.</p>"""
    return document(f"rnnbench: {name}", body, str(page.study.get("description", "")),
                    warnings(page.warnings) + facts(page.facts))


LEADERBOARD_NOTE = (f"Sorted by test accuracy, variants that did not learn last and unranked; ★ marks each column's "
                    f"best. {CI_NOTE} learned: above the majority-class rate by more than the noise. epochs kept/run: "
                    "the epoch whose weights were kept (best validation accuracy) / epochs run, ⚠ = kept the cap's "
                    "last epoch. s/epoch: median [IQR] of the training pass at the tuned sizes, synchronized; "
                    "ms/step (shared sizes): every variant timed at the study's own sizes. train acc (running) is the "
                    "lesson's figure: accuracy while learning, not a held-out score. Hyperparameters: the values the seeds used; ! = on the edge of its range.")
