"""--help of both commands: generated from the config dataclasses, every key said with its meaning, default and
allowed values; and a mistake answered before torch is imported."""

import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest

from bench import config, help as help_
from bench.config import KEYS, ReportArgs, Rule
from bench.variants import AXES, AXIS_HELP, Variant, check_value

ROOT = Path(__file__).resolve().parents[1]


def _cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_every_key_has_a_meaning_a_default_and_its_allowed_values_in_help():
    text = help_.run_help()
    rows = list(help_.described())
    assert [key for key, *_ in rows] == list(KEYS)  # one source: the schema's keys, all of them
    for key, default, allowed, meaning in rows:
        assert meaning and allowed, f"{key} has no meaning or no allowed values"
        assert f"  {key} = {default}" in text
        assert allowed.split(",")[0] in text
    for axis in AXES:
        assert AXIS_HELP[axis] and f"  {axis} = " in text
    for budget in config.BUDGETS:
        assert f"  {budget}: " in text


def test_the_allowed_values_said_are_the_ones_checked():
    for cls in (config.DataConfig, config.Params, config.TuneConfig, config.MeasureConfig, config.SpeedConfig,
                config.CsvConfig, config.SyntheticConfig):
        for f in fields(cls):
            rule: Rule = f.metadata["rule"]
            if rule.kind == "choice":
                bad = "not-a-choice"
                with pytest.raises(config.ConfigError, match=f"use one of {', '.join(map(str, rule.choices))}"):
                    cls(**{f.name: bad})
            elif rule.kind in ("whole", "number"):
                below = rule.low - 1
                with pytest.raises(config.ConfigError, match="is not allowed: use "):
                    cls(**{f.name: int(below) if rule.kind == "whole" else float(below)})
                cls(**{f.name: int(rule.low) + (1 if rule.low_open else 0) if rule.kind == "whole"
                       else min(rule.low + 0.5, (rule.high or 2) - 0.25)})  # an allowed value passes
    assert "one of rnn, lstm" in help_.run_help() and check_value("cell", "gru") == "gru"
    assert Variant().cell == "lstm"


def test_help_of_both_commands_is_quick_and_fits_the_terminal():
    for module in ("bench.run", "bench.report"):
        start = time.monotonic()
        proc = _cli(module, "--help")
        assert proc.returncode == 0 and proc.stderr == "" and time.monotonic() - start < 5
        assert max(len(line) for line in proc.stdout.splitlines()) <= 120
    assert all(f"  {f.name} = " in help_.report_help() for f in fields(ReportArgs))


@pytest.mark.parametrize("module, args", [("bench.run", ["studdy=packing"]), ("bench.run", ["study=packing", "cell=foo"]),
                                          ("bench.run", ["study=nope"]), ("bench.report", ["stuyd=x"])])
def test_a_mistake_is_answered_before_torch_is_imported(module, args):
    code = (f"import sys; sys.argv = ['x', *{args!r}]; import {module} as m; rc = m.main();"
            "assert 'torch' not in sys.modules and 'optuna' not in sys.modules and 'pandas' not in sys.modules, "
            "sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'optuna', 'pandas'))[:5]; sys.exit(rc)")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert time.monotonic() - start < 5  # under 2 s on an idle 2-core machine (README); loose here for CI noise
