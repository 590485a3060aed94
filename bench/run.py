"""The command line, and the only place that knows the order of the stages.

    python -m bench.run study=lesson data.root=../shared/data/ag_news_first10k
    python -m bench.run study=packing cell=[lstm,gru] train.epochs=2 measure.seeds=3
    python -m bench.run --help

config -> variants -> data -> measured runs (train + measure) -> records -> report.
Bad input exits 2 with one line before anything is written; re-running a command resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from dataclasses import asdict

from tqdm import tqdm

from bench import data, report, store
from bench.config import KEYS, Study, list_studies, load_study
from bench.errors import BenchError
from bench.measure import environment, resolve_device
from bench.train import Diverged, Params, fit
from bench.variants import AXES, Variant

log = logging.getLogger("bench")


def help_text() -> str:
    studies = "\n".join(f"  {name:<12} {desc}" for name, desc in list_studies().items())
    keys = "\n".join(f"  {key:<28} {default!r}" for key, default in KEYS.items()
                     if key not in ("scientific", "fixed", "exclude", "variants", "reference"))
    return f"""usage: python -m bench.run study=NAME [key=value ...]   (Hydra override grammar)

studies:
{studies}

variant axes (replace the study's values): {', '.join(AXES)}
  e.g. cell=gru  cell=[lstm,gru]  layers=[1,2,3]  bidirectional=[false,true]

keys (default):
{keys}

re-render a report from stored records: python -m bench.report study=NAME"""


def params_of(study: Study) -> Params:
    t, m = study.train, study.model
    return Params(lr=t.lr, batch_size=t.batch_size, weight_decay=t.weight_decay, clip=t.clip, epochs=t.epochs,
                  embed_dim=m.embed_dim, hidden_size=m.hidden_size, dropout=m.dropout)


def fingerprint(study: Study, params: Params, data_key: str, device: str) -> str:
    """What must match for a stored run to count as done: data, hyperparameters, device."""
    settings = {"data": data_key, "params": asdict(params), "curve_every": study.train.curve_every,
                "eval_batch_size": study.train.eval_batch_size, "device": device}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _prepare(argv: list[str]):
    """Everything that can fail on bad input, before anything is written."""
    study = load_study(argv)
    device = resolve_device(study.device)
    variants = study.expand()
    splits = data.load(study.data)
    params = params_of(study)
    key = fingerprint(study, params, splits.info["cache_key"], str(device))
    records = store.load(study.out_dir)
    stale = {r.get("fingerprint") for r in records} - {key}
    if stale:
        raise BenchError(f"{study.out_dir} holds results made with other settings: choose another out=FOLDER, "
                         "or move that folder away to start over")
    return study, device, variants, splits, params, key, records


def _measure(study, device, variants, splits, params, key, records) -> list[str]:
    """Train every (variant, seed) not already stored; append a record after each one."""
    env = environment(device)
    finished = store.done(records, key)
    todo = [(v, s) for v in variants for s in study.seeds if (v.name, s) not in finished]
    failures = []
    if len(todo) < len(variants) * len(study.seeds):
        print(f"resuming: {len(variants) * len(study.seeds) - len(todo)} run(s) already in {study.out_dir}")
    per_run = params.epochs * len(splits.train)
    with tqdm(total=len(todo), desc="runs", unit="run", position=0, file=sys.stderr) as runs:
        for variant, seed in todo:
            with tqdm(total=per_run, desc=f"{variant.name} seed {seed}", unit="sample", unit_scale=True,
                      leave=False, position=1, file=sys.stderr) as bar:
                try:
                    result = fit(variant, params, splits, seed, device, study.train.curve_every,
                                 study.train.eval_batch_size, on_step=bar.update)
                except Diverged as e:
                    failures.append(f"{variant.name} seed {seed}: {e}")
                    runs.update()
                    continue
            store.append(study.out_dir, store.make_record(
                study=study.name, variant=variant, seed=seed, params=params, fit=result,
                data_info=splits.info, env=env, fingerprint=key))
            runs.update()
    return failures


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("--help", "-h") or a.lower() == "help=true" for a in argv):
        print(help_text())
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        study, device, variants, splits, params, key, records = _prepare(argv)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = study.out_dir
    for note in splits.info["notes"]:
        print(note)
    print(f"study {study.name}: {len(variants)} variant(s) x {len(study.seeds)} seed(s) on {device} -> {out}")
    out.mkdir(parents=True, exist_ok=True)
    store.save_study(out, {**asdict(study), "data_info": splits.info})
    try:
        failures = _measure(study, device, variants, splits, params, key, records)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are kept in {out}; run the same command again to resume",
              file=sys.stderr)
        return 130
    print(report.render(out))
    for failure in failures:
        print(f"FAILED {failure}")
    print(f"\nwrote {out / 'results.csv'} and {out / 'index.html'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
