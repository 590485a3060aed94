import pytest

from bench.config import DataConfig, SyntheticConfig
from bench.data import synthetic
from bench.errors import DataError


def cfg(**kw):
    return DataConfig(name="synthetic", synthetic=SyntheticConfig(**kw))


def test_deterministic_from_seed_and_key_at_distance():
    a, b = synthetic.read(cfg(seed=3, distance=5)), synthetic.read(cfg(seed=3, distance=5))
    assert a.train_texts == b.train_texts and a.test_labels == b.test_labels
    assert synthetic.read(cfg(seed=4, distance=5)).train_texts != a.train_texts
    for text, label in zip(a.train_texts, a.train_labels):
        words = text.split()
        assert words[-1 - 5] == f"k{label}"
        assert sum(w.startswith("k") for w in words) == 1  # the only key word
    assert len(a.train_texts) == 2000 and set(a.train_labels) == {0, 1, 2, 3}


def test_bad_settings_are_refused():
    with pytest.raises(DataError, match="empty"):
        synthetic.read(cfg(n_train=0))
