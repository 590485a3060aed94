"""The study page: self-contained, escaped, and showing every section."""

import json
import re

from bench import store
from bench.report import render

from .conftest import record


def _study(out, name="t", label="lstm"):
    out.mkdir()
    store.save_study(out, {"name": name, "description": "Does packing help?",
                           "command": "python -m bench.run study=t",
                           "planned": {"variants": ["lstm-padded-l1-true_last", "lstm-packed-l1"], "seeds": [0, 1]}})
    for r in [record("lstm-padded-l1-true_last", 0, test_acc=0.5), record("lstm-padded-l1-true_last", 1, test_acc=0.52),
              record("lstm-packed-l1", 0, test_acc=0.8, dataset=f"{label}")]:
        r["study"] = name
        store.write_records(out, [*store.load(out), r])
    return out


def test_page_is_self_contained_and_complete(tmp_path):
    out = _study(tmp_path / "s")
    render(out)
    page = (out / "index.html").read_text()
    assert "<script" not in page and not re.search(r"""(src|href)=['"]?(https?:)?//""", page)
    assert page.count("<img src='data:image/svg+xml;base64,") >= 5
    for needle in ("Does packing help?", "python -m bench.run study=t", "cpu x2", "torch 2.13.0", "abc",
                   "INCOMPLETE: 1 of 4 planned runs are missing (lstm-packed-l1 seed(s) 1)", "SMALL BUDGET",
                   "id='leaderboard-table'", "Effects of each axis", "padded → packed", "<details>",
                   'name="viewport"', "@media print"):
        assert needle in page, needle
    for name in ("results.csv", "summary.csv", "effects.csv", "leaderboard.md", "epochs.csv", "curves.csv"):
        assert (out / name).is_file() and f"href='{name}'" in page


def test_every_stored_string_is_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    out = _study(tmp_path / "s", name=evil, label=evil)
    render(out)
    page = (out / "index.html").read_text()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_password_in_a_storage_url_is_not_stored(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    store.save_study(out, {"storage": "postgresql://bob:hunter2@db:5432/x", "command": "storage=x://u:pw@h/d"})
    text = (out / "study.json").read_text()
    assert "hunter2" not in text and ":pw@" not in text and "bob:***@db" in text
    assert json.loads(text)["storage"] == "postgresql://bob:***@db:5432/x"


def test_banner_names_every_setting_that_changes_the_maths_or_the_speed():
    """Sparse Adam, torch.compile and mixed devices each get a warning line; plain runs get none."""
    from bench.record import StudyDoc
    from bench.report.study import banner, warnings
    study = StudyDoc(planned={"variants": ["lstm-padded"], "seeds": [0, 1]})
    plain = [record("lstm-padded", s, budget=None) for s in (0, 1)]
    assert banner(warnings(plain, study)) == []
    lazy = [record("lstm-padded", 0, budget=None, hyperparameters={"sparse_embedding": True}),
            record("lstm-padded", 1, budget=None, device_name="NVIDIA H100", hyperparameters={"compile": True})]
    lines = banner(warnings(lazy, study))
    assert [line.split(":")[0] for line in lines] == ["TORCH.COMPILE", "SPARSE ADAM", "MIXED DEVICES"]
    assert "1 of 2 run(s) ran under torch.compile" in lines[0] and "TORCH_LOGS=graph_breaks" in lines[0]
    assert "1 of 2 run(s) trained with train.sparse_embedding=true: torch.optim.SparseAdam" in lines[1]


def test_the_question_says_the_data_a_command_line_chose():
    """study=smoke data.name=csv: the page must not call the CSV synthetic on the study file's word (issue 24)."""
    from bench.report.page import question
    from bench.record import StudyDoc
    smoke = {"description": "Does the whole pipeline run? Synthetic data, tiny models.", "command":
             "python -m bench.run study=smoke data.name=csv data.csv.train=x.csv"}
    said = "(Run here on csv data: data.name was given on the command line.)"
    assert question(StudyDoc(**smoke, data_named="csv")).endswith(said)  # the flag the run stores
    assert question(StudyDoc.model_validate(smoke)).endswith(said)  # an older study.json: read from its command
    plain = StudyDoc.model_validate({**smoke, "command": "python -m bench.run study=smoke"})
    assert question(plain) == smoke["description"]


def test_a_process_lifetime_memory_figure_gets_no_star_no_ratio_and_the_page_says_why(tmp_path):
    """Issue 34 item 4: where a run's own CPU memory could not be read (no fork, no /proc), or in records made
    before it was (`cpu_process_peak_rss`), the figures follow the order the runs ran in: shown, never compared."""
    from bench.report import board as board_, effects as fx, tables
    for kind in ("cpu_process_peak_rss_since_start", "cpu_process_peak_rss"):
        records = [record(v, s, test_acc=0.5 + s / 100, peak_mem_mb=100.0 + 10 * s + 50 * ("packed" in v),
                          memory_kind=kind) for v in ("lstm-padded-l1-true_last", "lstm-packed-l1") for s in range(3)]
        summary = tables.summarize(records)
        assert not board_.leaderboard(summary).best["peak MiB"].any()
        row = fx.effects(records, summary).iloc[0]
        assert row["memory_kind"] == kind and row["memory_ratio"] != row["memory_ratio"]  # NaN: no ratio
    out = tmp_path / "s"
    out.mkdir()
    store.save_study(out, {"name": "t", "command": "python -m bench.run study=t"})
    store.write_records(out, [{**r, "study": "t"} for r in records])
    render(out)
    page = (out / "index.html").read_text()
    assert "No ★ on peak MiB and no memory × here" in page and "follows the order the runs ran in" in page
    fresh = [{**r, "memory_kind": "cpu_fresh_process_peak_rise"} for r in records]
    summary = tables.summarize(fresh)
    assert board_.leaderboard(summary).best["peak MiB"].any()
    assert fx.effects(fresh, summary).iloc[0]["memory_ratio"] > 1


def test_the_page_says_what_bound_each_run(tmp_path):
    """Issue 34 item 5: a run bound by training samples says so, with its epoch cap and the rows it was derived
    from, in the page's budget line, on the leaderboard and in the at-the-cap note, which names the key to raise."""
    out = tmp_path / "s"
    out.mkdir()
    store.save_study(out, {"name": "t", "command": "python -m bench.run study=t",
                           "train": {"epochs": None, "samples": 2000, "patience": 2},
                           "tune": {"trials": 2, "sampler": "tpe", "epochs": None, "samples": 500},
                           "planned": {"variants": ["lstm-packed-l1"], "seeds": [0, 1]}})
    store.write_records(out, [record("lstm-packed-l1", s, test_acc=0.8 + 0.01 * s, epochs=e, best_epoch=k,
                                     epoch_cap=22, tuned=True, tune_best_val=0.7, train_rows=90,
                                     hyperparameters={"epochs": None, "samples": 2000, "lr": 0.001})
                              for s, e, k in ((0, 9, 7), (1, 22, 22))])
    render(out)
    page = (out / "index.html").read_text()
    for needle in ("2 tpe trial(s) per variant on validation accuracy, each of at most 5 epoch(s) (tune.samples=500 "
                   "over 90 training rows), then each seed of at most 22 epoch(s) (train.samples=2,000 over 90 "
                   "training rows), early stopping after 2 epoch(s)",
                   "per seed 7/9 22/22; cap 22 (train.samples=2,000 over 90 training rows); ⚠ 1 seed(s) kept the "
                   "cap&#39;s last epoch: may still improve with a higher train.samples",
                   "still improving at the epoch cap: lstm-packed-l1 (raise train.samples)"):
        assert needle in page, needle
