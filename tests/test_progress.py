"""Progress: plain lines (no carriage return, no escape code) when the output is not a terminal."""

import io

from bench import progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_file_gets_plain_lines_with_an_eta_and_a_terminal_gets_a_bar(monkeypatch):
    monkeypatch.delenv("RNNBENCH_PROGRESS", raising=False)
    log = io.StringIO()
    with progress.bar(20, "runs", "run", file=log) as bar:
        for _ in range(20):
            bar.update()
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].startswith("runs: 0/20 run (0%)") and lines[0].endswith("started")
    assert len(lines) == 11 and "ETA" in lines[1] and lines[-1].startswith("runs: 20/20 run (100%)")
    assert lines[-1].endswith("done") and sum("done" in line for line in lines) == 1
    assert isinstance(progress.bar(3, "x", file=Tty()), progress.tqdm)


def test_an_inner_bar_says_only_its_start_its_end_and_a_line_every_so_often():
    log = io.StringIO()
    with progress.PlainBar(10_000, "lstm seed 0", "sample", unit_scale=True, file=log, leave=False) as bar:
        for _ in range(100):
            bar.update(100)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("lstm seed 0: 10.0k/10.0k sample (100%)")
    assert lines[-1].endswith("done")


def test_the_choice_can_be_forced(monkeypatch):
    monkeypatch.setenv("RNNBENCH_PROGRESS", "bar")
    assert not progress.plain(io.StringIO())
    monkeypatch.setenv("RNNBENCH_PROGRESS", "plain")
    assert progress.plain(Tty())
