"""bench.optim: the embedding gradient path and the optimizers, against torch's own."""

import pytest
import torch

from bench.optim import FusedAdam, LazyAdam, ScatteredGrad, optimizers


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


def test_scattered_embedding_gradient_is_the_dense_gradient():
    """The harness's embedding gradient path (sparse, scattered into a dense buffer) gives the dense
    embedding's gradient exactly, and leaves the buffer zero after the step."""
    torch.manual_seed(0)
    table = torch.randn(50, 4)
    rows = torch.tensor([[3, 7, 3, 0], [7, 7, 1, 2]])  # repeated rows accumulate
    dense = torch.nn.Embedding.from_pretrained(table.clone(), freeze=False)
    sparse = torch.nn.Embedding.from_pretrained(table.clone(), freeze=False, sparse=True)
    dense(rows).square().sum().backward()
    sparse(rows).square().sum().backward()
    scatter = ScatteredGrad(sparse.weight)
    scatter.before_step()
    assert not sparse.weight.grad.is_sparse
    torch.testing.assert_close(sparse.weight.grad, dense.weight.grad)
    scatter.after_step()
    assert scatter.buffer.abs().sum() == 0


@pytest.mark.parametrize("direct", [False, True], ids=["through ScatteredGrad", "sparse gradient read directly"])
def test_lazy_adam_is_sparse_adam_on_the_rows_a_batch_used(direct):
    """train.sparse_embedding: LazyAdam (gathered rows, one fused kernel) against torch.optim.SparseAdam over
    20 batches with repeated rows: the same weights and moments within float noise; rows no batch used never
    move. (eps is tiny here: SparseAdam adds it to the raw sqrt(v), Adam and LazyAdam to the bias-corrected one,
    a relative difference of eps / sqrt(v_hat) that is visible in the first steps when gradients are small.)"""
    torch.manual_seed(0)
    table = torch.randn(300, 8)
    head = torch.randn(8, 3)
    ours = torch.nn.Embedding.from_pretrained(table.clone(), freeze=False, sparse=True)
    theirs = torch.nn.Embedding.from_pretrained(table.clone(), freeze=False, sparse=True)
    scatter = None if direct else ScatteredGrad(ours.weight)
    lazy, sparse_adam = LazyAdam(ours.weight, scatter, lr=1e-2, eps=1e-12), torch.optim.SparseAdam(theirs.parameters(), lr=1e-2, eps=1e-12)
    used = set()
    for step in range(20):
        rows = torch.randint(0, 200, (6, 5), generator=torch.Generator().manual_seed(step))  # rows 200+ never used
        rows[0, :2] = rows[1, 0]  # repeats within a batch
        used.update(rows.flatten().tolist())
        for emb, opt in ((ours, lazy), (theirs, sparse_adam)):
            opt.zero_grad(set_to_none=True)
            (emb(rows) @ head).square().mean().backward()
            if opt is lazy and scatter:
                scatter.before_step()
            opt.step()
            if opt is lazy and scatter:
                scatter.after_step()
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=1e-5, atol=1e-6)
    reference = sparse_adam.state[theirs.weight]
    torch.testing.assert_close(lazy.exp_avg[0], reference["exp_avg"], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(lazy.exp_avg_sq[0], reference["exp_avg_sq"], rtol=1e-5, atol=1e-9)
    untouched = [i for i in range(300) if i not in used]
    assert len(untouched) >= 100 and torch.equal(ours.weight[untouched], table[untouched])
    assert not (ours.weight[sorted(used)] == table[sorted(used)]).all(dim=1).any()  # every used row moved
    assert scatter is None or scatter.buffer.abs().sum() == 0


def test_optimizers_name_the_implementation_they_step_with():
    model = torch.nn.Module()
    model.embedding = torch.nn.Embedding(10, 4, sparse=True)
    model.head = torch.nn.Linear(4, 2)
    scatter = ScatteredGrad(model.embedding.weight)
    dense, name = optimizers(model, scatter, 1e-3, 0.0, False, torch.device("cpu"))
    assert name == "adam_fused" and len(dense) == 1
    lazy, name = optimizers(model, scatter, 1e-3, 0.0, True, torch.device("cpu"))
    assert name == "lazy_adam+adam_fused" and isinstance(lazy[0], LazyAdam)
    assert lazy[1].params == list(model.head.parameters())


def test_fused_adam_is_torch_adam_without_the_bookkeeping():
    """bench.optim.FusedAdam against torch.optim.Adam (for-loop), weight decay on, 25 steps, sparse-ish grads."""
    torch.manual_seed(0)
    weights = [torch.randn(200, 8), torch.randn(8, 3), torch.randn(3)]
    ours, theirs = ([w.clone().requires_grad_() for w in weights] for _ in range(2))
    fused = FusedAdam(ours, lr=1e-2, weight_decay=1e-3)
    reference = torch.optim.Adam(theirs, lr=1e-2, weight_decay=1e-3, foreach=False)
    for step in range(25):
        rows = torch.randint(0, 200, (10,), generator=torch.Generator().manual_seed(step))
        for params, opt in ((ours, fused), (theirs, reference)):
            opt.zero_grad(set_to_none=True)
            ((params[0][rows] @ params[1] + params[2]).square().mean()).backward()
            opt.step()
    assert all(p.grad is not None for p in ours)
    fused.zero_grad()
    assert all(p.grad is None for p in ours)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_grad_scaler_drives_fused_adam():
    """train.precision=fp16 steps through torch.amp.GradScaler: unscale_, step (skipped on inf), update. The
    CPU scaler exercises the same optimizer protocol (param_groups, step) the CUDA one uses."""
    w = torch.nn.Parameter(torch.randn(4, 3))
    opt, scaler = FusedAdam([w], lr=1e-2), torch.amp.GradScaler("cpu", init_scale=1024.0)
    scaler.scale((w ** 2).sum()).backward()
    scaler.unscale_(opt)
    torch.testing.assert_close(w.grad, 2 * w.detach())  # the true gradient again
    before = w.detach().clone()
    scaler.step(opt)
    scaler.update()
    assert (w.detach() != before).all() and scaler.get_scale() == 1024.0
    opt.zero_grad()
    (scaler.scale((w ** 2).sum()) * float("inf")).backward()
    before = w.detach().clone()
    scaler.step(opt)
    scaler.update()
    assert torch.equal(w.detach(), before) and scaler.get_scale() == 512.0  # skipped, scale halved
