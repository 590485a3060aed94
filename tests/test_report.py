import subprocess
import sys
from pathlib import Path

import bench.report as report
import bench.run as run

ROOT = Path(__file__).resolve().parents[1]


def test_report_rerenders_from_records_alone_without_torch(tmp_path):
    out = tmp_path / "s"
    assert run.main(["study=smoke", "data.synthetic.n_train=80", "data.synthetic.n_test=20", "train.epochs=1",
                     "cell=lstm", "packing=packed", f"out={out}"]) == 0
    table = (out / "summary.csv").read_text()
    for name in ("results.csv", "curves.csv", "summary.csv", "index.html"):
        (out / name).unlink()
    code = ("import sys, bench.report as r; assert r.main(['out=" + str(out) + "']) == 0; "
            "assert 'torch' not in sys.modules, 'the report imported torch'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (out / "summary.csv").read_text() == table and (out / "index.html").is_file()


def test_summary_takes_mean_sd_over_seeds_and_medians():
    base = {"train_acc": 0.5, "test_acc": 0.6, "epoch_time_s": 1.0, "samples_per_s": 10.0, "tokens_per_s": 100.0,
            "padded_tokens_per_s": 200.0, "pad_fraction": 0.5, "peak_mem_mb": 5.0, "memory_kind": "cpu", "params": 7,
            "eval_latency_ms": 1.5, "budget": "smoke", "partial_data": True}
    records = [{**base, "variant": "a", "seed": 0, "val_acc": 0.7, "epoch_time_s": 1.0},
               {**base, "variant": "a", "seed": 1, "val_acc": 0.9, "epoch_time_s": 3.0, "peak_mem_mb": 9.0},
               {**base, "variant": "b", "seed": 0, "val_acc": 0.1}]
    summary = report.summarize(records, {"b": {"train_acc": 0.8}})
    assert list(summary.index) == ["a", "b"] and summary.loc["a", "seeds"] == 2
    assert abs(summary.loc["a", "val_acc_mean"] - 0.8) < 1e-12 and abs(summary.loc["a", "val_acc_std"] - 0.1414) < 1e-3
    assert summary.loc["a", "epoch_time_s"] == 2.0 and summary.loc["a", "peak_mem_mb"] == 9.0
    assert summary.loc["b", "reference_train_acc"] == 0.8
    assert summary.loc["a", "budget"] == "smoke" and summary.loc["a", "partial_data"]
    shown = report.display(summary)
    assert shown.loc["a", "val_acc"] == "0.8000 ± 0.1414" and shown.loc["b", "ref train_acc"] == "0.800"


def test_report_without_records_exits_2(tmp_path, capsys):
    assert report.main([f"out={tmp_path}"]) == 2
    assert "no records" in capsys.readouterr().err
