"""A folder written by an earlier rnnbench still renders, to the same tables: the records' defaults (bench.record)
are the one compatibility layer. The fixture is study=smoke as 444c0b3 wrote it (records.jsonl, study.json,
tuning.json) and the tables that commit rendered from them."""

from __future__ import annotations

import shutil
from pathlib import Path

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


@pytest.mark.parametrize("name", TABLES)
def test_an_old_folder_renders_the_same_tables(rendered, name):
    assert (rendered / name).read_text() == (FIXTURE / "tables" / name).read_text(), name


def test_an_old_folder_renders_a_page(rendered):
    page = (rendered / "index.html").read_text()
    assert "rnn-packed-l1-true_last" in page and "NOTHING LEARNED" not in page
