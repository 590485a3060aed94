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
from bench.report.study import Tables, compute, read, warnings, write
from bench.report.tables import scored



def sweep_tables(out: Path) -> tuple[dict[str, Tables], dict[str, dict]]:
    """Every point's tables, computed once (bench.report.study.compute), and the points' key values by folder."""
    points = json.loads((out / store.SWEEP).read_text())
    for slug in points:  # a hand-edited sweep.json must not point outside its folder
        if not isinstance(slug, str) or not re.fullmatch(r"[A-Za-z0-9_.=-]+", slug) or ".." in slug:
            raise BenchError(f"{out / store.SWEEP} names a point folder {printable(repr(slug))[:60]} outside its "
                             "folder: the file was edited or damaged; run the sweep again")
    computed = {slug: compute(*read(out / slug)) for slug in points if (out / slug / store.RECORDS).is_file()}
    return {slug: t for slug, t in computed.items() if t is not None}, points


def sweep_table(points: dict[str, dict], computed: dict[str, Tables]) -> tuple[pd.DataFrame, list[str]]:
    """Every point's summary stacked (the booleans stay booleans), with the point's key values as columns; the swept
    keys."""
    keys = sorted({k.split(".")[-1] for p in points.values() for k in p})
    frames = [t.summary.reset_index().assign(**{k.split(".")[-1]: v for k, v in points[slug].items()}, point=slug)
              for slug, t in computed.items()]
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), keys


def render_sweep(out: Path, points_written: bool = False) -> str:
    """The sweep's page and summary.csv, and each point's own page and tables unless its run just wrote them
    (`points_written`); the console's text."""
    computed, points = sweep_tables(out)
    if not points_written:
        for slug, t in computed.items():
            write(t, out / slug)
    frame, keys = sweep_table(points, computed)
    if frame.empty:
        return f"no records under {out} yet"
    store.write_atomic(out / "summary.csv", frame.to_csv(index=False))
    metric = scored(frame, "_mean")
    pivot = frame.pivot_table(index="variant", columns="point", values=metric, sort=False)
    figures = plots.sweep_plots(frame, keys)
    first = next(iter(computed.values()))
    shown = pivot.map(lambda v: "-" if pd.isna(v) else f"{v:.4f}")
    failed = frame.assign(no=frame["learned"] == False).pivot_table(  # noqa: E712 - None: not known
        index="variant", columns="point", values="no", aggfunc="any", sort=False).reindex_like(pivot)
    shown = shown.where(~failed.fillna(False).astype(bool), shown + " (did not learn)")
    cautions = warnings([r for t in computed.values() for r in t.records], first.study)
    store.write_atomic(out / "index.html", page(
        "sweep.html", f"rnnbench sweep: {out.name}", first.study.description,
        [c.banner for c in cautions if c.kind in SWEEP_CAUTIONS],
        metric=metric.replace("_mean", "").replace("_", " "), drawn=drawn(figures, out),
        points=[(s, (out / s / store.RECORDS).is_file()) for s in points],
        points_table=grid(shown, caption="One column per sweep point; each point is a full study of its own, tuned "
                                         "and measured separately: follow its link for the details. 'did not learn': "
                                         "not above the majority-class rate by more than its noise there.")))
    return f"{metric} across the sweep:\n" + pivot.to_string(float_format="{:.4f}".format)


SWEEP_CAUTIONS = ("partial", "small_budget", "overlap", "busy", "mixed_device_name", "mixed_git_sha",
                  "mixed_torch_version")  # what holds across points; each point's page says its own
