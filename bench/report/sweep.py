"""A sweep's page (e.g. `longrange`: one sub-study per dependency distance): one table, one curve."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench import store
from bench.report import page, plots

SWEEP = "sweep.json"


def sweep_table(out: Path) -> tuple[pd.DataFrame, list[str]]:
    """Every point's summary.csv stacked, with the point's key values as columns; the swept keys."""
    from bench.report import render

    points = json.loads((out / SWEEP).read_text())
    keys = sorted({k.split(".")[-1] for p in points.values() for k in p})
    frames = []
    for slug, point in points.items():
        if (out / slug / store.RECORDS).is_file():
            render(out / slug)
            summary = pd.read_csv(out / slug / "summary.csv")
            frames.append(summary.assign(**{k.split(".")[-1]: v for k, v in point.items()}, point=slug))
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), keys


def render_sweep(out: Path) -> str:
    table, keys = sweep_table(out)
    if table.empty:
        return f"no records under {out} yet"
    store.write_atomic(out / "summary.csv", table.to_csv(index=False))
    metric = "test_acc_mean" if table["test_acc_mean"].notna().any() else "val_acc_mean"
    pivot = table.pivot_table(index="variant", columns="point", values=metric, sort=False)
    figures = [p for p in (plots.sweep_curve(table, k) for k in keys if table[k].nunique() > 1) if p is not None]
    study = store.load_study(out / table["point"].iloc[0])
    points = json.loads((out / SWEEP).read_text())
    links = "".join(f"<li><a href='{page.esc(s)}/index.html'>{page.esc(s)}</a>"
                    f"{'' if (out / s / store.RECORDS).is_file() else ' (not run yet)'}</li>" for s in points)
    shown = pivot.map(lambda v: "-" if pd.isna(v) else f"{v:.4f}")
    if "learned" in table:  # a point where a variant did not learn says so in its cell
        failed = table.assign(no=table["learned"].astype(str) == "False").pivot_table(
            index="variant", columns="point", values="no", aggfunc="any", sort=False).reindex_like(pivot)
        shown = shown.where(~failed.fillna(False).astype(bool), shown + " (did not learn)")
    html = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>rnnbench sweep: {page.esc(out.name)}</title><style>{page.CSS}</style></head><body>"
            f"<h1>rnnbench sweep: {page.esc(out.name)}</h1>"
            f"<p class='question'>{page.esc(str(study.get('description', '')))}</p>"
            + "".join(f"<p class='warn'>{page.esc(w)}</p>" for w in _warnings(table))
            + "<h2>" + page.esc(metric.replace("_mean", "").replace("_", " ")) + " (mean over seeds) at each point</h2>"
            + page._table(shown, caption="One column per sweep point; each point is a full study of its own, "
                                         "tuned and measured separately: follow its link for the details. "
                                         "'did not learn': not above the majority-class rate by more than its "
                                         "noise there.")
            + "".join(page._figure(p) for p in figures)
            + f"<h2>Points</h2><ul>{links}</ul></body></html>\n")
    store.write_atomic(out / "index.html", html)
    return f"{metric} across the sweep:\n" + pivot.to_string(float_format="{:.4f}".format)


def _warnings(table: pd.DataFrame) -> list[str]:
    lines = []
    if table["partial_data"].any():
        lines.append("PARTIAL DATA: a training split is not the full dataset")
    small = sorted(set(table["budget"].dropna().astype(str)) & {"smoke", "quick"})
    if small:
        lines.append(f"SMALL BUDGET ({', '.join(small)}): not comparable with published figures")
    return lines

