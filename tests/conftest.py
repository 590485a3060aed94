"""Shared fixtures: an isolated cache per test, no network, the shared AG News when present."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_AG_NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ag_news_first10k"
needs_shared = pytest.mark.skipif(not (SHARED_AG_NEWS / "train.csv.gz").is_file(),
                                  reason=f"the shared AG News subset is not at {SHARED_AG_NEWS}")


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch):
    """Every test gets its own empty cache, and a download can only reach a closed local port."""
    monkeypatch.setenv("RNNBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("RNNBENCH_AG_NEWS", raising=False)
    monkeypatch.setenv("RNNBENCH_AG_NEWS_URL", "http://127.0.0.1:9")


def write_ag_news(folder: Path, train_rows: list[tuple[int, str, str]], test_rows: list[tuple[int, str, str]]) -> Path:
    """Write headerless AG News-format CSVs (every field quoted) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.csv", train_rows), ("test.csv", test_rows)):
        lines = ['"{}","{}","{}"'.format(c, t.replace('"', '""'), d.replace('"', '""')) for c, t, d in rows]
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def tiny_ag_news(tmp_path) -> Path:
    topics = ["war talks election", "match goal season", "stocks profit market", "software chip internet"]
    rows = [(c + 1, f"Title {i} {topics[c]}", f"About {topics[c]} number {i}.") for i in range(40) for c in range(4)]
    return write_ag_news(tmp_path / "ag", rows, rows[:20])


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL cluster for this test session (benchmarks.postgres.cluster); its URL."""
    from benchmarks.postgres import Unavailable, cluster
    try:
        with cluster() as url:
            yield url
    except Unavailable as e:
        pytest.skip(str(e))


def run_study(tmp_path_factory, argv: list[str], parent: str, name: str = "study") -> Path:
    """`bench.run` with argv into a fresh folder (its own data cache), asserting success: for module- and
    session-scoped fixtures that share one finished study."""
    import bench.run as run
    out = tmp_path_factory.mktemp(parent) / name
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        assert run.main([*argv, f"out={out}"]) == 0
    return out


def over(base: list[str], *changes: str) -> list[str]:
    """`base` key=value arguments with `changes` replacing the same keys (the CLI refuses a key given twice)."""
    from bench.config import replaced
    return replaced(base, *changes)
