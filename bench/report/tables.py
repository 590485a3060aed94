"""The report's tables as data: one row per run, per epoch, per variant, per tuning budget.

Everything here is computed from stored records (and tuning.json) alone, and numbers stay numbers (the CSVs);
bench.report.board, beside the page, makes the leaderboard's text for people.
"""

from __future__ import annotations

import json
import math
import statistics

import pandas as pd

from bench.report.board import AGGREGATES, short
from bench.report.stats import expected_max, expected_max_band, mean_ci
from bench import store
from bench.config import Params
from bench.record import Planned, StudyDoc
from bench.variants import AXES


def scored(frame: pd.DataFrame, suffix: str = "") -> str:
    """The score a table is read by: the study's measure.metric (a record's `metric`: accuracy, or macro_f1) on
    test, `test_acc` or `test_macro_f1` (+ suffix, e.g. `_mean`), where any run scored the test split, else on
    validation (a study that skipped the test split)."""
    score = "macro_f1" if metric_of(frame) == "macro_f1" else "acc"
    column = f"test_{score}{suffix}"
    found = column in frame and pd.to_numeric(frame[column], errors="coerce").notna().any()
    return column if found else f"val_{score}{suffix}"


def metric_of(frame: pd.DataFrame) -> str:
    """measure.metric of the runs in `frame` (records or a summary): accuracy unless they say macro_f1."""
    return "macro_f1" if "metric" in frame and (frame["metric"] == "macro_f1").any() else "accuracy"


def said(column: str) -> str:
    """A score column in words: `test_acc_mean` -> test accuracy, `val_macro_f1` -> validation macro-F1."""
    split = "test" if column.startswith("test") else "validation"
    return f"{split} {'macro-F1' if 'macro_f1' in column else 'accuracy'}"

LIST_COLUMNS = ("history", "curve")  # in records.jsonl, too long for a CSV cell: see epochs.csv, curves.csv
ACCURACIES = ("train_acc", "val_acc", "test_acc")
MACRO_F1 = ("val_macro_f1", "test_macro_f1")


HP = "hp."  # one column per hyperparameter, beside the JSON: hp.lr, hp.batch_size, ...


def _hp_columns(params: dict) -> dict:
    return {f"{HP}{k}": v for k, v in sorted((params or {}).items())}


def results_frame(records: list[dict]) -> pd.DataFrame:
    """One row per run; nested fields become JSON text so the CSV stays flat, and each hyperparameter also gets
    a column of its own (hp.NAME)."""
    rows = [{**{k: json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v
                for k, v in r.items() if k not in LIST_COLUMNS}, **_hp_columns(r["hyperparameters"])}
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
    seen = [f for f in loads if f is not None and f["others_cpu"] is not None]
    hit = [f for f in seen if f["others_cpu"] > BUSY]
    if not hit:
        return ""
    return (f"BUSY MACHINE: while {len(hit)} of {len(seen)} {what} ran, other processes used up to "
            f"{max(f['others_cpu'] for f in hit):.0%} of the machine's {hit[0]['cpus'] or '?'} CPUs (1-minute load "
            f"average up to {max(f['load_1min'] or 0 for f in hit):.1f}): those times and the time ratios built on "
            "them are inflated by waiting for cores, not made by the models; time again on a quiet machine (or limit "
            "torch's threads: RNNBENCH_THREADS)")


def _floors(runs: pd.DataFrame, epoch_s: float) -> dict:
    """The two floors under an epoch (bench.floors; medians over seeds) and how far the epoch time is above the
    latency floor; nan for a variant without them (bag, transformer, older records)."""
    found = [f for f in runs["floors"] if f]  # {}: a variant without a recurrence, or an older record
    if not found:
        return {"latency_floor_s": math.nan, "arith_floor_s": math.nan, "x_latency_floor": math.nan}
    latency = statistics.median(f["latency_s"] for f in found)
    return {"latency_floor_s": latency, "arith_floor_s": statistics.median(f["arith_s"] for f in found),
            "x_latency_floor": epoch_s / latency, "peak_source": found[0]["peak_source"]}


def _timing(runs: pd.DataFrame) -> dict:
    """The timing passes at the study's shared sizes (bench.train.time_steps), over every seed."""
    passes = [t for t in runs["timing"] if t and t["step_ms"]]  # None: measure.timing_steps=0, or an older record
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
    rows, frame = [], pd.DataFrame(records)
    numbers = frame.assign(**{field: pd.to_numeric(frame[field]) for field, _ in AGGREGATES.values()})
    aggregates = numbers.groupby("variant", sort=False).agg(**AGGREGATES)  # the declared columns' (bench.report.board)
    for variant, runs in frame.groupby("variant", sort=False):
        runs = runs.sort_values("seed")
        row = {"variant": variant, **{a: runs[a].iloc[0] for a in AXES if a in runs}, "seeds": len(runs)}
        for metric in ACCURACIES + MACRO_F1:
            if metric not in runs:  # records from before macro-F1 was scored
                row.update({f"{metric}_mean": math.nan, f"{metric}_std": math.nan, f"{metric}_ci": math.nan})
                continue
            values = pd.to_numeric(runs[metric], errors="coerce").astype(float)
            mean, half = mean_ci(values)
            row.update({f"{metric}_mean": mean, f"{metric}_std": values.std(), f"{metric}_ci": half})
        row["test_acc_by_seed"] = json.dumps({str(s): v for s, v in zip(runs["seed"], runs["test_acc"])})
        metric = scored(pd.DataFrame([row]), "_mean").removesuffix("_mean")  # this variant's own (accuracy:
        # `learned` compares it with the majority-class rate, an accuracy)
        majority = runs["majority_acc"].iloc[0] if "majority_acc" in runs else None
        rows_scored = int(runs["test_rows" if metric == "test_acc" else "val_rows"].iloc[0] or 0)
        row["majority_acc"] = majority
        row["learned"], row["noise"] = learned(row[f"{metric}_mean"], row[f"{metric}_ci"], majority, rows_scored)
        ran = runs["epochs"].astype(int).tolist()
        known = runs["best_epoch"].tolist() if "best_epoch" in runs else [None] * len(ran)  # older records: none
        kept = [int(k) if k is not None and pd.notna(k) else r for k, r in zip(known, ran)]
        settings = runs["hyperparameters"].iloc[0]  # a dict of whatever the study tuned
        stored = runs["epoch_cap"].iloc[0] if "epoch_cap" in runs else None  # older records: train.epochs is the cap
        cap = int(stored) if stored is not None and pd.notna(stored) else settings.get("epochs")
        row.update({"epochs_kept": statistics.median(kept), "epochs_run": statistics.median(ran),
                    "epoch_cap": cap if cap is not None else max(ran),
                    "epoch_bound": Params.of(settings).source(int(runs["train_rows"].iloc[0])),
                    "epochs_by_seed": " ".join(f"{k}/{r}" for k, r in zip(kept, ran)),
                    "kept_at_cap": sum(k == cap for k, told in zip(kept, known)
                                       if told is not None and pd.notna(told))})
        row.update(_timing(runs))
        times = [t for r in runs.itertuples() for t in (getattr(r, "epoch_times_s", None) or [r.epoch_time_s])]
        row.update({"epoch_time_s": _quantile(times, 0.5), "epoch_time_q1": _quantile(times, 0.25),
                    "epoch_time_q3": _quantile(times, 0.75), "epoch_samples": len(times)})
        row.update(aggregates.loc[variant].to_dict())
        row.update(_floors(runs, row["epoch_time_s"]))
        first = runs.iloc[0]
        tuned_names = sorted((tuning or {}).get(variant, {}).get("best", {})) if first["tuned"] else []
        row.update({"memory_kind": first["memory_kind"],
                    "params": int(first["params"]), "epochs": int(max(ran)), "budget": first["budget"],
                    "tuned": bool(first["tuned"]), "tuned_names": " ".join(tuned_names),
                    "hyperparameters": json.dumps(first["hyperparameters"], sort_keys=True),
                    "edge_params": " ".join(first["edge_params"]),
                    "partial_data": bool(runs["partial_data"].any()), **_hp_columns(first["hyperparameters"])})
        for metric, value in ((reference or {}).get(variant) or {}).items():
            row[f"reference_{metric}"] = value
        rows.append(row)
    summary = pd.DataFrame(rows).set_index("variant")
    summary["learned"] = summary["learned"].astype(object)
    summary["_learned"] = summary["learned"] != False  # noqa: E712 - None (unknown) ranks as learned
    summary["metric"] = metric_of(frame)  # ranked by measure.metric
    score = "macro_f1" if summary["metric"].iloc[0] == "macro_f1" else "acc"
    keys = ["_learned"] + [k for k in (f"test_{score}_mean", f"val_{score}_mean") if summary[k].notna().any()]
    return summary.sort_values(keys, ascending=False, na_position="last", kind="stable").drop(columns="_learned")


def requested(records: list[dict], doc: StudyDoc) -> tuple[list[dict], list[dict]]:
    """store.requested for a study folder: the last command's variants, and its seeds with their sequential waves."""
    if not doc.planned:
        return records, []
    return store.requested(records, set(doc.planned.variants), set(doc.seed_schedule))


def missing_runs(records: list[dict], planned: Planned | None) -> list[tuple[str, int]]:
    """Planned (variant, seed) pairs without a record, in plan order: what an unfinished run lacks."""
    if not planned:
        return []
    have = {(r["variant"], r["seed"]) for r in records}
    return [(v, s) for v in planned.variants for s in planned.seeds if (v, s) not in have]


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
                     "best_params": ", ".join(f"{k}={short(v)}" for k, v in sorted(t["best"].items())),
                     "on_edge": ", ".join(t["edges"]) or "-",
                     "importance": ", ".join(f"{k} {v:.2f}" for k, v in top) or t.get("importance_note", "-"),
                     "pareto_front": len(t["front"]) or "-"})
    return pd.DataFrame(rows).set_index("variant") if rows else pd.DataFrame()


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
