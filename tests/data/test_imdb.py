"""IMDB: the shared CSVs, the original archive downloaded from a local server (verified, converted, all or
nothing), long reviews, and the truncation choices of data.max_len."""

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

import bench.data as data
from bench.config import CsvConfig, DataConfig
from bench.data import csv_text, imdb
from bench.data.base import cache_dir
from bench.errors import DataError
from tests.data.test_ag_news import server  # noqa: F401 - the local HTTP server fixture

SHARED_IMDB = Path(__file__).resolve().parents[3] / "shared" / "data" / "imdb"


def _archive(path: Path, reviews: dict[str, list[str]]) -> bytes:
    """An aclImdb_v1.tar.gz in miniature: aclImdb/<split>/<neg|pos>/<id>_<stars>.txt."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for where, texts in reviews.items():
            for i, text in enumerate(texts):
                body = text.encode()
                info = tarfile.TarInfo(f"aclImdb/{where}/{i}_{1 if 'neg' in where else 9}.txt")
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


REVIEWS = {"train/neg": ["awful film", "bad<br /><br />boring"], "train/pos": ["great film", "loved it"],
           "test/neg": ["dull"], "test/pos": ["superb"]}


def test_the_archive_is_downloaded_verified_converted_and_read(server, monkeypatch):  # noqa: F811
    site, url = server
    body = _archive(site / "aclImdb_v1.tar.gz", REVIEWS)
    monkeypatch.setattr(imdb, "ARCHIVE_MD5", hashlib.md5(body).hexdigest())
    files = imdb.locate(None, url=f"{url}/aclImdb_v1.tar.gz")
    assert files["train"] == cache_dir() / "imdb" / "train.csv.gz"
    raw = imdb.read(DataConfig(name="imdb"))
    assert sorted(zip(raw.train_texts, raw.train_labels)) == [
        ("awful film", 0), ("bad  boring", 0), ("great film", 1), ("loved it", 1)]
    assert raw.label_names == ["negative", "positive"] and raw.partial


def test_a_download_that_fails_verification_leaves_nothing(server, monkeypatch):  # noqa: F811
    site, url = server
    _archive(site / "aclImdb_v1.tar.gz", REVIEWS)
    with pytest.raises(DataError, match="fails verification: md5 .* expected 7c2ac02c03563afcf9b574c7e56c153a"):
        imdb.locate(None, url=f"{url}/aclImdb_v1.tar.gz")
    assert not (cache_dir() / "imdb").exists(), "no partial file in the cache, and no empty cache folder"


def test_rows_are_shuffled_before_any_split(tmp_path):
    rows = [f'"1","","bad {i}"' for i in range(50)] + [f'"2","","good {i}"' for i in range(50)]
    for split in ("train", "test"):
        (tmp_path / f"{split}.csv").write_text("\n".join(rows) + "\n")
    raw = imdb.read(DataConfig(name="imdb", root=str(tmp_path)))
    assert raw.train_labels[:50].count(0) < 40, "grouped by class in the file, not in the data"


def test_a_field_longer_than_pythons_csv_limit_loads(tmp_path):
    long_text = "word " * 40_000  # 200,000 characters: csv's default limit is 131,072
    (tmp_path / "long.csv").write_text(f'1,"{long_text}"\n2,"short"\n1,"x"\n2,"y"\n')
    raw = csv_text.read(DataConfig(name="csv", csv=CsvConfig(train=str(tmp_path / "long.csv"), test_fraction=0.5)))
    assert max(len(t) for t in raw.train_texts + raw.test_texts) == len(long_text)


@pytest.mark.parametrize("keep, expected", [("head", list("abcd")), ("tail", list("ghij")), ("both", list("abij"))])
def test_max_len_keeps_the_head_the_tail_or_both_ends(keep, expected):
    assert data._cut(list("abcdefghij"), 4, keep) == expected
    assert data._cut(list("abc"), 4, keep) == list("abc")


@pytest.mark.skipif(not (SHARED_IMDB / "train.csv.gz").is_file(), reason=f"the shared IMDB is not at {SHARED_IMDB}")
def test_shared_imdb_reads_both_classes_and_full_rows():
    raw = imdb.read(DataConfig(name="imdb", root=str(SHARED_IMDB)))
    assert len(raw.train_texts) == len(raw.test_texts) == 25_000 and not raw.partial
    assert sorted(set(raw.train_labels)) == [0, 1] and "<br" not in raw.train_texts[0]
