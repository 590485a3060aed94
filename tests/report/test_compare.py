"""compare=[A,B]: does a second run of a study reproduce the first? Built from the two folders' records alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench import cli
from bench.report.compare import compare

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "head-444c0b3"
LOST = "gru-packed-l1-true_last"


def folder(root: Path, name: str, change=lambda r: r) -> Path:
    """A copy of the frozen smoke folder, each record passed through `change`."""
    out = root / name
    out.mkdir()
    for f in ("study.json", "tuning.json"):
        shutil.copy(FIXTURE / f, out / f)
    lines = [json.loads(line) for line in (FIXTURE / "records.jsonl").read_text().splitlines()]
    (out / "records.jsonl").write_text("".join(json.dumps(change(dict(r))) + "\n" for r in lines))
    return out


def test_a_copy_reproduces_on_every_variant_and_every_effect(tmp_path, capsys):
    a, b = folder(tmp_path, "a"), folder(tmp_path, "b")
    assert cli.report([f"compare=[{a},{b}]", f"out={tmp_path / 'ab'}"]) == 0
    rows = pd.read_csv(tmp_path / "ab" / "compare.csv")
    assert set(rows["verdict"]) == {"reproduced"} and set(rows["design"]) == {"paired"} and len(rows) == 6
    out = capsys.readouterr().out
    assert "6 of 6 variant(s) reproduced within ±0.01 accuracy." in out and "7 of 7 effect verdict(s)" in out
    page = (tmp_path / "ab" / "index.html").read_text()
    assert "Nothing recorded differs" in page and "DIFFERENT" not in page


def test_a_planted_loss_differs_and_fails_a_regression_gate(tmp_path, capsys):
    a = folder(tmp_path, "a")
    b = folder(tmp_path, "b", lambda r: {**r, "test_acc": r["test_acc"] - 0.2} if r["variant"] == LOST else r)
    c = compare(a, b)
    row = c.variants.set_index("variant").loc[LOST]
    assert row["verdict"] == "differs" and row["delta"] == pytest.approx(-0.2)
    assert set(c.variants.set_index("variant").drop(LOST)["verdict"]) == {"reproduced"}
    assert f"{LOST} differs (-0.2000, paired)." in c.sentences()
    assert cli.report([f"compare=[{a},{b}]", f"out={tmp_path / 'ab'}"]) == 0  # no gate asked for: exit 0
    assert cli.report([f"compare=[{a},{b}]", f"out={tmp_path / 'ab'}", "fail_on=regression"]) == 1
    assert f"REGRESSION: {LOST} accuracy -0.2000" in capsys.readouterr().out


def test_what_differs_is_listed_and_other_data_is_boxed(tmp_path):
    a = folder(tmp_path, "a")
    b = folder(tmp_path, "b", lambda r: {**r, "cpu_threads": 1, "torch_version": "2.12.0", "dataset_rows": 500})
    c = compare(a, b)
    differs = {what: (x, y) for what, x, y in c.differences}
    assert differs["cpu_threads"] == ("2", "1") and differs["torch_version"] == ("2.13.0+cpu", "2.12.0")
    assert "dataset_rows" in differs and c.boxes[0].startswith("DIFFERENT DATA")


def test_a_missing_folder_or_a_bad_list_is_one_line(tmp_path, capsys):
    a = folder(tmp_path, "a")
    assert cli.report([f"compare=[{a},{tmp_path / 'nope'}]"]) == 2
    assert "holds no records.jsonl" in capsys.readouterr().err
    assert cli.report([f"compare=[{a}]"]) == 2
    assert "compare= takes two study folders, got 1" in capsys.readouterr().err
    assert cli.report(["fail_on=regression"]) == 2
    assert not (Path("reports") / "compare-a-nope").exists()


def test_reproduce_reruns_a_folders_stored_study_at_its_tuned_settings_and_compares(tmp_path, capsys):
    """bench.run reproduce=FOLDER: the stored settings and seeds (not its command line), the stored tuned settings
    re-trained (reproduce.tune=false), then the comparison beside the new folder."""
    from bench import run
    first = tmp_path / "smoke"
    assert run.main(["study=smoke", "cell=[gru]", "data.synthetic.n_train=200", "data.synthetic.n_test=40",
                     "tune.trials=1", "measure.seeds=2", "train.epochs=1", f"out={first}"]) == 0
    assert run.main([f"reproduce={first}"]) == 0
    again = tmp_path / "smoke-reproduced"
    assert json.loads((again / "study.json").read_text())["command"].startswith(
        f"python -m bench.run reproduce={first}")
    rows = pd.read_csv(tmp_path / "compare-smoke-smoke-reproduced" / "compare.csv")
    assert len(rows) == 2 and set(rows["design"]) == {"paired"}, rows
    a, b = (pd.read_csv(f / "results.csv") for f in (first, again))
    assert a["hp.lr"].tolist() == b["hp.lr"].tolist(), "the stored tuned settings were re-trained, not re-tuned"
    page = (tmp_path / "compare-smoke-smoke-reproduced" / "index.html").read_text()
    assert "reproduce.tune=false: B re-trained A" in page
    assert run.main([f"reproduce={tmp_path / 'nope'}"]) == 2
    assert "not a finished study folder" in capsys.readouterr().err

    # a side given as a database URL: study= exported from it, then compared like a folder
    url = f"sqlite:///{first / 'optuna.db'}"
    assert cli.report([f"compare=[{again},{url}]", "study=smoke", f"out={tmp_path / 'db'}"]) == 0
    assert pd.read_csv(tmp_path / "db" / "compare.csv")["design"].tolist() == ["paired"] * 2
    assert len((tmp_path / "db" / "B-smoke" / "records.jsonl").read_text().splitlines()) == 4
    capsys.readouterr()
    assert cli.report([f"compare=[{again},{url}]", f"out={tmp_path / 'none'}"]) == 2
    assert "needs study=NAME" in capsys.readouterr().err
    assert cli.report([f"compare=[{again},{url}]", "study=other", f"out={tmp_path / 'none'}"]) == 2
    assert "holds no finished run of study 'other'" in capsys.readouterr().err
    assert not (tmp_path / "none").exists(), "nothing half-written"
