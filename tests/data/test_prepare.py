"""bench.data.load / prepare: caps, the validation split, the vocabulary, the tensor cache."""

from collections import Counter

import pytest

import bench.data as data
from bench.config import DataConfig, SyntheticConfig
from bench.errors import DataError
from tests.conftest import SHARED_AG_NEWS, needs_shared, write_ag_news


def synthetic(**kw):
    return DataConfig(name="synthetic", synthetic=SyntheticConfig(n_train=400, n_test=80), **kw)


def test_stratified_validation_split_and_cap_are_seeded():
    a = data.load(synthetic(max_train=200, val_fraction=0.25, cache=False))
    b = data.load(synthetic(max_train=200, val_fraction=0.25, cache=False))
    assert (len(a.train), len(a.val), len(a.test)) == (150, 50, 80)
    assert a.val.labels.tolist() == b.val.labels.tolist()
    per_class = Counter(a.val.labels.tolist())
    assert max(per_class.values()) - min(per_class.values()) <= 3  # each class gives its share
    c = data.load(synthetic(max_train=200, val_fraction=0.25, split_seed=1, cache=False))
    assert c.val.tokens.tolist() != a.val.tokens.tolist()


def test_vocabulary_comes_from_training_rows_only(tmp_path):
    root = write_ag_news(tmp_path / "ag", [(1, "alpha", "beta"), (2, "alpha", "beta")] * 2, [(1, "gamma", "delta")])
    splits = data.load(DataConfig(root=str(root), val_fraction=0.0))
    assert splits.itos == ["<pad>", "<unk>", "alpha", "beta"]
    assert splits.test.tokens.tolist() == [1, 1]  # unseen test words are <unk>


def test_second_load_hits_the_cache_without_tokenizing(tiny_ag_news, monkeypatch):
    cfg = DataConfig(root=str(tiny_ag_news))
    first = data.load(cfg)
    assert first.info["cache"] == "miss"

    def fail(*a, **k):
        raise AssertionError("tokenized again")
    with monkeypatch.context() as patch:
        patch.setattr(data, "basic_english", fail)
        second = data.load(cfg)
    assert second.info["cache"] == "hit" and second.train.tokens.equal(first.train.tokens)
    assert second.itos == first.itos
    assert data.load(DataConfig(root=str(tiny_ag_news), min_freq=2)).info["cache"] == "miss"  # new settings, new key


def test_empty_split_is_an_error(tmp_path):
    root = write_ag_news(tmp_path / "ag", [(1, "a", "b")], [])
    (root / "test.csv").write_text("")
    with pytest.raises(DataError, match="the test split of ag_news is empty"):
        data.load(DataConfig(root=str(root)))


def test_an_unknown_dataset_is_refused_by_the_schema_before_any_loading(monkeypatch):
    from bench.errors import ConfigError
    monkeypatch.setattr(data, "load", lambda *a, **k: pytest.fail("the data stage was reached"))
    with pytest.raises(ConfigError, match=r"data.name='yelp' is not allowed: use one of ag_news, csv, imdb, synthetic"):
        DataConfig(name="yelp")


@needs_shared
def test_shared_ag_news_lesson_mode():
    splits = data.load(DataConfig(root=str(SHARED_AG_NEWS), val_fraction=0.0, shared_pad_unk=True))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (10_429, 0, 7_600)
    assert splits.pad_index == splits.unk_index == 0 and splits.itos[:3] == ["<unk>", ".", "the"]
    assert splits.info["partial"]


def test_every_dataset_the_config_allows_has_a_loader():
    from bench.config import DATASETS
    assert tuple(data.DATASETS) == DATASETS
