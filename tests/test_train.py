import math

import pytest
import torch

import bench.data as data
from bench.config import DataConfig, SyntheticConfig
from bench.train import Diverged, Params, fit
from bench.variants import Variant

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def splits():
    return data.load(DataConfig(name="synthetic", cache=False, val_fraction=0.2,
                                synthetic=SyntheticConfig(n_train=300, n_test=60, vocab=20, min_len=4, max_len=10)))


PARAMS = Params(lr=1e-2, batch_size=16, epochs=2, embed_dim=8, hidden_size=8)


def test_same_seed_same_result_to_the_last_digit(splits):
    a = fit(Variant("gru", "packed"), PARAMS, splits, seed=7, device=CPU)
    b = fit(Variant("gru", "packed"), PARAMS, splits, seed=7, device=CPU)
    c = fit(Variant("gru", "packed"), PARAMS, splits, seed=8, device=CPU)
    assert [e.train_loss for e in a.epochs] == [e.train_loss for e in b.epochs]
    assert (a.last.val_acc, a.last.test_acc, a.curve) == (b.last.val_acc, b.last.test_acc, b.curve)
    assert [e.train_loss for e in a.epochs] != [e.train_loss for e in c.epochs]


def test_history_curve_timing_and_memory(splits):
    result = fit(Variant("lstm", "padded", readout="true_last"), PARAMS, splits, seed=0, device=CPU, curve_every=64,
                 eval_batch_size=8)
    assert [e.epoch for e in result.epochs] == [1, 2]
    first = result.epochs[0]
    assert first.samples == len(splits.train) == 240
    assert 0 < first.real_tokens < first.padded_tokens and first.time_s > 0
    assert [n for e, n, _ in result.curve if e == 1] == [64, 128, 192]
    assert all(0 <= acc <= 1 for *_, acc in result.curve)
    assert 0 <= result.last.val_acc <= 1 and 0 <= result.last.test_acc <= 1
    assert result.memory_kind == "cpu_process_peak_rss" and result.peak_mem_mb > 10
    assert result.params > 0
    assert len(result.eval_latency_s) == 8 - 2 and all(t > 0 for t in result.eval_latency_s)  # 60 rows / 8, less warm-up


def test_learns_the_easy_synthetic_task(splits):
    result = fit(Variant("gru", "packed"), Params(lr=2e-2, batch_size=16, epochs=6, embed_dim=8, hidden_size=16),
                 splits, seed=0, device=CPU)
    assert result.last.test_acc > 0.9  # the key is the last token: any cell gets it


def test_tuning_hooks_skip_test_and_see_each_epoch(splits):
    seen = []
    result = fit(Variant("rnn", "padded"), PARAMS, splits, seed=0, device=CPU, evaluate_test=False,
                 on_epoch=seen.append)
    assert [e.epoch for e in seen] == [1, 2] and math.isnan(result.last.test_acc)


def test_nan_loss_raises_diverged(splits, monkeypatch):
    import bench.train as train
    original = train.build

    def poisoned(variant, size):  # a weight that is already NaN: the loss must come out NaN
        model = original(variant, size)
        with torch.no_grad():
            model.head.bias[0] = float("nan")
        return model
    monkeypatch.setattr(train, "build", poisoned)
    with pytest.raises(Diverged, match="training loss is nan in epoch 1"):
        fit(Variant("rnn", "padded"), PARAMS, splits, seed=0, device=CPU)
