"""A sweep's page (e.g. `longrange`: one sub-study per dependency distance): one table, one curve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from bench import store
from bench.errors import BenchError, printable
from bench.report import plots
from bench.report.html import drawn, grid, page
from bench.report.study import render
from bench.report.tables import scored



def sweep_table(out: Path) -> tuple[pd.DataFrame, list[str]]:
    """Every point's summary.csv stacked, with the point's key values as columns; the swept keys."""
    points = json.loads((out / store.SWEEP).read_text())
    for slug in points:  # a hand-edited sweep.json must not point outside its folder
        if not isinstance(slug, str) or not re.fullmatch(r"[A-Za-z0-9_.=-]+", slug) or ".." in slug:
            raise BenchError(f"{out / store.SWEEP} names a point folder {printable(repr(slug))[:60]} outside its "
                             "folder: the file was edited or damaged; run the sweep again")
    keys = sorted({k.split(".")[-1] for p in points.values() for k in p})
    frames = []
    for slug, point in points.items():
        if (out / slug / store.RECORDS).is_file():
            render(out / slug)
            summary = pd.read_csv(out / slug / "summary.csv")
            frames.append(summary.assign(**{k.split(".")[-1]: v for k, v in point.items()}, point=slug))
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), keys


def render_sweep(out: Path) -> str:
    frame, keys = sweep_table(out)
    if frame.empty:
        return f"no records under {out} yet"
    store.write_atomic(out / "summary.csv", frame.to_csv(index=False))
    metric = scored(frame, "_mean")
    pivot = frame.pivot_table(index="variant", columns="point", values=metric, sort=False)
    figures = plots.sweep_plots(frame, keys)
    study = store.load_study(out / frame["point"].iloc[0])
    points = json.loads((out / store.SWEEP).read_text())
    shown = pivot.map(lambda v: "-" if pd.isna(v) else f"{v:.4f}")
    if "learned" in frame:  # a point where a variant did not learn says so in its cell
        failed = frame.assign(no=frame["learned"].astype(str) == "False").pivot_table(
            index="variant", columns="point", values="no", aggfunc="any", sort=False).reindex_like(pivot)
        shown = shown.where(~failed.fillna(False).astype(bool), shown + " (did not learn)")
    store.write_atomic(out / "index.html", page(
        "sweep.html", f"rnnbench sweep: {out.name}", str(study.get("description", "")), _warnings(frame),
        metric=metric.replace("_mean", "").replace("_", " "), drawn=drawn(figures, out),
        points=[(s, (out / s / store.RECORDS).is_file()) for s in points],
        points_table=grid(shown, caption="One column per sweep point; each point is a full study of its own, tuned "
                                         "and measured separately: follow its link for the details. 'did not learn': "
                                         "not above the majority-class rate by more than its noise there.")))
    return f"{metric} across the sweep:\n" + pivot.to_string(float_format="{:.4f}".format)


def _warnings(table: pd.DataFrame) -> list[str]:
    lines = []
    if table["partial_data"].any():
        lines.append("PARTIAL DATA: a training split is not the full dataset")
    small = sorted(set(table["budget"].dropna().astype(str)) & {"smoke", "quick"})
    if small:
        lines.append(f"SMALL BUDGET ({', '.join(small)}): not comparable with published figures")
    return lines

