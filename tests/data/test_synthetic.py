import pytest

from bench.config import DataConfig, SyntheticConfig
from bench.data import synthetic
from bench.errors import ConfigError


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
    with pytest.raises(ConfigError, match="data.synthetic.n_train=0 is not allowed: use a whole number >= 1"):
        cfg(n_train=0)
    with pytest.raises(ConfigError, match="data.synthetic.n_classes=1 is not allowed: use a whole number >= 2"):
        cfg(n_classes=1)
    with pytest.raises(ConfigError, match="max_len=4 is below min_len=8"):  # the schema's check, before any data
        cfg(min_len=8, max_len=4)
