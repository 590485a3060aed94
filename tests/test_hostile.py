"""Issue 31: a study file and a records folder are someone else's input. One test (or table) per class of the third
hostile probe: the exit code, the exact line, and what was or was not written or sent."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import bench.run as run
from bench.data import csv_text
from tests.conftest import over
from tests.test_faults import TINY, _mount_tmpfs
from tests.report.conftest import record as full_record

ROOT = Path(__file__).resolve().parents[1]
SECRET = "AKIAIOSFODNN7EXAMPLE-s3cr3t"
SMOKE = f"include: {ROOT}/studies/smoke.yaml\n"


def bomb(levels: int = 9) -> str:
    """The probe's billion-laughs study file: nine levels of nine aliases (9**9 values once expanded)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.fixture
def requests_seen():
    """A local HTTP server on 127.0.0.1 that records every request line and header; (its URL, the log)."""
    seen: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append(f"{self.requestline} {dict(self.headers)}")
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def _error(argv: list[str], capsys) -> str:
    assert run.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err.removeprefix("error: ").rstrip("\n")


INTERPOLATION = ("interpolation (${{...}}) is not supported: a study reads nothing from outside itself (no "
                 "environment, no other keys); write the value itself")


# ---- class 1: no interpolation, no environment, no network from a study file --------------------------------

@pytest.mark.parametrize("where", ["file", "word"])
@pytest.mark.parametrize("key, value", [("description", "${oc.env:RNNBENCH_TEST_SECRET}"),
                                        ("data.url", "{url}/x/${oc.env:RNNBENCH_TEST_SECRET}"),
                                        ("train.lr", "${nope}"), ("description", "${hydra:runtime.cwd}"),
                                        ("description", "${oc.env:RNNBENCH_UNSET_VARIABLE}")])
def test_interpolation_is_refused_and_nothing_is_sent(where, key, value, requests_seen, tmp_path, monkeypatch, capsys):
    url, seen = requests_seen
    monkeypatch.setenv("RNNBENCH_TEST_SECRET", SECRET)
    value = value.replace("{url}", url)
    section, _, leaf = key.rpartition(".")
    if where == "file":
        body = f"{section}:\n  {leaf}: '{value}'\n" if section else f"{leaf}: '{value}'\n"
        argv = [f"study={_write(tmp_path / 's.yaml', SMOKE + body)}"]
        said = f"{tmp_path}/s.yaml: {key}: " + INTERPOLATION.format()
    else:
        argv = [*TINY, f"{key}={value}"]
        said = f"the command line: {key}: " + INTERPOLATION.format()
    assert _error([*argv, f"out={tmp_path / 'out'}"], capsys) == said
    assert seen == [], "a request left for the study file's URL"
    assert not (tmp_path / "out").exists()


def test_a_download_url_is_never_read_from_a_study_file(requests_seen, tmp_path, capsys):
    url, seen = requests_seen
    path = _write(tmp_path / "u.yaml", f"include: {ROOT}/studies/lesson.yaml\ndata:\n  url: {url}/ag\n")
    assert _error([f"study={path}", f"out={tmp_path / 'out'}"], capsys) == (
        f"{path}: data.url: a download address is never read from a study file (it would fetch from wherever the "
        "file says): give data.url=URL on the command line, or drop it")
    assert seen == []


def test_a_download_url_on_the_command_line_is_the_users_and_is_fetched(requests_seen, tmp_path, capsys):
    """The rule's other half: the user's own data.url= is used (the local server sees exactly that path)."""
    url, seen = requests_seen
    assert run.main(["study=lesson", f"data.url={url}/mirror", f"out={tmp_path / 'out'}"]) == 2
    assert "cannot download" in capsys.readouterr().err
    assert seen and all(line.startswith("GET /mirror/") for line in seen)
    assert not any(SECRET in line for line in seen)


# ---- class 2: bounded parsing ----------------------------------------------------------------------------------

def test_the_probes_alias_bomb_is_refused_in_under_two_seconds(tmp_path, capsys):
    path = _write(tmp_path / "bomb.yaml", bomb())
    start = time.perf_counter()
    said = _error([f"study={path}"], capsys)
    assert time.perf_counter() - start < 2
    assert said == (f"{path}: the YAML expands to more than 100,000 values (aliases such as *a repeat what they "
                    "name): a study file holds settings; remove the repeated aliases")


@pytest.mark.parametrize("text, said", [
    ("description: '" + "x" * (1 << 20) + "'\n",
     "the study file is larger than 1024 KiB, the most a study file may be: a study file holds settings, not data"),
    ("a: " + "[" * 40 + "]" * 40 + "\n",
     "the YAML nests lists and mappings more than 32 deep: a study file's sections are a few levels deep"),
    ("name: a\nname: b\n", "the key 'name' is given twice in one mapping (line 2): give it once"),
])
def test_large_deep_and_repeated_study_files_are_one_line_each(text, said, tmp_path, capsys):
    path = _write(tmp_path / "s.yaml", text)
    start = time.perf_counter()
    assert _error([f"study={path}"], capsys) == f"{path}: {said}"
    assert time.perf_counter() - start < 2


def test_help_lists_the_good_studies_and_skips_a_bomb_and_a_broken_file(tmp_path, monkeypatch):
    studies = tmp_path / "studies"
    for shipped in (ROOT / "studies").glob("*.yaml"):
        _write(studies / shipped.name, shipped.read_text())
    _write(studies / "zbomb.yaml", bomb())
    _write(studies / "broken.yaml", "a: [1\n")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.run", "--help"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "RNNBENCH_STUDIES": str(studies)}, cwd=tmp_path)
    seconds = time.perf_counter() - start
    assert done.returncode == 0 and seconds < 10, done.stderr
    assert "  packing       Does packing" in done.stdout
    assert "(skipped broken.yaml: not valid YAML (while parsing a flow sequence))" in done.stdout
    assert "(skipped zbomb.yaml: the YAML expands to more than 100,000 values" in done.stdout
    monkeypatch.setattr("bench.config.STUDIES_DIR", studies)
    from bench.config import list_studies
    assert "packing" in list_studies() and "broken" not in list_studies()


def test_an_include_of_a_fifo_is_refused_without_waiting(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.yaml")
    path = _write(tmp_path / "s.yaml", "include: pipe.yaml\n")
    start = time.perf_counter()
    assert _error([f"study={path}"], capsys) == (f"{tmp_path}/pipe.yaml: the included file is a named pipe (FIFO), "
                                                 "not a regular file: give a .yaml file")
    assert time.perf_counter() - start < 2


# ---- class 5: lines that say what is true ----------------------------------------------------------------------

def test_a_missing_include_says_not_found_and_where_it_looked(tmp_path, capsys):
    path = _write(tmp_path / "s.yaml", "include: gone.yaml\n")
    assert _error([f"study={path}"], capsys) == (f"{path}: include 'gone.yaml' not found (looked in {tmp_path} and "
                                                 f"{ROOT}/studies)")


def test_an_include_of_a_file_that_is_not_a_study_file_is_not_read_or_quoted(tmp_path, capsys):
    path = _write(tmp_path / "s.yaml", "include: /etc/passwd\n")
    said = _error([f"study={path}"], capsys)
    assert said == "/etc/passwd: an included file is a YAML file ending in .yaml or .yml; this one is not read"
    assert "root:" not in said


def test_an_included_files_text_is_not_echoed(tmp_path, capsys):
    _write(tmp_path / "secret.yaml", f"train:\n  lr: {SECRET}\n")
    path = _write(tmp_path / "s.yaml", SMOKE.replace("include: ", "include: [") .rstrip() + ", secret.yaml]\n")
    said = _error([f"study={path}"], capsys)
    assert said == "train.lr (text from the study file, not quoted here) is not allowed: use a finite number > 0"
    assert run.main(["study=smoke", "train.lr=fast"]) == 2  # what the user typed is quoted back
    assert "train.lr='fast' is not allowed" in capsys.readouterr().err


# ---- class 6: control characters are shown, never obeyed -------------------------------------------------------

@pytest.mark.parametrize("word, said", [
    ("cell=\x1b]0;pwned\x07", "cannot read 'cell=\\x1b]0;pwned\\x07': "),
    ("train.l\x1b[2Jr=1", "cannot read 'train.l\\x1b[2Jr=1': "),
    ("study='\x1b[2J'", "unknown study '\\x1b[2J': "),
])
def test_control_characters_in_words_are_escaped(word, said, capsys):
    assert run.main([word] if word.startswith("study") else [*TINY, word]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert err.startswith(f"error: {said}"), err


def test_control_characters_in_a_study_files_keys_are_escaped(tmp_path, capsys):
    path = _write(tmp_path / "s.yaml", SMOKE + 'train:\n  "l\\e]0;x\\ar": 1\n')
    said = _error([f"study={path}"], capsys)
    assert "\x1b" not in said and said.startswith("unknown key 'train.l\\x1b]0;x\\x07r'")


def test_progress_lines_and_log_lines_escape_control_characters(capsys):
    from bench import progress
    progress.say("variant \x1b]0;x\x07 done\nnext")
    with progress.bar(2, "runs of \x1b[2J", "run") as b:
        b.update(2)
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b]0;x\\x07" in err and "runs of \\x1b[2J" in err and "\nnext" in err


# ---- class 12: the Python API leaves its caller's process as it was; two stops are handled ----------------

def test_run_study_restores_what_it_changed_in_its_callers_process(tmp_path):
    import logging
    import random
    import warnings

    import matplotlib
    import numpy as np
    import optuna
    import torch

    import bench
    matplotlib.rcParams["font.size"] = 13.0
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    before = (random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state().tolist(),
              dict(matplotlib.rcParams), list(warnings.filters), logging.getLogger().handlers[:])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNBENCH_THREADS", "2")
        summary = bench.run_study("smoke", *TINY[1:], out=str(tmp_path / "s"))
    assert len(summary) == 1
    after = (random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state().tolist(),
             dict(matplotlib.rcParams), list(warnings.filters), logging.getLogger().handlers[:])
    for name, was, now in zip(["random", "numpy", "torch", "rcParams", "warning filters", "log handlers"],
                              before, after):
        assert was == now, f"run_study changed the caller's {name}"
    assert torch.get_num_threads() == 1
    assert optuna.logging.get_verbosity() == optuna.logging.INFO
    assert "matplotlib.pyplot" not in sys.modules or matplotlib.get_backend()  # pyplot is never imported by us
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_the_report_never_imports_pyplot():
    done = subprocess.run([sys.executable, "-c", "import sys, bench.report.draw, bench.report.page; "
                           "print('matplotlib.pyplot' in sys.modules)"], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "False", done.stderr


def _slow_run(tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.run", "study=smoke", "data.synthetic.n_train=4000",
                             "tune.trials=0", "measure.seeds=3", "cell=lstm", "packing=packed", "train.epochs=40",
                             f"out={tmp_path / 'out'}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env={**os.environ, "RNNBENCH_THREADS": "1"})


def test_sighup_stops_like_sigterm_with_a_line_and_the_page_of_what_finished(tmp_path):
    import signal
    proc = _slow_run(tmp_path)
    records = tmp_path / "out" / "records.jsonl"
    deadline = time.monotonic() + 120
    while not (records.is_file() and records.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert records.is_file(), "no seed finished in time"
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted: finished trials and runs are kept in" in err
    assert (tmp_path / "out" / "index.html").is_file()


def test_a_closed_stdout_ends_quietly(tmp_path):
    """stdout is a pipe whose reader has gone (as after `| head -1`): the first write meets a broken pipe."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "bench.run", "--help"], stdout=write, stderr=subprocess.PIPE,
                              text=True, cwd=tmp_path, timeout=60)
    finally:
        os.close(write)
    assert done.returncode == 0 and done.stderr == "", done.stderr


# ---- class 7: passwords, read as SQLAlchemy reads a URL ----------------------------------------------------------

@pytest.mark.parametrize("url, shown", [
    ("postgresql://user:hun/ter2@127.0.0.1:1/db", "postgresql+psycopg://user:***@127.0.0.1:1/db"),
    ("postgresql://user@127.0.0.1:1/db?password=hunter2", "postgresql+psycopg://user@127.0.0.1:1/db?password=***"),
    ("postgresql://user:a@b@127.0.0.1:1/db", "postgresql+psycopg://user:***@b@127.0.0.1:1/db"),
])
def test_a_password_is_never_shown_however_the_url_holds_it(url, shown, capsys):
    said = _error([*TINY, f"storage='{url}'"], capsys)
    assert said.startswith(f"cannot use the database at {shown}: "), said
    assert "hunter2" not in said and "hun/ter2" not in said and "a@b@" not in said


def test_mask_secrets_keeps_the_rest_of_a_line_as_written():
    from bench.store import mask_secrets
    assert mask_secrets("at postgresql://u:p/w@h:5/db: refused") == "at postgresql://u:***@h:5/db: refused"
    assert mask_secrets("sqlite:////tmp/a b/optuna.db") == "sqlite:////tmp/a b/optuna.db"
    assert mask_secrets("postgresql://u@h/db?sslmode=require&sslpassword=x") == \
        "postgresql://u@h/db?sslmode=require&sslpassword=***"


def test_workers_get_the_storage_url_from_their_environment_not_their_command_line(tmp_path, monkeypatch):
    from bench import workers
    seen = []

    class Done:
        returncode = 0

        def __init__(self, args, env, **kwargs):
            seen.append((args, env))

        def poll(self):
            return 0

    monkeypatch.setattr(workers.subprocess, "Popen", Done)
    url = "postgresql://bob:hunter2@db.example/x"
    import torch
    workers.spawn(["study=smoke", f"storage={url}"], 2, torch.device("cpu"), tmp_path / "new", lambda: 0, lambda: 0)
    assert len(seen) == 2 and (tmp_path / "new").is_dir()
    for args, env in seen:
        assert not any("hunter2" in a for a in args) and env[workers.STORAGE_ENV] == url
    monkeypatch.setenv(workers.CHILD_ENV, "1")
    monkeypatch.setenv(workers.STORAGE_ENV, url)
    assert workers.child_words(["study=smoke"]) == ["study=smoke", f"storage={url}"]


# ---- class 3 (storage): one line, or it works ---------------------------------------------------------------------

@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://", "sqlite:///file:x?mode=memory&uri=true"])
def test_an_in_memory_storage_is_refused(url, capsys):
    assert _error([*TINY, f"storage='{url}'"], capsys) == (
        f"storage={url}: an in-memory database lives and dies with one process, and the storage is what coordinates "
        "the work and keeps it: give sqlite:///FILE or postgresql://..., or drop storage= to keep everything in the "
        "study's folder")


def test_workers_with_a_sqlite_storage_url_into_a_new_folder_work(tmp_path):
    from bench import store
    out = tmp_path / "new" / "s"
    assert run.main([*over(TINY, "measure.seeds=2"), "workers=2", f"storage=sqlite:///{tmp_path}/shared.db",
                     f"out={out}"]) == 0
    assert sorted(r["seed"] for r in store.load(out)) == [0, 1]


# ---- class 9: out= is a path, never a URL fragment -----------------------------------------------------------

@pytest.mark.parametrize("name", ["a%61", "b?mode=ro", "c#d"])
def test_a_folder_name_is_never_read_as_part_of_a_url(name, tmp_path):
    (tmp_path / "aa").mkdir()
    (tmp_path / "b").write_text("")  # a user's empty file a '?' must not turn into a database
    out = tmp_path / name
    assert run.main([*TINY, f"out='{out}'"]) == 0
    assert (out / "optuna.db").stat().st_size > 0
    assert list((tmp_path / "aa").iterdir()) == [] and (tmp_path / "b").read_text() == ""


# ---- class 4: a record is checked before it is believed ---------------------------------------------------------

@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory) -> Path:
    """A finished study of two seeds: the folder every tampering below starts from (copied)."""
    from tests.conftest import run_study
    return run_study(tmp_path_factory, over(TINY, "measure.seeds=2"), "two")


def _copy(folder: Path, to: Path, with_db: bool) -> Path:
    import shutil
    shutil.copytree(folder, to, ignore=None if with_db else shutil.ignore_patterns("optuna.db"))
    return to


def _lines(out: Path) -> list[dict]:
    import json
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def _rewrite(out: Path, lines: list[dict]) -> None:
    import json
    (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


REEXPORT = ("the file was edited or damaged; re-export the folder (python -m bench.run with the same command, or "
            "bench.report storage=URL)")
TAMPERED = {
    "an accuracy of 7.5": (lambda r: [{**r[0], "test_acc": 7.5}, r[1]],
                           "1: test_acc 7.5 is not an accuracy (a finite number from 0 to 1)"),
    "an accuracy of -3": (lambda r: [r[0], {**r[1], "val_acc": -3}],
                          "2: val_acc -3 is not an accuracy (a finite number from 0 to 1)"),
    "NaN": (lambda r: [{**r[0], "test_acc": float("nan")}, r[1]],
            "1: test_acc nan is not an accuracy (a finite number from 0 to 1)"),
    "Infinity": (lambda r: [r[0], {**r[1], "train_acc": float("inf")}],
                 "2: train_acc inf is not an accuracy (a finite number from 0 to 1)"),
    "a duplicated line": (lambda r: [r[0], r[1], r[0]],
                          "3: repeats the run of line 1 (lstm-packed-l1-true_last seed 0)"),
    "another study's line": (lambda r: [r[0], {**r[1], "study": "cells"}],
                             "2: a record of study 'cells', and this folder holds 'smoke'"),
    "a line of other settings": (lambda r: [r[0], {**r[1], "fingerprint": "0123456789abcdef"}],
                                 "2: made with other settings (fingerprint 0123456789abcdef, the folder's {key})"),
    "a seed of 2**64": (lambda r: [r[0], {**r[1], "seed": 2**64}],
                        "2: seed 18446744073709551616 is not a whole number from 0 to 2**32 - 1"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_records_file_is_refused_with_its_line_by_the_report(case, two_seeds, tmp_path, capsys):
    from bench.cli import report
    out = _copy(two_seeds, tmp_path / "s", with_db=False)
    lines = _lines(out)
    change, said = TAMPERED[case]
    _rewrite(out, change(lines))
    page = (out / "index.html").read_bytes()
    assert report([f"out={out}"]) == 2
    expected = f"error: {out}/records.jsonl:{said.format(key=lines[0]['fingerprint'])}: {REEXPORT}\n"
    assert capsys.readouterr().err == expected
    assert (out / "index.html").read_bytes() == page, "a page was written from records that were not believed"


def test_the_database_is_the_truth_and_each_difference_is_named(two_seeds, tmp_path, capsys):
    """A changed accuracy and a forged seed, beside the optuna.db that ran them: the re-render names both, and the
    page and records.jsonl say what the database says."""
    from bench import store
    from bench.cli import report
    out = _copy(two_seeds, tmp_path / "s", with_db=True)
    truth = _lines(out)
    forged = {**truth[1], "seed": 7, "test_acc": 1.0}
    _rewrite(out, [{**truth[0], "test_acc": 0.25}, truth[1], forged])
    assert report([f"out={out}"]) == 0
    err = capsys.readouterr().err
    assert (f"{out}/records.jsonl: lstm-packed-l1-true_last seed 0 differs from optuna.db (test_acc 0.25 in the file, "
            f"{truth[0]['test_acc']} in optuna.db): optuna.db's is kept") in err
    assert (f"{out}/records.jsonl holds lstm-packed-l1-true_last seed 7, which optuna.db never finished: set aside "
            "(the file is rewritten from optuna.db)") in err
    assert sorted((r["seed"], r["test_acc"]) for r in store.load(out)) == sorted((r["seed"], r["test_acc"])
                                                                                  for r in truth)


def test_a_rerun_restores_only_this_studys_lines_into_a_new_database(two_seeds, tmp_path, capsys):
    """The db deleted, and a line of another study and settings added: the line is set aside, not restored."""
    from bench import store
    out = _copy(two_seeds, tmp_path / "s", with_db=False)
    lines = _lines(out)
    assert run.main([*over(TINY, "measure.seeds=2", "train.lr=0.5"), f"out={out}"]) == 2  # other settings: refused
    assert "holds results made with other settings" in capsys.readouterr().err
    (out / "optuna.db").write_bytes(b"")  # emptied: the restore path
    _rewrite(out, [*lines, {**lines[1], "seed": 5, "study": "smoke", "fingerprint": "0123456789abcdef"}])
    assert run.main([*over(TINY, "measure.seeds=2"), f"out={out}"]) == 0
    err = capsys.readouterr().err
    assert f"{out}/records.jsonl: 1 record(s) of another study or other settings were set aside (not restored)" in err
    assert "restored 2 finished run(s)" in err
    assert sorted(r["seed"] for r in store.load(out)) == [0, 1]


# ---- class 8: one identity and one place per study ----------------------------------------------------------------

def test_a_shared_storage_refuses_a_command_of_other_settings(tmp_path, capsys):
    from bench import store
    url = f"sqlite:///{tmp_path}/shared.db"
    assert run.main([*TINY, "train.lr=0.01", f"storage={url}", f"out={tmp_path / 'a'}"]) == 0
    capsys.readouterr()
    assert _error([*TINY, "train.lr=0.05", f"storage={url}", f"out={tmp_path / 'b'}"], capsys) == (
        "the database's study 'smoke' holds results made with other settings: add resume=false to start over in a "
        "fresh folder, or choose another out=FOLDER (or another study name / database)")
    assert not (tmp_path / "b").exists()
    assert {r["hyperparameters"]["lr"] for r in store.load(tmp_path / "a")} == {0.01}


def test_a_storage_run_never_replaces_a_local_folders_records(two_seeds, tmp_path, capsys):
    out = _copy(two_seeds, tmp_path / "s", with_db=True)
    before = (out / "records.jsonl").read_bytes()
    assert _error([*TINY, f"storage=sqlite:///{tmp_path}/shared.db", f"out={out}"], capsys) == (
        f"out={out} is a study folder with its own optuna.db, and this run's storage is a shared database: its export "
        "would replace that folder's records and page; choose another out=FOLDER")
    assert (out / "records.jsonl").read_bytes() == before


def test_a_runs_identity_includes_its_settings(tmp_path):
    """Two settings' runs of one seed in one storage are two jobs, and each export holds only its own."""
    import optuna

    from bench import runs, store
    storage = runs.open_storage(f"sqlite:///{tmp_path}/s.db", tmp_path, 120)
    for key, acc in (("aaaa", 0.5), ("bbbb", 0.9)):
        record = {**full_record("lstm-packed-l1", 0, test_acc=acc, fingerprint=key), "variant": "lstm"}
        runs._load(storage, "t/lstm/seeds").add_trial(optuna.trial.create_trial(
            value=acc, state=optuna.trial.TrialState.COMPLETE, user_attrs={"job": runs._job(record, "seeds"),
                                                                           "record": record}))
    assert len(runs.records(storage, "t")) == 2
    runs.export(storage, "t", tmp_path / "a", key="aaaa")
    assert [r["test_acc"] for r in store.load(tmp_path / "a")] == [0.5]


# ---- classes 3, 5 and 11: data files, as they are --------------------------------------------------------------

GOOD = "".join(f'{1 + i % 4},"title {i} word{i % 4}","text"\n' for i in range(40))


def _csv_words(train: Path) -> list[str]:
    return ["study=smoke", "tune.trials=0", "measure.seeds=1", "data.name=csv", f"data.csv.train={train}",
            "data.csv.text_cols=[1,2]", "data.csv.label_col=0"]


@pytest.mark.parametrize("make, what", [
    (lambda t: Path("/dev/zero"), "a character device"),
    (lambda t: (t / "r.csv").symlink_to("/dev/urandom") or t / "r.csv", "a character device"),
    (lambda t: os.mkfifo(t / "f.csv") or t / "f.csv", "a named pipe (FIFO)"),
    (lambda t: (t / "d.csv").mkdir() or t / "d.csv", "a folder"),
])
def test_a_data_file_that_is_not_a_regular_file_is_named_for_what_it_is(make, what, tmp_path, capsys):
    path = make(tmp_path)
    start = time.perf_counter()
    assert _error([*_csv_words(path), f"out={tmp_path / 'out'}"], capsys) == (
        f"data.csv.train='{path}': {what}, not a regular file ({path}): give a {csv_text.NAMES} file, or set "
        "data.root")
    assert time.perf_counter() - start < 10 and not (tmp_path / "out").exists()


def test_a_dataset_folder_holding_a_fifo_is_named_for_it(tmp_path, capsys):
    os.mkfifo(tmp_path / "train.csv")
    _write(tmp_path / "test.csv", GOOD)
    assert _error(["study=packing", "budget=smoke", f"data.root={tmp_path}"], capsys) == (
        f"{tmp_path}/train.csv is a named pipe (FIFO), not a regular file: put the data file itself there")


def test_a_gzip_bomb_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    import gzip

    from bench.data import base
    monkeypatch.setattr(base, "MAX_EXPANDED", 1 << 20)  # the rule at a test's size: 1 MiB, 200 x
    folder = tmp_path / "ag"
    folder.mkdir()
    (folder / "train.csv.gz").write_bytes(gzip.compress(b"1,a,b\n" * (4 << 20), compresslevel=9))  # 24 MiB -> ~70 KiB
    (folder / "test.csv.gz").write_bytes(gzip.compress(GOOD.encode()))
    said = _error(["study=packing", "budget=smoke", f"data.root={folder}"], capsys)
    limit = max(1 << 20, 200 * (folder / "train.csv.gz").stat().st_size) >> 20
    assert said == (f"{folder}/train.csv.gz: expands past {limit} MiB, more than 200 times its compressed size: a "
                    "gzip bomb, or not a text CSV; check the file")


def test_a_byte_order_mark_inside_a_file_is_refused_with_its_line(tmp_path, capsys):
    train = tmp_path / "two.csv"
    train.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\xef\xbb\xbf" + GOOD.encode())  # two files joined
    assert _error(_csv_words(train), capsys) == (
        f"{train}:41: a byte-order mark (U+FEFF) inside the file, where two files were joined: remove it (a file may "
        "begin with one, nowhere else)")


def test_a_data_file_that_changes_while_it_is_read_is_not_cached(tmp_path, monkeypatch, capsys):
    from bench.data import csv_text
    train = tmp_path / "t.csv"
    train.write_text(GOOD)
    real = csv_text.read

    def changing(cfg):
        raw = real(cfg)
        train.write_text(GOOD.replace("title", "other"))  # another writer, mid-load
        return raw
    monkeypatch.setattr(csv_text, "read", changing)
    assert _error(_csv_words(train), capsys) == ("the csv data files changed while they were read: run again once "
                                                  "they are complete (nothing was cached)")
    assert not list(Path(os.environ["RNNBENCH_CACHE"]).rglob("*.pt"))


@pytest.mark.parametrize("word, said", [
    ("data.val_fraction=0.999", "the training split of synthetic holds one class only ('k{k}') once "
                                "data.val_fraction=0.999 of its 600 rows are held out: a classifier needs two or more; "
                                "lower data.val_fraction or give more rows"),
    ("measure.seeds=[18446744073709551616]", "measure.seeds=[18446744073709551616] is not allowed: use a count from 1 "
                                             "to 10000, or a list of distinct seeds from 0 to 4294967295"),
    ("tune.seed=18446744073709551616", "tune.seed=18446744073709551616 is not allowed: use 0 <= seed <= 4294967295"),
])
def test_degenerate_splits_and_huge_seeds_are_one_line(word, said, tmp_path, capsys):
    got = _error([*over(TINY, word, "data.synthetic.n_train=600"), f"out={tmp_path / 'out'}"], capsys)
    assert got in {said.format(k=k) for k in range(4)}, got
    assert not (tmp_path / "out").exists()


# ---- class 3: a finished folder on a read-only mount, an immutable optuna.db ---------------------------------

def test_bench_report_on_a_read_only_mount_is_one_line(tmp_path, capsys):
    from bench.cli import report
    where = tmp_path / "ro"
    if not _mount_tmpfs(where, "size=20m"):
        pytest.skip("mounting a tmpfs needs root (as CI has)")
    try:
        subprocess.run([sys.executable, "-m", "bench.run", *TINY, f"out={where}/s"], check=True, capture_output=True,
                       cwd=tmp_path)  # its own process: no database left open here, so the mount can turn read-only
        subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
        page = (where / "s" / "index.html").read_bytes()
        capsys.readouterr()
        assert report([f"out={where}/s"]) == 2
        err = capsys.readouterr().err.splitlines()
        assert err[0].startswith(f"cannot compare {where}/s/optuna.db with records.jsonl (")
        assert err[1] == (f"error: cannot write {where}/s/results.csv: Read-only file system; choose another "
                          "out=FOLDER, or make this one writable (finished runs are kept: the same command resumes)")
        assert (where / "s" / "index.html").read_bytes() == page
    finally:
        subprocess.run(["umount", "-l", str(where)])


def test_an_immutable_optuna_db_is_one_line(tmp_path, capsys):
    out = tmp_path / "s"
    assert run.main([*TINY, f"out={out}"]) == 0
    if os.geteuid() != 0 or subprocess.run(["chattr", "+i", str(out / "optuna.db")],
                                           capture_output=True).returncode != 0:
        pytest.skip("chattr +i needs root and a file system that has it")
    try:
        capsys.readouterr()
        assert _error([*over(TINY, "measure.seeds=2"), f"out={out}"], capsys) == (
            f"cannot write {out}/optuna.db: attempt to write a readonly database; the folder or the file is "
            "read-only: make it writable, or choose another out=FOLDER")
    finally:
        subprocess.run(["chattr", "-i", str(out / "optuna.db")])


# ---- class 10: nothing written outside out=, no live scheme on the index --------------------------------------

def test_sweep_point_folders_stay_inside_out(tmp_path):
    from bench.pipeline import _slugs
    names = _slugs([{"description": "../../escape"}, {"description": "/etc/x"}, {"description": ".."},
                    {"description": "a/b"}, {"description": "a_b"}])
    assert all("/" not in n and ".." not in n and n for n in names) and len(set(names)) == 5
    assert all((tmp_path / n).resolve().parent == tmp_path.resolve() for n in names)


def test_a_hand_edited_sweep_json_cannot_point_outside(tmp_path, capsys):
    from bench.cli import report
    _write(tmp_path / "s" / "sweep.json", '{"../../x": {"train.lr": 0.1}}')
    assert report([f"out={tmp_path / 's'}"]) == 2
    assert "names a point folder '../../x' outside its folder" in capsys.readouterr().err


def test_the_index_links_folders_by_relative_path_never_by_scheme(tmp_path, monkeypatch):
    from bench.report import index
    (tmp_path / "javascript:alert(1)").mkdir()
    monkeypatch.setattr(index, "studies", lambda root: [{"folder": "javascript:alert(1)", "kind": "study",
                                                         "description": "", "runs": 1, "planned": 1, "budget": "-",
                                                         "device": "-", "partial": False, "finished": ""}])
    html = index.write_index(tmp_path).read_text()
    assert "href='./javascript%3Aalert%281%29/index.html'" in html and "href='javascript:" not in html


def test_a_folder_name_with_control_characters_is_shown_escaped_on_the_console(tmp_path, capsys):
    out = tmp_path / "a\x1b[2Jb"
    assert run.main([*TINY, f"out='{out}'"]) == 0
    said = capsys.readouterr()
    assert "\x1b" not in said.out and "\x1b" not in said.err
    assert f"{tmp_path}/a\\x1b[2Jb" in said.out and (out / "index.html").is_file()
