"""The study page: one self-contained HTML file (inline CSS, figures as data URIs, no script, no network).

Every string that comes from a study, a record or a dataset goes through `esc`; the page is built
from the tables and plots alone and adds no numbers of its own.
"""

from __future__ import annotations

import html
import json
import math
import time
from dataclasses import dataclass

import pandas as pd

from bench.report import draw
from bench.report.effects import verdict
from bench.report.plots import Plot
from bench.report.tables import CI_NOTE, Leaderboard

esc = html.escape

CSS = """
:root{--fg:#1b1b1b;--muted:#555;--line:#d0d0d0;--warn:#fff1e6;--warnline:#d9822b;--best:#e6f4ea}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0 auto;
 padding:1rem;max-width:80rem}
h1{font-size:1.5rem;margin:.2rem 0} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid var(--line)}
.question{font-size:1.1rem;font-style:italic;margin:.3rem 0 1rem}
.answer{font-size:1rem;max-width:60rem;background:#f4f8fc;border-left:4px solid #4a7ab5;padding:.5rem .8rem}
.warn{background:var(--warn);border-left:4px solid var(--warnline);padding:.5rem .8rem;margin:.4rem 0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dl.facts dt{font-weight:600;color:var(--muted)} dl.facts dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.85rem;font-variant-numeric:tabular-nums}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0} td.name,th.name{text-align:left}
td.best{background:var(--best);font-weight:700} td.best::after{content:" \\2605"}
td.text{text-align:left;white-space:normal;min-width:26rem;font-size:.8rem}
caption,.note{color:var(--muted);font-size:.85rem;text-align:left;caption-side:bottom;padding-top:.3rem}
figure{margin:1.5rem 0;break-inside:avoid} figure img{width:100%;max-width:56rem;height:auto;display:block}
figcaption{color:var(--muted);font-size:.9rem} figcaption b{color:var(--fg)}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
pre{background:#f6f6f6;padding:.8rem;overflow:auto;white-space:pre-wrap}
details{margin:.5rem 0} summary{cursor:pointer;font-weight:600}
@media (max-width:40rem){body{font-size:14px;padding:.6rem} dl.facts{grid-template-columns:1fr}}
@media print{body{max-width:none;font-size:10pt} .scroll{overflow:visible} th{position:static}
 details>*{display:block} a{color:inherit;text-decoration:none} h2{break-after:avoid}}
"""


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
    answer: str = ""                  # bench.report.answer: what the tables support, in words


def _table(frame: pd.DataFrame, best: pd.DataFrame | None = None, hover: pd.DataFrame | None = None,
           caption: str = "", text_columns: tuple[str, ...] = (), index_label: str = "variant",
           table_id: str = "") -> str:
    head = f"<th class='name' scope='col'>{esc(index_label)}</th>" + "".join(
        f"<th scope='col'>{esc(str(c))}</th>" for c in frame.columns)
    body = []
    for key, row in frame.iterrows():
        cells = [f"<th class='name' scope='row'>{esc(str(key))}</th>"]
        for column, value in row.items():
            classes = [c for c, on in (("best", best is not None and bool(best.loc[key, column])),
                                       ("text", column in text_columns)) if on]
            title = hover.loc[key, column] if hover is not None and column in hover else ""
            attrs = (f" class='{' '.join(classes)}'" if classes else "") + (f" title='{esc(title)}'" if title else "")
            cells.append(f"<td{attrs}>{esc(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    ident = f" id='{esc(table_id)}'" if table_id else ""
    return (f"<div class='scroll'><table{ident}>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            "</table></div>")


def _fmt(value: float, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    shown = pd.DataFrame({
        "axis": effects["axis"], "change": effects["baseline"].astype(str) + " → " + effects["value"].astype(str),
        "other axes": effects["context"],
        "Δ acc": effects["delta"].map(lambda v: _fmt(v, "+.4f")),
        "95% CI": [f"[{_fmt(a, '+.4f')}, {_fmt(b, '+.4f')}]" for a, b in zip(effects["ci_low"], effects["ci_high"])],
        "p (Welch)": effects["p_welch"].map(lambda v: _fmt(v, ".3g")),
        "p (Holm)": effects["p_holm"].map(lambda v: _fmt(v, ".3g")),
        "reading": [verdict(row) for _, row in effects.iterrows()],
        "time ×": effects["time_ratio"].map(lambda v: _fmt(v, ".2f")),
        "timed at": effects["time_basis"],
        "memory ×": effects["memory_ratio"].map(lambda v: _fmt(v, ".2f")),
        "seeds": effects["seeds_baseline"].astype(str) + " / " + effects["seeds"].astype(str)})
    shown.index = effects["variant_baseline"] + " → " + effects["variant"]
    return shown


def _effects_html(effects: pd.DataFrame) -> str:
    if effects.empty:
        return ("<h2 id='effects'>Effects of each axis</h2><p class='note'>No pair of variants differs on exactly one "
                "axis, so no effect can be isolated.</p>")
    metric = effects["metric"].iloc[0].replace("_acc", "").replace("val", "validation")
    caption = (f"Δ acc = mean {metric} accuracy of the changed variant minus the baseline's, over seeds; 95% CI and "
               "two-sided p from Welch's unequal-variance t-test (seeds as samples; each variant at its own tuned "
               "settings); p (Holm) corrects for every row that gets a verdict. 'better'/'worse' = Holm p < 0.05; "
               "'not comparable' = a side did not learn (above the majority rate by no more than its noise). "
               "time × and memory × = changed / baseline: median time per training step and peak memory from the "
               "timing pass at the sizes under 'timed at', the same for both sides (memory: same kind only). "
               "A packed variant reads each true end, so it pairs with padded true_last, not padded last.")
    return ("<h2 id='effects'>Effects of each axis</h2><p>Each row pairs two variants that differ on one axis only, "
            "so the row answers \"what does this change do, all else equal?\".</p>"
            + _table(effects_display(effects), caption=caption, index_label="pair", table_id="effects-table"))


def _figure(plot: Plot) -> str:
    return (f"<figure id='{esc(plot.key)}'><img src='{draw.data_uri(plot)}' alt='{esc(plot.alt)}'>"
            f"<figcaption><b>{esc(plot.title)}.</b> {esc(plot.caption)}</figcaption></figure>")


def html_page(page: Page) -> str:
    name = str(page.study.get("name", "study"))
    warnings = "".join(f"<p class='warn' role='note'>{esc(w)}</p>" for w in page.warnings)
    facts = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in page.facts)  # values are escaped by the caller
    seeds = ("<details><summary>Each seed's test accuracy</summary>"
             + _table(page.seeds.map(lambda v: _fmt(v, ".4f")), index_label="variant") + "</details>")
    tuning = "" if page.tuning.empty else (
        "<h2 id='tuning'>Tuning</h2><p class='note'>Each variant got the same Optuna budget on validation accuracy; "
        "a parameter under on_edge won at the end of its range (widen that range). importance is fANOVA's share "
        "of the variance in validation accuracy.</p>"
        + _table(page.tuning.map(str), text_columns=("best_params", "importance", "trials")))
    files = " · ".join(f"<a href='{esc(f)}'>{esc(f)}</a>" for f in page.files)
    config = json.dumps(page.study, indent=2, sort_keys=True, default=str)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rnnbench: {esc(name)}</title><style>{CSS}</style></head><body>
<header><h1>rnnbench: {esc(name)}</h1><p class="question">{esc(str(page.study.get('description', '')))}</p>
{warnings}<dl class="facts">{facts}</dl></header>
<main>
{f'<section id="answer"><h2>The answer</h2><p class="answer">{esc(page.answer)}</p></section>' if page.answer else ''}
<h2 id="leaderboard">Leaderboard</h2>
{_table(page.board.text, page.board.best, page.board.hover, caption=LEADERBOARD_NOTE,
        text_columns=("hyperparameters",), table_id="leaderboard-table")}
{seeds}
{_effects_html(page.effects)}
<h2 id="figures">Figures</h2>
{''.join(_figure(p) for p in page.plots)}
{tuning}
<h2 id="config">Configuration</h2>
<details><summary>The resolved configuration (study.json)</summary><pre>{esc(config)}</pre></details>
<p class="note">Files beside this page: {files}. Re-render from the records with
<code>python -m bench.report out=FOLDER</code>.</p>
</main>
<footer class="note">Rendered {esc(time.strftime('%Y-%m-%d %H:%M %Z'))} by rnnbench.</footer>
</body></html>
"""


LEADERBOARD_NOTE = (f"Sorted by test accuracy, variants that did not learn last and unranked; ★ marks each column's "
                    f"best. {CI_NOTE} learned: above the majority-class rate by more than the noise. epochs kept/run: "
                    "the epoch whose weights were kept (best validation accuracy) / epochs run, ⚠ = kept the cap's "
                    "last epoch. s/epoch: median [IQR] of the training pass at the tuned sizes, synchronized; "
                    "ms/step (shared sizes): every variant timed at the study's own sizes. train acc (running) is the "
                    "lesson's figure: accuracy while learning, not a held-out score. Hyperparameters: the values the seeds used; ! = on the edge of its range.")
