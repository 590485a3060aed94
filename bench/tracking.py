"""An experiment tracker's copy of a study (tracking=mlflow): the records, mirrored into MLflow.

Optuna's storage stays the one record of the work. The tracker gets a copy when a run finishes
(bench.pipeline._finish), so nothing is sent from inside a timed loop and workers never race to send it.
In MLflow, a study is an experiment; each variant (at one settings fingerprint) is a parent run carrying its
summary.csv figures under summary.csv's names (test_acc_mean, test_acc_ci, the median epoch_time_s...; step = the
number of seeds, so the history shows how it settled); under it, a child run per tuning trial and per seed holds its
parameters, its figures under results.csv's names, per-epoch metrics as `history.<name>` (step = epoch), time, memory.
Every run is tagged with its key, so running the command again logs only what is new.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

import pandas as pd

from bench import store
from bench.report.board import TRACKED
from bench.report.tables import summarize
from bench.variants import AXES

KEY = "rnnbench.key"
EPOCH = ("train_loss", "running_acc", "val_acc", "test_acc", "time_s", "peak_mem_mb")
# a seed run's own figures, under results.csv's names; its per-epoch figures are a history under `history.<name>`
SEED = ("test_acc", "val_acc", "train_acc", "epoch_time_s", "tokens_per_s", "peak_mem_mb", "best_epoch", "epochs")
STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


def uri(study) -> str:
    """Where the runs go: tracking_uri, else a SQLite file in the study's folder."""
    return study.tracking_uri or store.sqlite_url((study.out_dir / 'mlflow.db').resolve())


def export(study, storage, records: list[dict]) -> int:
    """Log what the tracker lacks of `records` (the folder's seed runs) and of the variants' Optuna trials in
    `storage`; the number of runs logged."""
    import optuna
    from mlflow import MlflowClient

    client = MlflowClient(uri(study))
    found = client.get_experiment_by_name(study.name)
    experiment = found.experiment_id if found else client.create_experiment(
        study.name, tags={"rnnbench.description": study.description})
    have = {run.data.tags.get(KEY): run for run in _runs(client, experiment)}
    names = set(optuna.get_all_study_names(storage)) if storage is not None else set()
    by_variant: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for record in records:
        by_variant[(record["variant"], record["fingerprint"] or "")].append(record)
    logged = 0
    for (variant, fingerprint), runs in by_variant.items():
        parent = have.get(f"variant {fingerprint} {variant}")
        if parent is None:
            parent = _run(client, experiment, f"variant {fingerprint} {variant}", variant, None,
                          {k: runs[0][k] for k in AXES if k in runs[0]},
                          {"rnnbench.kind": "variant", "rnnbench.fingerprint": fingerprint}, [], "FINISHED")
        parent_id = parent.info.run_id
        _spread(client, parent, runs)
        for r in runs:
            key = f"seed {fingerprint} {variant} {r['seed']}"
            if key not in have:
                metrics = [(f"history.{k}", e[k], e["epoch"]) for e in r["history"] for k in EPOCH if k in e]
                metrics += [(k, r[k], 0) for k in SEED if r[k] is not None]
                _run(client, experiment, key, f"seed {r['seed']}", parent_id, r["hyperparameters"],
                     {"rnnbench.kind": "seed"}, metrics, "FINISHED")
                logged += 1
        source = runs[0]["settings_from"] or ""  # a group tuned together: its trials trained this variant too
        name = source if source.startswith(f"{study.name}/") else f"{study.name}/{variant}"
        for t in optuna.load_study(study_name=name, storage=storage).trials if name in names else []:
            key = f"trial {fingerprint} {variant} {t.number}"
            if key in have or t.state.name not in STATUS:  # a trial still running is logged next time
                continue
            epochs = sorted((int(k.split()[1]), v) for k, v in t.user_attrs.items() if k.startswith("epoch "))
            metrics = [(k, stats[k], epoch) for epoch, stats in epochs for k in EPOCH if k in stats]
            if not epochs:  # a trial from before the per-epoch figures: its reported validation accuracies
                metrics = [("val_acc", v, step) for step, v in t.intermediate_values.items()]
            metrics += [(k, v, 0) for k, v in zip(("best_val_acc", "epoch_time_s"), t.values or [])]
            if t.datetime_start and t.datetime_complete:
                metrics.append(("duration_s", (t.datetime_complete - t.datetime_start).total_seconds(), 0))
            _run(client, experiment, key, f"trial {t.number}", parent_id, t.params,
                 {"rnnbench.kind": "trial", "rnnbench.state": t.state.name}, metrics, STATUS[t.state.name])
            logged += 1
    return logged


def _runs(client, experiment: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment], max_results=1000, page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            return runs


def _run(client, experiment: str, key: str, name: str, parent: str | None, params: dict, tags: dict,
         metrics: list[tuple[str, Any, int]], status: str):
    """One MLflow run with its parameters, tags and metrics, ended with `status` (a finished parent still takes
    the metrics of later seeds)."""
    from mlflow.entities import Metric, Param

    tags = {KEY: key, "mlflow.runName": name, **tags, **({"mlflow.parentRunId": parent} if parent else {})}
    run = client.create_run(experiment, tags=tags, run_name=name)
    now = int(time.time() * 1000)
    batch = [Metric(k, float(v), now, int(step)) for k, v, step in metrics if _finite(v)]
    values = [Param(k, store.mask_secrets(str(v))[:6000]) for k, v in params.items()]
    for start in range(0, max(len(batch), len(values), 1), 500):  # MLflow takes at most 1,000 metrics a batch
        client.log_batch(run.info.run_id, metrics=batch[start:start + 500], params=values[start:start + 500])
    client.set_terminated(run.info.run_id, status)
    return client.get_run(run.info.run_id)


def _spread(client, parent, runs: list[dict]) -> None:
    """The variant's figures over its seeds, as summary.csv has them (bench.report.tables.summarize: the same names,
    the same statistics: a mean with its `_ci` half-width, a median), logged again whenever the seed count changes."""
    if parent.data.metrics.get("seeds") == len(runs):
        return
    from mlflow.entities import Metric

    row = summarize(runs).iloc[0]
    names = [n for c in TRACKED for n in (c.source, f"{c.field}_ci")
             if n in row.index]  # the leaderboard's declared columns that MLflow carries (bench.report.board)
    now, step = int(time.time() * 1000), len(runs)
    metrics = [("seeds", len(runs))] + [(n, float(row[n])) for n in names if pd.api.types.is_number(row[n])]
    client.log_batch(parent.info.run_id, metrics=[Metric(k, float(v), now, step) for k, v in metrics if _finite(v)])


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
