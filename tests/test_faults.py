"""Faults and bad input, table-driven: each case gives the exact one-line message expected. Every case runs
twice: into a new folder, which must not be made, and into a folder that already holds a finished study,
which must come out unchanged; the data cache must not change either."""

from __future__ import annotations

import errno
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import bench.pipeline as pipeline
import bench.run as run
from bench import store
from tests.conftest import over, run_study

ROOT = Path(__file__).resolve().parents[1]
TINY = ["study=smoke", "data.synthetic.n_train=80", "data.synthetic.n_test=20", "tune.trials=0", "measure.seeds=1",
        "cell=lstm", "packing=packed"]
GOOD = "".join(f'{1 + i % 4},"title {i} word{i % 4}","text"\n' for i in range(40))


def _file(folder: Path, name: str, text: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return str(folder / name)


def _csv(folder: Path, train: str, test: str) -> list[str]:
    return ["study=smoke", "tune.trials=0", "measure.seeds=1", "data.name=csv",
            f"data.csv.train={_file(folder, 'train.csv', train)}", f"data.csv.test={_file(folder, 'test.csv', test)}",
            "data.csv.text_cols=[1,2]", "data.csv.label_col=0"]


def _gz(folder: Path, truncate: bool) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    packed = gzip.compress(GOOD.encode())
    (folder / "train.csv.gz").write_bytes(packed[:30] if truncate else packed)
    (folder / "test.csv.gz").write_bytes(packed)
    return ["study=packing", "budget=smoke", f"data.root={folder}"]


def _gz_damaged(folder: Path) -> list[str]:
    """A gzip damaged mid-stream (stored blocks, one comma flipped): the CSV reader meets a short row before
    gzip meets the bad checksum at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    packed = bytearray(gzip.compress(GOOD.encode(), compresslevel=0))
    packed[packed.index(b'",', len(packed) // 2)] = ord(";")
    packed[packed.index(b'1,"title', len(packed) // 2) + 1] = ord(";")
    (folder / "train.csv.gz").write_bytes(bytes(packed))
    (folder / "test.csv.gz").write_bytes(gzip.compress(GOOD.encode()))
    return ["study=packing", "budget=smoke", f"data.root={folder}"]


def _link(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def _study(folder: Path, text: str) -> str:
    """A study file `s.yaml` in `folder`: smoke's settings plus `text`."""
    return _file(folder, "s.yaml", f"include: {ROOT}/studies/smoke.yaml\n{text}\n")


def _only_train(folder: Path) -> list[str]:
    _file(folder, "train.csv", GOOD)
    return ["study=packing", "budget=smoke", f"data.root={folder}"]


def _old_schema(folder: Path) -> list[str]:
    """An Optuna database made by another Optuna release (its schema version changed)."""
    import optuna
    import sqlalchemy as sa
    url = f"sqlite:///{folder}/old.db"
    folder.mkdir(parents=True, exist_ok=True)
    optuna.storages.RDBStorage(url)
    with sa.create_engine(url).begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = 'v9.9.9'"))
    return [*TINY, f"storage={url}"]


# id -> (argv for a scratch folder `t`, the message expected after "error: ")
CASES = {
    # config
    "malformed YAML": (lambda t: [f"study={_file(t, 'bad.yaml', 'model: {embed_dim: 3')}"],
                       "{t}/bad.yaml: not valid YAML (while parsing a flow mapping)"),
    "unknown key": (lambda t: [*TINY, "train.lrr=1"], "unknown key 'train.lrr': did you mean 'train.lr'?"),
    "unknown study": (lambda t: ["study=pakcing"], "unknown study 'pakcing': did you mean 'packing'?"),
    "unknown study, nothing close": (lambda t: ["study=zzz"], "unknown study 'zzz': choose one of baselines, batching, "
                                     "cells, depth, direction, embeddings, grid, imdb_best, imdb_cells, imdb_packing, "
                                     "length, lesson, longrange, packing, smoke, speed (or give study=path/to/zzz.yaml, or "
                                     "add zzz.yaml to a folder named by RNNBENCH_STUDIES)"),
    "wrong type": (lambda t: [*TINY, "train.epochs=abc"],
                   "train.epochs='abc' is not allowed: use a whole number >= 1, or null"),
    "no patience": (lambda t: [*TINY, "train.patience=0"],
                    "train.patience=0 is not allowed: use a whole number >= 1, or null"),
    "out of range": (lambda t: [*TINY, "train.lr=-1"], "train.lr=-1 is not allowed: use a finite number > 0"),
    "unknown cell": (lambda t: over(TINY, "cell=foo"), "cell='foo' is not allowed: use one of rnn, lstm, gru, bag, transformer"),
    "include loop": (lambda t: [f"study={_file(t, 'a.yaml', 'include: b.yaml')}"] if _file(t, "b.yaml", "include: a.yaml")
                     else [], "{t}/a.yaml: include cycle through ['a.yaml', 'b.yaml']"),
    "axis without values": (lambda t: over(TINY, "cell=[]"), "cell=[] has no values: give at least one, e.g. cell=[lstm,gru]"),
    "empty product": (lambda t: [f"study={_file(t, 'ex.yaml', f'include: {ROOT}/studies/smoke.yaml' + chr(10) + 'exclude: [{cell: [rnn, lstm, gru]}]')}"],
                      "study 'ex' has no variants left after its exclude rules"),
    "mixed precision on the CPU": (lambda t: [*TINY, "train.precision=bf16", "device=cpu"],
                                   "train.precision=bf16 runs on CUDA only (mixed precision through autocast), and "
                                   "this run is on cpu: use train.precision=fp32, or device=cuda"),
    "a removed key": (lambda t: [*TINY, "train.kernels=harness"],
                      "'train.kernels' was removed: rnnbench now times torch's own recurrent modules only (the "
                      "harness kernels are gone): drop the key"),
    "unknown precision": (lambda t: [*TINY, "train.precision=fp8"],
                          "train.precision='fp8' is not allowed: use one of fp32, bf16, fp16"),
    "bad workers": (lambda t: [*TINY, "workers=0"], f"workers=0 is not allowed: use 1 to {os.cpu_count()} (this "
                                                    "machine's CPU cores)"),
    "sparse embedding with weight decay": (lambda t: over(TINY, "train.sparse_embedding=true", "tune.trials=2"),
                                           "train.sparse_embedding=true cannot go with nuisance.weight_decay: sparse "
                                           "Adam moves only the rows a batch used, so weight decay would shrink only "
                                           "those; set train.weight_decay=0 and remove it from the study's nuisance "
                                           "section"),
    "sparse embedding with fixed weight decay": (
        lambda t: [*TINY, "train.sparse_embedding=true", "train.weight_decay=1e-4"],
        "train.sparse_embedding=true cannot go with train.weight_decay: sparse Adam moves only the rows a batch used, "
        "so weight decay would shrink only those; set train.weight_decay=0 and remove it from the study's nuisance "
        "section"),
    # data
    "missing folder": (lambda t: ["study=packing", "budget=smoke", f"data.root={t}/nowhere"],
                       "AG News not found in data.root='{t}/nowhere' (the folder does not exist): fix the path, or "
                       "provide it one of three ways: data.root=FOLDER on the command line, the environment variable "
                       "RNNBENCH_AG_NEWS=FOLDER, or the cache folder {cache}/ag_news (filled by a download when the "
                       "network allows); FOLDER holds train.csv[.gz] and test.csv[.gz]"),
    "missing file": (lambda t: _only_train(t / "ag"),
                     "AG News not found in data.root='{t}/ag' (no test.csv[.gz] in it): fix the path, or provide it one "
                     "of three ways: data.root=FOLDER on the command line, the environment variable "
                     "RNNBENCH_AG_NEWS=FOLDER, or the cache folder {cache}/ag_news (filled by a download when the "
                     "network allows); FOLDER holds train.csv[.gz] and test.csv[.gz]"),
    "truncated gz": (lambda t: _gz(t / "gz", truncate=True),
                     "{t}/gz/train.csv.gz: cannot read it as gzip CSV text (Compressed file ended before the "
                     "end-of-stream marker was reached)"),
    # issue 13, class 2: labels that would silently change the task
    "a header read as data": (lambda t: _csv(t / "h", "label,title,text\n" + GOOD, GOOD),
                              "{t}/h/train.csv:1: the first row's label 'label' occurs nowhere else in the file: it "
                              "looks like a header row; say which: data.csv.header=true (the first row names the "
                              "columns) or data.csv.header=false (it is data)"),
    "a header over text labels (issue 24)": (lambda t: _csv(t / "th", "label,text,x\n" + "".join(
        f'{("cooking", "sports", "space")[i % 3]},"text {i}","x"\n' for i in range(30)), GOOD.replace(
        "1,", "cooking,").replace("2,", "sports,").replace("3,", "space,").replace("4,", "space,")),
        "{t}/th/train.csv:1: the first row's label 'label' occurs nowhere else in the file: it looks like a header "
        "row; say which: data.csv.header=true (the first row names the columns) or data.csv.header=false (it is "
        "data)"),
    "an empty label": (lambda t: _csv(t / "el", GOOD + ',"title","text"\n', GOOD),
                       "{t}/el/train.csv:41: the label (column 0) is empty: fill it in or remove that row"),
    "a single class": (lambda t: _csv(t / "one", GOOD.replace("2,", "1,").replace("3,", "1,").replace("4,", "1,"),
                                      GOOD.splitlines(keepends=True)[0]),
                       "{t}/one/train.csv: every row has the label '1': a classifier needs two or more classes; check "
                       "data.csv.label_col"),
    "one number written two ways": (lambda t: _csv(t / "01", GOOD + '01,"t","x"\n', GOOD),
                                    "{t}/01/train.csv: labels '01' and '1' are one number written two ways: write it "
                                    "the same way in every row"),
    "a header-only training file": (lambda t: _csv(t / "ho", "label,title,text\n", GOOD) + ["data.csv.header=true"],
                                    "{t}/ho/train.csv: no data rows after the header: check the file"),
    # class 3: settings, on the command line and in a study file alike
    "a two-character delimiter": (lambda t: [*TINY, "data.csv.delimiter=ab"],
                                  "data.csv.delimiter='ab' is not allowed: use one character, e.g. ',' or '\\t'"),
    "a test fraction above 1": (lambda t: [*TINY, "data.csv.test_fraction=1.5"],
                                "data.csv.test_fraction=1.5 is not allowed: use 0 < test_fraction < 1"),
    "a test fraction below 0": (lambda t: [*TINY, "data.csv.test_fraction=-0.5"],
                                "data.csv.test_fraction=-0.5 is not allowed: use 0 < test_fraction < 1"),
    "a YAML value of the wrong type": (lambda t: [f"study={_study(t, 'train: {lr: fast}')}"],
                                       "train.lr (text from the study file, not quoted here) is not allowed: use a "
                                       "finite number > 0"),
    "a YAML list for a mapping": (lambda t: [f"study={_study(t, 'scientific: [cell]')}"],
                                  "{t}/s.yaml: scientific: give a mapping (key: value), not a list holding text"),
    "a YAML file that is a list": (lambda t: [f"study={_file(t, 'l.yaml', '- a' + chr(10) + '- b' + chr(10))}"],
                                   "{t}/l.yaml: a study file is a mapping of keys (name: value), not a list or a "
                                   "value"),
    "a YAML string for a list": (lambda t: [f"study={_study(t, 'exclude: rnn')}"],
                                 "exclude (text from the study file, not quoted here) is not allowed: use "
                                 "[{{axis: value(s)}}, ...]"),
    "an exclude rule that is not a mapping": (lambda t: [f"study={_study(t, 'exclude: [rnn]')}"],
                                              "exclude (a list holding text from the study file, not quoted here) is not "
                                              "allowed: use [{{axis: value(s)}}, ...]"),
    "a nuisance value of the wrong type": (lambda t: [f"study={_study(t, 'nuisance: {lr: fast}')}"],
                                           "nuisance.lr: text from the study file (not quoted here) is not allowed: "
                                           "use a finite number > 0"),
    "a nuisance range outside the field's": (lambda t: [f"study={_study(t, 'nuisance: {dropout: [0.1, 1.5]}')}"],
                                             "nuisance.dropout: 1.5 is not allowed: use 0 <= dropout < 1"),
    # class 6: numbers and bounds
    "an infinite learning rate": (lambda t: [*TINY, "train.lr=inf"],
                                  "train.lr=inf is not allowed: use a finite number > 0"),
    "too many workers": (lambda t: [*TINY, "workers=1000"],
                         f"workers=1000 is not allowed: use 1 to {os.cpu_count()} (this machine's CPU cores)"),
    # class 7: paths
    "a name that leaves reports/": (lambda t: [*TINY, "name=../../x"],
                                    "name='../../x' is not allowed: use letters, digits, '_', '-' and '.', no '/' (the "
                                    "study's folder is reports/NAME; out=FOLDER puts it anywhere)"),
    # class 8: lines that named the wrong thing
    "a sweep key on the command line": (lambda t: [*TINY, "sweep.train.hidden_size=[8,16]", "sweep.cell=[rnn]"],
                                        "sweep.cell: variant axes belong in scientific:, not sweep:"),
    "a gzip damaged mid-stream": (lambda t: _gz_damaged(t / "cut"),
                                  "{t}/cut/train.csv.gz: the gzip file is damaged or cut short ({gzip_error}): copy "
                                  "or download it again"),
    "data.root is a file": (lambda t: ["study=packing", "budget=smoke", f"data.root={_file(t, 'f.csv', GOOD)}"],
                            "AG News not found in data.root='{t}/f.csv' (it is a file, not a folder): fix the path, or "
                            "provide it one of three ways: data.root=FOLDER on the command line, the environment "
                            "variable RNNBENCH_AG_NEWS=FOLDER, or the cache folder {cache}/ag_news (filled by a "
                            "download when the network allows); FOLDER holds train.csv[.gz] and test.csv[.gz]"),
    "a non-ASCII value": (lambda t: [*TINY, "name=ü"],
                          "cannot read 'name=ü': a value with characters other than letters, digits and _-.:/ must be "
                          "quoted, e.g. name='ü'"),
    "a key given twice": (lambda t: [*TINY, "train.lr=0.1", "train.lr=0.2"],
                          "train.lr is given twice (0.1 and 0.2): give it once"),
    "out= names a file": (lambda t: [*TINY, f"out={_file(t, 'taken', 'x')}"],
                          "out={t}/taken is a file, not a folder: choose another out=FOLDER"),
    # class 9: another study file over a finished folder (smoke's settings, another name)
    "another study in a finished folder": (lambda t: [f"study={_study(t, '')}", "tune.trials=0", "measure.seeds=1",
                                                      "cell=lstm", "packing=packed", "data.synthetic.n_train=80",
                                                      "data.synthetic.n_test=20", "out=FINISHED"],
                                           "{finished} holds study 'smoke', not 's': choose another out=FOLDER, or "
                                           "add resume=false to start over in a fresh folder"),
    "CSV row with wrong field count": (lambda t: _csv(t / "f", GOOD + "1,2\n", GOOD),
                                       "{t}/f/train.csv:41: expected 3 fields, found 2: fix or remove that row"),
    "unknown label": (lambda t: _csv(t / "l", GOOD, GOOD + "9,x,y\n"),
                      "{t}/l/test.csv: labels ['9'] never occur in the training file: remove those rows or add "
                      "training examples"),
    "empty split": (lambda t: _csv(t / "e", GOOD, ""), "{t}/e/test.csv: no data rows: check the file"),
    "text column all empty": (lambda t: _csv(t / "x", "".join(f"{1 + i % 4},,\n" for i in range(40)), GOOD),
                              "every text of the train split of csv is empty once tokenized (the tokenizer keeps "
                              "words, numbers and some punctuation): check which columns hold the text "
                              "(data.csv.text_cols for a CSV)"),
    "text that tokenizes to nothing": (lambda t: _csv(t / "p", "".join(f'{1 + i % 4},";;",": :"\n' for i in range(40)),
                                                      GOOD),
                                       "every text of the train split of csv is empty once tokenized (the tokenizer "
                                       "keeps words, numbers and some punctuation): check which columns hold the text "
                                       "(data.csv.text_cols for a CSV)"),
    # round two (issue 23): out= handling, degenerate settings, lines that named the wrong thing
    "out= is a dangling symlink": (lambda t: [*TINY, f"out={_link(t / 'gone', t / 'nowhere')}"],
                                   "out={t}/gone is a symbolic link to {t}/nowhere, which does not exist: make that "
                                   "folder, or choose another out=FOLDER"),
    "out= holds someone else's page": (lambda t: [*TINY, f"out={Path(_file(t / 'mine', 'index.html', 'x')).parent}"],
                                       "out={t}/mine holds files rnnbench did not write (index.html) and would "
                                       "overwrite: choose a new or empty folder, e.g. out=reports/NAME"),
    "a section given a value in a study file": (lambda t: [f"study={_study(t, 'train: 5')}"],
                                                "{t}/s.yaml: train: give a mapping (key: value), not 5"),
    "a section given a value on the command line": (lambda t: [*TINY, "train=5"],
                                                    "train=5: train is a section; set its keys one by one, e.g. "
                                                    "train.embed_dim=..."),
    "an unknown storage scheme": (lambda t: [*TINY, "storage=foo://host/db"],
                                  "storage=foo://host/db is not a database URL SQLAlchemy knows: give "
                                  "a postgresql:// or sqlite:/// URL, or drop storage= to keep "
                                  "everything in the study's folder"),
    "resume=false with a shared database": (lambda t: [*TINY, "resume=false", f"storage=sqlite:///{t}/x.db"],
                                            "resume=false starts over in a fresh local folder, but storage= names "
                                            "a shared database whose Optuna studies would be resumed: drop "
                                            "storage= or use a new database"),
    "synthetic lengths the wrong way round": (lambda t: [*TINY, "data.synthetic.min_len=9",
                                                         "data.synthetic.max_len=4"],
                                              "data.synthetic.max_len=4 is below min_len=9: use min_len <= max_len"),
    # storage
    "unreachable database": (lambda t: [*TINY, "storage=postgresql://bob:hunter2@127.0.0.1:9/x"],
                             "cannot use the database at postgresql+psycopg://bob:***@127.0.0.1:9/x: connection failed: "
                             "connection to server at \"127.0.0.1\", port 9 failed: Connection refused; check the host, "
                             "port, user and password, or drop storage= to keep everything in the study's folder"),
    "database of another schema version": (lambda t: _old_schema(t / "db"),
                                           "the database at sqlite:///{t}/db/old.db holds Optuna tables of another "
                                           "Optuna release: use a new database (or another out=FOLDER), or the "
                                           "Optuna release that made it"),
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished study: the earlier result no failing command may touch."""
    return run_study(tmp_path_factory, TINY, "finished")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}


def _gzip_error(folder: Path) -> str:
    """What gzip itself says of the damaged file (its checksums are in the message)."""
    try:
        with gzip.open(folder / "cut" / "train.csv.gz") as f:
            f.read()
    except (OSError, EOFError) as e:
        return str(e)
    return ""


def _cache() -> dict[str, bytes]:
    root = Path(os.environ["RNNBENCH_CACHE"])
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.is_dir() else {}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_nothing_changes(case, finished, tmp_path, capsys):
    before, cache = _snapshot(finished), _cache()
    make, expected = CASES[case]
    argv = make(tmp_path)
    expected = expected.format(t=tmp_path, cache=os.environ["RNNBENCH_CACHE"], gzip_error=_gzip_error(tmp_path),
                               finished=finished)
    pinned = [a for a in argv if a.startswith("out=")]  # a case about its own out= runs once, as given
    for out in [None] if pinned else (tmp_path / "new" / "study", finished):
        argv_out = [a.replace("out=FINISHED", f"out={finished}") for a in argv] + ([] if pinned else [f"out={out}"])
        assert run.main(argv_out) == 2
        err = capsys.readouterr().err
        assert err == f"error: {expected}\n"
        assert "hunter2" not in err
    assert not (tmp_path / "new").exists(), "a folder was made for a run that never started"
    assert _snapshot(finished) == before, "an earlier result was altered"
    assert _cache() == cache, "the data cache was written by a run that never started"


def _disk_full(monkeypatch, after: int):
    """Make every write of the records fail with ENOSPC once they were written `after` times."""
    real = store.write_records
    count = {"n": 0}

    def full(out, records, *args):
        count["n"] += 1
        if count["n"] > after:
            def no_space(*a, **k):
                raise OSError(errno.ENOSPC, "No space left on device")
            with monkeypatch.context() as m:
                m.setattr(os, "fsync", no_space)
                return real(out, records, *args)
        return real(out, records, *args)
    monkeypatch.setattr(store, "write_records", full)


def test_a_full_disk_mid_run_stops_cleanly_and_keeps_whole_records(tmp_path, monkeypatch, capsys):
    out = tmp_path / "full"
    argv = ["study=smoke", "data.synthetic.n_train=80", "data.synthetic.n_test=20", "tune.trials=0",
            "measure.seeds=2", "cell=[rnn,lstm]", "packing=packed", f"out={out}"]
    _disk_full(monkeypatch, after=2)
    assert run.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: cannot write {out}/records.jsonl: No space left on device; free some space or choose "
                       "another out=FOLDER (finished runs are kept: the same command resumes)")
    lines = (out / "records.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines), "the old file survived the failed write"
    assert not list(out.glob(".*.tmp*")), "no half-written file left behind"
    monkeypatch.undo()
    assert run.main(argv) == 0 and len(store.load(out)) == 4


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    return os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                                                capture_output=True).returncode == 0


def test_a_read_only_output_folder_is_refused_before_any_work(tmp_path, capsys):
    where = tmp_path / "ro"
    if not _mount_tmpfs(where, "ro,size=1m"):
        pytest.skip("mounting a read-only tmpfs needs root (as CI has); the write check is also covered by the "
                    "full-disk test")
    try:
        assert run.main([*TINY, f"out={where}/study"]) == 2
        err = capsys.readouterr().err
        assert err == (f"error: cannot write {where}/study: Read-only file system; choose another out=FOLDER, or make "
                       "this one writable (finished runs are kept: the same command resumes)\n")
    finally:
        subprocess.run(["umount", "-l", str(where)])  # lazy: an open database file keeps it busy


def test_a_tiny_tmpfs_fills_up_and_the_run_says_so(tmp_path, capsys):
    where = tmp_path / "tiny"
    if not _mount_tmpfs(where, "size=40k"):
        pytest.skip("mounting a tmpfs needs root (as CI has); the full-disk test mocks the failure instead")
    try:
        argv = ["study=smoke", "data.synthetic.n_train=80", "data.synthetic.n_test=20", "tune.trials=0",
                "measure.seeds=3", f"out={where}/study"]
        assert run.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith(f"error: cannot write {where}/study/")
        assert "No space left on device" in err or "database or disk is full" in err  # the folder or optuna.db
        for record in store.load(where / "study"):
            assert record["variant"]  # every stored line is a whole record
        assert not list((where / "study").glob(".*.tmp*")), "no half-written file left behind"
    finally:
        subprocess.run(["umount", "-l", str(where)])  # lazy: an open database file keeps it busy


def test_sigint_mid_trial_writes_a_partial_report_and_the_rerun_finishes(tmp_path):
    out = tmp_path / "int"
    # 20 trials: the second variant's tuning lasts seconds, so the signal lands in it however fast a step is
    argv = ["study=smoke", "data.synthetic.n_train=600", "data.synthetic.n_test=60", "tune.trials=20",
            "measure.seeds=1", "train.epochs=2", "tune.epochs=2", "cell=[rnn,lstm]", "packing=packed", f"out={out}"]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "bench.run", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (out / "records.jsonl").is_file():
        time.sleep(0.05)
    time.sleep(0.5)  # into the second variant's tuning
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output[-3000:]
    assert "run the same command again to resume" in output
    page = (out / "index.html").read_text()
    assert "INCOMPLETE: 1 of 2 planned runs are missing (lstm-packed-l1-true_last seed(s) 0)" in page
    assert run.main(argv) == 0
    pairs = Counter((r["variant"], r["seed"]) for r in store.load(out))
    assert set(pairs.values()) == {1} and len(pairs) == 2


def test_oom_and_nan_during_trials_are_recorded_and_the_study_goes_on(tmp_path, monkeypatch):
    from bench.train import Diverged
    real, calls = pipeline.training, []  # what tuning trains with, one epoch at a time

    def failing(error):
        raise error
        yield  # a generator, as bench.train.training is: the error comes with its first epoch

    def flaky(*args, **kwargs):
        calls.append(kwargs.get("evaluate_test", True))
        if len(calls) == 1:
            return failing(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
        if len(calls) == 2:
            return failing(Diverged("training loss is nan in epoch 1"))
        return real(*args, **kwargs)
    monkeypatch.setattr(pipeline, "training", flaky)
    out = tmp_path / "oom"
    argv = ["study=smoke", "data.synthetic.n_train=80", "data.synthetic.n_test=20", "tune.trials=3",
            "measure.seeds=1", "cell=lstm", "packing=packed", f"out={out}"]
    assert run.main(argv) == 0
    trials = json.loads((out / "tuning.json").read_text())["lstm-packed-l1-true_last"]["trials"]
    assert [t["state"] for t in trials] == ["FAIL", "PRUNED", "COMPLETE"]
    assert trials[0]["reason"].startswith("out of memory with batch_size=") and "nan" in trials[1]["reason"]
    assert len(store.load(out)) == 1


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/rnnbench-pwned",))


def test_a_tampered_tensor_cache_is_not_unpickled(tmp_path, monkeypatch, caplog):
    import torch
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNNBENCH_CACHE", str(cache))
    assert run.main([*TINY, f"out={tmp_path / 'a'}"]) == 0
    (cached,) = (cache / "tensors").glob("*.pt")
    torch.save({"train": _Boom()}, cached)  # a cache file swapped for one that runs code when unpickled
    Path("/tmp/rnnbench-pwned").unlink(missing_ok=True)
    assert run.main([*TINY, f"out={tmp_path / 'b'}"]) == 0
    assert not Path("/tmp/rnnbench-pwned").exists(), "the cache was unpickled with arbitrary objects"
    assert "ignoring unreadable tensor cache" in caplog.text


def test_a_crashed_seed_run_is_a_failed_line_and_the_others_go_on(tmp_path, monkeypatch, capsys):
    """Issue 13, class 1: any error in a measured run (here the CPU allocator's) fails that run, not the study."""
    real = pipeline.fit

    def fit(variant, params, splits, seed, device, evaluate_test=True, **kw):
        if variant.cell == "rnn" and evaluate_test:  # a measured run (tuning never reads test)
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 4000000000 bytes")
        return real(variant, params, splits, seed, device, evaluate_test=evaluate_test, **kw)
    monkeypatch.setattr(pipeline, "fit", fit)
    out = tmp_path / "crash"
    assert run.main([*over(TINY, "cell=[rnn,lstm]", "measure.seeds=2"), f"out={out}"]) == 1
    printed = capsys.readouterr().out
    for seed in (0, 1):
        assert (f"FAILED rnn-packed-l1-true_last seed {seed}: RuntimeError: DefaultCPUAllocator: can't allocate memory: "
                "you tried to allocate 4000000000 bytes (test_faults.py:") in printed
    assert sorted((r["variant"], r["seed"]) for r in store.load(out)) == [("lstm-packed-l1-true_last", 0),
                                                                        ("lstm-packed-l1-true_last", 1)]
    assert (out / "index.html").is_file() and f"wrote results.csv, index.html and the other tables in {out}" in printed


def test_a_study_where_no_run_finished_claims_no_report(tmp_path, monkeypatch, capsys):
    """Class 6: no 'wrote results.csv and index.html' for files that do not exist."""
    from bench.train import Diverged

    def diverges(*args, **kwargs):
        raise Diverged("training loss is nan in epoch 1")
    monkeypatch.setattr(pipeline, "fit", diverges)
    out = tmp_path / "none"
    assert run.main([*TINY, f"out={out}"]) == 1
    printed = capsys.readouterr().out
    assert "FAILED lstm-packed-l1-true_last seed 0: training loss is nan in epoch 1" in printed
    assert "wrote" not in printed and "no run finished: no report written" in printed
    assert not (out / "index.html").exists() and not (out / "results.csv").exists()


def test_an_unwritable_cache_folder_is_a_warning_not_a_traceback(tmp_path, monkeypatch, caplog):
    """Class 5: the cache saves time; a folder that cannot hold it costs that time, not the run."""
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("RNNBENCH_CACHE", str(tmp_path / "file" / "cache"))
    assert run.main([*TINY, f"out={tmp_path / 'out'}"]) == 0
    assert any("cannot write the tensor cache" in r.getMessage() for r in caplog.records)


def test_a_cache_hit_never_stands_in_for_another_file(tmp_path, capsys):
    """Class 5: the same bytes under another name (a plain-text file named .gz) are not the cached file."""
    folder = tmp_path / "ag"
    _file(folder, "train.csv", GOOD)
    _file(folder, "test.csv", GOOD)
    argv = ["study=packing", "budget=smoke", "cell=lstm", "packing=packed", "readout=last", "tune.trials=0",
            "measure.seeds=1", f"data.root={folder}", "measure.timing_steps=0"]
    assert run.main([*argv, f"out={tmp_path / 'a'}"]) == 0
    (folder / "train.csv").rename(folder / "train.csv.gz")  # plain text, named as gzip
    capsys.readouterr()
    assert run.main([*argv, f"out={tmp_path / 'b'}"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {folder}/train.csv.gz: cannot read it as gzip CSV text")
    assert not (tmp_path / "b").exists()
