"""IMDB movie reviews (Maas et al. 2011): binary sentiment of long texts, 25,000 train / 25,000 test.

The files are the AG News layout (headerless `"label","title","text"` CSV, label 1 = negative,
2 = positive, title empty), found like AG News's: `data.root`, then $RNNBENCH_IMDB, then the per-user
cache (`<cache>/imdb`). When none has them, the original archive (`aclImdb_v1.tar.gz`, $RNNBENCH_IMDB_URL
or `data.url` overrides where from) is downloaded into a staging folder, verified by its MD5 (the one
torchtext and others pin), converted to `train.csv.gz` / `test.csv.gz`, and only then moved into the cache.

Reading: the rows come grouped by class, so they are shuffled (seeded by `data.split_seed`) before any
split or cap; the reviews' `<br />` line breaks become spaces (the tokenizer would keep `br` as a word).
"""

from __future__ import annotations

import csv
import gzip
import os
import random
import re
import tarfile
from pathlib import Path

from bench.record import Note
from bench.data.base import RawDataset, Source, download, file_sha256, read_rows
from bench.errors import DataError

ENV_ROOT, ENV_URL = "RNNBENCH_IMDB", "RNNBENCH_IMDB_URL"
ARCHIVE_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ARCHIVE, ARCHIVE_MD5 = "aclImdb_v1.tar.gz", "7c2ac02c03563afcf9b574c7e56c153a"
FULL_ROWS = {"train": 25_000, "test": 25_000}
LABELS = ["negative", "positive"]
SOURCE = Source("IMDB", "imdb", ENV_ROOT)
TIMEOUT_S = 120
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def locate(root: str | None, url: str | None = None, download: bool = True) -> dict[str, Path]:
    def get(dest: Path) -> None:
        fetch(url or os.environ.get(ENV_URL) or ARCHIVE_URL, dest)
    return SOURCE.locate(root, get if download else None)


def fetch(url: str, dest: Path) -> None:
    """Download the archive, check its MD5, write the two CSVs; moved into `dest` only when whole (base.download)."""
    def convert(staging: Path) -> list[str]:
        for split in ("train", "test"):
            _write_csv(staging / ARCHIVE, split, staging / f"{split}.csv.gz")
        return ["train.csv.gz", "test.csv.gz"]
    download({ARCHIVE: (url, {"md5": ARCHIVE_MD5})}, dest, convert, timeout=TIMEOUT_S)


def _write_csv(archive: Path, split: str, target: Path) -> None:
    """aclImdb/<split>/{neg,pos}/<id>_<stars>.txt -> one quoted CSV row each, negatives first, by id."""
    rows: list[tuple[int, int, str]] = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if member.isfile() and len(parts) == 4 and parts[1] == split and parts[2] in ("neg", "pos") \
                        and parts[3].endswith(".txt"):
                    text = tar.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
                    rows.append((1 if parts[2] == "neg" else 2, int(parts[3].split("_")[0]), text))
    except (tarfile.TarError, OSError, ValueError) as e:
        raise DataError(f"{archive.name} cannot be read as the IMDB archive ({e})") from e
    if not rows:
        raise DataError(f"{archive.name} holds no aclImdb/{split}/neg|pos/*.txt reviews")
    with gzip.open(target, "wt", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)
        for label, _, text in sorted(rows):
            writer.writerow([label, "", text])


def fingerprint(cfg) -> dict:
    files = locate(cfg.root, cfg.url, cfg.download)
    return {split: [path.name, file_sha256(path)] for split, path in files.items()}


def _read_split(path: Path, seed: int) -> tuple[list[str], list[int]]:
    rows = []
    for line, (label, title, text) in read_rows(path, n_fields=3):
        if label not in ("1", "2"):
            raise DataError(f"{path}:{line}: the label must be 1 (negative) or 2 (positive), found {label!r}: fix or "
                            "remove that row")
        rows.append((_BREAK.sub(" ", f"{title} {text}").strip(), int(label) - 1))
    random.Random(seed).shuffle(rows)  # the file is grouped by class
    return [t for t, _ in rows], [y for _, y in rows]


def read(cfg) -> RawDataset:
    files = locate(cfg.root, cfg.url, cfg.download)
    train_texts, train_labels = _read_split(files["train"], cfg.split_seed)
    test_texts, test_labels = _read_split(files["test"], cfg.split_seed)
    counts = {"train": len(train_texts), "test": len(test_texts)}
    notes = [Note(kind="rows", text=f"IMDB rows: train {counts['train']:,}, test {counts['test']:,}")]
    partial = counts != FULL_ROWS
    if partial:
        notes.append(Note(kind="partial", text=
            f"PARTIAL split: the canonical IMDB has train {FULL_ROWS['train']:,} / test "
            f"{FULL_ROWS['test']:,} rows; figures are not comparable with published results"))
    return RawDataset("imdb", train_texts, train_labels, test_texts, test_labels, LABELS, partial, notes)
