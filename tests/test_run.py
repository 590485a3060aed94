"""The CLI end to end on tiny data: records, tables, resume, and bad input (exit 2, nothing written)."""

import html
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import bench.pipeline as pipeline
import bench.run as run
from bench import store
from tests.conftest import SHARED_AG_NEWS, needs_shared, over

ROOT = Path(__file__).resolve().parents[1]
TINY = ["study=smoke", "data.synthetic.n_train=120", "data.synthetic.n_test=40", "train.epochs=1",
        "cell=[rnn,gru]", "tune.trials=0", "measure.seeds=1"]  # the untuned path; tests/test_tune.py tunes


def test_smoke_study_writes_records_results_curves_and_html(tmp_path, capsys):
    out = tmp_path / "smoke"
    assert run.main([*over(TINY, "measure.seeds=2", "train.curve_every=32"), f"out={out}"]) == 0
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 8 and sorted(results["variant"].unique()) == ["gru-packed-l1-true_last",
                                                                          "gru-padded-l1-true_last",
                                                                          "rnn-packed-l1-true_last",
                                                                          "rnn-padded-l1-true_last"]
    required = ["study", "variant", "cell", "packing", "bidirectional", "layers", "readout", "seed", "params",
                "train_acc", "val_acc", "test_acc", "epochs", "epoch_time_s", "samples_per_s", "tokens_per_s",
                "padded_tokens_per_s", "pad_fraction", "peak_mem_mb", "memory_kind", "device", "torch_version",
                "dataset_rows", "partial_data", "hyperparameters"]
    assert not set(required) - set(results.columns)
    assert (results["tokens_per_s"] < results["padded_tokens_per_s"]).all()
    assert json.loads(results["hyperparameters"][0])["hidden_size"] == 16
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns[:5]) == ["variant", "seed", "epoch", "samples", "running_acc"] and len(curves) == 8 * 3
    page = (out / "index.html").read_text()
    assert "rnn-packed-l1-true_last" in page and "data:image/svg+xml;base64," in page
    captured = capsys.readouterr()
    printed = captured.out
    assert "gru-padded-l1-true_last" in printed and "s/epoch" in printed
    assert max(len(line.replace(str(out), "OUT")) for line in printed.splitlines()) <= 120  # the rest is in the files
    assert "\r" not in captured.err and "\x1b" not in captured.err  # not a terminal: plain progress lines
    assert "runs: 8/8 run (100%)" in captured.err and "done" in captured.err
    assert results["hp.hidden_size"].eq(16).all()
    for name in ("accuracy-vs-time", "seed-spread"):
        assert (out / "figures" / f"{name}.svg").read_text().startswith("<?xml")
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_bound_by_samples_get_the_epoch_caps_their_rows_allow_and_say_so(tmp_path, capsys):
    """Issue 34 item 5 end to end: tune.samples and train.samples become epoch caps over the training rows (108 of
    the 120 generated), which the trials and the seed runs keep, the records store and the run's first line says."""
    out = tmp_path / "b"
    argv = [*over(TINY, "cell=rnn", "tune.trials=1", "train.epochs=null"), "train.samples=540", "tune.samples=216",
            "tune.pruner=none", "train.patience=null", f"out={out}"]
    assert run.main(argv) == 0
    records = store.load(out)
    assert [(r["epochs"], r["epoch_cap"], r["train_rows"]) for r in records] == [(5, 5, 108)] * 2
    assert all(r["hyperparameters"]["samples"] == 540 and r["hyperparameters"]["epochs"] is None for r in records)
    tuning = json.loads((out / "tuning.json").read_text())
    assert {doc["trial_epoch_cap"] for doc in tuning.values()} == {2}
    import optuna
    storage = f"sqlite:///{out / 'optuna.db'}"
    trials = [t for name in optuna.get_all_study_names(storage) if "/" in name and not name.endswith("/seeds")
              for t in optuna.load_study(study_name=name, storage=storage).trials]
    assert trials and all(sorted(k for k in t.user_attrs if k.startswith("epoch ")) == ["epoch 1", "epoch 2"]
                          for t in trials)
    said = capsys.readouterr().out
    assert ("1 tpe trial(s) per variant of at most 2 epoch(s) (tune.samples=216 over 108 training rows), 1 seed(s) "
            "of at most 5 epoch(s) (train.samples=540 over 108 training rows)") in said


def test_rerun_resumes_and_a_torn_record_is_redone(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    argv = [*TINY, f"out={out}"]
    assert run.main(argv) == 0
    lines = (out / "records.jsonl").read_text().splitlines()
    assert len(lines) == 4

    def no_training(*a, **k):
        raise AssertionError("a finished run was trained again")
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "fit", no_training)
        assert run.main(argv) == 0 and "resuming: 4 run(s)" in capsys.readouterr().out
    # as if killed while writing the third record: two whole lines and a torn one
    (out / "records.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])
    assert run.main(argv) == 0
    records = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines() if l != lines[2][:40]]
    keys = [(r["variant"], r["seed"]) for r in records]
    assert len(keys) == len(set(keys)) == 4


def test_other_settings_in_the_same_folder_are_refused(tmp_path, capsys):
    out = tmp_path / "o"
    assert run.main([*TINY, f"out={out}"]) == 0
    assert run.main([*TINY, f"out={out}", "train.lr=0.5"]) == 2
    assert "holds results made with other settings" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["study=nosuch"], "unknown study 'nosuch'"),
    (["study=packing", "cell=foo"], "use one of rnn, lstm, gru"),
    (["study=packing", "train.lrr=0.1"], "did you mean 'train.lr'"),
    (["study=packing", "data.root=/nonexistent/ag"], "data.root=FOLDER on the command line, the environment variable"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "bench.run", *args, f"out={out}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and message in proc.stderr and proc.stderr.count("\n") == 1
    assert not out.exists()


def test_help_lists_studies_and_keys():
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0
    for word in ("lesson", "packing", "smoke", "data.root", "train.epochs", "measure.seeds", "cell=[lstm,gru]"):
        assert word in proc.stdout


@needs_shared
def test_lesson_study_on_shared_ag_news_reports_partial_split(tmp_path, capsys):
    out = tmp_path / "lesson"
    argv = ["study=lesson", f"data.root={SHARED_AG_NEWS}", "data.max_train=400", "variants=[lstm-packed-l1-shifted]",
            f"out={out}"]
    assert run.main(argv) == 0
    printed = capsys.readouterr().out
    assert "PARTIAL" in printed and "0.814" in printed  # the lesson's figure beside ours
    results = pd.read_csv(out / "results.csv")
    assert results["partial_data"].all() and (results["dataset_rows"] == 10_429).all()
    page = (out / "index.html").read_text()
    assert "PARTIAL DATA" in page
    assert "HARNESS KERNELS" not in page and "nn.LSTM" not in page  # torch's own modules, nothing else to say


def test_interrupt_keeps_finished_runs_and_writes_a_partial_report(tmp_path, monkeypatch):
    out = tmp_path / "s"
    measure = pipeline._measure
    calls = []

    def interrupted(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return measure(*args)

    monkeypatch.setattr(pipeline, "_measure", interrupted)
    argv = ["study=smoke", "data.synthetic.n_train=80", "data.synthetic.n_test=20", "tune.trials=0",
            "measure.seeds=2", "cell=[rnn,lstm]", "packing=packed", f"out={out}"]
    assert run.main(argv) == 130
    page = (out / "index.html").read_text()
    assert "INCOMPLETE: 2 of 4 planned runs are missing" in page
    monkeypatch.setattr(pipeline, "_measure", measure)
    assert run.main(argv) == 0
    assert "INCOMPLETE" not in (out / "index.html").read_text() and len(store.load(out)) == 4


def test_profile_writes_a_trace_of_every_variant_and_the_page_names_what_ran(tmp_path):
    """Issue 25 item 2: a packed and a padded run are told apart by the operators they executed."""
    out = tmp_path / "p"
    assert run.main(over(TINY, "cell=[gru]", "profile=true", f"out={out}")) == 0
    traces = sorted(p for p in out.glob("profile-*.json") if not p.name.endswith(".top.json"))
    assert [p.name for p in traces] == ["profile-gru-packed-l1-true_last.json", "profile-gru-padded-l1-true_last.json"]
    events = json.loads(traces[0].read_text())["traceEvents"]
    steps = {e["name"] for e in events if e.get("name", "").startswith("train_step_")}
    assert steps == {f"train_step_{i}" for i in range(8)}
    tops = {p.name: json.loads(p.read_text()) for p in out.glob("profile-*.top.json")}
    packed = {o["name"] for o in tops["profile-gru-packed-l1-true_last.top.json"]["operators"]}
    padded = {o["name"] for o in tops["profile-gru-padded-l1-true_last.top.json"]["operators"]}
    assert packed != padded and all(o["ms_per_step"] > 0 for o in tops["profile-gru-packed-l1-true_last.top.json"]
                                    ["operators"])
    page = (out / "index.html").read_text()
    assert "What ran (profile=true)" in page and "operator (own CPU time)" in page
    assert html.escape(next(iter(packed))) in page


def test_a_folder_made_by_the_journal_and_claims_release_is_refused(tmp_path, capsys):
    out = tmp_path / "old"
    out.mkdir()
    (out / "optuna.journal").write_text("")
    assert run.main([*TINY, f"out={out}"]) == 2
    assert capsys.readouterr().err == (f"error: {out} was made by an earlier rnnbench (a journal file and a claims "
                                       "file): add resume=false to start over in a fresh folder, or choose another "
                                       "out=FOLDER\n")
    assert sorted(p.name for p in out.iterdir()) == ["optuna.journal"], "nothing written"


def test_ctrl_c_inside_a_librarys_clean_up_still_counts_as_an_interrupt():
    """Optuna's optimize() can fail in its own `finally` when Ctrl-C lands in its bookkeeping (an
    UnboundLocalError whose context is the KeyboardInterrupt): that is an interrupt, not a failed variant."""
    try:
        try:
            raise KeyboardInterrupt
        finally:
            raise UnboundLocalError("cannot access local variable 'updated_state'")
    except UnboundLocalError as e:
        assert pipeline._interrupted(e)
    assert not pipeline._interrupted(ValueError("a real failure"))


def test_imdb_packing_runs_end_to_end_on_a_tiny_imdb(tmp_path, capsys):
    words = ["good", "great", "fine", "bad", "awful", "dull"]
    rows = [f'"{1 + (i % 2)}","","{" ".join(words[(i % 2) * 3 + j % 3] for j in range(5 + i % 30))}<br />end"'
            for i in range(120)]
    for split in ("train", "test"):
        (tmp_path / f"{split}.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "imdb"
    argv = ["study=imdb_packing", f"data.root={tmp_path}", "budget=null", "tune.trials=0", "measure.seeds=1",
            "train.epochs=1", "measure.timing_steps=3", "data.max_len=20", "data.min_freq=1", f"out={out}"]
    assert run.main(argv) == 0
    printed = capsys.readouterr().out
    assert "lstm-packed-l1-bucketed" in printed and "IMDB rows: train 120" in printed
    assert "read: at most 20 tokens (head)" in (out / "index.html").read_text()
