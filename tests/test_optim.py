"""bench.optim: torch's own optimizers, chosen per device, and clipping that takes sparse gradients."""

import pytest
import torch
from torch import nn

from bench.config import Params
from bench.models import Shape, build
from bench.optim import clip_grad_norm, optimizers
from bench.variants import parse

CPU = torch.device("cpu")


def _model(sparse: bool) -> nn.Module:
    torch.manual_seed(0)
    return build(parse("lstm-packed-l1"), Params(embed_dim=8, hidden_size=8, sparse_embedding=sparse), Shape(60, 4, 0))


def test_dense_training_steps_with_torch_fused_adam():
    model = _model(sparse=False)
    (adam,), name = optimizers(model, 1e-3, 1e-4, False, CPU)
    assert name == "adam_fused" and type(adam) is torch.optim.Adam
    assert adam.defaults["fused"] and adam.defaults["weight_decay"] == 1e-4
    assert adam.param_groups[0]["params"] == list(model.parameters())


def test_sparse_embedding_steps_the_table_with_sparse_adam_and_the_rest_with_adam():
    model = _model(sparse=True)
    (table, rest), name = optimizers(model, 1e-3, 0.0, True, CPU)
    assert name == "sparse_adam+adam_fused"
    assert type(table) is torch.optim.SparseAdam and table.param_groups[0]["params"] == [model.embedding.weight]
    assert rest.param_groups[0]["params"] == [p for p in model.parameters() if p is not model.embedding.weight]


def test_fused_adam_is_the_same_algorithm_as_the_loop_adam():
    """The harness steps with fused Adam; the lesson used the default (for-loop) Adam: same weights."""
    torch.manual_seed(0)
    weights = [torch.randn(500, 16), torch.randn(16, 4)]
    copies = {impl: [w.clone().requires_grad_() for w in weights] for impl in ("loop", "fused")}
    optims = {"loop": torch.optim.Adam(copies["loop"], lr=1e-3, foreach=False),
              "fused": torch.optim.Adam(copies["fused"], lr=1e-3, fused=True)}
    for step in range(20):
        rows = torch.randint(0, 500, (32,), generator=torch.Generator().manual_seed(step))
        for impl, (table, head) in copies.items():
            optims[impl].zero_grad()
            (table[rows] @ head).square().mean().backward()
            optims[impl].step()
    for a, b in zip(copies["loop"], copies["fused"]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("max_norm", [0.01, 1e6], ids=["clipped", "untouched"])
def test_clipping_a_sparse_gradient_is_torchs_clipping_of_the_dense_one(max_norm):
    """Repeated rows included: the sparse gradient is summed before its norm is taken."""
    rows = torch.tensor([[3, 7, 3, 0], [7, 7, 1, 2]])
    models = {}
    for sparse in (False, True):
        torch.manual_seed(0)
        embedding, head = nn.Embedding(50, 4, sparse=sparse), nn.Linear(4, 2)
        head(embedding(rows)).square().sum().backward()
        models[sparse] = (embedding, head)
    dense_params = [p for m in models[False] for p in m.parameters()]
    sparse_params = [p for m in models[True] for p in m.parameters()]
    expected = nn.utils.clip_grad_norm_(dense_params, max_norm)
    total = clip_grad_norm(sparse_params, max_norm)
    torch.testing.assert_close(total, expected)
    for a, b in zip(dense_params, sparse_params):
        torch.testing.assert_close(b.grad.to_dense(), a.grad)


def test_grad_scaler_drives_the_fused_adam():
    """fp16 training on CUDA steps through GradScaler: with torch's fused Adam it must give the unscaled step
    (tested on the CPU scaler; a power-of-two scale is exact)."""
    weights = {}
    for scaled in (False, True):
        w = nn.Parameter(torch.ones(4))
        (adam,), _ = optimizers(nn.ParameterList([w]), 1e-2, 0.0, False, CPU)
        scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, enabled=scaled)
        for step in range(3):
            adam.zero_grad()
            scaler.scale((w * torch.arange(4.0) * (step + 1)).sum()).backward()
            scaler.step(adam)
            scaler.update()
        weights[scaled] = w.detach()
    assert not torch.equal(weights[True], torch.ones(4))
    torch.testing.assert_close(weights[True], weights[False])
