"""The TF-IDF + logistic regression reference: the same tokens and split as the models, cached per data."""

import pytest

import bench.classical as classical
import bench.data as data
from bench.config import DataConfig, SyntheticConfig


@pytest.fixture
def splits():
    return data.load(DataConfig(name="synthetic", cache=True, val_fraction=0.2,
                                synthetic=SyntheticConfig(n_train=300, n_test=80, vocab=20, min_len=4, max_len=10)))


def test_documents_are_the_token_ids_the_models_read(splits):
    docs = classical._documents(splits.test)
    assert len(docs) == len(splits.test)
    first = [int(t) for t in docs[0].split()]
    assert first == splits.test.tokens[:int(splits.test.lengths[0])].tolist()


def test_reference_scores_the_test_split_and_chooses_c_on_validation(splits):
    result = classical.fit_reference(splits)
    assert result["model"] == classical.NAME and result["C"] in classical.C_GRID
    assert result["test_acc"] > 0.9 and result["val_acc"] > 0.9  # the key word is a unigram feature
    assert result["train_rows"] == len(splits.train) == 240


def test_reference_is_cached_per_data_fingerprint(splits, monkeypatch):
    first = classical.reference(splits)
    assert first["cache"] == "miss"
    monkeypatch.setattr(classical, "fit_reference", lambda s: pytest.fail("refitted despite the cache"))
    second = classical.reference(splits)
    assert second["cache"] == "hit" and second["test_acc"] == first["test_acc"]
    other = data.load(DataConfig(name="synthetic", val_fraction=0.2, synthetic=SyntheticConfig(
        n_train=300, n_test=80, vocab=20, min_len=4, max_len=10, seed=1)))
    with pytest.raises(pytest.fail.Exception, match="refitted"):  # another dataset: another key, a fit
        classical.reference(other)
