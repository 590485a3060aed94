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

from bench.report.cli import main, render_any
from bench.report.index import write_index
from bench.report.speed import render_speed
from bench.report.study import banner, caveats, facts, render
from bench.report.sweep import render_sweep

__all__ = ["banner", "caveats", "facts", "main", "render", "render_any", "render_speed", "render_sweep", "write_index"]
