"""The report's tables as data: one row per run, per epoch, per variant; the leaderboard's text.

Everything here is computed from stored records (and tuning.json) alone. Numbers stay numbers
in the CSVs; `leaderboard()` is the only place that formats them for people.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass

import pandas as pd

from bench.report.stats import LEVEL, expected_max, expected_max_band, mean_ci
from bench import store
from bench.config import schedule_seeds
from bench.variants import AXES


def scored(frame: pd.DataFrame, suffix: str = "") -> str:
    """The accuracy a table is read by: `test_acc` (+ suffix, e.g. `_mean`) where any run scored the test split,
    else `val_acc` (a study that skipped the test split)."""
    column = f"test_acc{suffix}"
    found = column in frame and pd.to_numeric(frame[column], errors="coerce").notna().any()
    return column if found else f"val_acc{suffix}"

LIST_COLUMNS = ("history", "curve")  # in records.jsonl, too long for a CSV cell: see epochs.csv, curves.csv
ACCURACIES = ("train_acc", "val_acc", "test_acc")


HP = "hp."  # one column per hyperparameter, beside the JSON: hp.lr, hp.batch_size, ...


def _hp_columns(params: dict) -> dict:
    return {f"{HP}{k}": v for k, v in sorted((params or {}).items())}


def results_frame(records: list[dict]) -> pd.DataFrame:
    """One row per run; nested fields become JSON text so the CSV stays flat, and each hyperparameter also gets
    a column of its own (hp.NAME)."""
    rows = [{**{k: json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v
                for k, v in r.items() if k not in LIST_COLUMNS}, **_hp_columns(r.get("hyperparameters"))}
            for r in records]
    return pd.DataFrame(rows)


def curves_frame(records: list[dict]) -> pd.DataFrame:
    """Running train accuracy within each epoch (the lesson's figure), every `curve_every` samples."""
    rows = [{"variant": r["variant"], "seed": r["seed"], "epoch": e, "samples": n, "running_acc": acc,
             "samples_total": (e - 1) * r["train_rows"] + n}
            for r in records for e, n, acc in r["curve"]]
    return pd.DataFrame(rows, columns=["variant", "seed", "epoch", "samples", "running_acc", "samples_total"])


EPOCH_COLUMNS = ["variant", "seed", "epoch", "train_loss", "running_acc", "val_acc", "test_acc", "time_s"]


def epochs_frame(records: list[dict]) -> pd.DataFrame:
    """One row per (run, epoch): the learning curves' data."""
    rows = [{"variant": r["variant"], "seed": r["seed"], **{k: e[k] for k in EPOCH_COLUMNS[2:]}}
            for r in records for e in r["history"]]
    return pd.DataFrame(rows, columns=EPOCH_COLUMNS)


def _quantile(values: list[float], q: float) -> float:
    return float(pd.Series(values, dtype=float).quantile(q)) if values else math.nan


def learned(mean: float, half: float, majority: float | None, n: int) -> tuple[bool | None, float]:
    """(learned?, noise): is the mean accuracy above the majority-class rate by more than its noise? The
    noise is the larger of the seeds' 95 % half-width and the 95 % binomial half-width of the majority rate
    on `n` rows (what a single seed's test score wobbles by). None when it cannot be told."""
    if majority is None or pd.isna(majority) or pd.isna(mean) or not n:
        return None, math.nan
    sampling = 1.96 * math.sqrt(majority * (1 - majority) / n)
    noise = max(0.0 if pd.isna(half) else float(half), sampling)
    return bool(mean - majority > noise), noise


BUSY = 0.25  # other processes took more than this share of the machine's CPUs while a run trained or was timed


def busy(loads: list[dict | None], what: str) -> str:
    """The page's box when times were taken on a busy machine (bench.measure.Load's facts, one per timed block);
    '' when the machine was quiet or nothing was recorded."""
    seen = [f for f in loads if isinstance(f, dict) and f.get("others_cpu") is not None]
    hit = [f for f in seen if f["others_cpu"] > BUSY]
    if not hit:
        return ""
    return (f"BUSY MACHINE: while {len(hit)} of {len(seen)} {what} ran, other processes used up to "
            f"{max(f['others_cpu'] for f in hit):.0%} of the machine's {hit[0].get('cpus') or '?'} CPUs (1-minute load "
            f"average up to {max(f.get('load_1min') or 0 for f in hit):.1f}): those times and the time ratios built on "
            "them are inflated by waiting for cores, not made by the models; time again on a quiet machine (or limit "
            "torch's threads: RNNBENCH_THREADS)")


def _floors(runs: pd.DataFrame, epoch_s: float) -> dict:
    """The two floors under an epoch (bench.floors; medians over seeds) and how far the epoch time is above the
    latency floor; nan for a variant without them (bag, transformer, older records)."""
    found = [f for f in runs.get("floors", pd.Series(dtype=object)) if isinstance(f, dict) and f.get("latency_s")]
    if not found:
        return {"latency_floor_s": math.nan, "arith_floor_s": math.nan, "x_latency_floor": math.nan}
    latency = statistics.median(f["latency_s"] for f in found)
    return {"latency_floor_s": latency, "arith_floor_s": statistics.median(f["arith_s"] for f in found),
            "x_latency_floor": epoch_s / latency, "peak_source": found[0].get("peak_source")}


def _timing(runs: pd.DataFrame) -> dict:
    """The timing passes at the study's shared sizes (bench.train.time_steps), over every seed."""
    passes = [t for t in runs.get("timing", pd.Series(dtype=object)) if isinstance(t, dict) and t.get("step_ms")]
    if not passes:
        return {"timing_step_ms": math.nan, "timing_step_q1": math.nan, "timing_step_q3": math.nan,
                "timing_peak_mem_mb": math.nan, "timing_memory_kind": None, "timing_sizes": None}
    steps = [ms for t in passes for ms in t["step_ms"]]
    sizes = passes[0]["sizes"]
    return {"timing_step_ms": _quantile(steps, 0.5), "timing_step_q1": _quantile(steps, 0.25),
            "timing_step_q3": _quantile(steps, 0.75), "timing_peak_mem_mb": max(t["peak_mem_mb"] for t in passes),
            "timing_memory_kind": passes[0]["memory_kind"],
            "timing_sizes": f"embed {sizes['embed_dim']}, hidden {sizes['hidden_size']}, batch {sizes['batch_size']}"}


def summarize(records: list[dict], reference: dict | None = None, tuning: dict | None = None) -> pd.DataFrame:
    """One row per variant, best test accuracy first (validation breaks ties and stands in for a
    missing test score), variants that did not learn last: accuracy mean, sd and 95 % CI half-width over
    seeds, each seed's value, whether it learned (above the majority-class rate by more than its noise),
    epochs kept and run, median [IQR] epoch time over every epoch of every seed, median throughputs,
    peak memory (max over seeds), the timing pass at shared sizes, and the hyperparameters the seeds used."""
    rows = []
    for variant, runs in pd.DataFrame(records).groupby("variant", sort=False):
        runs = runs.sort_values("seed")
        row = {"variant": variant, **{a: runs[a].iloc[0] for a in AXES if a in runs}, "seeds": len(runs)}
        for metric in ACCURACIES:
            mean, half = mean_ci(runs[metric].astype(float))
            row.update({f"{metric}_mean": mean, f"{metric}_std": runs[metric].astype(float).std(),
                        f"{metric}_ci": half})
        row["test_acc_by_seed"] = json.dumps({str(s): v for s, v in zip(runs["seed"], runs["test_acc"])})
        metric = scored(pd.DataFrame([row]), "_mean").removesuffix("_mean")  # this variant's own
        majority = runs["majority_acc"].iloc[0] if "majority_acc" in runs else None
        rows_scored = int(runs["test_rows" if metric == "test_acc" else "val_rows"].iloc[0] or 0)
        row["majority_acc"] = majority
        row["learned"], row["noise"] = learned(row[f"{metric}_mean"], row[f"{metric}_ci"], majority, rows_scored)
        ran = runs["epochs"].astype(int).tolist()
        known = runs["best_epoch"].tolist() if "best_epoch" in runs else [None] * len(ran)  # older records: none
        kept = [int(k) if k is not None and pd.notna(k) else r for k, r in zip(known, ran)]
        cap = runs["hyperparameters"].iloc[0].get("epochs")
        row.update({"epochs_kept": statistics.median(kept), "epochs_run": statistics.median(ran),
                    "epoch_cap": cap if cap is not None else max(ran),
                    "epochs_by_seed": " ".join(f"{k}/{r}" for k, r in zip(kept, ran)),
                    "kept_at_cap": sum(k == cap for k, told in zip(kept, known) if told is not None and pd.notna(told))})
        row.update(_timing(runs))
        times = [t for r in runs.itertuples() for t in (getattr(r, "epoch_times_s", None) or [r.epoch_time_s])]
        row.update({"epoch_time_s": _quantile(times, 0.5), "epoch_time_q1": _quantile(times, 0.25),
                    "epoch_time_q3": _quantile(times, 0.75), "epoch_samples": len(times)})
        for col in ("samples_per_s", "tokens_per_s", "padded_tokens_per_s", "pad_fraction", "eval_latency_ms"):
            row[col] = runs[col].astype(float).median()
        row.update(_floors(runs, row["epoch_time_s"]))
        first = runs.iloc[0]
        tuned_names = sorted((tuning or {}).get(variant, {}).get("best", {})) if first.get("tuned") else []
        row.update({"peak_mem_mb": runs["peak_mem_mb"].max(), "memory_kind": first["memory_kind"],
                    "params": int(first["params"]), "epochs": int(max(ran)), "budget": first.get("budget"),
                    "tuned": bool(first.get("tuned")), "tuned_names": " ".join(tuned_names),
                    "hyperparameters": json.dumps(first["hyperparameters"], sort_keys=True),
                    "edge_params": " ".join(first.get("edge_params") or []),
                    "partial_data": bool(runs["partial_data"].any()), **_hp_columns(first["hyperparameters"])})
        for metric, value in ((reference or {}).get(variant) or {}).items():
            row[f"reference_{metric}"] = value
        rows.append(row)
    summary = pd.DataFrame(rows).set_index("variant")
    summary["learned"] = summary["learned"].astype(object)
    summary["_learned"] = summary["learned"] != False  # noqa: E712 - None (unknown) ranks as learned
    keys = ["_learned"] + [k for k in ("test_acc_mean", "val_acc_mean") if summary[k].notna().any()]
    return summary.sort_values(keys, ascending=False, na_position="last", kind="stable").drop(columns="_learned")


def requested(records: list[dict], study: dict) -> tuple[list[dict], list[dict]]:
    """store.requested for a study folder: the last command's variants, and its seeds with their sequential waves."""
    planned = study.get("planned")
    if not planned:
        return records, []
    return store.requested(records, set(planned["variants"]),
                           set(schedule_seeds(planned["seeds"], (study.get("measure") or {}).get("max_seeds"))))


def missing_runs(records: list[dict], planned: dict | None) -> list[tuple[str, int]]:
    """Planned (variant, seed) pairs without a record, in plan order: what an unfinished run lacks."""
    if not planned:
        return []
    have = {(r["variant"], r["seed"]) for r in records}
    return [(v, s) for v in planned["variants"] for s in planned["seeds"] if (v, s) not in have]


# --- the leaderboard: text for people ---------------------------------------------------------------

@dataclass
class Leaderboard:
    """Display text, which cells hold a column's best value, and each cell's hover text."""

    text: pd.DataFrame
    best: pd.DataFrame
    hover: pd.DataFrame


# column -> (summary column, "max" | "min" is best, or None when no best is marked)
BEST = {"test acc": ("test_acc_mean", "max"), "val acc": ("val_acc_mean", "max"),
        "s/epoch": ("epoch_time_s", "min"), "ms/step (shared sizes)": ("timing_step_ms", "min"), "samples/s": ("samples_per_s", "max"),
        "real tok/s": ("tokens_per_s", "max"), "padded tok/s": ("padded_tokens_per_s", "max"),
        "peak MiB": ("peak_mem_mb", "min")}


def _acc(mean: float, half: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.4f}" if math.isnan(half) else f"{mean:.4f} ± {half:.4f}"


def _num(value: float, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def hyperparameters_text(row: pd.Series) -> tuple[str, str]:
    """(cell text, hover text): the tuned values, an edge-of-range one marked with '!', or 'fixed'."""
    params = json.loads(row["hyperparameters"])
    edges = set(str(row["edge_params"]).split())
    if not row["tuned"]:
        return "fixed", ", ".join(f"{k}={_short(v)}" for k, v in sorted(params.items()))
    names = str(row["tuned_names"]).split() or sorted(params)
    text = ", ".join(f"{k}={_short(params[k])}{'!' if k in edges else ''}" for k in names if k in params)
    hover = "tuned; ! = best value on the edge of its search range: widen that range" if edges else "tuned"
    return text, hover


REFERENCE_ROW = "reference: TF-IDF + LR"


def leaderboard(summary: pd.DataFrame, classical: dict | None = None) -> Leaderboard:
    """The human table, one row per variant in the summary's order, units in the headers; a variant that did
    not learn is marked and gets no ★; the classical reference (bench.classical), when given, is the last
    row, unranked."""
    text, hover = pd.DataFrame(index=summary.index), pd.DataFrame(index=summary.index)
    text["seeds"] = summary["seeds"].astype(str)
    if "seeds_stop" in summary:  # why a variant has the seeds it has (sequential seeds: bench.report.effects)
        text["seeds stopped"] = summary["seeds_stop"].fillna("").astype(str)
        hover["seeds"] = "seeds: " + summary["seeds_stop"].fillna("").astype(str)
    text["test acc"] = [_acc(m, h) for m, h in zip(summary["test_acc_mean"], summary["test_acc_ci"])]
    hover["test acc"] = ["per seed: " + ", ".join(f"{s}: {v:.4f}" for s, v in json.loads(j).items())
                         for j in summary["test_acc_by_seed"]]
    text["learned"] = ["?" if ok is None or pd.isna(ok) else "yes" if ok else "NO" for ok in summary["learned"]]
    hover["learned"] = [f"majority-class rate {_num(m, '{:.3f}')}; noise (95 %) {_num(n, '{:.3f}')}: learned = mean "
                        "accuracy above the majority rate by more than the noise" for m, n in
                        zip(summary["majority_acc"], summary["noise"])]
    text["val acc"] = [_acc(m, h) for m, h in zip(summary["val_acc_mean"], summary["val_acc_ci"])]
    text["train acc (running)"] = summary["train_acc_mean"].map(lambda v: _num(v, "{:.4f}"))
    for col in [c for c in summary.columns if c.startswith("reference_")]:
        text["lesson " + col.removeprefix("reference_")] = summary[col].map(lambda v: _num(v, "{:.3f}"))
    text["epochs kept/run"] = [f"{k:g}/{r:g}" + (" ⚠" if at else "") for k, r, at in
                               zip(summary["epochs_kept"], summary["epochs_run"], summary["kept_at_cap"])]
    hover["epochs kept/run"] = [f"median over seeds of the epoch kept (best on validation) / epochs run; per seed "
                                f"{each}; cap {cap}" + (f"; ⚠ {at} seed(s) kept the cap's last epoch: may still "
                                                        "improve with a higher train.epochs" if at else "")
                                for each, cap, at in zip(summary["epochs_by_seed"], summary["epoch_cap"],
                                                         summary["kept_at_cap"])]
    text["s/epoch"] = [f"{_num(m, '{:.3g}')} [{_num(a, '{:.3g}')}–{_num(b, '{:.3g}')}]" for m, a, b in
                       zip(summary["epoch_time_s"], summary["epoch_time_q1"], summary["epoch_time_q3"])]
    hover["s/epoch"] = [f"median [IQR] over {n} epoch(s) of all seeds, at the tuned sizes" for n in
                        summary["epoch_samples"]]
    text["ms/step (shared sizes)"] = [f"{_num(m, '{:.3g}')} [{_num(a, '{:.3g}')}–{_num(b, '{:.3g}')}]"
                                      if not pd.isna(m) else "-" for m, a, b in
                                      zip(summary["timing_step_ms"], summary["timing_step_q1"],
                                          summary["timing_step_q3"])]
    hover["ms/step (shared sizes)"] = [f"median [IQR] training step at {z}, every variant alike" if z else ""
                                       for z in summary["timing_sizes"]]
    if "x_latency_floor" in summary and summary["x_latency_floor"].notna().any():
        text["× latency floor"] = summary["x_latency_floor"].map(lambda v: _num(v, "{:.2f}"))
        text["latency floor s/epoch"] = summary["latency_floor_s"].map(lambda v: _num(v, "{:.3g}"))
        text["arithmetic floor s/epoch"] = summary["arith_floor_s"].map(lambda v: _num(v, "{:.2g}"))
        hover["× latency floor"] = ("s/epoch ÷ the latency floor: the epoch's dependent steps (each batch's longest "
                                    "text × layers × directions) × one cell step, forward and backward, timed alone")
        hover["arithmetic floor s/epoch"] = [f"analytic training FLOPs of an epoch ÷ peak ({s})" if isinstance(s, str)
                                             else "" for s in summary.get("peak_source", [None] * len(summary))]
    text["samples/s"] = summary["samples_per_s"].map(_num)
    text["real tok/s"] = summary["tokens_per_s"].map(_num)
    text["padded tok/s"] = summary["padded_tokens_per_s"].map(_num)
    text["pad %"] = summary["pad_fraction"].map(lambda v: _num(100 * v, "{:.1f}"))
    text["peak MiB"] = summary["peak_mem_mb"].map(lambda v: _num(v, "{:,.1f}"))
    text["memory kind"] = summary["memory_kind"].astype(str)
    text["params"] = summary["params"].map("{:,}".format)
    pairs = [hyperparameters_text(row) for _, row in summary.iterrows()]
    text["hyperparameters"] = [t for t, _ in pairs]
    hover["hyperparameters"] = [h for _, h in pairs]
    best = pd.DataFrame(False, index=summary.index, columns=text.columns)
    comparable_memory = summary["memory_kind"].nunique() == 1
    ranked = (summary["learned"] != False).to_numpy()  # noqa: E712 - a model that did not learn is not ranked
    for column, (source, sense) in BEST.items():
        values = summary[source].astype(float).where(ranked)
        if ranked.sum() < 2 or values.isna().all() or (column == "peak MiB" and not comparable_memory):
            continue
        target = values.max() if sense == "max" else values.min()
        best[column] = values == target
    if classical:
        text.loc[REFERENCE_ROW] = "-"
        text.loc[REFERENCE_ROW, ["test acc", "val acc"]] = [_num(classical.get("test_acc"), "{:.4f}"),
                                                            _num(classical.get("val_acc"), "{:.4f}")]
        best.loc[REFERENCE_ROW] = False
        hover.loc[REFERENCE_ROW, "test acc"] = (f"{classical.get('model')}, C={classical.get('C')} chosen on "
                                                f"validation, fitted on the same {classical.get('train_rows'):,} "
                                                "training rows and tokens; not ranked")
    text.index.name = "variant"
    return Leaderboard(text, best, hover.reindex(index=text.index, columns=text.columns).astype(object).fillna(""))


# What the leaderboard shows first (the page's main table, the terminal's); the rest folds out / is in the files
KEY_COLUMNS = ("test acc", "seeds", "learned", "epochs kept/run", "s/epoch", "ms/step (shared sizes)", "pad %", "peak MiB")


def key_view(board: Leaderboard) -> Leaderboard:
    """The leaderboard's key columns (the memory kind is said once, in the page's caption)."""
    lesson = [c for c in board.text if c.startswith("lesson ")]  # a published figure beside ours: key too
    cols = [c for c in KEY_COLUMNS if c in board.text]
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


def tuned_together(tuning: dict) -> list[str]:
    """One line per group of variants tuned together: its members, the axes they share, a width one fixes."""
    lines = {}
    for t in tuning.values():
        members = t.get("members") or []
        if len(members) > 1:
            fixed = "".join(f"; {k}={f['value']} (fixed by {', '.join(f['fixed_by'])}) for all"
                            for k, f in (t.get("shared_fixed") or {}).items())
            lines[tuple(members)] = f"{' + '.join(members)} (along {', '.join(t.get('shared_axes') or [])}{fixed})"
    return list(lines.values())


def tuning_frame(tuning: dict) -> pd.DataFrame:
    """One row per tuned variant: best validation accuracy (a group tuned together: its members' mean), winning
    params, edge flags, importances (`tuned_together` says which variants shared them)."""
    rows = []
    for variant, t in tuning.items():
        states = pd.Series([trial["state"] for trial in t["trials"]]).value_counts().to_dict()
        top = sorted(t["importance"].items(), key=lambda kv: -kv[1])[:3]
        rows.append({"variant": variant, "budget": t.get("budget"), "best_val_acc": t["best_value"],
                     "trials": ", ".join(f"{n} {s.lower()}" for s, n in states.items()),
                     "best_params": ", ".join(f"{k}={_short(v)}" for k, v in sorted(t["best"].items())),
                     "on_edge": ", ".join(t["edges"]) or "-",
                     "importance": ", ".join(f"{k} {v:.2f}" for k, v in top) or t.get("importance_note", "-"),
                     "pareto_front": len(t["front"]) or "-"})
    return pd.DataFrame(rows).set_index("variant") if rows else pd.DataFrame()


CI_NOTE = (f"test/val acc: mean ± half-width of the {LEVEL:.0%} Student-t interval over seeds (mean only with "
           "one seed); hover a test accuracy for each seed's value.")


# --- the tuning budget: would the winner still win with fewer (or more) trials? -----------------------------

def trial_scores(tuning: dict, variant: str | None = None) -> list[float]:
    """A variant's tuning trials as validation accuracies: a complete trial's value (in a group tuned together,
    the variant's own best, not the group's mean); a pruned one's best reported step (what it had reached when the
    pruner stopped it); failed trials left out."""
    scores = []
    for trial in tuning.get("trials", []):
        own = (trial.get("members") or {}).get(variant)
        if trial["state"] == "COMPLETE" and own is not None:
            scores.append(float(own))
        elif trial["state"] == "COMPLETE" and trial.get("values"):
            scores.append(float(trial["values"][0]))
        elif trial["state"] == "PRUNED" and trial.get("best_reported") is not None:
            scores.append(float(trial["best_reported"]))
    return scores


def budget_frame(tuning: dict, variants: list[str]) -> pd.DataFrame:
    """Per variant and k = 1 .. trials: the expected best validation accuracy after k trials (Tang et al.'s
    unbiased estimator) with a 95 % bootstrap band (budget.csv; the tuning-budget figure)."""
    rows = []
    for variant in variants:
        scores = trial_scores(tuning.get(variant, {}), variant)
        for k in range(1, len(scores) + 1):
            low, high = expected_max_band(scores, k)
            rows.append({"variant": variant, "k": k, "expected_best": expected_max(scores, k), "low": low,
                         "high": high, "trials": len(scores)})
    return pd.DataFrame(rows, columns=["variant", "k", "expected_best", "low", "high", "trials"])


def budget_changes(frame: pd.DataFrame) -> tuple[str | None, list[int]]:
    """(the best variant at the full budget, the k at which another variant leads the expected best); the budget is
    the smallest trial count every variant has."""
    if frame.empty or frame["variant"].nunique() < 2:
        return None, []
    full = int(frame.groupby("variant")["trials"].first().min())
    leaders = {k: part.loc[part["expected_best"].idxmax(), "variant"]
               for k, part in frame[frame["k"] <= full].groupby("k")}
    return leaders[full], [k for k, v in sorted(leaders.items()) if v != leaders[full]]
