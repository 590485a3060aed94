"""rnnbench from Python (a script, a notebook): run a study, load any finished study folder as DataFrames.

    import bench
    summary = bench.run_study("smoke", "measure.seeds=2", budget="smoke")   # as `python -m bench.run ...`
    tables = bench.load("reports/smoke")                                      # what the page shows
    tables.summary[["test_acc_mean", "epoch_time_s", "peak_mem_mb"]]

`run_study` takes the command line's words, either as strings (`"train.lr=3e-3"`) or as keyword arguments for
keys without a dot (`budget="smoke"`, `cell=["lstm", "gru"]`, `out="/tmp/x"`); it runs (or resumes) the study
exactly as the command line does, then returns its summary, one row per variant. A mistake raises
`bench.errors.BenchError` with the command line's one-line message.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from bench.errors import BenchError

if TYPE_CHECKING:  # `import bench` stays light: pandas and torch come with the first call
    import pandas as pd


def run_study(study: str, *overrides: str, **keys: Any) -> pd.DataFrame:
    """Run (or resume) `study` with the command line's overrides; its summary table (one row per variant).

    Raises BenchError when the input is wrong (the message the command line prints), or when no run finished,
    and KeyboardInterrupt when interrupted (what finished is kept). Runs that failed while others finished are
    listed in a warning (and on the page), not raised."""
    import warnings

    from bench.config import as_word, load_study
    checked = load_study([f"study={study}", *overrides, *(f"{k}={as_word(v)}" for k, v in keys.items())])
    with callers_state():
        from bench import pipeline, runs
        runs.quiet()
        outcome = pipeline.run(checked)
    if outcome.interrupted:
        raise KeyboardInterrupt
    if not outcome.finished:
        raise BenchError(f"no run of {study} finished: its trials are kept in {outcome.out}; the failures: "
                         + "; ".join(outcome.failures))
    if outcome.failures:
        warnings.warn(f"some runs of {study} failed ({'; '.join(outcome.failures)}); the summary holds the ones that "
                      "finished", stacklevel=2)
    return load_sweep(outcome.out) if checked.sweep else load(outcome.out).summary


@contextlib.contextmanager
def callers_state() -> Iterator[None]:
    """Run a study inside the caller's process and leave it as it was: the random states (Python's, NumPy's, torch's
    and CUDA's), torch's thread count, Optuna's log level, the warning filters and matplotlib's rcParams."""
    import random
    import warnings

    import matplotlib
    import numpy as np
    import optuna
    import torch
    saved = (random.getstate(), np.random.get_state(), torch.get_rng_state(), torch.get_num_threads(),
             optuna.logging.get_verbosity(), torch.backends.cudnn.benchmark)
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    with warnings.catch_warnings(), matplotlib.rc_context():
        try:
            yield
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.set_rng_state(saved[2])
            torch.set_num_threads(saved[3])
            optuna.logging.set_verbosity(saved[4])
            torch.backends.cudnn.benchmark = saved[5]
            if cuda is not None:
                torch.cuda.set_rng_state_all(cuda)


def load(folder: str | Path):
    """A finished (or partly finished) study folder's tables as DataFrames, computed from its records: the same
    tables its page shows and its CSV files hold (bench.report.study.Tables: summary, results, effects, epochs,
    curves, leaderboard, study). A study name is read as reports/NAME."""
    from bench.report.study import compute, read
    out = Path(folder)
    if not out.exists() and not out.is_absolute() and len(out.parts) == 1:
        out = Path("reports") / out
    tables = compute(*read(out)) if out.is_dir() else None
    if tables is None:
        raise BenchError(f"no records in '{out}': give a study folder (reports/NAME) of a run that finished at "
                         "least one seed")
    return tables


def load_sweep(folder: str | Path) -> pd.DataFrame:
    """A sweep folder's table: every point's summary stacked, with the swept keys as columns (read: writes nothing)."""
    from bench.report.sweep import sweep_table, sweep_tables
    computed, points = sweep_tables(Path(folder))
    frame, _ = sweep_table(points, computed)
    if frame.empty:
        raise BenchError(f"no records under '{folder}' yet")
    return frame
