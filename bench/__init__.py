"""rnnbench: benchmark and ablate recurrent text classifiers.

Stages (one module each, data flows one way):
config -> variants -> (tuned) params -> measured runs (train + measure) -> records (store) -> report.

From Python: `bench.run_study(...)` runs a study and returns its summary, `bench.load(folder)` reads a study
folder's tables (bench.api). Both import torch and pandas only when called.
"""

__version__ = "0.1.0"


from bench.api import load, run_study  # noqa: E402 - light: torch and pandas come with the first call

__all__ = ["load", "run_study"]
