"""bench.kernels: `train.kernels=harness` is the same mathematics as torch's modules, only other kernels."""

import itertools

import pytest
import torch

import bench.kernels as harness_kernels
from bench.kernels import TanhScan, recurrence
from bench.models import ModelSize, build
from bench.variants import Variant

LENGTHS = torch.tensor([7, 1, 4, 7, 2, 5])  # a length-1 sequence, ties, and the longest at the batch's length


@pytest.fixture(params=["compiled", "torch ops"], autouse=True)
def loops(request, monkeypatch):
    """Every test runs twice: time loops in bench/csrc/scan.cpp, and the torch-ops fallback."""
    if request.param == "compiled":
        if harness_kernels.compiled() is None:
            pytest.skip("bench/csrc/scan.cpp could not be built here (no C++ compiler?)")
    else:
        monkeypatch.setattr(harness_kernels, "_compiled", False)
    return request.param


def _batch(vocab: int = 30):
    tokens = torch.randint(1, vocab, (len(LENGTHS), int(LENGTHS.max())), generator=torch.Generator().manual_seed(1))
    tokens[torch.arange(tokens.shape[1])[None, :] >= LENGTHS[:, None]] = 0  # pads
    return tokens


@pytest.mark.parametrize("cell,packing,bidirectional,layers", list(itertools.product(
    ["rnn", "lstm", "gru"], ["padded", "packed"], [False, True], [1, 2])))
def test_harness_recurrence_equals_the_module_outputs_and_gradients(cell, packing, bidirectional, layers):
    """Every output position, h_n, and every weight's gradient, on the same weights: padded = the module on the
    padded batch; packed = the module on the PackedSequence (outputs zero at pads, h_n at the true ends)."""
    results = {}
    for kernels in ("torch", "harness"):
        torch.manual_seed(0)
        model = build(Variant(cell, packing, bidirectional=bidirectional, layers=layers, readout="last"),
                      ModelSize(30, 3, 5, 4, 0.0, 0, kernels=kernels))
        x = model.embedding(_batch())
        out, h_n = (recurrence(model.rnn, x, LENGTHS, packing == "packed") if kernels == "harness"
                    else model._module(x, LENGTHS, packing == "packed"))
        weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
        ((out * weights).sum() + h_n.square().sum()).backward()
        results[kernels] = out, h_n, {n: p.grad.clone() for n, p in model.named_parameters() if not n.startswith("head")}
    (out_t, h_t, grads_t), (out_h, h_h, grads_h) = results["torch"], results["harness"]
    torch.testing.assert_close(out_h, out_t, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h_h, h_t, rtol=1e-5, atol=1e-6)
    assert grads_t.keys() == grads_h.keys()
    for name in grads_t:
        torch.testing.assert_close(grads_h[name], grads_t[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("readout", ["last", "true_last", "mean", "masked_mean", "max"])
def test_every_readout_gives_the_same_logits_under_both_kernels(readout):
    for packing in ("padded", "packed"):
        logits = {}
        for kernels in ("torch", "harness"):
            torch.manual_seed(0)
            model = build(Variant("lstm", packing, bidirectional=True, readout=readout), ModelSize(30, 3, 5, 4, 0.0, 0,
                                                                                                   kernels=kernels))
            logits[kernels] = model(_batch(), LENGTHS)
        torch.testing.assert_close(logits["harness"], logits["torch"], rtol=1e-5, atol=1e-6)


def test_tanh_scan_passes_gradcheck():
    """The hand-written backward pass through time, in float64 against finite differences (the float64 path is the
    torch-ops loop; the compiled float32 loops are checked against the modules above)."""
    generator = torch.Generator().manual_seed(0)
    x, w_ih, w_hh, b_ih, b_hh = (torch.randn(*shape, dtype=torch.float64, generator=generator).requires_grad_()
                                 for shape in [(3, 5, 4), (6, 4), (6, 6), (6,), (6,)])
    assert torch.autograd.gradcheck(TanhScan.apply, (x, w_ih, w_hh, b_ih, b_hh))


def test_a_missing_compiler_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(harness_kernels, "_compiled", None)
    monkeypatch.setenv("RNNBENCH_COMPILED_SCAN", "1")
    import torch.utils.cpp_extension as cpp

    def broken(*args, **kwargs):
        raise RuntimeError("Error building extension 'rnnbench_scan': c++: command not found")
    monkeypatch.setattr(cpp, "load", broken)
    with pytest.warns(UserWarning, match="could not build scan.cpp .*command not found.*same results, slower"):
        assert harness_kernels.compiled() is None
    assert harness_kernels.compiled() is None  # decided once per process
    monkeypatch.setattr(harness_kernels, "_compiled", None)
    monkeypatch.setenv("RNNBENCH_COMPILED_SCAN", "0")
    assert harness_kernels.compiled() is None
