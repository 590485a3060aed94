import gzip
import hashlib
import http.server
import threading
from functools import partial

import pytest

from bench.config import DataConfig
from bench.data import ag_news, base
from bench.data.base import cache_dir
from bench.errors import DataError
from tests.conftest import SHARED_AG_NEWS, needs_shared, write_ag_news


@pytest.fixture
def server(tmp_path):
    """A static HTTP server on 127.0.0.1 serving tmp_path/site."""
    site = tmp_path / "site"
    site.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield site, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def blob(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


@needs_shared
def test_reads_the_shared_subset_and_says_it_is_partial():
    raw = ag_news.read(DataConfig(root=str(SHARED_AG_NEWS)))
    assert (len(raw.train_texts), len(raw.test_texts)) == (10_429, 7_600)
    assert raw.partial and any(n.kind == "partial" and "PARTIAL" in n.text for n in raw.notes)
    assert sorted(set(raw.test_labels)) == [0, 1, 2, 3] and raw.test_labels.count(0) == 1900
    assert [raw.train_labels.count(c) for c in range(4)] == [2630, 2452, 2594, 2753]  # SOURCE.md


@needs_shared
def test_shared_test_split_verifies_against_the_original_checksums(tmp_path):
    plain = tmp_path / "test.csv"
    plain.write_bytes(gzip.decompress((SHARED_AG_NEWS / "test.csv.gz").read_bytes()))
    base.verify(plain, ag_news.CHECKSUMS["test.csv"])  # git blob and sha256 of SOURCE.md


def test_root_then_env_then_cache(tiny_ag_news, tmp_path, monkeypatch):
    assert ag_news.locate(str(tiny_ag_news))["train"] == tiny_ag_news / "train.csv"
    other = write_ag_news(tmp_path / "env", [(1, "a", "b")], [(1, "a", "b")])
    monkeypatch.setenv(ag_news.ENV_ROOT, str(other))
    assert ag_news.locate(None)["test"] == other / "test.csv"
    monkeypatch.delenv(ag_news.ENV_ROOT)
    cached = write_ag_news(cache_dir() / "ag_news", [(2, "c", "d")], [(2, "c", "d")])
    assert ag_news.locate(None)["train"] == cached / "train.csv"


def test_missing_data_names_the_three_ways(tmp_path):
    with pytest.raises(DataError, match="data.root=FOLDER.*RNNBENCH_AG_NEWS=FOLDER.*cache folder"):
        ag_news.locate(str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="download failed.*three ways"):
        ag_news.locate(None)  # nothing local; the download hits a closed local port


def test_row_with_wrong_field_count_names_file_and_line(tmp_path):
    folder = write_ag_news(tmp_path / "bad", [(1, "a", "b")] * 3, [(1, "a", "b")])
    with open(folder / "train.csv", "a") as f:
        f.write('"2","only two"\n')
    with pytest.raises(DataError, match=r"train.csv:4: expected 3 fields, found 2"):
        ag_news.read(DataConfig(root=str(folder)))


def test_download_verifies_then_moves_into_the_cache(server, monkeypatch):
    site, url = server
    write_ag_news(site, [(1, "t", "d"), (2, "u", "e")], [(3, "v", "f")])
    sums = {name: {"git_blob": blob((site / name).read_bytes())} for name in ("train.csv", "test.csv")}
    monkeypatch.setattr(ag_news, "CHECKSUMS", sums)
    files = ag_news.locate(None, url=url)
    assert files["train"] == cache_dir() / "ag_news" / "train.csv"
    raw = ag_news.read(DataConfig(url=url))
    assert raw.train_labels == [0, 1] and raw.partial  # 2 rows are not 120,000


def test_truncated_download_is_rejected_and_cache_left_clean(server, monkeypatch):
    site, url = server
    write_ag_news(site, [(1, "title", "description")] * 50, [(2, "x", "y")])
    sums = {name: {"git_blob": blob((site / name).read_bytes())} for name in ("train.csv", "test.csv")}
    monkeypatch.setattr(ag_news, "CHECKSUMS", sums)
    data = (site / "train.csv").read_bytes()
    (site / "train.csv").write_bytes(data[: len(data) // 2])  # the mirror now serves half the file
    with pytest.raises(DataError, match="fails verification"):
        ag_news.locate(None, url=url)
    cache = cache_dir() / "ag_news"
    assert not cache.exists()  # no partial file, no staging folder, no empty folder


def test_missing_file_on_the_mirror_is_rejected(server):
    _, url = server  # empty site: 404
    with pytest.raises(DataError, match="cannot download"):
        ag_news.fetch(url, cache_dir() / "x", {"train.csv": {"git_blob": "0"}})
    assert not (cache_dir() / "x").exists()  # a failed download leaves no empty cache folder


def test_a_failed_download_into_a_new_cache_root_leaves_no_folder_at_all(server, tmp_path, monkeypatch):
    """study=lesson without data: the download fails, and neither <cache>/ag_news nor the cache root it made is left."""
    _, url = server  # empty site: 404
    monkeypatch.setenv("RNNBENCH_CACHE", str(tmp_path / "new" / "cache"))
    with pytest.raises(DataError, match="the download failed"):
        ag_news.locate(None, url=url)
    assert not (tmp_path / "new").exists()
