"""A small finished study to render (shared by the report tests), and a headless Chromium to look at it."""

from __future__ import annotations

import math
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_study

SMOKE = ["study=smoke", "data.synthetic.n_train=240", "data.synthetic.n_test=80", "measure.seeds=2",
         "train.epochs=2"]


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory) -> Path:
    """study=smoke (6 variants: 3 cells x padded/packed), tuned, 2 seeds x 2 epochs, on tiny synthetic data."""
    return run_study(tmp_path_factory, SMOKE, "reports", "smoke")


def copy_study(source: Path, target: Path) -> Path:
    """A private copy of a study folder, to change without touching the shared one."""
    shutil.copytree(source, target)
    return target


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
                  "--disable-extensions", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000"]

# Injected into a copy of the page: no request may leave the page (CSP), and every error is kept.
PROBE_HEAD = """<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<script>window.__problems = [];
addEventListener('error', e => __problems.push('error: ' + (e.message || (e.target && (e.target.src || '').slice(0, 80))
  || e.type)), true);
addEventListener('securitypolicyviolation', e => __problems.push('blocked: ' + e.blockedURI));
for (const level of ['error', 'warn']) { const f = console[level];
  console[level] = (...a) => { __problems.push(level + ': ' + a.join(' ')); f.apply(console, a); }; }
</script>"""
PROBE_TAIL = """<script>addEventListener('load', () => {
  const images = [...document.images].map(i => ({alt: i.alt, width: i.naturalWidth, height: i.naturalHeight}));
  const rows = [...document.querySelectorAll('#leaderboard-table tbody th[scope=row]')].map(t => t.textContent);
  const header = [...document.querySelectorAll('#leaderboard-table thead th')].map(t => t.textContent);
  const answer = (document.querySelector('#answer') || {}).textContent || '';
  const answerBox = document.querySelector('#answer') ? document.querySelector('#answer').getBoundingClientRect() : {};
  const boardEl = document.querySelector('#leaderboard-table');
  const boardBox = boardEl ? boardEl.getBoundingClientRect() : {};
  const cells = sel => [...document.querySelectorAll(sel + ' tbody tr')].map(r => [...r.children].map(c => c.textContent));
  const readings = cells('#effects-table'), board = cells('#leaderboard-table');
  const captions = [...document.querySelectorAll('figcaption')].map(c => c.textContent);
  // layout: does a table need sideways scrolling in its box, does the page itself overflow the window?
  const overflow = {};
  [...document.querySelectorAll('table')].forEach((t, i) => { const box = t.parentElement;
    overflow[t.id || ('table-' + i)] = {table: Math.ceil(t.getBoundingClientRect().width), box: box.clientWidth,
                      visible: t.checkVisibility ? t.checkVisibility() : t.offsetParent !== null}; });
  const layout = {window: window.innerWidth, page: document.documentElement.scrollWidth, overflow,
                  widestImage: Math.max(0, ...[...document.images].map(i => i.getBoundingClientRect().width)),
                  notes: [...document.querySelectorAll('.table-note')].map(n => Math.ceil(n.getBoundingClientRect().right))};
  const readingsAll = cells('#effects-all');
  const pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify({images, rows, header, answer, readings, board, captions, layout, readingsAll,
                                    answerAboveBoard: answerBox.top < boardBox.top, problems: __problems,
                                    height: document.documentElement.scrollHeight});
  document.body.appendChild(pre); });</script>"""


class Chromium:
    def __init__(self, binary: str, profile: Path):
        self.binary, self.profile = binary, profile

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", *args],
                              capture_output=True, text=True, timeout=120)

    def probe(self, page: Path, width: int = 1280) -> dict:
        """Load a copy of `page` with the probe in it, in a window `width` CSS pixels wide; what the browser saw,
        and its console lines."""
        text = page.read_text(encoding="utf-8")
        probed = page.with_name(".probe-" + page.name)
        probed.write_text(text.replace("<head>", "<head>" + PROBE_HEAD, 1).replace("</body>", PROBE_TAIL + "</body>"),
                          encoding="utf-8")
        try:
            proc = self._run(f"--window-size={width},900", "--dump-dom", probed.as_uri())
        finally:
            probed.unlink()
        found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
        assert found, f"the page did not finish loading in Chromium: {proc.stderr[-2000:]}"
        import html
        result = json.loads(html.unescape(found.group(1)))
        result["console"] = console_lines(proc.stderr)
        return result

    def screenshot(self, page: Path, png: Path, height: int, width: int = 1280) -> list[str]:
        """A full-page screenshot of the page as it is (no probe); the console lines of that load."""
        proc = self._run(f"--screenshot={png}", f"--window-size={width},{min(height, 16000)}", page.as_uri())
        assert png.is_file(), proc.stderr[-2000:]
        return console_lines(proc.stderr)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="session")
def chromium(tmp_path_factory) -> Chromium:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        binary = shutil.which(name)
        if binary:
            return Chromium(binary, tmp_path_factory.mktemp("chromium-profile"))
    pytest.skip("no Chromium here: install Debian's `chromium` package (.ci/run does, as root) to run the browser "
                "check")


def record(variant: str, seed: int, raw: bool = False, **fields) -> dict:
    """A stored record as bench.store.make_record writes it and bench.store.load reads it back (bench.record.Record:
    checked, every field present), with made-up figures to override; `raw`: as given, unchecked (a damaged line)."""
    from bench.record import Record
    from bench.variants import parse
    axes = parse(variant).axes()
    base = {"study": "t", "variant": variant, **axes, "seed": seed, "params": 1000, "train_acc": 0.5,
            "val_acc": 0.6, "test_acc": 0.6, "train_loss": 1.0, "epochs": 2, "epoch_time_s": 1.0,
            "epoch_times_s": [1.0, 1.0], "samples_per_s": 100.0, "tokens_per_s": 1000.0,
            "padded_tokens_per_s": 2000.0, "pad_fraction": 0.5, "peak_mem_mb": 100.0,
            "memory_kind": "cpu_fresh_process_peak_rise", "eval_latency_ms": 1.0, "dataset": "synthetic",
            "dataset_rows": 100, "test_rows": 50, "train_rows": 90, "val_rows": 10, "partial_data": False,
            "hyperparameters": {"lr": 0.001, "batch_size": 16}, "device": "cpu", "device_name": "cpu x2",
            "torch_version": "2.13.0", "cuda_version": "", "cudnn_version": "", "python": "3.11", "host": "h",
            "cpu_threads": 2, "git_sha": "abc", "fingerprint": "f", "budget": "quick", "tuned": False,
            "tune_best_val": None, "edge_params": [], "finished_at": f"2026-11-22T10:0{seed}:00+0000",
            "curve": [[1, 45, 0.4], [1, 90, 0.5], [2, 45, 0.55], [2, 90, 0.6]]}
    base.update(fields)
    base.setdefault("history", [{"epoch": e, "train_loss": 1.0, "running_acc": 0.5, "val_acc": base["val_acc"] - 0.1 * (2 - e),
                                 "test_acc": math.nan if base["test_acc"] is None else base["test_acc"], "time_s": 1.0, "samples": 90, "real_tokens": 900,
                                 "padded_tokens": 1800} for e in (1, 2)])
    return base if raw else Record.model_validate(base).row()
