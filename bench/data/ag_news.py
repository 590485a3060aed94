"""AG News (Zhang et al. 2015): 4 topics, headerless `"class","title","description"` CSV.

Where the files come from, first hit wins: `data.root`, then $RNNBENCH_AG_NEWS, then the
per-user cache (`<cache>/ag_news`); when none has them, the original CSVs are downloaded from a
public mirror ($RNNBENCH_AG_NEWS_URL or `data.url` overrides it) into the cache, verified by
git blob id (and sha256 where known), and only then moved into place.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.record import Note
from bench.data.base import RawDataset, Source, download, file_sha256, read_rows
from bench.errors import DataError

ENV_ROOT = "RNNBENCH_AG_NEWS"
ENV_URL = "RNNBENCH_AG_NEWS_URL"
MIRROR = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv"
SPLITS = ("train", "test")
FULL_ROWS = {"train": 120_000, "test": 7_600}
LABELS = ["World", "Sports", "Business", "Sci/Tech"]
# From ../shared/data/ag_news_first10k/SOURCE.md: the original files' identities.
CHECKSUMS = {
    "train.csv": {"git_blob": "694aa19971315410e000404523796b76349d3c1d"},
    "test.csv": {"git_blob": "130b40c3329c993468b8ed8a22c331315e478e0a",
                 "sha256": "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699"},
}
TIMEOUT_S = 60


SOURCE = Source("AG News", "ag_news", ENV_ROOT, SPLITS)


def locate(root: str | None, url: str | None = None, download: bool = True) -> dict[str, Path]:
    """{'train': path, 'test': path} from data.root, $RNNBENCH_AG_NEWS or the cache, downloaded when none has them."""
    def get(dest: Path) -> None:
        fetch(url or os.environ.get(ENV_URL) or MIRROR, dest, CHECKSUMS)
    return SOURCE.locate(root, get if download else None)


def fetch(base_url: str, dest: Path, checksums: dict[str, dict[str, str]]) -> None:
    """Every file in `checksums` from `base_url/<name>` into `dest`, verified, all or nothing (base.download)."""
    download({name: (f"{base_url.rstrip('/')}/{name}", sums) for name, sums in checksums.items()}, dest,
             timeout=TIMEOUT_S)


def fingerprint(cfg) -> dict:
    files = locate(cfg.root, cfg.url, cfg.download)
    return {split: [path.name, file_sha256(path)] for split, path in files.items()}


def _read_split(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for line, (label, title, description) in read_rows(path, n_fields=3):
        if label not in ("1", "2", "3", "4"):
            raise DataError(f"{path}:{line}: class must be 1-4, found {label!r}: fix or remove that row")
        texts.append(f"{title} {description}")
        labels.append(int(label) - 1)  # the lesson's label = class index - 1
    return texts, labels


def read(cfg) -> RawDataset:
    files = locate(cfg.root, cfg.url, cfg.download)
    train_texts, train_labels = _read_split(files["train"])
    test_texts, test_labels = _read_split(files["test"])
    counts = {"train": len(train_texts), "test": len(test_texts)}
    partial = counts != FULL_ROWS
    notes = [Note(kind="rows", text=f"AG News rows: train {counts['train']:,}, test {counts['test']:,}")]
    if partial:
        notes.append(Note(kind="partial", text=
            f"PARTIAL split: the canonical AG News has train {FULL_ROWS['train']:,} / test "
            f"{FULL_ROWS['test']:,} rows; figures are not comparable with published results"))
    return RawDataset("ag_news", train_texts, train_labels, test_texts, test_labels, LABELS, partial, notes)
