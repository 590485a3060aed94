"""Any labelled text CSV/TSV: `data.name=csv data.csv.train=FILE [data.csv.test=FILE]`.

Columns are 0-based positions, or names when `data.csv.header=true`; several text columns are
joined with a space. Labels may be ints or strings: sorted, they map to 0..K-1. Without a test
file, a stratified `data.csv.test_fraction` of the training file becomes the test split.
"""

from __future__ import annotations

import random
from pathlib import Path

from bench.record import Note
from bench.data.base import RawDataset, file_sha256, read_rows
from bench.data.split import stratified_take
from bench.errors import DataError, kind_of, printable


def _path(cfg, name: str) -> Path | None:
    value = getattr(cfg.csv, name)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute() and cfg.root:
        path = Path(cfg.root).expanduser() / path
    if not path.is_file():
        what = f"{kind_of(path.stat().st_mode)}, not a regular file" if path.exists() else "no such file"
        raise DataError(f"data.csv.{name}='{printable(value)}': {what} ({printable(path)}): give a CSV or TSV file "
                        "(or .gz), or set data.root")
    return path


def _files(cfg) -> dict[str, Path | None]:
    train = _path(cfg, "train")
    if train is None:
        raise DataError("data.name=csv needs a training file: set data.csv.train=FILE (and data.csv.test=FILE)")
    return {"train": train, "test": _path(cfg, "test")}


def fingerprint(cfg) -> dict:
    files = _files(cfg)
    spec = {k: getattr(cfg.csv, k) for k in ("text_cols", "label_col", "header", "delimiter", "test_fraction")}
    return {"files": {k: [p.name, file_sha256(p)] if p else None for k, p in files.items()}, "spec": spec}


def _column(spec, header: list[str] | None, path: Path) -> int:
    if isinstance(spec, int):
        return spec
    if header is None or spec not in header:
        where = f"the header has {header}" if header else "set data.csv.header=true to use names"
        raise DataError(f"{path}: column {spec!r} not found ({where})")
    return header.index(spec)


def _read(path: Path, cfg) -> tuple[list[str], list[str]]:
    delimiter = cfg.csv.delimiter or ("\t" if ".tsv" in path.suffixes else ",")
    rows = read_rows(path, delimiter=delimiter)
    header = next(rows)[1] if cfg.csv.header else None
    text_cols = [_column(c, header, path) for c in cfg.csv.text_cols]
    label_col = _column(cfg.csv.label_col, header, path)
    texts, labels, lines = [], [], []
    for line, row in rows:
        if max(text_cols + [label_col]) >= len(row):
            raise DataError(f"{path}:{line}: has {len(row)} fields, but columns up to "
                            f"{max(text_cols + [label_col])} are asked for: fix data.csv.text_cols / label_col")
        label = row[label_col].strip()
        if not label:
            raise DataError(f"{path}:{line}: the label (column {cfg.csv.label_col!r}) is empty: fill it in or remove "
                            "that row")
        texts.append(" ".join(row[c] for c in text_cols))
        labels.append(label)
        lines.append(line)
    if not texts:
        raise DataError(f"{path}: no data rows{' after the header' if header else ''}: check the file")
    if cfg.csv.header is None and len(labels) > 2 and labels.count(labels[0]) == 1:
        raise DataError(f"{path}:{lines[0]}: the first row's label {labels[0]!r} occurs nowhere else in the file: it "
                        "looks like a header row; say which: data.csv.header=true (the first row names the columns) "
                        "or data.csv.header=false (it is data)")
    return texts, labels


def _numeric(label: str) -> bool:
    try:
        int(label)
        return True
    except ValueError:
        return False


def _label_order(labels: set[str], path: Path) -> list[str]:
    """The labels as classes 0..K-1: by value when all are whole numbers, else alphabetically."""
    if len(labels) < 2:
        raise DataError(f"{path}: every row has the label {next(iter(labels))!r}: a classifier needs two or more "
                        "classes; check data.csv.label_col")
    if not all(_numeric(y) for y in labels):
        return sorted(labels)
    by_value: dict[int, str] = {}
    for label in sorted(labels):
        if int(label) in by_value:
            raise DataError(f"{path}: labels {by_value[int(label)]!r} and {label!r} are one number written two ways: "
                            "write it the same way in every row")
        by_value[int(label)] = label
    return [by_value[v] for v in sorted(by_value)]


def read(cfg) -> RawDataset:
    files = _files(cfg)
    train_texts, train_raw = _read(files["train"], cfg)
    if files["test"] is not None:
        test_texts, test_raw = _read(files["test"], cfg)
    else:
        test_idx = set(stratified_take(train_raw, cfg.csv.test_fraction, random.Random(cfg.split_seed)))
        test_texts = [t for i, t in enumerate(train_texts) if i in test_idx]
        test_raw = [y for i, y in enumerate(train_raw) if i in test_idx]
        train_texts = [t for i, t in enumerate(train_texts) if i not in test_idx]
        train_raw = [y for i, y in enumerate(train_raw) if i not in test_idx]
    names = _label_order(set(train_raw), files["train"])
    index = {name: i for i, name in enumerate(names)}
    unseen = sorted(set(test_raw) - set(index))
    if unseen:
        raise DataError(f"{files['test']}: labels {unseen[:5]} never occur in the training file: "
                        "remove those rows or add training examples")
    once = sorted(y for y in names if train_raw.count(y) == 1)
    notes = [Note(kind="rows", text=
        f"CSV {files['train'].name}: {len(train_texts):,} train / {len(test_texts):,} test rows")]
    if once:
        notes.append(Note(kind="labels", text=
            f"LABELS SEEN ONCE in training: {', '.join(map(repr, once[:5]))}{' …' if len(once) > 5 else ''}: "
            "a class with one example cannot be learned or validated; check data.csv.label_col and the file"))
    return RawDataset("csv", train_texts, [index[y] for y in train_raw],
                      test_texts, [index[y] for y in test_raw], names, notes=notes)
