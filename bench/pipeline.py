"""`run(study) -> Outcome`: the stages of a study, once `bench.config.load_study` has checked it.

prepare (every check that needs the data or the folder, before anything is written) -> per variant: tune
(Optuna, validation only), then the measured seeds (train + measure, test) -> records -> report. A sweep is
a loop of `run` over its points. Nothing here knows argv or exit codes: bad input raises BenchError, a
Ctrl-C comes back as `Outcome.interrupted`, and bench.cli says what either means. Re-running resumes
(finished trials and seed runs are never redone).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import statistics
import traceback
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

from bench import data, embeddings, floors, measure, runs, speed, store, workers
from bench.classical import reference
from bench.config import Params, Study
from bench.errors import BenchError
from bench.measure import environment, peak_memory_mb, resolve_device
from bench.progress import bar, say, tell
from bench.record import DataInfo, StudyDoc
from bench.report.effects import Criteria, next_wave
from bench.report.index import refresh_index, render_any
from bench.report.sweep import render_sweep
from bench.report.tables import summarize
from bench.train import Diverged, fit, time_steps, trace, training
from bench.tune import Failed, Pruned, Tuned, tune
from bench.tune import largest as tune_largest
from bench.variants import Variant, group_name, groups, shared_fixed

log = logging.getLogger("bench")


@dataclass
class Outcome:
    """What a run left: where its results are, how many runs finished, what failed, whether Ctrl-C stopped it."""
    out: Path
    finished: int = 0
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False
    report: str = ""      # the console's summary of the page written (empty when no run finished)


@dataclass(frozen=True)
class Prepared:
    """What every stage of one study shares, made by `prepare` from the checked study."""
    study: Study          # as given, or moved to a fresh folder (resume=false)
    device: Any
    variants: list[Variant]
    splits: Any           # bench.data.Splits; None in a speed study
    key: str              # the fingerprint its stored runs must carry
    storage: Any          # Optuna's RDBStorage; None until the folder may be written
    groups: dict = field(default_factory=dict)  # variant name -> the variants it shares tuned settings with (itself)


def run(study: Study) -> Outcome:
    """Run (or resume) a study, or each point of its sweep; raises BenchError on bad input."""
    threads = os.environ.get(workers.THREADS_ENV)
    if threads:
        if not (threads.isdigit() and int(threads) >= 1):
            raise BenchError(f"{workers.THREADS_ENV}={threads!r} is not a whole number >= 1: give e.g. "
                             f"{workers.THREADS_ENV}=2 (torch's CPU threads), or unset it")
        import torch
        torch.set_num_threads(int(threads))
    if not study.sweep:
        return _one(study)
    keys, out = list(study.sweep), study.out_dir
    points = [dict(zip(keys, values)) for values in itertools.product(*study.sweep.values())]
    slugs = _slugs(points)
    outcomes = []
    for point, slug in zip(points, slugs):
        outcomes.append(_one(study.at(**point, out=str(out / slug), sweep=None)))
        if outcomes[-1].interrupted:
            return outcomes[-1]
    out.mkdir(parents=True, exist_ok=True)
    store.write_atomic(out / store.SWEEP, json.dumps(dict(zip(slugs, points)), indent=2))
    report = render_sweep(out, points_written=True)  # each point's run wrote its own page
    refresh_index(out)
    return Outcome(out, sum(o.finished for o in outcomes), [f for o in outcomes for f in o.failures], report=report)


def _slugs(points: list[dict]) -> list[str]:
    """A folder name per sweep point, inside the sweep's folder whatever the values hold: letters, digits and
    '_-.=' only, no '..', never empty, and distinct (a number is added to a name that two points would share)."""
    names: list[str] = []
    for point in points:
        said = "_".join(f"{k.split('.')[-1]}-{v}" for k, v in point.items())
        name = re.sub(r"\.{2,}", "_", re.sub(r"[^A-Za-z0-9_.=-]+", "_", said)).strip("._") or "point"
        names.append(name if name not in names else f"{name}_{len(names)}")
    return names


def _without_samples(bound) -> set:
    """A bound in epochs is fingerprinted as before train.samples and tune.samples existed (older folders resume)."""
    return {"samples"} if bound.samples is None else set()


def fingerprint(study: Study, data_key: str, device: str) -> str:
    """What must match for stored runs and trials to count: data, training, tuning, device.
    Seeds and variants are left out: adding either just adds runs."""
    settings = {"data": data_key, "train": study.train.model_dump(exclude=_without_samples(study.train)),
                "tune": study.tune.model_dump(exclude=_without_samples(study.tune)), "nuisance": study.nuisance,
                "device": device}
    if study.measure.metric != "accuracy":  # early stopping and tuning read another score (older folders: accuracy)
        settings["metric"] = study.measure.metric
    if study.share:  # shared settings are another experiment than settings tuned per variant (older folders: none)
        settings["share"] = sorted(study.share)
    if study.mode == "speed":
        settings["speed"] = study.speed.model_dump()
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare(study: Study) -> Prepared:
    """Everything that can fail on bad input, before anything is written, the data cache included."""
    device = resolve_device(study.device)
    if study.train.precision != "fp32" and device.type != "cuda":
        raise BenchError(f"train.precision={study.train.precision} runs on CUDA only (mixed precision through "
                         f"autocast), and this run is on {device}: use train.precision=fp32, or device=cuda")
    variants = study.expand()
    if not study.resume:  # (with storage=, the schema refused it)
        study = study.at(out=str(store.fresh_folder(study.out_dir)), resume=True)
    out = study.out_dir
    store.check_writable(out)
    if not study.storage and any((out / old).exists() for old in ("claims.json", "optuna.journal")):
        raise BenchError(f"{out} was made by an earlier rnnbench (a journal file and a claims file): add "
                         "resume=false to start over in a fresh folder, or choose another out=FOLDER")
    splits = data.load(study.data, keep=False) if study.mode == "study" else None  # read and checked, not cached
    if splits:
        _fits(study, splits, variants, device)
    if splits and embeddings.uses(variants):  # GloVe rows in the vocabulary's order, and what they cover
        splits.pretrained, splits.pretrained_scale = embeddings.aligned(splits.itos), embeddings.scale()
        splits.info["glove"] = embeddings.coverage(splits.itos, splits.train.tokens,
                                                   1 if splits.pad_index == splits.unk_index else 2)
    key = fingerprint(study, splits.info["cache_key"] if splits else "none", str(device))
    if not (out / runs.DB).exists():  # with a database beside it, the database decides (runs.reconcile names the rest)
        _same_settings(study, key, {r.get("fingerprint") for r in store.load(out, runs.FILES[_kind(study)])})
    storage = None
    if study.storage or (out / runs.DB).exists():  # a new local folder stays empty until the checks pass
        storage = runs.open_storage(study.storage, out, study.lease)
        if study.storage and (out / runs.DB).exists():
            raise BenchError(f"out={out} is a study folder with its own {runs.DB}, and this run's storage is a shared "
                             "database: its export would replace that folder's records and page; choose another "
                             "out=FOLDER")
        others = [] if study.storage else runs.other_studies(storage, study.name)
        if others:
            raise BenchError(f"{out} holds study '{others[0]}', not '{study.name}': choose another out=FOLDER, or "
                             "add resume=false to start over in a fresh folder")
        _same_settings(study, key, {r.get("fingerprint") for r in runs.records(storage, study.name, _kind(study))}
                       | {runs.study_doc(storage, study.name).get("fingerprint")} - {None})
    if splits:
        data.save_cache(splits, study.data)  # every check has passed: the next run need not tokenize again
    return Prepared(study, device, variants, splits, key, storage,
                    {v.name: members for members in groups(variants, study.share) for v in members})


def _largest(study: Study, name: str) -> int:
    """The largest value of train.<name> the study may train with: its own, or the top of its nuisance range."""
    top = tune_largest(study.nuisance, name) if study.tune.trials else None
    return int(max(getattr(study.train, name), top if top is not None else 0))


def _fits(study: Study, splits, variants: list[Variant], device) -> None:
    """Refuse, before any work, a study whose longest padded batch cannot fit in memory (the kernel's OOM killer
    would end it without a word)."""
    free = measure.available_mb(device)
    longest = int(splits.train.lengths.max())
    worst = max((measure.step_estimate_mb(_largest(study, "batch_size"), longest, _largest(study, "embed_dim"),
                                          _largest(study, "hidden_size"), v.layers, 1 + v.bidirectional, v.cell)
                 for v in variants), default=0.0)
    if free is not None and worst > 0.8 * free:
        raise BenchError(f"the longest training text has {longest:,} tokens, and a padded batch of "
                         f"{_largest(study, 'batch_size')} that holds it needs about {worst / 1024:.1f} GiB, more than "
                         f"the {free / 1024:.1f} GiB free on {device}: set data.max_len (e.g. data.max_len=400), or a "
                         "smaller train.batch_size")


def _same_settings(study: Study, key: str, found: set) -> None:
    if found - {key}:
        where = f"the database's study '{study.name}'" if study.storage else str(study.out_dir)
        raise BenchError(f"{where} holds results made with other settings: add resume=false to start over in a "
                         "fresh folder, or choose another out=FOLDER (or another study name / database)")


def _one(study: Study) -> Outcome:
    """One study as one worker, or as the parent of `workers` of them."""
    try:
        prep = prepare(study)
    except runs.LOST as e:  # the storage cannot be read or written (a read-only or immutable optuna.db)
        raise runs.lost(e, study.storage, study.out_dir) from None
    study = prep.study
    lock = None if (workers.is_child() or study.storage) else workers.lock_folder(study.out_dir)
    try:
        prep = replace(prep, storage=prep.storage or runs.open_storage(study.storage, study.out_dir, study.lease))
        return _work(prep, lock is not None)
    except runs.LOST as e:  # Optuna's storage went away mid-run, or its disk filled up
        raise runs.lost(e, study.storage, study.out_dir) from None
    finally:
        workers.unlock(lock)


def _done(prep: Prepared, asked: bool = False) -> int:
    """The runs this command asked for (its variants; its seeds and their waves) that finished, or with `asked`
    that were asked for so far: what progress counts. Runs of earlier commands in the same storage are kept and
    not counted (nor shown: store.requested)."""
    study, kind = prep.study, _kind(prep.study)
    names = {v.name for v in prep.variants}
    seeds = set(study.seeds_for(study.measure.max_seeds or 0)) if kind == "seeds" else None
    if asked:
        return runs.job_count(prep.storage, study.name, kind, lambda job: seeds is None or job["seed"] in seeds, names)
    return len(store.requested(runs.records(prep.storage, study.name, kind), names, seeds)[0])


def _intro(prep: Prepared) -> dict:
    """Say what will run; the study's document (study.json) with the reference's figures."""
    study, out = prep.study, prep.study.out_dir
    for note in DataInfo.model_validate(prep.splits.info).notes if prep.splits else []:
        tell(note.text)
    if study.mode == "speed":
        tell(f"speed study {study.name}: {len(prep.variants)} variant(s) x {len(speed.jobs(study.speed))} point(s) "
             f"on {prep.device} -> {out}")
    else:
        rows = len(prep.splits.train)
        tuning = (f"{study.tune.trials} {study.tune.sampler} trial(s) per variant of {study.tune.bound_said(rows)}, "
                  if study.tune.trials else "no tuning, ")
        tell(f"study {study.name}, budget {study.budget or 'none (the study file as written)'}: {len(prep.variants)} "
             f"variant(s); {tuning}{len(study.seeds)} seed(s) of {study.train.bound_said(rows)}; {prep.device} -> "
             f"{out}")
        shared = {group_name(g) for g in prep.groups.values() if len(g) > 1}
        if shared and study.tune.trials:
            tell(f"tuned together: {len(shared)} group(s) of variants that differ only in {', '.join(study.share)} "
                 "(each trial trains every member)")
    doc = {**study.model_dump(), "command": study.command, "fingerprint": prep.key, "data_named": study.data_named,
           "study_file": study.study_file}
    if prep.splits:
        classical = reference(prep.splits, study.data.cache)  # the line every recurrent model has to beat
        how = "cached" if classical["cache"] == "hit" else f"fitted in {classical['seconds']:.1f} s"
        tell(f"reference: {classical['model']}: test accuracy {classical['test_acc']:.4f} ({how})")
        doc.update(data_info=prep.splits.info, classical={k: v for k, v in classical.items() if k != "cache"},
                   planned={"variants": [v.name for v in prep.variants], "seeds": study.seeds})
    return doc


def _work(prep: Prepared, owner: bool) -> Outcome:
    """One worker's run (or, with workers=N, the parent of N), after the input was checked."""
    study, storage, out, kind = prep.study, prep.storage, prep.study.out_dir, _kind(prep.study)
    doc = _intro(prep)
    if owner:  # we own the folder: a RUNNING trial is left by a killed run
        runs.fail_running(storage, study.name)
        restored, differences = runs.reconcile(storage, study.name, out, prep.key, kind)
        for line in differences:
            say(line)
        if restored:
            say(f"restored {restored} finished run(s) from {out / runs.FILES[kind]} into {out / runs.DB} (it was "
                "missing or empty): they are not run again")
    runs.put(storage, study.name, "study", doc)
    done = _done(prep)
    if done:
        tell(f"resuming: {done} run(s) already in {study.storage and 'the database' or out}")
    total = len(prep.variants) * (len(speed.jobs(study.speed)) if kind == "speed" else len(study.seeds))
    if study.workers > 1 and not workers.is_child():
        child = study.at(workers=1, out=str(out), resume=True)
        try:
            code = workers.spawn(list(child.words), study.workers, prep.device, out,
                                 lambda: _done(prep), lambda: max(total, _done(prep, asked=True)))  # waves add jobs
        except KeyboardInterrupt:  # the workers were stopped with it (workers.spawn)
            return _stopped(prep)
        return _finish(prep, [f"a worker exited with code {code}: see {out}/worker-*.log"] if code else [])
    work = Work(prep, environment(prep.device))
    try:
        with bar(total, "runs", "run", initial=done, position=0) as work.bars:
            for variant in prep.variants:
                try:
                    speed_jobs(work, variant) if kind == "speed" else seeds(work, variant)
                except BenchError:
                    raise  # the folder or database cannot be written: stop, say so
                except Exception as e:  # noqa: BLE001 - one variant's crash must not stop the others
                    if _interrupted(e):  # Ctrl-C inside a library's clean-up, which then failed itself
                        raise KeyboardInterrupt from e
                    log.debug("variant %s failed", variant.name, exc_info=True)
                    work.failures.append(f"{variant.name}: {_crash(e)}")
            sweep_up(work)
            if kind == "seeds":
                more_seeds(work)
    except Exception as e:
        if not _interrupted(e):
            raise
        return _stopped(prep)
    except KeyboardInterrupt:
        return _stopped(prep)
    return _finish(prep, work.failures)


@dataclass
class Work:
    """One worker's progress through a study: what its functions below share (nothing is hidden in closures)."""
    prep: Prepared
    env: dict
    bars: Any = None
    failures: list[str] = field(default_factory=list)
    skipped: set = field(default_factory=set)      # (Optuna study, job) that failed here: not retried here
    pending: dict = field(default_factory=dict)    # variant -> (Optuna study, jobs, measure): `sweep_up` waits on them
    settled: dict = field(default_factory=dict)    # variant -> Settled: what its seeds train with, and where from
    profiled: set = field(default_factory=set)     # variants whose profile=true trace was written by this worker


@dataclass(frozen=True)
class Settled:
    """What a variant's seeds train with: its params, the tuning summary that chose them (None: not tuned), the
    settings' source (`<study>/<group>`, the Optuna study that chose them, or 'train': the study's own values,
    untuned), the group that shares them, and the params at the study's own sizes (the timing pass's)."""
    params: Params
    tuned: Any
    source: str
    members: tuple[str, ...]
    base: Params


def seeds(work: Work, variant: Variant, wave: list[int] | None = None) -> None:
    """Tune the variant's group (once; resumed from the storage), then run the variant's seeds (the first wave by
    default)."""
    study = work.prep.study
    if variant.name not in work.settled and not _settle(work, variant):
        return
    if study.profile and variant.name not in work.profiled:  # a packed and a padded run told apart by what ran
        work.profiled.add(variant.name)
        path = study.out_dir / f"profile-{variant.name}.json"
        store.write_atomic(path.with_suffix(".top.json"), json.dumps(
            trace(variant, work.settled[variant.name].params, work.prep.splits, work.prep.device, path), indent=1))
        say(f"profile: a trace of 8 training steps of {variant.name} in {path} (open it in "
            "https://ui.perfetto.dev or chrome://tracing); its top operators are on the page")
    settled = work.settled[variant.name]
    _jobs(work, variant, [{"seed": s} for s in wave or study.seeds],
          lambda job: _measure(work, variant, settled, job["seed"]))


def _settle(work: Work, variant: Variant) -> bool:
    """Settle the params of the variant's whole group: the study's own, or the best of the group's tuning. Every
    member trains at the same settings, a width a member fixes (GloVe's 50) included (bench.variants.shared_fixed);
    False (a failure said) when no tuning trial completed."""
    study = work.prep.study
    members = work.prep.groups.get(variant.name, [variant])
    shared = shared_fixed(members)
    bases = {m.name: study.train.replace(**{**m.fixed_params, **shared}) for m in members}
    tuned, source = None, "train"
    if study.tune.trials:
        tuned = _tune(work, members, bases, shared)
        if not tuned.best:
            why = tuned.trials[-1]["reason"] if tuned.trials else "tune.timeout left no time for one"
            work.failures.append(f"{variant.name}: no tuning trial completed ({why})")
            return False
        source = f"{study.name}/{group_name(members)}"
    names = tuple(m.name for m in members)
    for m in members:
        params = bases[m.name].replace(**tuned.best) if tuned else bases[m.name]
        work.settled[m.name] = Settled(params, tuned, source, names, bases[m.name])
    return True


def more_seeds(work: Work) -> None:
    """Sequential seeds: while a pair of the question is undecided (both sides learned), add a wave of seeds to
    both of its sides, up to measure.max_seeds (bench.report.effects.next_wave). The wave is a function of the
    finished records, so every worker adds the same one; its runs are trials like the first wave's."""
    study, storage = work.prep.study, work.prep.storage
    by_name = {v.name: v for v in work.prep.variants}
    criteria = Criteria.of(StudyDoc.model_validate(study.model_dump()))
    seen = -1
    schedule = set(study.seeds_for(criteria.cap))
    while criteria.cap > criteria.first:
        mine = store.requested(runs.records(storage, study.name), by_name, schedule)[0]
        if len(mine) == seen:  # the last wave finished nothing more (its runs failed): stop
            return
        seen = len(mine)
        have = {v: sum(r["variant"] == v for r in mine) for v in by_name}
        wave = {v: n for v, n in next_wave(mine, summarize(mine), criteria).items() if have[v] < n}
        if not wave:
            return
        work.bars.total += sum(n - have[v] for v, n in wave.items())
        say(f"seeds: undecided pairs remain; another wave for {len(wave)} variant(s): "
            + ", ".join(f"{v} to {n}" for v, n in wave.items()))
        for name, count in wave.items():
            seeds(work, by_name[name], study.seeds_for(count))
        sweep_up(work)


def speed_jobs(work: Work, variant: Variant) -> None:
    """The speed study's jobs for one variant: its sweep points (bench.speed), timed, no tuning."""
    prep = work.prep
    _jobs(work, variant, speed.jobs(prep.study.speed), lambda job: {
        **speed.measure(variant, prep.study, job, prep.device), **work.env, "fingerprint": prep.key})


def _jobs(work: Work, variant: Variant, jobs: list[dict], measure: Callable[[dict], dict]) -> None:
    """Run the variant's jobs nobody holds now; `sweep_up` comes back for the rest."""
    name = f"{work.prep.study.name}/{variant.name}/{_kind(work.prep.study)}"
    jobs = [{**job, "settings": work.prep.key} for job in jobs]  # a run's identity includes its settings
    work.pending[variant.name] = (name, jobs, partial(_guarded, variant, measure))
    _run_jobs(work, *work.pending[variant.name], wait=False)


def _guarded(variant: Variant, measure: Callable[[dict], dict], job: dict) -> dict:
    try:
        return measure(job)
    except (BenchError, KeyboardInterrupt, runs.RunFailed):
        raise
    except Exception as e:  # noqa: BLE001 - one run's crash must not stop the others
        said = " ".join(f"{k} {v}" for k, v in job.items() if k != "settings")  # the fingerprint says nothing here
        raise runs.RunFailed(f"{variant.name} {said}: {_crash(e)}") from e


def _run_jobs(work: Work, name: str, jobs: list[dict], measure: Callable[[dict], dict], wait: bool) -> None:
    study, storage, kind = work.prep.study, work.prep.storage, _kind(work.prep.study)

    def done() -> None:  # the folder's export stays current, so an interrupted study's records are there
        if not study.storage:
            runs.export(storage, study.name, study.out_dir, kind, work.prep.key)
        work.bars.n = _done(work.prep)
        work.bars.refresh()
    work.failures.extend(runs.run_jobs(storage, name, jobs, measure, wait=wait, skipped=work.skipped, on_done=done))


def sweep_up(work: Work) -> None:
    """Wait for runs other workers hold; take over any whose worker died (its heartbeat stopped)."""
    for pending in work.pending.values():
        _run_jobs(work, *pending, wait=True)


OBJECTIVE = ("the members' mean best validation accuracy: every member counts alike, so none decides alone (a member "
             "that does not learn, as padded + last, sits near its chance rate at every trial, adds about the same to "
             "each, and cannot pick the settings)")


def _tune(work: Work, members: list[Variant], bases: dict[str, Params], shared: dict):
    """Tune a group of variants once, together (bench.tune; a group of one is a variant tuned on its own, as
    before): each trial trains every member at the trial's settings and scores their mean best validation
    accuracy (OBJECTIVE). The members train epoch by epoch in turn (bench.train.training), and after each epoch
    the trial reports the members' mean validation accuracy, so the pruner compares trials on every member at
    once, never on one alone. The budget per variant stays tune.trials: a group of k members spends k x trials
    trainings."""
    study, prep = work.prep.study, work.prep
    group = group_name(members)
    name = f"{study.name}/{group}"
    epochs = study.tune.epoch_cap(len(prep.splits.train))  # tune.epochs, or the whole epochs within tune.samples
    pareto = study.tune.objective == "pareto"

    def objective(chosen: dict, report) -> float | tuple[float, float]:
        params = {m.name: bases[m.name].replace(epochs=epochs, samples=None, **chosen) for m in members}
        with _bar(prep, f"{group} trial", epochs * len(members)) as progress:
            running = {m.name: training(m, params[m.name], prep.splits, study.tune.seed, prep.device,
                                        evaluate_test=False, on_step=progress.update, memory=False,
                                        metric=study.measure.metric) for m in members}
            fits: dict[str, Any] = {}
            for epoch in itertools.count(1):
                seen = {}
                for member in members:
                    if member.name in fits:
                        continue
                    try:
                        seen[member.name] = next(running[member.name])
                    except StopIteration as done:
                        fits[member.name] = done.value
                    except Diverged as e:
                        raise Pruned(f"diverged: {member.name + ': ' if len(members) > 1 else ''}{e}") from e
                    except RuntimeError as e:
                        if "out of memory" not in str(e):
                            raise
                        _free(prep.device)
                        p = params[member.name]
                        raise Failed(f"out of memory with batch_size={p.batch_size}, hidden_size={p.hidden_size}, "
                                     f"embed_dim={p.embed_dim}") from e
                if not seen:
                    break
                # a member that stopped early counts at the epoch it kept
                scores = [seen[m.name].score(study.measure.metric) if m.name in seen else fits[m.name].best_val
                          for m in members]
                report(epoch, sum(scores) / len(scores), _epoch_stats(seen, prep.device, len(members) > 1))
        bests = {m.name: fits[m.name].best_val for m in members}  # the kept epoch's
        if len(members) > 1:
            report(None, None, {"members": bests})
        value = sum(bests.values()) / len(bests)
        times = [statistics.median(e.time_s for e in fits[m.name].epochs) for m in members]
        return (value, sum(times) / len(times)) if pareto else value

    kept = runs.restored_tuning(prep.storage, name)
    if kept:  # its trials went with a lost optuna.db: the seeds keep the settings the folder's records used
        return Tuned(**{k: kept[k] for k in Tuned.__dataclass_fields__ if k in kept})
    with bar(study.tune.trials, f"tune {group}", "trial", leave=False, position=1) as trials:
        space = {k: v for k, v in study.nuisance.items()
                 if k not in shared and not any(k in m.fixed_params for m in members)}
        tuned = tune(name, space, objective, study.tune.replace(epochs=epochs, samples=None), prep.storage,
                     on_trial=lambda outcome: trials.update())
    doc = {**asdict(tuned), "budget": study.budget, "optuna_study": name, "trial_epoch_cap": epochs,
           "trial_bound": study.tune.bound_said(len(prep.splits.train))}
    if len(members) > 1:  # which variants shared which settings (tuning.json and the page's tuning section)
        rule = OBJECTIVE.replace("validation accuracy", "validation macro-F1") if study.measure.metric == "macro_f1" \
            else OBJECTIVE
        doc.update(members=[m.name for m in members], shared_axes=list(study.share), objective_rule=rule,
                   shared_fixed={k: {"value": v, "fixed_by": [m.name for m in members if k in m.fixed_params]}
                                 for k, v in shared.items()})
    runs.put(prep.storage, name, "tuning", doc)
    return tuned


def _epoch_stats(seen: dict, device, group: bool) -> dict:
    """One epoch's figures for the trial (bench.tracking reads them): a variant's own; a group's means, with each
    member's under `members`."""
    each = {name: {"train_loss": e.train_loss, "running_acc": e.running_acc, "val_acc": e.val_acc,
                   "time_s": e.time_s} for name, e in seen.items()}
    mean = {k: sum(v[k] for v in each.values()) / len(each) for k in ("train_loss", "running_acc", "val_acc", "time_s")}
    return {**mean, "peak_mem_mb": peak_memory_mb(device)[0], **({"members": each} if group else {})}


def _measure(work: Work, variant: Variant, settled: Settled, seed: int) -> dict:
    prep, study, params = work.prep, work.prep.study, settled.params
    cap = params.epoch_cap(len(prep.splits.train))
    with _bar(prep, f"{variant.name} seed {seed}", cap) as progress, measure.Load() as load:
        try:
            result = fit(variant, params, prep.splits, seed, prep.device, on_step=progress.update,
                         metric=study.measure.metric)
        except Diverged as e:
            raise runs.RunFailed(f"{variant.name} seed {seed}: {e}") from e
    timing = None
    if study.measure.timing_steps:  # the same sizes for every variant: times compare like with like
        timing = time_steps(variant, settled.base, prep.splits, prep.device, steps=study.measure.timing_steps,
                            seed=seed)
    epoch = sorted(result.epochs, key=lambda e: e.time_s)[len(result.epochs) // 2]  # the median epoch's batches
    floor = floors.of(variant, params, epoch.widths, epoch.real_tokens if variant.packing == "packed" else
                      epoch.padded_tokens, prep.device, params.precision)
    return store.make_record(study=study.name, variant=variant, seed=seed, params=params, fit=result,
                             data_info={**prep.splits.info, "label_names": prep.splits.label_names}, env=work.env,
                             fingerprint=prep.key, budget=study.budget, tuned=settled.tuned, timing=timing,
                             load=load.facts, floors=floor, metric=study.measure.metric,
                             settings_from=settled.source, shared_with=list(settled.members)).row()


def _bar(prep: Prepared, desc: str, epochs: int):
    return bar(epochs * len(prep.splits.train), desc, "sample", unit_scale=True, leave=False, position=2)


def _interrupted(e: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is behind `e` (its cause or the exception it interrupted)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _crash(e: Exception) -> str:
    """`Type: message (file:line)` of an unexpected error, where it was raised."""
    where = traceback.extract_tb(e.__traceback__)[-1]
    return store.mask_secrets(f"{type(e).__name__}: {e} ({Path(where.filename).name}:{where.lineno})")


def _free(device) -> None:
    if device.type == "cuda":
        import torch
        torch.cuda.empty_cache()


def _kind(study: Study) -> str:
    """The Optuna studies that hold a study's measured runs: `<study>/<variant>/seeds` or `.../speed`."""
    return "speed" if study.mode == "speed" else "seeds"


def _stopped(prep: Prepared) -> Outcome:
    """Ctrl-C: what finished is kept (and rendered: the partial page says which runs are missing). Another Ctrl-C
    here stops the render (bench.cli says how to render it later); the records are already exported."""
    out = prep.study.out_dir
    finished = runs.export(prep.storage, prep.study.name, out, _kind(prep.study), prep.key)
    report = render_any(out) if finished and not workers.is_child() else ""
    return Outcome(out, finished, interrupted=True, report=report)


def _finish(prep: Prepared, failures: list[str]) -> Outcome:
    """Export and render (a workers=N child only exports: its parent renders, once). A Ctrl-C meanwhile is a stop
    like any other."""
    out = prep.study.out_dir
    try:
        finished = runs.export(prep.storage, prep.study.name, out, _kind(prep.study), prep.key)
        report = render_any(out) if finished and not workers.is_child() else ""
        if report:
            refresh_index(out)
        if prep.study.tracking != "none" and finished and not workers.is_child():
            _track(prep)
    except KeyboardInterrupt:
        return _stopped(prep)
    return Outcome(out, finished, failures, report=report)


def _track(prep: Prepared) -> None:
    """The tracker's copy (bench.tracking). Its failure loses nothing: the records are kept, and running the same
    command again sends what the tracker lacks."""
    from bench import tracking
    where = store.mask_secrets(tracking.uri(prep.study))
    try:
        logged = tracking.export(prep.study, prep.storage, store.load(prep.study.out_dir))
    except Exception as e:  # noqa: BLE001 - any failure of the tracker's client or server
        say(f"warning: could not log to MLflow at {where} ({store.mask_secrets(str(e)).splitlines()[0][:300]}): "
            "the records are kept in the folder; run the same command again to send them")
        return
    say(f"MLflow: {logged} new trial and seed run(s) logged to {where}, experiment '{prep.study.name}'")
