"""The speed study's page and tables (bench.speed writes speed.jsonl; this never imports torch)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench import store
from bench.config import SPEED_SETTINGS
from bench.report.answer import time_reading
from bench.report.html import drawn, grid, page
from bench.report.plots import Plot
from bench.report.stats import ratio_ci
from bench.record import StudyDoc
from bench.report.board import Column
from bench.report.tables import busy

SHOWN = ["sweep", "batch_size", "seq_len", "train_ms", "train_ms_q1", "train_ms_q3", "infer_ms",
         "real_tokens_per_s", "padded_tokens_per_s", "pad_fraction", "train_flops_per_token", "train_gflops_per_s",
         "infer_gflops_per_s", "peak_mem_mb", "memory_kind", "arith_floor_ms", "latency_floor_ms", "x_latency_floor"]


def load(out: Path) -> pd.DataFrame:
    return pd.DataFrame(store.load(out, store.SPEED_RECORDS))


def crossover(frame: pd.DataFrame) -> pd.DataFrame:
    """Packed / padded train-step time at every point, per pair differing only in packing."""
    others = ["cell", "bidirectional", "layers", "readout", "embed_init", "batching"]
    others = [c for c in others if c in frame]
    rows = []
    for key, group in frame.groupby(others + ["sweep", "batch_size", "seq_len"], sort=False):
        by = {r["packing"]: r for r in group.to_dict("records")}
        if "padded" in by and "packed" in by:
            low, high = ratio_ci(by["padded"].get("train_ms_samples") or [], by["packed"].get("train_ms_samples") or [])
            rows.append({**dict(zip(others + ["sweep", "batch_size", "seq_len"], key)),
                         "padded_ms": by["padded"]["train_ms"], "packed_ms": by["packed"]["train_ms"],
                         "packed_over_padded": by["packed"]["train_ms"] / by["padded"]["train_ms"],
                         "ratio_low": low, "ratio_high": high})
    return pd.DataFrame(rows)


def _crossover_shown(cross: pd.DataFrame) -> pd.DataFrame:
    """The crossover table as the page shows it: the point, both step times, the ratio with its interval."""
    if cross.empty:
        return cross
    shown = cross.set_index("cell")[[c for c in ("bidirectional", "layers", "sweep", "batch_size", "seq_len")
                                     if c in cross]].astype(str)
    shown["padded ms"] = [f"{v:,.3g}" for v in cross["padded_ms"]]
    shown["packed ms"] = [f"{v:,.3g}" for v in cross["packed_ms"]]
    shown["packed / padded [95% CI]"] = [time_reading(r, a, b) for r, a, b in zip(
        cross["packed_over_padded"], cross["ratio_low"], cross["ratio_high"])]
    return shown


def _packing_verdict(cross: pd.DataFrame) -> str:
    """Where packed is faster and where it is the same within noise: a ratio whose 95 % interval spans 1 is no win,
    and one without an interval (under 3 timed steps a side) is not called either way."""
    if cross.empty:
        return "no packed/padded pair"

    def where(rows: pd.DataFrame) -> str:
        return "; ".join(f"{r.cell} b{r.batch_size} t{r.seq_len} ({r.packed_over_padded:.2f}x)"
                         for r in rows.itertuples())

    faster = cross[cross["ratio_high"] < 1]
    same = cross[(cross["ratio_low"] <= 1) & (cross["ratio_high"] >= 1)]
    unknown = cross[cross["ratio_low"].isna()]
    return "; ".join([f"packed is faster than padded at: {where(faster)}" if not faster.empty else
                      "packed is never faster than padded here (95% intervals)",
                      *([f"the same within noise at: {where(same)}"] if not same.empty else []),
                      *([f"too few timed steps to tell at: {where(unknown)}"] if not unknown.empty else [])])


def scaling(frame: pd.DataFrame, sweep: str) -> Plot | None:
    x = "batch_size" if sweep == "batch" else "seq_len"
    data = frame[frame["sweep"] == sweep][["variant", x, "train_ms", "infer_ms"]].sort_values(["variant", x])
    if data.empty or data[x].nunique() < 2:
        return None
    fixed = "sequence length" if sweep == "batch" else "batch size"
    value = frame[frame["sweep"] == sweep]["seq_len" if sweep == "batch" else "batch_size"].iloc[0]
    return Plot(f"scaling-{sweep}", "lines", f"Training step time against {x.replace('_', ' ')}",
                x.replace("_", " "), "median training step (ms)",
                f"One line per variant, at a fixed {fixed} of {value}; log-log axes. A slope of 1 is linear "
                "scaling; a flat line means the step is dominated by fixed overhead (kernel launches, Python), "
                "not by arithmetic.", f"Line chart of training step time against {x} for "
                f"{data['variant'].nunique()} variants.", data.reset_index(drop=True),
                {"x": x, "y": "train_ms", "log": True})


def _settings(frame: pd.DataFrame) -> tuple[str, list[str]]:
    """The train.* settings the steps ran with, and the warnings they call for (none today)."""
    keys = [k for k in SPEED_SETTINGS if k in frame]
    text = ", ".join(f"train.{k}=" + "/".join(sorted(str(v) for v in frame[k].dropna().unique())) for k in keys)
    return text or "defaults (records from before the settings were stored)", []


# The key table's columns (what fits 1280 px; every column folds out below it and is in speed.csv), declared as the
# study page's are (bench.report.board.Column), over a row of display text
KEY = (Column("sweep", lambda r: r["sweep"]), Column("batch", lambda r: r["batch_size"]),
       Column("length", lambda r: r["seq_len"]),
       Column("train ms (q1-q3)", lambda r: f"{r['train_ms']} ({r['train_ms_q1']}-{r['train_ms_q3']})"),
       Column("infer ms", lambda r: r["infer_ms"]), Column("real tokens/s", lambda r: r["real_tokens_per_s"]),
       Column("pads", lambda r: r["pad_fraction"]), Column("train GFLOP/s", lambda r: r["train_gflops_per_s"]),
       Column("peak MiB", lambda r: r["peak_mem_mb"]), Column("latency floor ms", lambda r: r["latency_floor_ms"]),
       Column("× latency floor", lambda r: r["x_latency_floor"]))


def render_speed(out: Path) -> str:
    frame = load(out)
    if frame.empty:
        return f"no speed records in {out} yet"
    study = StudyDoc.model_validate(store.load_study(out))
    speeds = frame.reindex(columns=["variant", *SHOWN]).sort_values(["sweep", "variant", "batch_size", "seq_len"])
    store.write_atomic(out / "speed.csv", speeds.to_csv(index=False))
    cross = crossover(frame)
    store.write_atomic(out / "crossover.csv", cross.to_csv(index=False))
    verdict = _packing_verdict(cross)
    shown = speeds.set_index("variant").drop(columns=["memory_kind"]).map(
        lambda v: "-" if pd.isna(v) else f"{v:,.3g}" if isinstance(v, float) else str(v))
    rows = [r for _, r in shown.iterrows()]
    key = pd.DataFrame({c.label: [c.text(r) for r in rows] for c in KEY}, index=shown.index)
    figures = [p for p in (scaling(frame, "batch"), scaling(frame, "length")) if p is not None]
    env = frame.iloc[0]
    settings, notes = _settings(frame)
    loaded = busy([{k: r.get(k) for k in ("others_cpu", "load_1min", "cpus")} for r in frame.to_dict("records")],
                  "timed points")
    notes = [loaded, *notes] if loaded else notes
    facts = [("device", f"{env.get('device_name')} ({env.get('device')}), torch {env.get('torch_version')}, CUDA "
                        f"{env.get('cuda_version') or '-'}, cuDNN {env.get('cudnn_version') or '-'}"),
             ("reproduce", study.command or ""), ("settings", settings), ("packing", verdict)]
    store.write_atomic(out / "index.html", page(
        "speed.html", f"rnnbench speed: {study.name}", study.description, notes, facts,
        steps_all=grid(shown, table_id="speed-all"),
        steps=grid(key, table_id="speed-table",
                   caption="Median of every timed step (q1-q3 beside it), synchronized, after warm-up; tokens/s "
                                  "over the training step; GFLOP/s from the analytic count (the slots each variant "
                                  "computes: every slot padded, real tokens packed). Latency floor: the step's "
                                  "dependent steps (length × layers × directions) × one cell step, forward and "
                                  "backward, timed alone on this device; × latency floor = train ms ÷ that floor, "
                                  "what everything around the recurrence costs (bench.floors). The arithmetic floor "
                                  "(analytic FLOPs ÷ peak) is in every column below."),
        crossover=grid(_crossover_shown(cross), index_label="cell",
                       caption="packed / padded < 1: packing is faster at that point, when its 95% bootstrap "
                               "interval over the timed steps [low, high] lies below 1 too; 'same' when it spans 1. "
                               "crossover.csv has every column.")
        if not cross.empty else None, drawn=drawn(figures, out)))
    return (speeds[["variant", "sweep", "batch_size", "seq_len", "train_ms", "infer_ms", "real_tokens_per_s",
                   "train_gflops_per_s"]].to_string(index=False, float_format="{:,.3g}".format) + "\n" + verdict)
