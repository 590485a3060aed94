"""A folder written by an earlier rnnbench still renders, to the same tables: the records' defaults (bench.record)
are the one compatibility layer. The fixture is study=smoke as 444c0b3 wrote it (records.jsonl, study.json,
tuning.json) and the tables that commit rendered from them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench.report.study import render

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "head-444c0b3"
TABLES = sorted(p.name for p in (FIXTURE / "tables").iterdir())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("frozen")
    for name in ("records.jsonl", "study.json", "tuning.json"):
        shutil.copy(FIXTURE / name, out / name)
    render(out)
    return out


# What changed on purpose since 444c0b3, and nothing else: flags, not prose, between the stages (issue 32)
SCORES = {"test_macro_f1", "val_macro_f1"}  # issue 34: per-class scores (empty here: 444c0b3 scored none)
ADDED = {"effects.csv": {"timed"},  # whether the pair had a timing pass (was read from time_basis's words)
         "results.csv": {"steps_to_kept", "test_confusion", "label_names", "metric", "epoch_cap"} | SCORES,
         "summary.csv": {"steps_to_kept", "metric", "epoch_bound"} | {f"{m}_{s}" for m in SCORES
                                                                      for s in ("mean", "std", "ci")}}
# Issue 34 item 5: a run's epoch cap is stored (older records: none, their cap is train.epochs, which bound them)
BOUND = {"results.csv": ("epoch_cap", {""}), "summary.csv": ("epoch_bound", {"train.epochs"})}
# Issue 34: 444c0b3's CPU memory (cpu_process_peak_rss) was the process's, in the order its runs ran: it is shown,
# but no ratio divides it and no star marks it (bench.record.comparable_memory)
UNCOMPARED = {"effects.csv": "memory_ratio"}
KINDS = {"summary.csv": {"seeds_stop": {"decided", "cap", "unfinished", "no_sequential", "not_comparable",
                                        "no_pair"}}}  # why a variant's seeds stopped, a kind (was its words)


@pytest.mark.parametrize("name", TABLES)
def test_an_old_folder_renders_the_same_tables(rendered, name):
    if not name.endswith(".csv"):
        old = (FIXTURE / "tables" / name).read_text()
        if name == "leaderboard.md":  # the peak MiB column's star (bold) is gone, and nothing else changed
            old = old.replace("| **553.2** |", "| 553.2 |")
        assert (rendered / name).read_text() == old, name
        return
    new, old = (pd.read_csv(folder / name, dtype=str, keep_default_na=False) for folder in (rendered, FIXTURE / "tables"))
    assert set(new.columns) - set(old.columns) == ADDED.get(name, set()) and set(old.columns) <= set(new.columns)
    if name in BOUND:
        column, values = BOUND[name]
        assert set(new[column]) == values, (name, column)
    for column in old.columns:
        if column == UNCOMPARED.get(name):
            assert set(new[column]) == {""} and set(old[column]) != {""}, (name, column)
        elif column in KINDS.get(name, {}):
            assert set(new[column]) <= KINDS[name][column], (name, column)
        else:
            assert new[column].tolist() == old[column].tolist(), (name, column)


def test_an_old_folder_renders_a_page(rendered):
    page = (rendered / "index.html").read_text()
    assert "rnn-packed-l1-true_last" in page and "NOTHING LEARNED" not in page
