"""Optuna tuning: one study per variant, the same budget for each. Knows nothing about RNNs.

`tune(name, space, objective, settings, storage)` runs (or resumes) the Optuna study `name` until
it holds `settings.trials` finished trials, and returns a `Tuned` (best params, the Pareto front,
fANOVA importances, every trial's outcome). The objective gets `(params, report)` and returns the
validation accuracy (or `(accuracy, seconds per epoch)` for `objective=pareto`); it calls
`report(epoch, accuracy, stats)` after each epoch (a group of variants tuned together: their mean), which raises
`Pruned` when the pruner says so, and may call `report(None, None, facts)` to keep facts with the trial (a
group's per-member scores).
Outcomes: complete; pruned (by the pruner, or a NaN/inf loss, with the reason recorded); failed
with a reason (e.g. CUDA out of memory, with the sizes). All three spend budget.

Several workers (processes, machines) may tune the same study at once, through one Optuna storage
(bench.runs): the budget is shared exactly. Each trial runs under Optuna's heartbeat; a trial whose
worker died goes stale and is failed by the next worker (`runs.fail_stale`), which does not spend
budget, so it is run again by someone. Budget counts spent trials plus live running ones in trial-number
order: a worker whose new trial falls past the budget drops it ("not needed"), so exactly `trials`
trials are spent. A worker that has nothing left to ask waits for the running trials of others before
it summarizes.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

from bench.config import TuneConfig
from bench.runs import POLL_S, claim, fail_stale, optimize_once

log = logging.getLogger(__name__)

EDGE = 0.05  # a best value within 5 % of its range's end (log scale for log ranges) is flagged


class Pruned(optuna.TrialPruned):
    """Stop this trial: the pruner said so, or the loss diverged (the message says which)."""


class Failed(Exception):
    """This trial failed for a reason worth recording (e.g. out of memory); the study goes on."""


@dataclass
class Tuned:
    best: dict[str, Any]
    best_value: float | None
    trials: list[dict] = field(default_factory=list)       # number, state, params, values, reason
    front: list[dict] = field(default_factory=list)        # pareto: params and (accuracy, seconds)
    importance: dict[str, float] = field(default_factory=dict)
    importance_note: str = ""
    edges: list[str] = field(default_factory=list)         # params whose best sits on a range's edge


Range = (optuna.distributions.IntDistribution, optuna.distributions.FloatDistribution)


def distributions(space: dict[str, Any]) -> dict[str, Any]:
    """The search space (`nuisance:`, checked by the schema) read once, as Optuna's own distributions: a range
    {low, high[, log]} is an IntDistribution when both bounds are whole numbers, else a FloatDistribution; a list is
    a CategoricalDistribution; a plain value stays a fixed value. Every reader below takes these."""
    read: dict[str, Any] = {}
    for name, spec in space.items():
        if isinstance(spec, dict):
            low, high, log_scale = spec["low"], spec["high"], bool(spec.get("log", False))
            read[name] = optuna.distributions.IntDistribution(low, high, log=log_scale) if (
                isinstance(low, int) and isinstance(high, int)) else \
                optuna.distributions.FloatDistribution(float(low), float(high), log=log_scale)
        elif isinstance(spec, (list, tuple)):
            read[name] = optuna.distributions.CategoricalDistribution(list(spec))
        else:
            read[name] = spec
    return read


def suggest(trial: optuna.Trial, space: dict[str, Any]) -> dict[str, Any]:
    """One trial's values of the search space (`distributions`); a fixed value is given as it is."""
    params = {}
    for name, d in distributions(space).items():
        if isinstance(d, optuna.distributions.IntDistribution):
            params[name] = trial.suggest_int(name, d.low, d.high, log=d.log)
        elif isinstance(d, optuna.distributions.FloatDistribution):
            params[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
        elif isinstance(d, optuna.distributions.CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, list(d.choices))
        else:
            params[name] = d
    return params


def largest(space: dict[str, Any], name: str) -> Any:
    """The largest value `name` takes in the search space: the top of its range or list, or its fixed value (None
    when the space does not hold it, or its choices are not numbers)."""
    d = distributions(space).get(name)
    if isinstance(d, Range):
        return d.high
    if isinstance(d, (int, float)) and not isinstance(d, bool):
        return d
    if isinstance(d, optuna.distributions.CategoricalDistribution) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in d.choices):
        return max(d.choices)
    return None


def edges(best: dict[str, Any], space: dict[str, Any]) -> list[str]:
    """Names of params whose best value sits at the edge of its range: widen that range."""
    flagged = []
    for name, d in distributions(space).items():
        value = best.get(name)
        if value is None:
            continue
        if isinstance(d, Range):
            scale = math.log if d.log else (lambda x: x)
            where = (scale(value) - scale(d.low)) / ((scale(d.high) - scale(d.low)) or 1)
            if where <= EDGE or where >= 1 - EDGE:
                flagged.append(name)
        elif isinstance(d, optuna.distributions.CategoricalDistribution) and len(d.choices) >= 3 and all(
                isinstance(v, (int, float)) for v in d.choices):
            if value in (min(d.choices), max(d.choices)):
                flagged.append(name)
    return flagged


def _sampler(settings: TuneConfig) -> optuna.samplers.BaseSampler:
    if settings.objective == "pareto":
        return optuna.samplers.NSGAIISampler(seed=settings.seed)
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=settings.seed)
    return optuna.samplers.TPESampler(seed=settings.seed)


def _pruner(settings: TuneConfig) -> optuna.pruners.BasePruner:
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(settings.epochs, 1))
    if settings.pruner == "none" or settings.objective == "pareto":  # Optuna prunes single objectives only
        return optuna.pruners.NopPruner()
    # a small budget needs its pruner early: with 4 trials, 3 unprunable ones would leave it nothing to do
    return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(3, settings.trials // 2)), n_warmup_steps=0)


KILLED = "the worker running it died; re-run"


def _spent(trial: optuna.trial.FrozenTrial) -> bool:
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and "failure" in trial.user_attrs)


def _open(name: str, settings: TuneConfig, store: optuna.storages.BaseStorage) -> optuna.Study:
    directions = ["maximize", "minimize"] if settings.objective == "pareto" else ["maximize"]
    study = optuna.create_study(study_name=name, storage=store, sampler=_sampler(settings),
                                pruner=_pruner(settings), directions=directions, load_if_exists=True)
    if list(study.directions) != [optuna.study.StudyDirection[d.upper()] for d in directions]:
        raise ValueError(f"Optuna study '{name}' was made for another objective: use another out= or storage=")
    return study


def tune(name: str, space: dict[str, Any], objective: Callable[[dict, Callable[[int, float], None]], Any],
         settings: TuneConfig, store: optuna.storages.BaseStorage,
         on_trial: Callable[[dict], None] | None = None) -> Tuned:
    """Run or resume Optuna study `name` to `settings.trials` spent trials (see module docstring)."""
    study = _open(name, settings, store)
    pareto = settings.objective == "pareto"
    start = time.monotonic()

    def run(trial: optuna.Trial):
        claim(trial, store)  # who ran it
        if _past_budget(study, trial.number, settings.trials):
            trial.set_user_attr("reason", "not needed: other workers took the last trials of the budget")
            raise _NotNeeded()
        return _run_trial(trial, space, objective, settings, pareto)

    while True:
        fail_stale(study, store)
        trials = study.get_trials(deepcopy=False)
        spent, live = sum(_spent(t) for t in trials), sum(t.state == TrialState.RUNNING for t in trials)
        if spent >= settings.trials or (spent + live >= settings.trials):
            if not live or spent >= settings.trials:
                break
            time.sleep(POLL_S)  # others are running the last trials: their results decide the best
            continue
        if settings.timeout is not None and time.monotonic() - start > settings.timeout:
            log.warning("%s: tune.timeout=%ss reached", name, settings.timeout)
            break
        optimize_once(study, run, (_NotNeeded, Failed))
        if on_trial:
            on_trial(_outcome(study.get_trials(deepcopy=False)[-1]))
    return summarize(study, space, settings)


class _NotNeeded(Exception):
    """Another worker took the last trial of the budget."""


def _past_budget(study: optuna.Study, number: int, budget: int) -> bool:
    """Whether trial `number` ranks past the budget among spent and live trials (lowest numbers first)."""
    counted = sorted(t.number for t in study.get_trials(deepcopy=False)
                     if _spent(t) or (t.state == TrialState.RUNNING))
    return number in counted[budget:]


def _run_trial(trial, space, objective, settings, pareto):
    params = suggest(trial, space)

    def report(epoch: int | None, value: float | None, stats: dict | None = None) -> None:
        if epoch is None:  # facts to keep with the trial, no epoch
            for key, fact in (stats or {}).items():
                trial.set_user_attr(key, fact)
            return
        if stats:  # the epoch's figures, kept with the trial (an experiment tracker reads them: bench.tracking)
            trial.set_user_attr(f"epoch {epoch}", stats)
        if not pareto and epoch < settings.epochs:  # pruning after the last epoch saves nothing
            trial.report(value, epoch)
            if trial.should_prune():
                raise Pruned(f"pruned by {settings.pruner} at epoch {epoch} (val_acc {value:.4f})")

    try:
        value = objective(params, report)
    except Pruned as e:
        trial.set_user_attr("reason", str(e))
        raise
    except Failed as e:
        trial.set_user_attr("failure", str(e))
        raise
    return list(value) if pareto else value


def _outcome(t: optuna.trial.FrozenTrial) -> dict:
    return {"number": t.number, "state": t.state.name, "params": dict(t.params),
            "values": list(t.values) if t.values else None,
            "best_reported": max(t.intermediate_values.values()) if t.intermediate_values else None,
            "reason": t.user_attrs.get("reason") or t.user_attrs.get("failure") or (
                KILLED if t.state == TrialState.FAIL else ""),
            **({"members": t.user_attrs["members"]} if "members" in t.user_attrs else {})}


def summarize(study: optuna.Study, space: dict[str, Any], settings: TuneConfig) -> Tuned:
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


def _importance(study: optuna.Study, settings: TuneConfig) -> tuple[dict[str, float], str]:
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
