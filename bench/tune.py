"""Optuna tuning: one study per variant, the same budget for each. Knows nothing about RNNs.

`tune(name, space, objective, settings, storage)` runs (or resumes) the Optuna study `name` until
it holds `settings.trials` finished trials, and returns a `Tuned` (best params, the Pareto front,
fANOVA importances, every trial's outcome). The objective gets `(params, report)` and returns the
validation accuracy (or `(accuracy, seconds per epoch)` for `objective=pareto`); it calls
`report(epoch, accuracy)` after each epoch, which raises `Pruned` when the pruner says so.
Outcomes: complete; pruned (by the pruner, or a NaN/inf loss, with the reason recorded); failed
with a reason (e.g. CUDA out of memory, with the sizes). All three spend budget.

Several workers (processes, machines) may tune the same study at once: the budget is shared
exactly. A running trial beats a heartbeat (a user attribute) every `grace_s / 3` seconds; one
whose heartbeat is older than `grace_s` belongs to a dead worker and is marked failed ("killed"),
which does not spend budget, so its trial is run again by someone. Budget counts spent trials plus
live running ones in trial-number order: a worker whose new trial falls past the budget drops it
("not needed"), so exactly `trials` trials are spent. A worker that has nothing left to ask waits
for the live running trials of others before it summarizes. `exclusive=True` (a local run that
holds its folder's lock) fails every RUNNING trial at once: nobody else can be running it.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

log = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
OBJECTIVES = ("accuracy", "pareto")
EDGE = 0.05  # a best value within 5 % of its range's end (log scale for log ranges) is flagged


class Pruned(Exception):
    """Stop this trial: the pruner said so, or the loss diverged (the message says which)."""


class Failed(Exception):
    """This trial failed for a reason worth recording (e.g. out of memory); the study goes on."""


@dataclass
class TuneSettings:
    trials: int
    timeout: float | None = None      # seconds per variant; none: no limit
    sampler: str = "tpe"
    pruner: str = "median"
    objective: str = "accuracy"
    seed: int = 0
    epochs: int = 1                   # the epoch cap every trial shares (the pruner's max resource)
    grace_s: float = 120.0            # a running trial whose heartbeat is older than this is dead
    exclusive: bool = True            # no other worker can be tuning this study now


@dataclass
class Tuned:
    best: dict[str, Any]
    best_value: float | None
    trials: list[dict] = field(default_factory=list)       # number, state, params, values, reason
    front: list[dict] = field(default_factory=list)        # pareto: params and (accuracy, seconds)
    importance: dict[str, float] = field(default_factory=dict)
    importance_note: str = ""
    edges: list[str] = field(default_factory=list)         # params whose best sits on a range's edge


def suggest(trial: optuna.Trial, space: dict[str, Any]) -> dict[str, Any]:
    """A search space entry is {low, high[, log]} (int if both bounds are ints), a list
    (categorical), or a plain value (fixed)."""
    params = {}
    for name, spec in space.items():
        if isinstance(spec, dict):
            low, high, log_scale = spec["low"], spec["high"], bool(spec.get("log", False))
            if isinstance(low, int) and isinstance(high, int):
                params[name] = trial.suggest_int(name, low, high, log=log_scale)
            else:
                params[name] = trial.suggest_float(name, float(low), float(high), log=log_scale)
        elif isinstance(spec, (list, tuple)):
            params[name] = trial.suggest_categorical(name, list(spec))
        else:
            params[name] = spec
    return params


def edges(best: dict[str, Any], space: dict[str, Any]) -> list[str]:
    """Names of params whose best value sits at the edge of its range: widen that range."""
    flagged = []
    for name, spec in space.items():
        value = best.get(name)
        if isinstance(spec, dict) and value is not None:
            low, high = float(spec["low"]), float(spec["high"])
            scale = math.log if spec.get("log") else (lambda x: x)
            where = (scale(value) - scale(low)) / ((scale(high) - scale(low)) or 1)
            if where <= EDGE or where >= 1 - EDGE:
                flagged.append(name)
        elif isinstance(spec, (list, tuple)) and len(spec) >= 3 and all(isinstance(v, (int, float)) for v in spec):
            if value in (min(spec), max(spec)):
                flagged.append(name)
    return flagged


def _sampler(settings: TuneSettings) -> optuna.samplers.BaseSampler:
    if settings.objective == "pareto":
        return optuna.samplers.NSGAIISampler(seed=settings.seed)
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=settings.seed)
    return optuna.samplers.TPESampler(seed=settings.seed)


def _pruner(settings: TuneSettings) -> optuna.pruners.BasePruner:
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(settings.epochs, 1))
    if settings.pruner == "none" or settings.objective == "pareto":  # Optuna prunes single objectives only
        return optuna.pruners.NopPruner()
    # a small budget needs its pruner early: with 4 trials, 3 unprunable ones would leave it nothing to do
    return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(3, settings.trials // 2)), n_warmup_steps=0)


def storage(url: str | None, journal: str) -> optuna.storages.BaseStorage:
    """A SQLAlchemy URL (sqlite:///..., postgresql+psycopg://...) or, by default, a journal file.

    The journal file is an append-only log: a process killed mid-write loses at most its last
    line, several processes can share it through its lock file, and it needs no database server.
    """
    if url:  # shared by several workers; they may start together and race to make Optuna's tables
        for attempt in range(5):
            try:
                return optuna.storages.RDBStorage(url)
            except Exception as e:  # noqa: BLE001 - SQLAlchemy's errors, or Optuna's version check
                # only Optuna's schema check is final; "version" alone also matches a racing CREATE TABLE version_info
                if attempt == 4 or "no longer compatible" in str(e):
                    from bench.errors import BenchError
                    from bench.store import mask_secrets
                    raise BenchError(f"cannot use Optuna's tables in {mask_secrets(url)}: "
                                     f"{mask_secrets(str(e).strip().splitlines()[0])}") from None
                time.sleep(0.2 * (attempt + 1))
    backend = optuna.storages.journal.JournalFileBackend(journal)
    return optuna.storages.JournalStorage(backend)


HEARTBEAT = "heartbeat"  # user attribute: time.time() of a running trial's last sign of life
POLL_S = 1.0


def _spent(trial: optuna.trial.FrozenTrial) -> bool:
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and "failure" in trial.user_attrs)


def _open(name: str, settings: TuneSettings, store: optuna.storages.BaseStorage) -> optuna.Study:
    directions = ["maximize", "minimize"] if settings.objective == "pareto" else ["maximize"]
    study = optuna.create_study(study_name=name, storage=store, sampler=_sampler(settings),
                                pruner=_pruner(settings), directions=directions, load_if_exists=True)
    if list(study.directions) != [optuna.study.StudyDirection[d.upper()] for d in directions]:
        raise ValueError(f"Optuna study '{name}' was made for another objective: use another out= or storage=")
    return study


def _live(study: optuna.Study, settings: TuneSettings, exclusive: bool) -> list[optuna.trial.FrozenTrial]:
    """Running trials whose worker is alive; dead ones are marked failed (their budget is spent again)."""
    alive, now = [], time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        beat = trial.user_attrs.get(HEARTBEAT, trial.datetime_start.timestamp() if trial.datetime_start else 0)
        if not exclusive and now - beat <= settings.grace_s:
            alive.append(trial)
            continue
        try:
            study._storage.set_trial_user_attr(trial._trial_id, "killed", "the worker running it died; re-run")
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
            pass  # finished, or failed by another worker, meanwhile
    return alive


class _Heartbeat:
    """Marks a running trial alive every grace_s / 3 seconds until stopped."""

    def __init__(self, study: optuna.Study, trial: optuna.Trial, every_s: float):
        self.storage, self.trial_id, self.every_s = study._storage, trial._trial_id, every_s
        self.stop = threading.Event()
        self.beat()
        self.thread = threading.Thread(target=self._run, name="trial-heartbeat", daemon=True)
        self.thread.start()

    def beat(self) -> None:
        try:
            self.storage.set_trial_user_attr(self.trial_id, HEARTBEAT, time.time())
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
            self.stop.set()

    def _run(self) -> None:
        while not self.stop.wait(self.every_s):
            self.beat()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def tune(name: str, space: dict[str, Any], objective: Callable[[dict, Callable[[int, float], None]], Any],
         settings: TuneSettings, store: optuna.storages.BaseStorage,
         on_trial: Callable[[dict], None] | None = None) -> Tuned:
    """Run or resume Optuna study `name` to `settings.trials` spent trials (see module docstring)."""
    study = _open(name, settings, store)
    _live(study, settings, exclusive=settings.exclusive)
    pareto = settings.objective == "pareto"
    start = time.monotonic()
    while True:
        trials = study.get_trials(deepcopy=False)
        spent, live = sum(_spent(t) for t in trials), _live(study, settings, exclusive=False)
        if spent >= settings.trials or (spent + len(live) >= settings.trials):
            if not live or spent >= settings.trials:
                break
            time.sleep(POLL_S)  # others are running the last trials: their results decide the best
            continue
        if settings.timeout is not None and time.monotonic() - start > settings.timeout:
            log.warning("%s: tune.timeout=%ss reached", name, settings.timeout)
            break
        trial = study.ask()
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # who ran it
        heartbeat = _Heartbeat(study, trial, settings.grace_s / 3)
        try:
            if _past_budget(study, trial.number, settings.trials):
                trial.set_user_attr("reason", "not needed: other workers took the last trials of the budget")
                study.tell(trial, state=TrialState.FAIL)
                continue
            _run_trial(study, trial, space, objective, settings, pareto)
        finally:
            heartbeat.close()
        if on_trial:
            on_trial(_outcome(study.get_trials(deepcopy=False)[-1]))
    return summarize(study, space, settings)


def _past_budget(study: optuna.Study, number: int, budget: int) -> bool:
    """Whether trial `number` ranks past the budget among spent and live trials (lowest numbers first)."""
    counted = sorted(t.number for t in study.get_trials(deepcopy=False)
                     if _spent(t) or (t.state == TrialState.RUNNING))
    return number in counted[budget:]


def _run_trial(study, trial, space, objective, settings, pareto) -> None:
    params = suggest(trial, space)

    def report(epoch: int, value: float) -> None:
        if not pareto and epoch < settings.epochs:  # pruning after the last epoch saves nothing
            trial.report(value, epoch)
            if trial.should_prune():
                raise Pruned(f"pruned by {settings.pruner} at epoch {epoch} (val_acc {value:.4f})")

    try:
        value = objective(params, report)
    except Pruned as e:
        trial.set_user_attr("reason", str(e))
        study.tell(trial, state=TrialState.PRUNED)
    except Failed as e:
        trial.set_user_attr("failure", str(e))
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, list(value) if pareto else value)


def _outcome(t: optuna.trial.FrozenTrial) -> dict:
    return {"number": t.number, "state": t.state.name, "params": dict(t.params),
            "values": list(t.values) if t.values else None,
            "reason": t.user_attrs.get("reason") or t.user_attrs.get("failure") or t.user_attrs.get("killed", "")}


def summarize(study: optuna.Study, space: dict[str, Any], settings: TuneSettings) -> Tuned:
    """Best params (fixed entries of the space included), front, importances, edge flags."""
    trials = [_outcome(t) for t in study.get_trials(deepcopy=False)]
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return Tuned({}, None, trials)
    fixed = {k: v for k, v in space.items() if not isinstance(v, (dict, list, tuple))}
    if settings.objective == "pareto":
        front = sorted(study.best_trials, key=lambda t: -t.values[0])
        best = front[0]  # the most accurate point of the front is what the seeds re-train
        result = Tuned({**fixed, **best.params}, best.values[0], trials,
                       [{"params": t.params, "val_acc": t.values[0], "epoch_time_s": t.values[1]} for t in front])
    else:
        best = study.best_trial
        result = Tuned({**fixed, **best.params}, best.value, trials)
    result.edges = edges(result.best, space)
    result.importance, result.importance_note = _importance(study, settings)
    return result


def _importance(study: optuna.Study, settings: TuneSettings) -> tuple[dict[str, float], str]:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2 or not any(t.distributions for t in complete):
        return {}, f"fANOVA needs >= 2 complete trials with searched params (have {len(complete)})"
    if len({t.values[0] for t in complete}) == 1:
        return {}, f"all {len(complete)} complete trials scored the same: no variance to attribute"
    try:
        target = (lambda t: t.values[0]) if settings.objective == "pareto" else None
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=settings.seed)
        found = {k: float(v) for k, v in optuna.importance.get_param_importances(
            study, evaluator=evaluator, target=target).items()}
        if not any(v > 0 for v in found.values()):  # nan or zero everywhere: fANOVA found nothing
            return {}, "fANOVA attributed no variance to any parameter"
        return found, ""
    except (RuntimeError, ValueError, ImportError) as e:  # e.g. every trial sampled the same values
        return {}, f"fANOVA not computed: {e}"


def clear_dead(name: str, store: optuna.storages.BaseStorage) -> None:
    """Fail every RUNNING trial of study `name`, if it exists: for a caller that knows nobody runs them."""
    try:
        study = optuna.load_study(study_name=name, storage=store)
    except KeyError:
        return
    _live(study, TuneSettings(trials=0), exclusive=True)
