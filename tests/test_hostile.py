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
from tests.test_faults import TINY

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
