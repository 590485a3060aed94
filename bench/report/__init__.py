"""Reports, rebuilt from stored records alone (this package never imports torch).

    python -m bench.report study=packing          # re-render reports/packing/
    python -m bench.report out=path/to/results    # or any output folder
    python -m bench.report                        # every study under reports/, and reports/index.html

A study folder gets results.csv (one row per run), epochs.csv and curves.csv (per epoch, within
epochs), summary.csv (one row per variant), effects.csv (one row per paired comparison),
leaderboard.md and a self-contained index.html. The tables are pure functions of the records
(bench.report.tables, .effects), figures are data first (.plots) then drawn (.draw), the page
only lays them out (.page).
"""

import importlib

# Imported on first use (PEP 562), so `python -m bench.report --help` or a mistyped key answers at once.
_WHERE = {"render_any": "index", "rerender": "index", "write_index": "index", "render_speed": "speed",
          "warnings": "study", "facts": "study", "compute": "study", "read": "study", "write": "study",
          "render": "study", "render_sweep": "sweep"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'bench.report' has no attribute '{name}'")
    return getattr(importlib.import_module(f"bench.report.{_WHERE[name]}"), name)
