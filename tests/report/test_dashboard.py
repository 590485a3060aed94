"""The README's optuna-dashboard line opens a finished study's storage: run it as written, ask its API."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "docs" / "reading-a-report.md"  # the manual's dashboard block


def _readme_line() -> str:
    found = re.search(r"<!-- dashboard -->\s*```bash\s*\n(.*?)\n```", README.read_text(), re.S)
    assert found, "docs/reading-a-report.md: the optuna-dashboard line sits in a ```bash block after <!-- dashboard -->"
    return found.group(1).split("#")[0].strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readme_dashboard_line_lists_the_study_s_optuna_studies(smoke_study, tmp_path):
    if not shutil.which("optuna-dashboard"):
        pytest.skip("optuna-dashboard is not installed: pip install -e '.[dev]' installs it")
    line = _readme_line()
    assert line.startswith("optuna-dashboard sqlite:///reports/NAME/optuna.db"), line
    port = _free_port()
    words = line.replace("reports/NAME", str(smoke_study)).split() + ["--port", str(port), "--quiet"]
    proc = subprocess.Popen(words, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, studies = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as reply:
                    studies = json.loads(reply.read())["study_summaries"]
                break
            except OSError:
                time.sleep(0.5)
        assert studies is not None, f"optuna-dashboard did not answer: {proc.poll()} {proc.stdout.read() if proc.poll() is not None else ''}"
        names = {s["study_name"] for s in studies}
        group = "smoke/lstm-padded-l1-true_last+lstm-packed-l1-true_last"  # smoke shares along packing: one per cell
        assert group in names and "smoke/lstm-packed-l1-true_last/seeds" in names, names
        tuned = next(s for s in studies if s["study_name"] == group)
        assert tuned["directions"] == ["maximize"]  # the tuning study: validation accuracy, maximized
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{tuned['study_id']}", timeout=10) as reply:
            detail = json.loads(reply.read())
        assert len(detail["trials"]) >= 3 and detail["best_trials"], "its trials, with their values"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
