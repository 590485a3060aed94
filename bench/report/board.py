"""The leaderboard, declared: one `Column` per measured quantity, and every view of it generated from that table.

A column is declared once: its label, the record field it aggregates over seeds and how (pandas named aggregation in
bench.report.tables.summarize), the summary column it is read by, which way is best (the ★), its cell text and
hover, whether it is a key column (the page's main table, the console), its sentence in the leaderboard's note, and
whether MLflow's parent run carries it (bench.tracking). From COLUMNS come the summary's per-seed aggregates, the ★
rules, the leaderboard's text and hover, the key view, leaderboard.md, the leaderboard's note and the parent
metrics. Adding a measured quantity is a field on bench.record.Record and one entry here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from bench.record import comparable_memory
from bench.report.stats import LEVEL

Row = pd.Series  # one variant's summary row


@dataclass
class Leaderboard:
    """Display text, which cells hold a column's best value, and each cell's hover text."""

    text: pd.DataFrame
    best: pd.DataFrame
    hover: pd.DataFrame


def _num(value, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def _acc(mean: float, half: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.4f}" if math.isnan(half) else f"{mean:.4f} ± {half:.4f}"


def bound_key(row) -> str:
    """The key that bound a variant's runs, to raise when they were still improving at the cap: train.samples or
    train.epochs (bench.report.tables' epoch_bound; older summaries: train.epochs)."""
    return str(row.get("epoch_bound", "train.epochs")).split("=")[0]


def _iqr(m: float, a: float, b: float) -> str:
    return "-" if pd.isna(m) else f"{_num(m, '{:.3g}')} [{_num(a, '{:.3g}')}–{_num(b, '{:.3g}')}]"


def short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def hyperparameters_text(row: Row) -> tuple[str, str]:
    """(cell text, hover text): the tuned values, an edge-of-range one marked with '!', or 'fixed'."""
    params = json.loads(row["hyperparameters"])
    edges = set(str(row["edge_params"]).split())
    if not row["tuned"]:
        return "fixed", ", ".join(f"{k}={short(v)}" for k, v in sorted(params.items()))
    names = str(row["tuned_names"]).split() or sorted(params)
    text = ", ".join(f"{k}={short(params[k])}{'!' if k in edges else ''}" for k in names if k in params)
    hover = "tuned; ! = best value on the edge of its search range: widen that range" if edges else "tuned"
    return text, hover


def stop_words(kind: str, seeds: int, first: int) -> str:
    """Why a variant has the seeds it has (bench.report.effects.seed_stops gives the kind), in words."""
    return {"no_pair": "first wave (in no pair of the question)",
            "not_comparable": "first wave (its pairs are not comparable: a side did not learn)",
            "no_sequential": "undecided (no sequential seeds: measure.max_seeds adds seeds while a pair is undecided)",
            "cap": "cap reached, still undecided",
            "unfinished": "unfinished: a pair is undecided below measure.max_seeds (run the same command to add seeds)",
            "decided": "decided" + (f" after {seeds} seeds" if seeds > first else " at the first wave")}.get(kind, "")


def _stopped(row: Row) -> str:
    return stop_words(str(row.get("seeds_stop") or ""), int(row["seeds"]), int(row.get("seeds_first") or 0))


@dataclass(frozen=True)
class Column:
    """One measured quantity as the leaderboard shows it (see the module docstring)."""
    label: str | None                       # the leaderboard's header; None: in summary.csv only
    text: Callable[[Row], str] | None = None
    source: str | None = None               # the summary column it is read by (★, MLflow)
    field: str | None = None                # the record's per-seed field it aggregates ...
    agg: str | None = None                  # ... and how, over seeds ("median", "max")
    best: str | None = None                 # "max" | "min": ★ on the best value among the variants that learned
    hover: Callable[[Row], str] | str | None = None
    key: bool = False                       # in the key view
    note: str = ""                          # its sentence in the leaderboard's note
    when: Callable[[pd.DataFrame], bool] = lambda summary: True  # whether the board has it at all
    tracked: bool = False                   # MLflow's parent run logs the field's mean and CI over seeds


def _floors(summary: pd.DataFrame) -> bool:
    return "x_latency_floor" in summary and bool(summary["x_latency_floor"].notna().any())


COLUMNS: tuple[Column, ...] = (
    Column("seeds", lambda r: str(r["seeds"]), key=True,
           hover=lambda r: "seeds: " + _stopped(r) if "seeds_stop" in r else ""),
    Column("seeds stopped", _stopped, when=lambda s: "seeds_stop" in s),
    Column("test acc", lambda r: _acc(r["test_acc_mean"], r["test_acc_ci"]), source="test_acc_mean",
           field="test_acc", best="max", key=True, tracked=True,
           hover=lambda r: "per seed: " + ", ".join(f"{s}: {v:.4f}" for s, v in json.loads(r["test_acc_by_seed"])
                                                    .items()),
           note=f"test/val acc: mean ± half-width of the {LEVEL:.0%} Student-t interval over seeds (mean only with "
                "one seed); hover a test accuracy for each seed's value."),
    Column("learned", lambda r: "?" if r["learned"] is None or pd.isna(r["learned"]) else "yes" if r["learned"]
           else "NO", key=True, note="learned: above the majority-class rate by more than the noise.",
           hover=lambda r: f"majority-class rate {_num(r['majority_acc'], '{:.3f}')}; noise (95 %) "
                           f"{_num(r['noise'], '{:.3f}')}: learned = mean accuracy above the majority rate by more "
                           "than the noise"),
    Column("val acc", lambda r: _acc(r["val_acc_mean"], r["val_acc_ci"]), source="val_acc_mean", field="val_acc",
           best="max", tracked=True),
    Column("test macro-F1", lambda r: _acc(r["test_macro_f1_mean"], r["test_macro_f1_ci"]),
           source="test_macro_f1_mean", field="test_macro_f1", best="max", tracked=True,
           when=lambda s: "test_macro_f1_mean" in s and bool(s["test_macro_f1_mean"].notna().any()),
           note="test macro-F1: the mean over classes of each class's F1 on test (mean ± half-width over seeds): "
                "the usual score when classes are unbalanced."),
    Column("train acc (running)", lambda r: _num(r["train_acc_mean"], "{:.4f}"), source="train_acc_mean",
           note="train acc (running) is the lesson's figure: accuracy while learning, not a held-out score."),
    Column("epochs kept/run", lambda r: f"{r['epochs_kept']:g}/{r['epochs_run']:g}" + (" ⚠" if r["kept_at_cap"]
                                                                                         else ""), key=True,
           hover=lambda r: f"median over seeds of the epoch kept (best on validation) / epochs run; per seed "
                           f"{r['epochs_by_seed']}; cap {r['epoch_cap']} ({r.get('epoch_bound', 'train.epochs')})"
                           + (f"; ⚠ {r['kept_at_cap']} seed(s) kept the cap's last epoch: may still improve with a "
                              f"higher {bound_key(r)}" if r["kept_at_cap"] else ""),
           note="epochs kept/run: the epoch whose weights were kept (best validation accuracy) / epochs run, ⚠ = kept "
                "the cap's last epoch."),
    Column("s/epoch", lambda r: _iqr(r["epoch_time_s"], r["epoch_time_q1"], r["epoch_time_q3"]),
           source="epoch_time_s", field="epoch_time_s", best="min", key=True, tracked=True,
           hover=lambda r: f"median [IQR] over {r['epoch_samples']} epoch(s) of all seeds, at the tuned sizes",
           note="s/epoch: median [IQR] of the training pass at the tuned sizes, synchronized;"),
    Column("ms/step (shared sizes)", lambda r: _iqr(r["timing_step_ms"], r["timing_step_q1"], r["timing_step_q3"]),
           source="timing_step_ms", best="min", key=True,
           hover=lambda r: f"median [IQR] training step at {r['timing_sizes']}, every variant alike"
           if r["timing_sizes"] else "",
           note="ms/step (shared sizes): every variant timed at the study's own sizes."),
    Column("× latency floor", lambda r: _num(r["x_latency_floor"], "{:.2f}"), when=_floors,
           hover="s/epoch ÷ the latency floor: the epoch's dependent steps (each batch's longest text × layers × "
                 "directions) × one cell step, forward and backward, timed alone"),
    Column("latency floor s/epoch", lambda r: _num(r["latency_floor_s"], "{:.3g}"), when=_floors),
    Column("arithmetic floor s/epoch", lambda r: _num(r["arith_floor_s"], "{:.2g}"), when=_floors,
           hover=lambda r: f"analytic training FLOPs of an epoch ÷ peak ({r['peak_source']})"
           if isinstance(r.get("peak_source"), str) else ""),
    Column("steps to kept", lambda r: _num(r["steps_to_kept"]), source="steps_to_kept", field="steps_to_kept",
           agg="median", tracked=True, when=lambda s: bool(s["steps_to_kept"].notna().any()),
           hover="median over seeds of the optimizer steps (one per batch) up to the end "
                                             "of the epoch kept: what reaching this accuracy took",
           note="steps to kept: median optimizer steps to the end of the kept epoch."),
    Column("samples/s", lambda r: _num(r["samples_per_s"]), source="samples_per_s", field="samples_per_s",
           agg="median", best="max"),
    Column("real tok/s", lambda r: _num(r["tokens_per_s"]), source="tokens_per_s", field="tokens_per_s",
           agg="median", best="max"),
    Column("padded tok/s", lambda r: _num(r["padded_tokens_per_s"]), source="padded_tokens_per_s",
           field="padded_tokens_per_s", agg="median", best="max"),
    Column("pad %", lambda r: _num(100 * r["pad_fraction"], "{:.1f}"), source="pad_fraction", field="pad_fraction",
           agg="median", key=True),
    Column(None, source="eval_latency_ms", field="eval_latency_ms", agg="median"),
    Column("peak MiB", lambda r: _num(r["peak_mem_mb"], "{:,.1f}"), source="peak_mem_mb", field="peak_mem_mb",
           agg="max", best="min", key=True),
    Column("memory kind", lambda r: str(r["memory_kind"])),
    Column("params", lambda r: f"{r['params']:,}"),
    Column("hyperparameters", lambda r: hyperparameters_text(r)[0], hover=lambda r: hyperparameters_text(r)[1],
           note="Hyperparameters: the values the seeds used; ! = on the edge of its range."),
)

AGGREGATES = {c.source: (c.field, c.agg) for c in COLUMNS if c.agg}  # summarize's named aggregation
TRACKED = tuple(c for c in COLUMNS if c.tracked)                      # MLflow's parent metrics
KEY = tuple(c.label for c in COLUMNS if c.key)
LESSON = "lesson "  # a published figure beside ours (the study's reference): a key column after train acc
REFERENCE_ROW = "reference: TF-IDF + LR"
NOTE = ("Sorted by test accuracy, variants that did not learn last and unranked; ★ marks each column's best. "
        + " ".join(c.note for c in COLUMNS if c.note))


def leaderboard(summary: pd.DataFrame, classical: dict | None = None, criteria=None) -> Leaderboard:
    """The human table, one row per variant in the summary's order, units in the headers; a variant that did
    not learn is marked and gets no ★; the classical reference (bench.classical), when given, is the last
    row, unranked. `criteria` (bench.report.effects.Criteria) says how many seeds the first wave had."""
    summary = summary.assign(seeds_first=criteria.first if criteria else 0)
    shown = [c for c in COLUMNS if c.label and c.when(summary)]
    rows = [r for _, r in summary.iterrows()]
    text = pd.DataFrame({c.label: [c.text(r) for r in rows] for c in shown}, index=summary.index)
    hover = pd.DataFrame({c.label: [c.hover(r) if callable(c.hover) else c.hover or "" for r in rows]
                          for c in shown}, index=summary.index)
    lesson = [c for c in summary.columns if c.startswith("reference_")]
    at = list(text.columns).index("train acc (running)") + 1
    for i, col in enumerate(lesson):
        text.insert(at + i, LESSON + col.removeprefix("reference_"), summary[col].map(lambda v: _num(v, "{:.3f}")))
        hover.insert(at + i, LESSON + col.removeprefix("reference_"), "")
    best = pd.DataFrame(False, index=summary.index, columns=text.columns)
    kinds = set(summary["memory_kind"].dropna())
    comparable = len(kinds) == 1 and comparable_memory(next(iter(kinds)))  # one kind, each a run's own
    ranked = (summary["learned"] != False).to_numpy()  # noqa: E712 - a model that did not learn is not ranked
    for c in shown:
        if not c.best or (c.source == "peak_mem_mb" and not comparable):
            continue
        values = summary[c.source].astype(float).where(ranked)
        if ranked.sum() < 2 or values.isna().all():
            continue
        best[c.label] = values == (values.max() if c.best == "max" else values.min())
    if classical:
        text.loc[REFERENCE_ROW] = "-"
        text.loc[REFERENCE_ROW, ["test acc", "val acc"]] = [_num(classical.get("test_acc"), "{:.4f}"),
                                                            _num(classical.get("val_acc"), "{:.4f}")]
        best.loc[REFERENCE_ROW] = False
        hover.loc[REFERENCE_ROW] = ""
        hover.loc[REFERENCE_ROW, "test acc"] = (f"{classical.get('model')}, C={classical.get('C')} chosen on "
                                                f"validation, fitted on the same {classical.get('train_rows'):,} "
                                                "training rows and tokens; not ranked")
    text.index.name = "variant"
    return Leaderboard(text, best, hover.reindex(index=text.index, columns=text.columns).astype(object).fillna(""))


def key_view(board: Leaderboard) -> Leaderboard:
    """The leaderboard's key columns (the memory kind is said once, in the page's caption)."""
    lesson = [c for c in board.text if c.startswith(LESSON)]
    cols = [c for c in KEY if c in board.text]
    if lesson:
        cols[1:1] = ["train acc (running)", *lesson]
    return Leaderboard(board.text[cols], board.best[cols], board.hover[cols])


def fit_width(frame: pd.DataFrame, width: int = 120, **to_string) -> str:
    """`frame.to_string()` with columns dropped from the right until every line fits `width` characters; the
    dropped ones are named on a last line (they are in the CSV files)."""
    kept = list(frame.columns)
    while True:
        text = frame[kept].to_string(**to_string)
        if len(kept) <= 1 or max(map(len, text.splitlines())) <= width:
            break
        kept.pop()
    dropped = [c for c in frame.columns if c not in kept]
    return text + (f"\n(not shown here, to fit {width} columns: {', '.join(dropped)}; see the page and the CSV files)"
                   if dropped else "")


def markdown(board: Leaderboard) -> str:
    """The leaderboard as a GitHub Markdown table; best values in bold."""
    columns = ["variant", *board.text.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for variant, row in board.text.iterrows():
        cells = [f"**{v}**" if board.best.loc[variant, c] else v for c, v in row.items()]
        lines.append("| " + " | ".join([variant, *cells]).replace("\n", " ") + " |")
    return "\n".join(lines) + "\n"
