"""rnnbench: benchmark and ablate recurrent text classifiers.

Stages (one module each, data flows one way):
config -> variants -> (tuned) params -> measured runs (train + measure) -> records (store) -> report.
"""

__version__ = "0.1.0"
