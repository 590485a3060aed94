"""What every dataset module returns, and the file helpers they share.

A dataset module (one file, one entry in `bench.data.DATASETS`) has two functions:
`fingerprint(cfg) -> dict` (cheap: file hashes or generator settings; it keys the tensor cache)
and `read(cfg) -> RawDataset` (texts and integer labels).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from bench.record import Note
from bench.errors import DataError, kind_of, printable


@dataclass
class RawDataset:
    name: str
    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]
    label_names: list[str]
    partial: bool = False  # fewer rows than the canonical split: figures are not comparable
    notes: list[Note] = field(default_factory=list)  # what reading found, each of a kind (bench.record.Note)


def cache_dir() -> Path:
    """Per-user cache: $RNNBENCH_CACHE, else $XDG_CACHE_HOME/rnnbench, else ~/.cache/rnnbench."""
    if os.environ.get("RNNBENCH_CACHE"):
        return Path(os.environ["RNNBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnbench"


def _digest(path: Path, digest) -> str:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    return _digest(path, hashlib.sha256())


CHECKS = {"sha256": file_sha256,
          "md5": lambda path: _digest(path, hashlib.md5(usedforsecurity=False)),
          # `git hash-object FILE`: sha1 over 'blob <size>\0' + the bytes
          "git_blob": lambda path: _digest(path, hashlib.sha1(f"blob {path.stat().st_size}\0".encode()))}


def verify(path: Path, expected: dict[str, str]) -> None:
    """Raise DataError unless every checksum in `expected` (sha256, md5, git_blob) matches."""
    for kind, want in expected.items():
        got = CHECKS[kind](path)
        if got != want:
            raise DataError(f"{path.name} fails verification: {kind} {got}, expected {want} (truncated or corrupt "
                            "download)")


def download(files: dict[str, tuple[str, dict[str, str]]], dest: Path,
             finish: Callable[[Path], list[str]] | None = None, timeout: float = 60) -> None:
    """Download each `name: (url, checksums)` into a staging folder beside `dest` and verify it; `finish(staging)`
    may turn the downloads into other files (and names them); only then are they moved into `dest`. All or
    nothing: on any failure the staging folder is removed, so `dest` never holds a partial file."""
    made = [f for f in (dest, *dest.parents) if not f.exists()]  # the folders this call makes, innermost first
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=dest))
    try:
        for name, (url, expected) in files.items():
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response, open(staging / name, "wb") as out:
                    shutil.copyfileobj(response, out)
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise DataError(f"cannot download {url}: {e}") from e
            verify(staging / name, expected)
        for name in finish(staging) if finish else files:
            os.replace(staging / name, dest / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in made:  # a failed download leaves no empty cache folder, nor the empty cache root above it
            if any(folder.iterdir()):
                break
            folder.rmdir()


MAX_RATIO = 200                # a text CSV gzips 3-10 x; a file that expands this much and ...
MAX_EXPANDED = 256 << 20       # ... past this many bytes is a gzip bomb (or not text), refused before memory runs out


class _Bounded(io.RawIOBase):
    """A gzip file's decompressed bytes, counted: past MAX_RATIO x its compressed size (and MAX_EXPANDED) it is one
    DataError naming the file, never a MemoryError."""

    def __init__(self, path: Path):
        self.path, self.inner, self.read_bytes = path, gzip.open(path, "rb"), 0
        self.limit = max(MAX_EXPANDED, MAX_RATIO * path.stat().st_size)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read1(len(buffer))  # one chunk, as GzipFile hands TextIOWrapper: a bad CRC at the end of
        n = len(data)                         # the stream comes after the rows before it (read_rows says which)
        buffer[:n] = data
        self.read_bytes += n
        if self.read_bytes > self.limit:
            raise DataError(f"{printable(self.path)}: expands past {self.limit >> 20:,} MiB, more than {MAX_RATIO} "
                            "times its compressed size: a gzip bomb, or not a text CSV; check the file")
        return n

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_text(path: Path) -> io.TextIOBase:
    """Open a .csv or .csv.gz (any suffix + .gz) as text; a .gz is read through `_Bounded`."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(io.BufferedReader(_Bounded(path)), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # -sig: a byte-order mark is not part of the first field


def _check_gzip(path: Path) -> None:
    """A DataError when `path` is a damaged or truncated gzip file."""
    if path.suffix != ".gz":
        return
    try:
        with _Bounded(path) as f:
            while f.read(1 << 20):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: the gzip file is damaged or cut short ({e}): copy or download it again") from None


def read_rows(path: Path, delimiter: str = ",", n_fields: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) per CSV record; every record must have the same number of
    fields (`n_fields`, else the first record's). Blank lines are skipped."""
    csv.field_size_limit(2**31 - 1)  # a long document is data (data.max_len decides what a model reads)
    try:
        with open_text(path) as f:
            reader = csv.reader(f, delimiter=delimiter)
            for row in reader:
                if not row:
                    continue
                if n_fields is None:
                    n_fields = len(row)
                if any("\ufeff" in field for field in row):  # utf-8-sig strips only the first one
                    raise DataError(f"{printable(path)}:{reader.line_num}: a byte-order mark (U+FEFF) inside the file, "
                                    "where two files were joined: remove it (a file may begin with one, nowhere else)")
                if len(row) != n_fields:
                    _check_gzip(path)  # a file cut short ends in a short row: say that, not "a row with N fields"
                    raise DataError(f"{path}:{reader.line_num}: expected {n_fields} fields, found {len(row)}: "
                                    "fix or remove that row")
                yield reader.line_num, row
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as e:
        raise DataError(f"{path}: cannot read it as {'gzip ' if path.suffix == '.gz' else ''}CSV text ({e})") from e


@dataclass(frozen=True)
class Source:
    """Where a dataset's `train.csv[.gz]` and `test.csv[.gz]` come from, first hit wins: `data.root`, then the
    environment variable `env`, then the per-user cache `<cache>/<folder>`, then a download into that cache."""
    title: str
    folder: str
    env: str
    splits: tuple[str, ...] = ("train", "test")

    @staticmethod
    def find(folder: Path, split: str) -> Path | None:
        """`<split>.csv` or `<split>.csv.gz` in `folder`; one that exists and is not a regular file (a FIFO, a device,
        a folder) is refused, named for what it is."""
        for name in (f"{split}.csv", f"{split}.csv.gz"):
            path = folder / name
            if path.is_file():
                return path
            if path.exists():
                raise DataError(f"{printable(path)} is {kind_of(path.stat().st_mode)}, not a regular file: put the "
                                "data file itself there")
        return None

    def files_in(self, folder: Path) -> dict[str, Path] | None:
        found = {split: self.find(folder, split) for split in self.splits}
        return found if all(found.values()) else None  # type: ignore[return-value]

    def how_to_provide(self) -> str:
        return (f"provide it one of three ways: data.root=FOLDER on the command line, the environment variable "
                f"{self.env}=FOLDER, or the cache folder {cache_dir() / self.folder} (filled by a download when the "
                "network allows); FOLDER holds train.csv[.gz] and test.csv[.gz]")

    def locate(self, root: str | None, download) -> dict[str, Path]:
        """{split: path}; `download(dest)` fills the cache folder when nothing has the files (None: not allowed)."""
        cache = cache_dir() / self.folder
        if root:
            folder = Path(root).expanduser()
            found = self.files_in(folder)
            if not found:
                what = "it is a file, not a folder" if folder.is_file() else "the folder does not exist" \
                    if not folder.is_dir() else "no " + " and no ".join(
                        f"{split}.csv[.gz]" for split in self.splits if not self.find(folder, split)) + " in it"
                raise DataError(f"{self.title} not found in data.root='{root}' ({what}): fix the path, or "
                                f"{self.how_to_provide()}")
            return found
        if os.environ.get(self.env):
            found = self.files_in(Path(os.environ[self.env]).expanduser())
            if not found:
                raise DataError(f"{self.title} not found in {self.env}='{os.environ[self.env]}' (no train.csv[.gz] "
                                f"and test.csv[.gz] there): fix it, or {self.how_to_provide()}")
            return found
        found = self.files_in(cache)
        if found:
            return found
        if download is None:
            raise DataError(f"{self.title} not found and data.download=false: {self.how_to_provide()}")
        try:
            download(cache)
        except DataError as e:
            raise DataError(f"{self.title} not found locally and the download failed ({e}): "
                            f"{self.how_to_provide()}") from e
        return self.files_in(cache)  # type: ignore[return-value]
