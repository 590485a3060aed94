"""--help of both commands: generated from the schema (bench.config's pydantic models), every key said with its
meaning, default and allowed values; and a mistake answered before torch is imported."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import cli, config
from bench.config import KEYS, ReportArgs, load_study
from bench.errors import ConfigError
from bench.variants import AXES, AXIS_HELP, Variant, check_value

ROOT = Path(__file__).resolve().parents[1]


def _cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_every_key_has_a_meaning_a_default_and_its_allowed_values_in_help():
    text = cli.run_help()
    rows = cli.described()
    assert [key for key, *_ in rows] == list(KEYS)  # one source: the schema's keys, all of them
    for key, default, allowed, meaning in rows:
        assert meaning and allowed, f"{key} has no meaning or no allowed values"
        assert f"  {key} = {default}" in text
        assert allowed.split(",")[0] in text
    for axis in AXES:
        assert AXIS_HELP[axis] and f"  {axis} = " in text
    for budget in config.BUDGETS:
        assert f"  {budget}: " in text


@pytest.mark.parametrize("key", [k for k, info in KEYS.items() if "Literal" in str(info.annotation)
                                 or any(hasattr(m, "ge") or hasattr(m, "gt") for m in info.metadata)])
def test_the_allowed_values_said_are_the_ones_checked(key):
    """Every bounded or listed key: a value outside is refused with the words --help says, one inside passes."""
    info = KEYS[key]
    bounds = {n: getattr(m, n) for m in info.metadata for n in ("ge", "gt", "le", "lt") if hasattr(m, n)}
    said = config.allowed(info, key.split(".")[-1])
    if "Literal" in str(info.annotation):
        bad, good = "not-a-choice", str(info.default)
    else:
        whole = "int" in str(info.annotation)
        low = bounds.get("ge", bounds.get("gt"))
        bad = int(low) - 1 if whole else float(low) - 1
        good = int(low) + (1 if "gt" in bounds else 0) if whole else min(low + 0.25, bounds.get("lt", 2) / 2)
    with pytest.raises(ConfigError, match=f"{key}=.* is not allowed: use ") as error:
        load_study(["study=smoke", f"{key}={bad}"])
    assert said in str(error.value) and said in cli.run_help()
    if key not in ("budget", "workers", "measure.max_seeds"):
        with_order = ["data.synthetic.min_len=1"] if key == "data.synthetic.max_len" else []  # min <= max holds
        load_study(["study=smoke", f"{key}={good}", *with_order])  # an allowed value passes
    assert "one of rnn, lstm" in cli.run_help() and check_value("cell", "gru") == "gru"
    assert Variant().cell == "lstm"


def test_help_of_both_commands_is_quick_and_fits_the_terminal():
    for module in ("bench.run", "bench.report"):
        start = time.monotonic()
        proc = _cli(module, "--help")
        assert proc.returncode == 0 and proc.stderr == "" and time.monotonic() - start < 5
        assert max(len(line) for line in proc.stdout.splitlines()) <= 120
    assert all(f"  {name} = " in cli.report_help() for name in ReportArgs.model_fields)


@pytest.mark.parametrize("command, args", [("run", ["studdy=packing"]), ("run", ["study=packing", "cell=foo"]),
                                           ("run", ["study=nope"]), ("report", ["stuyd=x"])])
def test_a_mistake_is_answered_before_torch_is_imported(command, args):
    code = (f"import sys; sys.argv = ['x', *{args!r}]; import bench.cli as m; rc = m.{command}();"
            "assert 'torch' not in sys.modules and 'optuna' not in sys.modules and 'pandas' not in sys.modules, "
            "sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'optuna', 'pandas'))[:5]; sys.exit(rc)")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert time.monotonic() - start < 5  # under 2 s on an idle 2-core machine (README); loose here for CI noise


def test_help_says_what_the_shipped_studies_get_beside_the_schema_default():
    text = cli.run_help()
    assert "  budget = null  [studies: quick]" in text and "  train.lr = 0.001  [studies: 0.002]" in text


def test_a_dry_run_says_what_would_run_and_writes_nothing_nor_imports_torch(tmp_path):
    out = tmp_path / "never"
    code = ("import sys; import bench.cli as c; rc = c.run(['study=packing', 'cell=[lstm,gru]', 'measure.seeds=2', "
            f"'out={out}', '--cfg']); assert 'torch' not in sys.modules and 'optuna' not in sys.modules; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "# 6 variant(s): lstm-padded-l1, lstm-padded-l1-true_last, lstm-packed-l1, gru-padded-l1" in proc.stdout
    assert "# 12 seed run(s) planned (2 seed(s) each; up to 8 while a pair is undecided), after 4 tuning trial(s)" \
        in proc.stdout and f"# 0 of them already in {out}; 12 to run" in proc.stdout
    assert "  lr: 0.002" in proc.stdout and not out.exists()


def test_help_lists_every_environment_variable_rnnbench_reads():
    import re
    read = {m for p in (ROOT / "bench").rglob("*.py") for m in re.findall(r"RNNBENCH_[A-Z_]*[A-Z]", p.read_text())}
    internal = {"RNNBENCH_WORKER_OF", "RNNBENCH_WORKER_STORAGE"}  # set by a workers=N parent on its children
    listed = {name for name, _ in cli.ENVIRONMENT}
    assert read - internal == listed, (read - internal) ^ listed
    for text in (cli.run_help(), cli.report_help()):
        assert all(f"  {name} " in text for name in listed)
