"""The stages of a run, in order, once the command line was read and checked (bench.run does that, before
torch is imported, so a typo is reported at once):

config -> variants -> data -> per variant: tune (Optuna, validation only) -> measured seeds
(train + measure, test) -> records -> report. Bad input exits 2 with one line before anything is
written; re-running a command resumes (finished trials and seed runs are never redone).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import shlex
import statistics
import sys
import traceback
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from bench import data, embeddings, runs, speed, store, workers
from bench.classical import reference
from bench.config import Params, Study, load_study, replaced
from bench.errors import BenchError
from bench.measure import environment, resolve_device
from bench.progress import bar, say
from bench.report.effects import Criteria, next_wave
from bench.report.cli import refresh_index, render_any
from bench.report.sweep import render_sweep
from bench.report.tables import summarize
from bench.train import Diverged, fit, time_steps, trace
from bench.tune import Failed, Pruned, tune
from bench.variants import Variant

log = logging.getLogger("bench")


def start(argv: list[str], study: Study) -> int:
    """Run a checked study (a sweep: each of its points); the exit code."""
    if os.environ.get(workers.THREADS_ENV):
        import torch
        torch.set_num_threads(int(os.environ[workers.THREADS_ENV]))
    return sweep(argv, study) if study.sweep else run_study(argv, study)


def fingerprint(study: Study, data_key: str, device: str) -> str:
    """What must match for stored runs and trials to count: data, training, tuning, device.
    Seeds and variants are left out: adding either just adds runs."""
    settings = {"data": data_key, "train": asdict(study.train),
                "tune": asdict(study.tune), "nuisance": study.nuisance, "device": device}
    if study.mode == "speed":
        settings["speed"] = asdict(study.speed)
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def command_line(argv: list[str]) -> str:
    """The command that reproduces a run, for the report; a password in a URL is masked."""
    return " ".join(["python -m bench.run", *(shlex.quote(store.mask_secrets(a)) for a in argv)])


def _prepare(study: Study):
    """Everything that can fail on bad input, before anything is written, the data cache included (the study
    itself is loaded once, by `main`)."""
    device = resolve_device(study.device)
    if study.train.precision != "fp32" and device.type != "cuda":
        raise BenchError(f"train.precision={study.train.precision} runs on CUDA only (mixed precision through "
                         f"autocast), and this run is on {device}: use train.precision=fp32, or device=cuda")
    variants = study.expand()
    if not study.resume:
        if study.storage:
            raise BenchError("resume=false starts over in a fresh local folder, but storage= names a shared "
                             "database whose Optuna studies would be resumed: drop storage= or use a new database")
        study.out = str(store.fresh_folder(study.out_dir))
    out = study.out_dir
    store.check_writable(out)
    if not study.storage and any((out / old).exists() for old in ("claims.json", "optuna.journal")):
        raise BenchError(f"{out} was made by an earlier rnnbench (a journal file and a claims file): add "
                         "resume=false to start over in a fresh folder, or choose another out=FOLDER")
    splits = data.load(study.data, keep=False) if study.mode == "study" else None  # read and checked, not cached
    if splits and embeddings.uses(variants):  # GloVe rows in the vocabulary's order, and what they cover
        splits.pretrained, splits.pretrained_scale = embeddings.aligned(splits.itos), embeddings.scale()
        splits.info["glove"] = embeddings.coverage(splits.itos, splits.train.tokens,
                                                   1 if splits.pad_index == splits.unk_index else 2)
    key = fingerprint(study, splits.info["cache_key"] if splits else "none", str(device))
    storage = None
    if study.storage or (out / runs.DB).exists():  # a new local folder stays empty until the checks pass
        storage = runs.open_storage(study.storage, out, study.lease)
        others = [] if study.storage else runs.other_studies(storage, study.name)
        if others:
            raise BenchError(f"{out} holds study '{others[0]}', not '{study.name}': choose another out=FOLDER, or "
                             "add resume=false to start over in a fresh folder")
        if {r.get("fingerprint") for r in runs.records(storage, study.name, _kind(study))} - {key}:
            where = f"the database's study '{study.name}'" if study.storage else str(out)
            raise BenchError(f"{where} holds results made with other settings: add resume=false to start over in "
                             "a fresh folder, or choose another out=FOLDER (or another study name / database)")
    if splits:
        data.save_cache(splits, study.data)  # every check has passed: the next run need not tokenize again
    return study, device, variants, splits, key, storage


class Runner:
    """Tunes and measures one study's variants as one worker; holds what every stage of it shares.
    Trials and runs are asked of Optuna's storage first, so any number of workers can share a study."""

    def __init__(self, study: Study, device, splits, key: str, storage):
        self.study, self.device, self.splits, self.key, self.storage = study, device, splits, key, storage
        self.env = environment(device)
        self.failures: list[str] = []
        self.skipped: set[tuple[str, str]] = set()   # (Optuna study, job) that failed here: not retried here
        self.ready: dict[str, Callable[[bool], None]] = {}  # variant -> runs its jobs (wait: for all of them)
        self.settled: dict[str, tuple] = {}  # variant -> (params, tuned): what its seeds train with
        self.profiled = False

    def variant(self, variant: Variant, bars, seeds: list[int] | None = None) -> None:
        """Tune the variant (once; resumed from the storage), then run its seeds (the first wave by default)."""
        if variant.name not in self.settled:
            params, tuned = replace(self.study.train, **variant.fixed_params), None  # GloVe: its width, never tuned
            if self.study.tune.trials:
                tuned = self._tune(variant, params)
                if not tuned.best:
                    why = tuned.trials[-1]["reason"] if tuned.trials else "tune.timeout left no time for one"
                    self.failures.append(f"{variant.name}: no tuning trial completed ({why})")
                    return
                params = replace(params, **tuned.best)
            self.settled[variant.name] = (params, tuned)
            if self.study.profile and not self.profiled:
                path = self.study.out_dir / f"profile-{variant.name}.json"
                trace(variant, params, self.splits, self.device, path)
                self.profiled = True
                say(f"profile: a trace of 8 training steps of {variant.name} in {path} (open it in "
                    "https://ui.perfetto.dev or chrome://tracing)")
        params, tuned = self.settled[variant.name]

        def measure(job: dict) -> dict:
            return self._measure(variant, params, job["seed"], tuned)
        self._start(variant, [{"seed": seed} for seed in seeds or self.study.seeds], measure, bars)

    def more_seeds(self, variants: list[Variant], bars) -> None:
        """Sequential seeds: while a pair of the question is undecided (both sides learned), add a wave of seeds to
        both of its sides, up to measure.max_seeds (bench.report.effects.next_wave). The wave is a function of the
        finished records, so every worker adds the same one; its runs are trials like the first wave's."""
        by_name = {v.name: v for v in variants}
        criteria = Criteria.of(asdict(self.study))
        seen = -1
        while criteria.cap > criteria.first:
            mine = [r for r in runs.records(self.storage, self.study.name) if r["variant"] in by_name]
            if len(mine) == seen:  # the last wave finished nothing more (its runs failed): stop
                return
            seen = len(mine)
            have = {v: sum(r["variant"] == v for r in mine) for v in by_name}
            wave = {v: n for v, n in next_wave(mine, summarize(mine), criteria).items() if have[v] < n}
            if not wave:
                return
            bars.total += sum(n - have[v] for v, n in wave.items())
            say(f"seeds: undecided pairs remain; another wave for {len(wave)} variant(s): "
                + ", ".join(f"{v} to {n}" for v, n in wave.items()))
            for name, count in wave.items():
                self.variant(by_name[name], bars, self.study.seeds_for(count))
            self.sweep_up()

    def speed(self, variant: Variant, bars) -> None:
        """The speed study's jobs for one variant: its sweep points (bench.speed), timed, no tuning."""
        def measure(job: dict) -> dict:
            return {**speed.measure(variant, self.study, job, self.device), **self.env, "fingerprint": self.key}
        self._start(variant, speed.jobs(self.study.speed), measure, bars)

    def _start(self, variant: Variant, jobs: list[dict], measure: Callable[[dict], dict], bars) -> None:
        """Run the variant's jobs nobody holds now; `sweep_up` comes back for the rest."""
        study, kind = self.study, _kind(self.study)

        def guarded(job: dict) -> dict:
            try:
                return measure(job)
            except (BenchError, KeyboardInterrupt, runs.RunFailed):
                raise
            except Exception as e:  # noqa: BLE001 - one run's crash must not stop the others
                raise runs.RunFailed(f"{variant.name} {_label(job)}: {_crash(e)}") from e

        def done() -> None:  # the folder's export stays current, so an interrupted study's records are there
            bars.n = (runs.done_count(self.storage, study.name, kind) if study.storage
                      else runs.export(self.storage, study.name, study.out_dir, kind))
            bars.refresh()

        def run(wait: bool) -> None:
            self.failures.extend(runs.run_jobs(self.storage, f"{study.name}/{variant.name}/{kind}", jobs, guarded,
                                               wait=wait, skipped=self.skipped, on_done=done))
        self.ready[variant.name] = run
        run(False)

    def sweep_up(self) -> None:
        """Wait for runs other workers hold; take over any whose worker died (its heartbeat stopped)."""
        for run in self.ready.values():
            run(True)

    def _tune(self, variant: Variant, base: Params):
        name = f"{self.study.name}/{variant.name}"
        trial_params = replace(base, epochs=self.study.tune.epochs)
        pareto = self.study.tune.objective == "pareto"

        def objective(chosen: dict, report) -> float | tuple[float, float]:
            params = replace(trial_params, **chosen)
            with self._bar(f"{variant.name} trial", params.epochs) as bar:
                try:
                    result = fit(variant, params, self.splits, self.study.tune.seed, self.device, evaluate_test=False,
                                 on_step=bar.update, on_epoch=lambda e: report(e.epoch, e.val_acc))
                except Diverged as e:
                    raise Pruned(f"diverged: {e}") from e
                except RuntimeError as e:
                    if "out of memory" not in str(e):
                        raise
                    _free(self.device)
                    raise Failed(f"out of memory with batch_size={params.batch_size}, hidden_size="
                                 f"{params.hidden_size}, embed_dim={params.embed_dim}") from e
            epoch_s = statistics.median(e.time_s for e in result.epochs)
            return (result.best_val, epoch_s) if pareto else result.best_val  # the kept epoch's

        with bar(self.study.tune.trials, f"tune {variant.name}", "trial", leave=False, position=1) as trials:
            space = {k: v for k, v in self.study.nuisance.items() if k not in variant.fixed_params}
            tuned = tune(name, space, objective, self.study.tune, self.storage,
                         on_trial=lambda outcome: trials.update())
        runs.put(self.storage, name, "tuning", {**asdict(tuned), "budget": self.study.budget, "optuna_study": name})
        return tuned

    def _measure(self, variant: Variant, params: Params, seed: int, tuned) -> dict:
        with self._bar(f"{variant.name} seed {seed}", params.epochs) as bar:
            try:
                result = fit(variant, params, self.splits, seed, self.device, on_step=bar.update)
            except Diverged as e:
                raise runs.RunFailed(f"{variant.name} seed {seed}: {e}") from e
        timing = None
        if self.study.measure.timing_steps:  # the same sizes for every variant: times compare like with like
            timing = time_steps(variant, replace(self.study.train, **variant.fixed_params), self.splits, self.device,
                                steps=self.study.measure.timing_steps, seed=seed)
        return store.make_record(
            study=self.study.name, variant=variant, seed=seed, params=params, fit=result, data_info=self.splits.info,
            env=self.env, fingerprint=self.key, budget=self.study.budget, tuned=tuned, timing=timing)

    def _bar(self, desc: str, epochs: int):
        return bar(epochs * len(self.splits.train), desc, "sample", unit_scale=True, leave=False, position=2)


def _interrupted(e: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is behind `e` (its cause or the exception it interrupted)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _label(job: dict) -> str:
    return " ".join(f"{k} {v}" for k, v in job.items())


def _crash(e: Exception) -> str:
    """`Type: message (file:line)` of an unexpected error, where it was raised."""
    where = traceback.extract_tb(e.__traceback__)[-1]
    return f"{type(e).__name__}: {e} ({Path(where.filename).name}:{where.lineno})"


def _free(device) -> None:
    if device.type == "cuda":
        import torch
        torch.cuda.empty_cache()


def _kind(study: Study) -> str:
    """The Optuna studies that hold a study's measured runs: `<study>/<variant>/seeds` or `.../speed`."""
    return "speed" if study.mode == "speed" else "seeds"


def sweep(argv: list[str], study: Study) -> int:
    """One sub-study per point of `study.sweep` (e.g. the synthetic key's distance), each in its own
    folder under `out`, then one table across them."""
    keys = list(study.sweep)
    points = [dict(zip(keys, values)) for values in itertools.product(*study.sweep.values())]
    slugs = ["_".join(f"{k.split('.')[-1]}-{v}" for k, v in p.items()) for p in points]
    codes = []
    for point, slug in zip(points, slugs):
        point_argv = replaced(argv, *(f"{k}={v}" for k, v in point.items()), f"out={study.out_dir / slug}",
                              "sweep=null")
        try:
            codes.append(run_study(point_argv, load_study(point_argv)))
        except BenchError as e:  # bad input: said once, by the first sub-study
            print(f"error: {e}", file=sys.stderr)
            return 2
        if codes[-1] == 2:
            return 2
    study.out_dir.mkdir(parents=True, exist_ok=True)
    store.write_atomic(study.out_dir / store.SWEEP, json.dumps(dict(zip(slugs, points)), indent=2))
    print(render_sweep(study.out_dir))
    refresh_index(study.out_dir)
    return max(codes)


def run_study(argv: list[str], study: Study) -> int:
    """Check, then run (or resume) one study as one worker, or as the parent of `workers` of them; the exit code."""
    try:
        study, device, variants, splits, key, storage = _prepare(study)
        lock = None if (workers.is_child() or study.storage) else workers.lock_folder(study.out_dir)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        storage = storage or runs.open_storage(study.storage, study.out_dir, study.lease)
        return _run(argv, study, device, variants, splits, key, storage, lock)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except runs.LOST as e:  # Optuna's storage went away mid-run, or its disk filled up
        print(f"error: {runs.lost(e, study.storage, study.out_dir)}", file=sys.stderr)
        return 2
    finally:
        workers.unlock(lock)


def _run(argv, study: Study, device, variants, splits, key: str, storage, lock) -> int:
    """One worker's run (or, with workers=N, the parent of N), after the input was checked."""
    out = study.out_dir
    for note in splits.info["notes"] if splits else []:
        print(note)
    if study.mode == "speed":
        points = len(speed.jobs(study.speed))
        print(f"speed study {study.name}: {len(variants)} variant(s) x {points} point(s) on {device} -> {out}")
    else:
        tuning = (f"{study.tune.trials} {study.tune.sampler} trial(s) of {study.tune.epochs} epoch(s) per variant, "
                  if study.tune.trials else "no tuning, ")
        print(f"study {study.name}, budget {study.budget or 'none (the study file as written)'}: {len(variants)} "
              f"variant(s); {tuning}{len(study.seeds)} seed(s) of {study.train.epochs} epoch(s); {device} -> {out}")
    if lock is not None:  # we own the folder: a RUNNING trial is left by a killed run
        runs.fail_running(storage, study.name)
    doc = {**asdict(study), "command": command_line(argv)}
    if splits:
        classical = reference(splits, study.data.cache)  # the line every recurrent model has to beat
        how = "cached" if classical["cache"] == "hit" else f"fitted in {classical['seconds']:.1f} s"
        print(f"reference: {classical['model']}: test accuracy {classical['test_acc']:.4f} ({how})")
        doc.update(data_info=splits.info, classical={k: v for k, v in classical.items() if k != "cache"},
                   planned={"variants": [v.name for v in variants], "seeds": study.seeds})
    runs.put(storage, study.name, "study", doc)
    kind = _kind(study)
    done = runs.done_count(storage, study.name, kind)
    if done:
        print(f"resuming: {done} run(s) already in {study.storage and 'the database' or out}")
    total = len(variants) * (len(speed.jobs(study.speed)) if kind == "speed" else len(study.seeds))
    if study.workers > 1 and not workers.is_child():
        code = workers.spawn(argv, study.workers, device, out, lambda: runs.done_count(storage, study.name, kind),
                             lambda: max(total, runs.job_count(storage, study.name, kind)))  # waves add jobs
        failures = [f"a worker exited with code {code}: see {out}/worker-*.log"] if code else []
        return _finish(study, storage, failures)
    runner = Runner(study, device, splits, key, storage)
    try:
        with bar(total, "runs", "run", initial=done, position=0) as bars:
            for variant in variants:
                try:
                    runner.speed(variant, bars) if kind == "speed" else runner.variant(variant, bars)
                except BenchError:
                    raise  # the folder or database cannot be written: stop, say so
                except Exception as e:  # noqa: BLE001 - one variant's crash must not stop the others
                    if _interrupted(e):  # Ctrl-C inside a library's clean-up, which then failed itself
                        raise KeyboardInterrupt from e
                    log.debug("variant %s failed", variant.name, exc_info=True)
                    runner.failures.append(f"{variant.name}: {_crash(e)}")
            runner.sweep_up()
            if kind == "seeds":
                runner.more_seeds(variants, bars)
    except Exception as e:
        if not _interrupted(e):
            raise
        return _interrupt(study, storage, out)
    except KeyboardInterrupt:
        return _interrupt(study, storage, out)
    return _finish(study, storage, runner.failures)


def _interrupt(study: Study, storage, out: Path) -> int:
    """Ctrl-C: what finished is kept (and rendered); the same command resumes."""
    print(f"\ninterrupted: finished trials and runs are kept in {out}; run the same command again to resume",
          file=sys.stderr)
    if runs.export(storage, study.name, out, _kind(study)):
        render_any(out)  # the partial report says which runs are missing
    return 130


def _finish(study: Study, storage, failures: list[str]) -> int:
    out = study.out_dir
    finished = runs.export(storage, study.name, out, _kind(study))
    if finished:
        print(render_any(out))
        refresh_index(out)
    for failure in failures:
        print(f"FAILED {failure}")
    table = out / ("speed.csv" if study.mode == "speed" else "results.csv")
    if finished:
        print(f"\nwrote {table.name}, index.html and the other tables in {out}")
    else:
        print(f"\nno run finished: no report written (the trials are kept in {study.storage and 'the database' or out})")
    return 1 if failures or not finished else 0
