"""The command line, and the only place that knows the order of the stages.

    python -m bench.run study=lesson data.root=../shared/data/ag_news_first10k
    python -m bench.run study=packing budget=quick data.root=../shared/data/ag_news_first10k
    python -m bench.run --help

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
import time
import traceback
from dataclasses import asdict, replace
from functools import cached_property
from pathlib import Path

from tqdm import tqdm

from bench import data, report, store, workers
from bench.classical import reference
from bench.config import KEYS, Study, list_studies, load_study
from bench.errors import BenchError
from bench.report.cli import refresh_index
from bench.measure import environment, resolve_device
from bench.train import Diverged, Params, fit, time_steps, trace
from bench.ledger import DONE, FileLedger, Ledger, SqlLedger, open_ledger, sql_url
from bench.tune import Failed, Pruned, TuneSettings, clear_dead, storage, tune
from bench.variants import AXES, Variant

log = logging.getLogger("bench")
HIDDEN = ("scientific", "fixed", "exclude", "variants", "reference", "nuisance", "name", "description", "sweep")


def help_text() -> str:
    studies = "\n".join(f"  {name:<12} {desc}" for name, desc in list_studies().items())
    keys = "\n".join(f"  {key:<28} {default!r}" for key, default in KEYS.items() if key not in HIDDEN)
    return f"""usage: python -m bench.run study=NAME [key=value ...]   (Hydra override grammar)

studies:
{studies}

variant axes (replace the study's values): {', '.join(AXES)}
  e.g. cell=gru  cell=[lstm,gru]  layers=[1,2,3]  bidirectional=[false,true]

budgets (trials, epochs, data cap, seeds in one word): budget=smoke | quick | full

keys (schema default; studies/_base.yaml and the study file set their own):
{keys}

re-render a report from stored records: python -m bench.report study=NAME"""


def params_of(study: Study) -> Params:
    t, m = study.train, study.model
    return Params(lr=t.lr, batch_size=t.batch_size, weight_decay=t.weight_decay, clip=t.clip, epochs=t.epochs,
                  embed_dim=m.embed_dim, hidden_size=m.hidden_size, dropout=m.dropout,
                  sparse_embedding=t.sparse_embedding, precision=t.precision, cudnn_benchmark=t.cudnn_benchmark,
                  compile=t.compile, patience=t.patience)


def fingerprint(study: Study, data_key: str, device: str) -> str:
    """What must match for stored runs and trials to count: data, training, tuning, device.
    Seeds and variants are left out: adding either just adds runs."""
    settings = {"data": data_key, "train": asdict(study.train), "model": asdict(study.model),
                "tune": asdict(study.tune), "nuisance": study.nuisance, "device": device}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def command_line(argv: list[str]) -> str:
    """The command that reproduces a run, for the report; a password in a URL is masked."""
    return " ".join(["python -m bench.run", *(shlex.quote(store.mask_secrets(a)) for a in argv)])


def _prepare(study: Study):
    """Everything that can fail on bad input, before anything is written (the study itself is loaded once,
    by `main`)."""
    device = resolve_device(study.device)
    if study.train.precision != "fp32" and device.type != "cuda":
        raise BenchError(f"train.precision={study.train.precision} runs on CUDA only (mixed precision through "
                         f"autocast), and this run is on {device}: use train.precision=fp32, or device=cuda")
    variants = study.expand()
    splits = data.load(study.data)
    if not study.resume:
        if study.storage:
            raise BenchError("resume=false starts over in a fresh local folder, but storage= names a shared "
                             "database whose Optuna studies would be resumed: drop storage= or use a new database")
        study.out = str(store.fresh_folder(study.out_dir))
    key = fingerprint(study, splits.info["cache_key"], str(device))
    store.check_writable(study.out_dir)
    ledger = open_ledger(study.storage, study.out_dir, study.name, study.lease)
    if {r.get("fingerprint") for r in ledger.records()} - {key}:
        where = f"the database's study '{study.name}'" if study.storage else str(study.out_dir)
        raise BenchError(f"{where} holds results made with other settings: add resume=false to start over in a "
                         "fresh folder, or choose another out=FOLDER (or another study name / database)")
    return study, device, variants, splits, key, ledger


class Runner:
    """Tunes and measures one study's variants as one worker; holds what every stage of it shares.
    Runs are claimed in the ledger first, so any number of workers can share a study."""

    def __init__(self, study: Study, device, splits, key: str, ledger: Ledger, exclusive: bool):
        self.study, self.device, self.splits, self.key, self.ledger = study, device, splits, key, ledger
        self.env = environment(device)
        self.failures: list[str] = []
        self.skipped: set[tuple[str, int]] = set()   # failed here: not retried by this worker
        self.ready: dict[str, tuple[Variant, Params, object]] = {}
        self.profiled = False
        t = study.tune
        self.settings = TuneSettings(t.trials, t.timeout, t.sampler, t.pruner, t.objective, t.seed, t.epochs,
                                     grace_s=study.lease, exclusive=exclusive)

    def variant(self, variant: Variant, bars: tqdm) -> None:
        params = params_of(self.study)
        tuned = None
        if self.study.tune.trials:
            tuned = self._tune(variant, params)
            if not tuned.best:
                why = tuned.trials[-1]["reason"] if tuned.trials else "tune.timeout left no time for one"
                self.failures.append(f"{variant.name}: no tuning trial completed ({why})")
                return
            params = replace(params, **tuned.best)
        self.ready[variant.name] = (variant, params, tuned)
        if self.study.profile and not self.profiled:
            path = self.study.out_dir / f"profile-{variant.name}.json"
            trace(variant, params, self.splits, self.device, path)
            self.profiled = True
            tqdm.write(f"profile: a trace of 8 training steps of {variant.name} in {path} (open it in "
                       "https://ui.perfetto.dev or chrome://tracing)", file=sys.stderr)
        for seed in self.study.seeds:
            self._claim_and_measure(variant.name, seed)
            self._progress(bars)

    def sweep_up(self, bars: tqdm) -> None:
        """Wait for runs other workers hold; take over any whose worker died (its lease ran out)."""
        while True:
            status = self.ledger.status()
            left = [(v, s) for v in self.ready for s in self.study.seeds
                    if status.get((v, s)) != DONE and (v, s) not in self.skipped]
            self._progress(bars, status)
            if not left:
                return
            if not [pair for pair in left if self._claim_and_measure(*pair)]:
                time.sleep(min(5.0, self.study.lease / 4))

    def _progress(self, bars: tqdm, status: dict | None = None) -> None:
        status = self.ledger.status() if status is None else status
        bars.n = sum(state == DONE for state in status.values())
        bars.refresh()

    def _claim_and_measure(self, name: str, seed: int) -> bool:
        if (name, seed) in self.skipped or not self.ledger.claim(name, seed):
            return False
        variant, params, tuned = self.ready[name]
        try:
            record = self._measure(variant, params, seed, tuned)
        except BaseException:
            self.ledger.release(name, seed)
            raise
        if record is None:
            self.ledger.release(name, seed)
            self.skipped.add((name, seed))
        elif not self.ledger.finish(name, seed, {**record, "worker": self.ledger.worker}):
            log.warning("%s seed %s: another worker took this run over (this one was too slow to renew its "
                        "lease); its result is kept, this one dropped", name, seed)
        return True

    def _tune(self, variant: Variant, base: Params):
        name = f"{self.study.name}/{variant.name}"
        trial_params = replace(base, epochs=self.settings.epochs)
        pareto = self.settings.objective == "pareto"

        def objective(chosen: dict, report) -> float | tuple[float, float]:
            params = replace(trial_params, **chosen)
            with self._bar(f"{variant.name} trial", params.epochs) as bar:
                try:
                    result = fit(variant, params, self.splits, self.settings.seed, self.device,
                                 self.study.train.curve_every, self.study.train.eval_batch_size,
                                 evaluate_test=False, on_step=bar.update,
                                 on_epoch=lambda e: report(e.epoch, e.val_acc))
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

        with tqdm(total=self.settings.trials, desc=f"tune {variant.name}", unit="trial", leave=False,
                  position=1, file=sys.stderr) as trials:
            tuned = tune(name, self.study.nuisance, objective, self.settings, self.storage,
                         on_trial=lambda outcome: trials.update())
        self.ledger.put("tuning", {variant.name: {**asdict(tuned), "budget": self.study.budget, "optuna_study": name}})
        return tuned

    def _measure(self, variant: Variant, params: Params, seed: int, tuned) -> dict | None:
        with self._bar(f"{variant.name} seed {seed}", params.epochs) as bar:
            try:
                result = fit(variant, params, self.splits, seed, self.device, self.study.train.curve_every,
                             self.study.train.eval_batch_size, on_step=bar.update)
            except Diverged as e:
                self.failures.append(f"{variant.name} seed {seed}: {e}")
                return None
        timing = None
        if self.study.measure.timing_steps:  # the same sizes for every variant: times compare like with like
            timing = time_steps(variant, params_of(self.study), self.splits, self.device,
                                steps=self.study.measure.timing_steps, seed=seed)
        return store.make_record(
            study=self.study.name, variant=variant, seed=seed, params=params, fit=result, data_info=self.splits.info,
            env=self.env, fingerprint=self.key, budget=self.study.budget, tuned=tuned, timing=timing)

    def _bar(self, desc: str, epochs: int) -> tqdm:
        return tqdm(total=epochs * len(self.splits.train), desc=desc, unit="sample", unit_scale=True,
                    leave=False, position=2, file=sys.stderr)

    @cached_property
    def storage(self):
        return storage(sql_url(self.study.storage) if self.study.storage else None,
                       str(self.study.out_dir / "optuna.journal"))


def _free(device) -> None:
    if device.type == "cuda":
        import torch
        torch.cuda.empty_cache()


def sweep(argv: list[str], study: Study) -> int:
    """One sub-study per point of `study.sweep` (e.g. the synthetic key's distance), each in its own
    folder under `out`, then one table across them."""
    keys = list(study.sweep)
    points = [dict(zip(keys, values)) for values in itertools.product(*study.sweep.values())]
    slugs = ["_".join(f"{k.split('.')[-1]}-{v}" for k, v in p.items()) for p in points]
    codes = []
    for point, slug in zip(points, slugs):
        codes.append(main([*argv, *(f"{k}={v}" for k, v in point.items()), f"out={study.out_dir / slug}",
                           "sweep=null"]))
        if codes[-1] == 2:  # bad input: said once, by the first sub-study
            return 2
    study.out_dir.mkdir(parents=True, exist_ok=True)
    store.write_atomic(study.out_dir / "sweep.json", json.dumps(dict(zip(slugs, points)), indent=2))
    print(report.render_sweep(study.out_dir))
    refresh_index(study.out_dir)
    return max(codes)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("--help", "-h") or a.lower() == "help=true" for a in argv):
        print(help_text())
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if os.environ.get(workers.THREADS_ENV):
        import torch
        torch.set_num_threads(int(os.environ[workers.THREADS_ENV]))
    try:
        study = load_study(argv)
        if study.sweep:
            return sweep(argv, study)
        if study.mode == "speed":
            from bench import speed
            return speed.main(argv, study)
        study, device, variants, splits, key, ledger = _prepare(study)
        child = workers.is_child()
        lock = None if (child or study.storage) else workers.lock_folder(study.out_dir)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        return _run(argv, study, device, variants, splits, key, ledger, lock)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
        workers.unlock(lock)


def _run(argv, study: Study, device, variants, splits, key: str, ledger: Ledger, lock) -> int:
    """One worker's run (or, with workers=N, the parent of N), after the input was checked."""
    child = workers.is_child()
    out = study.out_dir
    for note in splits.info["notes"]:
        print(note)
    tuning = f"{study.tune.trials} {study.tune.sampler} trial(s) of {study.tune.epochs} epoch(s) per variant, " \
        if study.tune.trials else "no tuning, "
    print(f"study {study.name}, budget {study.budget or 'none (the study file as written)'}: {len(variants)} "
          f"variant(s); {tuning}{len(study.seeds)} seed(s) of {study.train.epochs} epoch(s); {device} -> {out}")
    if lock is not None and isinstance(ledger, FileLedger):
        ledger.clear_claims()  # we own the folder: claims left by a killed run are dead
    classical = reference(splits, study.data.cache)  # the line every recurrent model has to beat
    how = "cached" if classical["cache"] == "hit" else f"fitted in {classical['seconds']:.1f} s"
    print(f"reference: {classical['model']}: test accuracy {classical['test_acc']:.4f} ({how})")
    ledger.put("study", {**asdict(study), "data_info": splits.info, "command": command_line(argv),
                         "classical": {k: v for k, v in classical.items() if k != "cache"},
                         "planned": {"variants": [v.name for v in variants], "seeds": study.seeds}})
    done = sum(state == DONE for state in ledger.status().values())
    if done:
        print(f"resuming: {len(ledger.records())} run(s) already in {study.storage and 'the database' or out}")
    total = len(variants) * len(study.seeds)
    if study.workers > 1 and not child:
        if lock is not None:  # we hold the folder: nobody runs these trials any more
            trials = Runner(study, device, splits, key, ledger, exclusive=True).storage
            for variant in variants:
                clear_dead(f"{study.name}/{variant.name}", trials)
        code = workers.spawn(argv, study.workers, device, out, ledger, total)
        failures = [f"a worker exited with code {code}: see {out}/worker-*.log"] if code else []
        return _finish(study, ledger, failures)
    runner = Runner(study, device, splits, key, ledger, exclusive=lock is not None and study.workers == 1)
    try:
        with tqdm(total=total, desc="runs", unit="run", position=0, file=sys.stderr) as bars:
            for variant in variants:
                try:
                    runner.variant(variant, bars)
                except BenchError:
                    raise  # the folder or database cannot be written: stop, say so
                except Exception as e:  # noqa: BLE001 - one variant's crash must not stop the others
                    log.debug("variant %s failed", variant.name, exc_info=True)
                    where = traceback.extract_tb(e.__traceback__)[-1]
                    runner.failures.append(f"{variant.name}: {type(e).__name__}: {e} "
                                           f"({Path(where.filename).name}:{where.lineno})")
            runner.sweep_up(bars)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished trials and runs are kept in {out}; run the same command again to resume",
              file=sys.stderr)
        _export(study, ledger)
        if store.load(out):
            report.render(out)  # the partial report says which runs are missing
        return 130
    return _finish(study, ledger, runner.failures)


def _export(study: Study, ledger: Ledger) -> None:
    """A shared database's records into the study folder, where the report reads them."""
    if isinstance(ledger, SqlLedger):
        ledger.export(study.out_dir)


def _finish(study: Study, ledger: Ledger, failures: list[str]) -> int:
    out = study.out_dir
    _export(study, ledger)
    print(report.render(out))
    refresh_index(out)
    for failure in failures:
        print(f"FAILED {failure}")
    print(f"\nwrote {out / 'results.csv'} and {out / 'index.html'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
