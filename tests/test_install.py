"""A normal install: the wheel carries the shipped studies, and an installed rnnbench runs from an empty folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip wheel .` builds from this checkout (in a copy, so the checkout gets no build/ folder)."""
    pytest.importorskip("setuptools", reason="building the wheel without isolation needs setuptools in this venv")
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for part in ("bench", "studies", "pyproject.toml", "README.md"):
        (shutil.copytree if (ROOT / part).is_dir() else shutil.copy)(ROOT / part, src / part)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(src)], check=True, capture_output=True, env=_clean_env())
    return next(out.glob("rnnbench-*.whl"))


def _clean_env(**more: str) -> dict[str, str]:
    """This process's environment without what would point an installed rnnbench back at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RNNBENCH_STUDIES")}
    return {**env, "TQDM_DISABLE": "1", "RNNBENCH_THREADS": "1", **more}


def test_the_wheel_holds_every_shipped_study_and_template(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"bench/studies/{p.name}" for p in (ROOT / "studies").glob("*.yaml")}
    assert "bench/studies/_base.yaml" in shipped and shipped <= names, sorted(shipped - names)
    templates = {f"bench/report/templates/{p.name}" for p in (ROOT / "bench" / "report" / "templates").iterdir()}
    assert templates <= names, sorted(templates - names)
    assert not any(n.startswith(("tests/", "reports/", "studies/")) for n in names), "only the package, under bench/"


@pytest.mark.slow
def test_an_installed_wheel_runs_a_study_from_an_empty_folder(wheel, tmp_path):
    """A fresh venv with the wheel installed (its dependencies seen through this venv's site-packages, so nothing is
    downloaded), run from an empty folder with no RNNBENCH_STUDIES and no checkout on the path."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # a path line, not a site dir: this venv's .pth files (the editable rnnbench's among them) are not processed
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, env=_clean_env())
    empty = tmp_path / "empty"
    empty.mkdir()
    env = _clean_env(RNNBENCH_CACHE=str(tmp_path / "cache"))
    where = subprocess.run([str(py), "-c", "import bench; print(bench.__file__)"], cwd=empty, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site)), f"the installed copy is imported, not the checkout: {where}"
    cli = venv / "bin" / "rnnbench"
    helped = subprocess.run([str(cli), "--help"], cwd=empty, env=env, capture_output=True, text=True)
    assert helped.returncode == 0 and "smoke" in helped.stdout and "packing" in helped.stdout, helped
    assert "RNNBENCH_STUDIES" in helped.stdout
    start = time.perf_counter()
    ran = subprocess.run([str(cli), "study=smoke", "cell=[gru]", "data.synthetic.n_train=200",
                          "data.synthetic.n_test=40", "tune.trials=1", "measure.seeds=1", "train.epochs=1"],
                         cwd=empty, env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert (empty / "reports" / "smoke" / "index.html").is_file()
    print(f"\ninstalled wheel: study=smoke (1 cell) from an empty folder in {time.perf_counter() - start:.1f} s")
