"""rnnbench: benchmark and ablate recurrent text classifiers.

Stages (one module each, data flows one way):
config -> variants -> (tuned) params -> measured runs (train + measure) -> records (store) -> report.

From Python: `bench.run_study(...)` runs a study and returns its summary, `bench.load(folder)` reads a study
folder's tables (bench.api). Both import torch and pandas only when called.
"""

__version__ = "0.1.0"


def run_study(study: str, *overrides: str, **keys):
    """Run (or resume) a study as `python -m bench.run` does; its summary DataFrame. See bench.api."""
    from bench.api import run_study as run
    return run(study, *overrides, **keys)


def load(folder):
    """A study folder's tables as DataFrames (summary, results, effects, epochs, curves, ...). See bench.api."""
    from bench.api import load as load_tables
    return load_tables(folder)
