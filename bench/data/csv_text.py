"""Any labelled text file: `data.name=csv data.csv.train=FILE [data.csv.test=FILE]`, one of FORMATS by its suffix
(CSV, TSV, JSON Lines, Parquet; the text ones may be gzipped): one loader, the same checks, cache and errors.

Columns are 0-based positions, or names (a CSV/TSV's when `data.csv.header=true`; a JSON Lines file's keys and a
Parquet file's columns always name them); several text columns are joined with a space. Labels may be ints or
strings: sorted, they map to 0..K-1. Without a test file, a stratified `data.csv.test_fraction` of the training
file becomes the test split.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from bench.record import Note
from bench.data.base import RawDataset, file_sha256, open_text, read_rows
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
        raise DataError(f"data.csv.{name}='{printable(value)}': {what} ({printable(path)}): give a {NAMES} file, "
                        "or set data.root")
    _kind(path, cfg)  # an unknown suffix is one line before anything is read
    return path


# suffix (before any .gz) -> format; a file with another suffix is read as delimited text only with data.csv.delimiter
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
NAMES = "CSV (.csv), TSV (.tsv), JSON Lines (.jsonl, .ndjson; these three may be .gz) or Parquet (.parquet)"


def _format(path: Path) -> str:
    suffixes = [x.lower() for x in path.suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes = suffixes[:-1]
    kind = FORMATS.get(suffixes[-1] if suffixes else "")
    if kind is None or (kind == "parquet" and path.suffix.lower() == ".gz"):
        raise DataError(f"{printable(path)}: unknown data format {''.join(path.suffixes) or '(no suffix)'!r}: give a "
                        f"{NAMES} file, or set data.csv.delimiter to read it as delimited text")
    return kind


def _kind(path: Path, cfg) -> str:
    """The file's format: by its suffix, or delimited text ("csv") whatever the suffix when data.csv.delimiter is
    set."""
    return _format(path) if cfg.csv.delimiter is None else "csv"


def _records(path: Path, cfg) -> tuple[list[str] | None, object]:
    """(the column names, or None for a headerless CSV; an iterator of (line or row number, fields as text))."""
    kind = _kind(path, cfg)
    if kind == "jsonl":
        return _jsonl(path)
    if kind == "parquet":
        return _parquet(path)
    rows = read_rows(path, delimiter=cfg.csv.delimiter or ("\t" if kind == "tsv" else ","))
    return (next(rows)[1] if cfg.csv.header else None), rows


def _text(value) -> str:
    """A JSON or Parquet value as the text a CSV would hold: null / NaN as empty, 3.0 as 3."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _jsonl(path: Path) -> tuple[list[str], object]:
    objects = []
    try:
        with open_text(path) as f:
            for line, text in enumerate(f, 1):
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as e:
                    raise DataError(f"{printable(path)}:{line}: not a JSON object ({e.msg}): fix or remove that "
                                    "line") from None
                if not isinstance(obj, dict):
                    raise DataError(f"{printable(path)}:{line}: a JSON Lines row is an object ({{\"text\": ..., "
                                    f"\"label\": ...}}), not {type(obj).__name__}")
                objects.append((line, obj))
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as e:
        raise DataError(f"{printable(path)}: cannot read it as {'gzip ' if path.suffix == '.gz' else ''}UTF-8 JSON "
                        f"Lines text ({e})") from e
    header = list(objects[0][1]) if objects else []

    def rows():
        for line, obj in objects:
            missing = [k for k in header if k not in obj]
            if missing:
                raise DataError(f"{printable(path)}:{line}: no key {missing[0]!r} (the first row has {header}): "
                                "give every row the same keys")
            yield line, [_text(obj[k]) for k in header]
    return header, rows()


def _parquet(path: Path) -> tuple[list[str], object]:
    import pandas as pd
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise DataError(f"{printable(path)}: reading Parquet needs pyarrow: pip install pyarrow") from None
    except Exception as e:  # noqa: BLE001 - pyarrow's errors for a damaged or non-Parquet file
        raise DataError(f"{printable(path)}: cannot read it as Parquet ({str(e).splitlines()[0] if str(e) else e}): "
                        "check the file") from None
    header = [str(c) for c in frame.columns]
    return header, ((i, [_text(v) for v in row]) for i, row in enumerate(frame.itertuples(index=False), 1))


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
    header, rows = _records(path, cfg)
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
    if cfg.csv.header is None and header is None and len(labels) > 2 and labels.count(labels[0]) == 1:
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
        f"{_kind(files['train'], cfg).upper()} {files['train'].name}: {len(train_texts):,} train / "
        f"{len(test_texts):,} test rows")]
    if once:
        notes.append(Note(kind="labels", text=
            f"LABELS SEEN ONCE in training: {', '.join(map(repr, once[:5]))}{' …' if len(once) > 5 else ''}: "
            "a class with one example cannot be learned or validated; check data.csv.label_col and the file"))
    return RawDataset("csv", train_texts, [index[y] for y in train_raw],
                      test_texts, [index[y] for y in test_raw], names, notes=notes)
