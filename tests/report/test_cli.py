"""`python -m bench.report`: re-renders from stored records alone, identically, without torch."""

import json
import subprocess
import sys
import time

import pytest
from pathlib import Path

import bench.report as report
from bench import cli
from bench import store
from bench.report.index import studies

from .conftest import copy_study, record

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("results.csv", "summary.csv", "effects.csv", "leaderboard.md", "epochs.csv", "curves.csv")


def test_rerender_gives_identical_tables_fast_and_without_torch(smoke_study, tmp_path):
    out = copy_study(smoke_study, tmp_path / "smoke")
    first = {name: (out / name).read_text() for name in TABLES}
    assert json.loads((out / "study.json").read_text())["command"].startswith("python -m bench.run study=smoke")
    for name in (*TABLES, "index.html"):
        (out / name).unlink()
    code = ("import sys, time; t = time.perf_counter(); import bench.cli as r; assert r.report(['out=" + str(out)
            + "']) == 0; assert 'torch' not in sys.modules, 'the report imported torch'; "
            "print('SECONDS', time.perf_counter() - t)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    seconds = float(proc.stdout.split("SECONDS")[-1])
    assert seconds < 30, f"re-rendering took {seconds:.1f} s"
    for name in TABLES:
        assert (out / name).read_text() == first[name], f"{name} differs after re-rendering"
    assert (out / "index.html").is_file()


def test_an_interrupted_study_renders_what_is_done_and_says_what_is_missing(smoke_study, tmp_path, capsys):
    out = copy_study(smoke_study, tmp_path / "smoke")
    records = store.load(out)
    gru, rnn = "gru-packed-l1-true_last", "rnn-padded-l1-true_last"
    kept = [r for r in records if r["variant"] != gru and not (r["variant"] == rnn and r["seed"] == 1)]
    (out / store.RECORDS).write_text("".join(json.dumps(r) + "\n" for r in kept) + '{"torn": ')
    assert cli.report([f"out={out}"]) == 0
    text = capsys.readouterr().out
    assert f"INCOMPLETE: 3 of 12 planned runs are missing ({rnn} seed(s) 1; {gru} seed(s) 0, 1)" in text
    page = (out / "index.html").read_text()
    assert "INCOMPLETE: 3 of 12" in page and gru not in page.split("id='leaderboard-table'")[1].split(
        "</table>")[0]


def test_reports_index_lists_every_study_and_sweep(tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    for name in ("alpha", "beta"):
        (reports / name).mkdir(parents=True)
        store.save_study(reports / name, {"name": name, "description": f"question {name}",
                                          "planned": {"variants": ["lstm-packed-l1"], "seeds": [0, 1]}})
        store.write_records(reports / name, [*store.load(reports / name), record("lstm-packed-l1", 0, study=name)])
    (reports / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    assert cli.report([]) == 0
    index = (reports / "index.html").read_text()
    assert [e["folder"] for e in studies(reports)] == ["alpha", "beta"]
    assert "href='./alpha/index.html'" in index and "question beta" in index and "1 / 2" in index
    assert (reports / "alpha" / "index.html").is_file()


def test_sweep_page_has_one_table_and_an_accuracy_curve(tmp_path):
    out = tmp_path / "longrange"
    points = {"distance-0": {"data.synthetic.distance": 0}, "distance-30": {"data.synthetic.distance": 30},
              "distance-60": {"data.synthetic.distance": 60}}
    for slug, acc in (("distance-0", 1.0), ("distance-30", 0.4)):
        (out / slug).mkdir(parents=True)
        store.save_study(out / slug, {"name": "longrange", "description": "Does the RNN forget?"})
        for seed in (0, 1):
            store.write_records(out / slug, [*store.load(out / slug), record("rnn-packed-l1", seed, test_acc=acc - seed / 100,
                                                                             study="longrange")])
    store.write_atomic(out / "sweep.json", json.dumps(points))
    assert cli.report([f"out={out}"]) == 0
    page = (out / "index.html").read_text()
    assert "Does the RNN forget?" in page and "0.9950" in page and "0.3950" in page
    assert "data:image/svg+xml;base64," in page and "distance-60</a> (not run yet)" in page
    assert (out / "summary.csv").read_text().count("rnn-packed-l1") == 2


def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys):
    assert cli.report([f"out={tmp_path}"]) == 2
    assert "no records" in capsys.readouterr().err
    assert cli.report(["studdy=x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'study'" in err


def test_render_is_quick_on_a_big_study(tmp_path):
    out = tmp_path / "big"
    out.mkdir()
    names = [f"{c}-{p}-l{n}" for c in ("rnn", "lstm", "gru") for p in ("padded", "packed") for n in (1, 2, 3, 4)]
    for name in names:
        for seed in range(5):
            store.write_records(out, [*store.load(out), record(name, seed, test_acc=0.5 + seed / 100)])
    start = time.perf_counter()
    report.render(out)
    assert time.perf_counter() - start < 30 and (out / "effects.csv").read_text().count("\n") > 24


def _damage(out: Path, name: str, content: bytes) -> Path:
    (out / name).write_bytes(content)
    return out


GOOD_LINE = json.dumps(record("lstm-packed-l1", 0)).encode() + b"\n"
# issue 13, class 4: a damaged folder -> (what to write, the line expected after "error: " with {out})
DAMAGED = {
    "a record line of the wrong shape": (
        "records.jsonl", b"[1, 2, 3]\n" + GOOD_LINE,
        "{out}/records.jsonl:1: not a record this rnnbench writes (a JSON object with a variant): the file was "
        "edited or damaged; re-export the folder (python -m bench.run with the same command, or bench.report "
        "storage=URL)"),
    "a non-numeric test accuracy": (
        "records.jsonl", GOOD_LINE + json.dumps(record("lstm-packed-l1", 1, raw=True, test_acc="high")).encode() + b"\n",
        "{out}/records.jsonl:2: test_acc 'high' is not an accuracy (a finite number from 0 to 1): the file was "
        "edited or damaged; re-export the folder (python -m bench.run with the same command, or bench.report "
        "storage=URL)"),
    "garbage records": (
        "records.jsonl", b"garbage\nmore garbage\n",
        "{out}/records.jsonl:1: not a record this rnnbench writes (a JSON object with a variant): the file was "
        "edited or damaged; re-export the folder (python -m bench.run with the same command, or bench.report "
        "storage=URL)"),
    "empty records": (
        "records.jsonl", b"",
        "{out}/records.jsonl holds no record: nothing to render (the page and tables there, if any, are older than "
        "it); run the study again"),
    "records that are not UTF-8": (
        "records.jsonl", GOOD_LINE + b"\xff\xfe\n",
        "{out}/records.jsonl is damaged (not UTF-8 text at byte " + str(len(GOOD_LINE)) + "): re-export the folder "
        "(python -m bench.run with the same command, or bench.report storage=URL)"),
    "a truncated study.json": (
        "study.json", b'{"name": "t", "desc',
        "{out}/study.json is damaged (not a JSON object): re-export the folder (python -m bench.run with the same "
        "command)"),
    "a list-valued study.json": (
        "study.json", b"[1, 2]",
        "{out}/study.json is damaged (not a JSON object): re-export the folder (python -m bench.run with the same "
        "command)"),
    "a record without its parameter count": (
        "records.jsonl", json.dumps({k: v for k, v in record("lstm-packed-l1", 0).items() if k != "params"}).encode(),
        "{out}/records.jsonl:1: params: field required: the file was edited or damaged; re-export the folder (python "
        "-m bench.run with the same command, or bench.report storage=URL)"),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_folder_is_one_line_and_no_claimed_write(case, tmp_path, capsys):
    out = tmp_path / "s"
    out.mkdir()
    store.write_records(out, [record("lstm-packed-l1", 0)])
    store.save_study(out, {"name": "t", "planned": {"variants": ["lstm-packed-l1"], "seeds": [0]}})
    name, content, expected = DAMAGED[case]
    _damage(out, name, content)
    before = sorted(p.name for p in out.iterdir())
    assert cli.report([f"out={out}"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {expected.format(out=out)}\n" and "wrote" not in captured.out
    assert sorted(p.name for p in out.iterdir()) == before, "nothing written"


def test_no_arguments_and_no_reports_folder_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.report([]) == 2
    assert capsys.readouterr().err == ("error: no study folders under reports/: run a study first (python -m bench.run "
                                       "study=smoke)\n")
