import math

import pytest
import torch

import bench.data as data
from bench.config import DataConfig, Params, SyntheticConfig
from bench.train import Diverged, fit
from bench.variants import Variant, parse

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
    assert (a.last.val_acc, a.test_acc, a.curve) == (b.last.val_acc, b.test_acc, b.curve)
    assert [e.train_loss for e in a.epochs] != [e.train_loss for e in c.epochs]


def test_history_curve_timing_and_memory(splits):
    result = fit(Variant("lstm", "padded", readout="true_last"), PARAMS.replace(curve_every=64, eval_batch_size=8),
                 splits, seed=0, device=CPU)
    assert [e.epoch for e in result.epochs] == [1, 2]
    first = result.epochs[0]
    assert first.samples == len(splits.train) == 240
    assert 0 < first.real_tokens < first.padded_tokens and first.time_s > 0
    assert [n for e, n, _ in result.curve if e == 1] == [64, 128, 192]
    assert all(0 <= acc <= 1 for *_, acc in result.curve)
    assert 0 <= result.last.val_acc <= 1 and 0 <= result.test_acc <= 1
    assert result.memory_kind == "cpu_fresh_process_peak_rise" and result.peak_mem_mb > 10
    assert result.params > 0
    assert len(result.eval_latency_s) == 8 - 2 and all(t > 0 for t in result.eval_latency_s)  # 60 rows / 8, less warm-up


def test_learns_the_easy_synthetic_task(splits):
    result = fit(Variant("gru", "packed"), Params(lr=2e-2, batch_size=16, epochs=6, embed_dim=8, hidden_size=16),
                 splits, seed=0, device=CPU)
    assert result.test_acc > 0.9  # the key is the last token: any cell gets it


def test_tuning_hooks_skip_test_and_see_each_epoch(splits):
    seen = []
    result = fit(Variant("rnn", "padded"), PARAMS, splits, seed=0, device=CPU, evaluate_test=False,
                 on_epoch=seen.append)
    assert [e.epoch for e in seen] == [1, 2] and math.isnan(result.test_acc)


def test_nan_loss_raises_diverged(splits, monkeypatch):
    import bench.train as train
    original = train.build

    def poisoned(variant, params, shape, seed=None):  # a weight that is already NaN: the loss must come out NaN
        model = original(variant, params, shape, seed)
        with torch.no_grad():
            model.head.bias[0] = float("nan")
        return model
    monkeypatch.setattr(train, "build", poisoned)
    with pytest.raises(Diverged, match="training loss is nan in epoch 1"):
        fit(Variant("rnn", "padded"), PARAMS, splits, seed=0, device=CPU)


@pytest.mark.parametrize("clip", [None, 1.0])
def test_sparse_embedding_is_an_explicit_option_with_sparse_adam(splits, clip):
    params = Params(epochs=1, batch_size=8, embed_dim=8, hidden_size=8, sparse_embedding=True, clip=clip)
    result = fit(parse("lstm-packed-l1"), params, splits, 0, torch.device("cpu"))
    assert result.optimizer == "sparse_adam+adam_fused" and math.isfinite(result.last.train_loss)
    dense = fit(parse("lstm-packed-l1"), Params(epochs=1, batch_size=8, embed_dim=8, hidden_size=8), splits, 0,
                torch.device("cpu"))
    assert dense.optimizer == "adam_fused"


def test_the_harness_step_is_the_textbook_step(splits):
    """fit()'s training step (bench.train.trainer: fused Adam, clipping, summed loss / batch) against the
    textbook loop (for-loop Adam, mean cross-entropy) from the same seed and batches: equal weights within
    float noise after 15 steps."""
    from bench.data.batching import batches
    from bench.models import Shape, build
    from bench.train import trainer

    variant, params = parse("lstm-packed-l1"), Params(lr=1e-2, batch_size=8, embed_dim=8, hidden_size=8, clip=1.0)
    size = Shape(splits.vocab_size, len(splits.label_names), None)
    order = list(batches(splits.train, 8, splits.pad_index, torch.Generator().manual_seed(0)))[:15]
    torch.manual_seed(0)
    harness, step, name = trainer(variant, params, size, CPU)
    for batch in order:
        step(batch)
    torch.manual_seed(0)
    textbook = build(variant, params, size)
    optimizer = torch.optim.Adam(textbook.parameters(), lr=1e-2, foreach=False)
    for batch in order:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(textbook(batch.tokens, batch.lengths), batch.labels).backward()
        torch.nn.utils.clip_grad_norm_(textbook.parameters(), 1.0)
        optimizer.step()
    assert name == "adam_fused"
    for a, b in zip(textbook.parameters(), harness.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_compile_runs_and_the_model_is_compiled(splits, monkeypatch):
    """train.compile: torch.compile. The backend is swapped for one that records the graphs Dynamo hands it and
    runs them eagerly (cheap, and proof that something was captured and compiled; graph breaks around nn.LSTM
    are torch's to report: TORCH_LOGS)."""
    graphs, real = [], torch.compile

    def recording(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    monkeypatch.setattr(torch, "compile", lambda model, **kw: real(model, backend=recording))
    params = Params(epochs=1, batch_size=16, embed_dim=8, hidden_size=8, compile=True)
    result = fit(parse("lstm-padded-l1-true_last"), params, splits, 0, torch.device("cpu"))
    assert math.isfinite(result.last.train_loss) and 0 <= result.test_acc <= 1
    assert graphs and any(node.op == "call_module" or node.op == "call_function" for g in graphs
                          for node in g.graph.nodes), "torch.compile captured no graph"


def test_early_stopping_keeps_and_restores_the_best_validation_epoch(splits, monkeypatch):
    """Validation accuracy scripted 0.5, 0.7, 0.6, 0.6 with patience 2: the run stops after epoch 4, keeps
    epoch 2, and scores test once, on epoch 2's weights (not on the last ones)."""
    import bench.train as train

    script, seen = iter([0.5, 0.7, 0.6, 0.6, 0.9, 0.9]), []

    def scripted(model, data, pad_index, batch_size, device, latencies=None, confusion=None):
        weights = sum(float(p.detach().sum()) for p in model.parameters())
        seen.append(("val" if data is splits.val else "test", weights))
        return next(script) if data is splits.val else 0.42

    monkeypatch.setattr(train, "evaluate", scripted)
    result = fit(Variant("gru", "packed"), Params(lr=1e-2, batch_size=16, epochs=8, embed_dim=8, hidden_size=8,
                                                  patience=2), splits, seed=0, device=CPU)
    assert [e.epoch for e in result.epochs] == [1, 2, 3, 4] and result.best_epoch == 2
    assert result.kept.val_acc == result.best_val == 0.7 and result.test_acc == 0.42
    assert [kind for kind, _ in seen] == ["val"] * 4 + ["test"]  # test read once, at the end
    assert seen[-1][1] == pytest.approx(seen[1][1], rel=1e-6) and seen[-1][1] != pytest.approx(seen[3][1], rel=1e-6)
    assert all(math.isnan(e.test_acc) for e in result.epochs)  # no per-epoch test score to peek at


def test_without_patience_every_epoch_runs_and_the_last_is_kept(splits):
    result = fit(Variant("rnn", "packed"), PARAMS, splits, seed=0, device=CPU)
    assert len(result.epochs) == 2 and result.best_epoch == 2 and 0 <= result.test_acc <= 1


def test_a_bound_in_samples_gives_a_small_dataset_more_epochs_and_a_large_one_no_more_work():
    """Issue 34 item 5: train.samples bounds a run's work; its epoch cap is the whole epochs of the training rows
    within it, at least one, whatever the batch size."""
    small, large = (data.load(DataConfig(name="synthetic", cache=False, val_fraction=0.2, synthetic=SyntheticConfig(
        n_train=n, n_test=40, vocab=20, min_len=4, max_len=10))) for n in (50, 250))  # 40 and 200 training rows
    budget = PARAMS.replace(epochs=None, samples=400)
    runs = [fit(Variant("rnn", "padded"), budget.replace(batch_size=size), splits, seed=0, device=CPU)
            for splits, size in ((small, 16), (large, 16), (small, 64))]
    assert (len(small.train), len(large.train)) == (40, 200)
    assert [(len(f.epochs), f.epoch_cap) for f in runs] == [(10, 10), (2, 2), (10, 10)]
    assert [sum(e.samples for e in f.epochs) for f in runs] == [400, 400, 400]  # the same work each
    assert budget.epoch_cap(1_000) == 1 and budget.epoch_cap(399) == 1 and budget.epoch_cap(133) == 3
    assert PARAMS.epoch_cap(10) == PARAMS.epoch_cap(10_000) == 2  # a bound in epochs ignores the rows


def test_two_identical_cpu_runs_read_the_same_peak_whatever_ran_between():
    """Issue 34 item 4: read in this process, a run's peak followed the order runs ran in (the heap keeps what an
    earlier, larger run freed: 939 -> 980 -> 1,005 MiB for three seeds of one variant, and every later variant read
    the same 995 MiB). Read in a fresh process, two identical runs read the same figure within a few per cent with
    a larger run between them, and the larger run reads more."""
    long = data.load(DataConfig(name="synthetic", cache=False, val_fraction=0.2, synthetic=SyntheticConfig(
        n_train=160, n_test=32, vocab=500, min_len=50, max_len=100)))
    small = PARAMS.replace(epochs=1, batch_size=64, embed_dim=64, hidden_size=128)
    first = fit(Variant("lstm", "padded"), small, long, seed=0, device=CPU)
    larger = fit(Variant("lstm", "padded"), small.replace(hidden_size=384), long, seed=0, device=CPU)
    again = fit(Variant("lstm", "padded"), small, long, seed=0, device=CPU)
    assert first.memory_kind == again.memory_kind == "cpu_fresh_process_peak_rise"
    assert again.peak_mem_mb == pytest.approx(first.peak_mem_mb, rel=0.03)
    assert larger.peak_mem_mb > 1.5 * first.peak_mem_mb


@pytest.mark.parametrize("name", ["lstm-padded-l1", "bag", "transformer-l1"])
def test_timing_pass_times_each_step_at_the_given_sizes(splits, name):
    from bench.train import time_steps
    timing = time_steps(parse(name), PARAMS, splits, CPU, steps=5, warmup=2)
    assert len(timing["step_ms"]) == 5 and all(ms > 0 for ms in timing["step_ms"])
    assert timing["sizes"] == {"embed_dim": 8, "hidden_size": 8, "batch_size": 16}
    assert timing["memory_kind"] == "cpu_fresh_process_peak_rise" and 0 <= timing["pad_fraction"] < 1


@pytest.mark.parametrize("name", ["bag", "transformer-l1"])
def test_baselines_learn_the_easy_synthetic_task(splits, name):
    result = fit(parse(name), Params(lr=2e-2, batch_size=16, epochs=8, embed_dim=16, hidden_size=16, patience=3),
                 splits, seed=0, device=CPU)
    assert result.test_acc > 0.9, result.epochs


# --- matched seeds: what seed s fixes for every variant trained at it (bench.train.fit's docstring) -------------

def _first_step(name: str, params: Params, splits, seed: int):
    """What `fit` does before its first step, then the step: (the epoch's batch order, the first step's loss)."""
    from bench.train import epochs_of, seed_everything, shape_of, trainer
    variant = parse(name)
    seed_everything(seed)
    _, step, _ = trainer(variant, params, shape_of(splits), CPU, seed)
    order = next(epochs_of(variant, params, splits, seed))
    return order, step(order[0])[2].item()


def test_packed_and_padded_true_last_share_weights_batches_and_dropout_at_a_seed(splits):
    """The same function computed two ways: at one seed and one set of settings (dropout on, so its masks count
    too) the first step's loss is the same, on the same batches in the same order."""
    params = PARAMS.replace(dropout=0.3)
    padded, padded_loss = _first_step("gru-padded-l1-true_last", params, splits, seed=5)
    packed, packed_loss = _first_step("gru-packed-l1", params, splits, seed=5)
    assert len(padded) == len(packed) and all(torch.equal(a.tokens, b.tokens) and torch.equal(a.labels, b.labels)
                                              for a, b in zip(padded, packed))
    assert packed_loss == pytest.approx(padded_loss, rel=1e-5)
    other, other_loss = _first_step("gru-packed-l1", params, splits, seed=6)  # another seed: another start
    assert not torch.equal(other[0].tokens, packed[0].tokens) and other_loss != pytest.approx(packed_loss, rel=1e-5)
    a = fit(parse("gru-padded-l1-true_last"), params, splits, seed=5, device=CPU)
    b = fit(parse("gru-packed-l1"), params, splits, seed=5, device=CPU)
    assert [e.train_loss for e in a.epochs] == pytest.approx([e.train_loss for e in b.epochs], rel=1e-4)


def test_two_cells_at_one_seed_and_size_start_from_the_same_embedding_and_head(splits):
    """The embedding is built first, and is where matched seeds of different cells correlate: each module has its
    own stream of the seed, so what the cell between them draws changes neither."""
    from bench.models import build
    from bench.train import shape_of
    shape = shape_of(splits)
    lstm, gru, rnn = (build(parse(f"{c}-padded-l1-true_last"), PARAMS, shape, seed=3) for c in ("lstm", "gru", "rnn"))
    bag = build(parse("bag"), PARAMS, shape, seed=3)
    for other in (gru, rnn, bag):
        assert torch.equal(lstm.embedding.weight, other.embedding.weight)
        assert torch.equal(lstm.head.weight, other.head.weight) and torch.equal(lstm.head.bias, other.head.bias)
    assert not torch.equal(build(parse("lstm-padded-l1-true_last"), PARAMS, shape, seed=4).embedding.weight,
                           lstm.embedding.weight)
    assert torch.equal(lstm.rnn.weight_hh_l0, build(parse("lstm-packed-l1"), PARAMS, shape, seed=3).rnn.weight_hh_l0)


def test_a_run_scores_macro_f1_and_the_confusion_matrix_of_its_test_predictions(splits):
    """Issue 34 item 6: the confusion matrix counts every test row once, its diagonal is the test accuracy, and
    macro-F1 is scikit-learn's on the same predictions; validation's macro-F1 is kept per epoch."""
    import numpy as np
    from sklearn.metrics import f1_score
    from bench.train import macro_f1
    result = fit(Variant("gru", "packed"), PARAMS, splits, seed=0, device=CPU)
    matrix = np.array(result.test_confusion)
    assert matrix.shape == (len(splits.label_names),) * 2 and matrix.sum() == len(splits.test)
    assert matrix.trace() / matrix.sum() == pytest.approx(result.test_acc)
    truth = np.repeat(np.arange(len(matrix)), matrix.sum(1))
    guess = np.concatenate([np.repeat(np.arange(len(matrix)), row) for row in matrix])
    assert result.test_macro_f1 == pytest.approx(f1_score(truth, guess, average="macro"))
    assert all(0 <= e.val_macro_f1 <= 1 for e in result.epochs)
    assert macro_f1(torch.tensor([[5, 0], [5, 0]])) == pytest.approx(1 / 3)  # always class 0: F1 2/3 and 0


def test_with_metric_macro_f1_early_stopping_and_the_objective_read_validation_macro_f1(splits):
    result = fit(Variant("gru", "packed"), PARAMS.replace(epochs=4, patience=1), splits, seed=0, device=CPU,
                 metric="macro_f1")
    scores = [e.val_macro_f1 for e in result.epochs]
    assert result.metric == "macro_f1" and result.best_val == result.kept.val_macro_f1 == max(scores)
    assert result.kept.epoch == scores.index(max(scores)) + 1
