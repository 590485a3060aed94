"""The optimizers `fit` steps with, and the embedding-gradient path they share.

At the lesson's sizes the embedding table (~27k x 64) is 99 % of the weights and a batch touches ~600 of
its rows, so how the table's gradient and update are handled decides the speed of a training step:

- the embedding always emits a sparse gradient, which `ScatteredGrad` writes into a persistent dense
  buffer (the exact dense gradient, without filling a vocabulary-sized zero tensor every step);
- `optimizers(..., sparse_embedding=False)`: Adam over every weight in one fused kernel, the lesson's
  algorithm (every row's moments decay every step);
- `optimizers(..., sparse_embedding=True)`: `LazyAdam` on the table (only the rows in the batch move,
  moments included: another algorithm, hence an explicit option) and fused Adam on the rest.
"""

from __future__ import annotations

import torch
from torch import nn


class ScatteredGrad:
    """The dense gradient of a large embedding, paying only for the rows a batch touches.

    A dense embedding gradient is a vocabulary-sized zero tensor with a few rows written: filling it
    costs more than the LSTM's whole backward pass at the lesson's sizes. Here the embedding emits a
    sparse gradient, which is scattered into a persistent zero buffer that becomes the dense `.grad`
    for clipping and the optimizer step, then those rows are zeroed again. The optimizer sees exactly
    the dense gradient, so the mathematics (Adam's moments decaying on every row, weight decay, the
    clipping norm) is unchanged; only the order of float additions for repeated tokens may differ.
    `rows` (the batch's token ids, repeats included) is valid between `before_step` and `after_step`.
    """

    def __init__(self, weight: nn.Parameter):
        self.weight, self.buffer, self.rows = weight, torch.zeros_like(weight), None

    def before_step(self) -> None:
        grad = self.weight.grad
        if grad is None or not grad.is_sparse:
            return
        # uncoalesced on purpose: coalescing sizes its output on the host (a sync per step on CUDA);
        # index_add_ sums a token's repeated rows just as the dense backward does
        self.rows = grad._indices()[0]
        self.buffer.index_add_(0, self.rows, grad._values())
        self.weight.grad = self.buffer

    def after_step(self) -> None:
        if self.rows is not None:
            self.buffer.index_fill_(0, self.rows, 0)
            self.rows = None


class FusedAdam:
    """torch.optim.Adam(fused=True)'s kernel and algorithm (L2 weight decay, bias corrections, eps added to the
    bias-corrected sqrt(v)), called directly: torch.optim spends ~0.3 ms a step on bookkeeping around it
    (profiler hooks, per-parameter state lookups, one step counter per tensor), as long as the kernel itself at
    the lesson's sizes. One step counter for all tensors (every one of them has a gradient every step).
    `param_groups` and `step()` are what GradScaler and clip_grad_norm_ use. Tested against torch.optim.Adam."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params]
        self.param_groups = [{"params": self.params, "lr": lr, "weight_decay": weight_decay, "betas": betas,
                              "eps": eps}]
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = torch.zeros((), device=self.params[0].device)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        self.steps += 1
        torch._fused_adam_(self.params, [p.grad for p in self.params], self.exp_avg, self.exp_avg_sq, [],
                           [self.steps] * len(self.params), lr=group["lr"], beta1=group["betas"][0],
                           beta2=group["betas"][1], weight_decay=group["weight_decay"], eps=group["eps"],
                           amsgrad=False, maximize=False)


class LazyAdam(FusedAdam):
    """Lazy Adam for an embedding table (`train.sparse_embedding`): Adam's update on the rows the batch
    used, every other row left as it is, moments included.

    The algorithm of torch.optim.SparseAdam (one global step count for the bias corrections), except that
    eps is added to the bias-corrected sqrt(v), as in Adam, instead of to the raw sqrt(v): a difference of
    order eps. Implementation: gather the rows, one fused Adam kernel on the gathered copies, write them back.
    On the CPU the rows are made unique first (half as many to move at the lesson's sizes); on CUDA that would
    size a tensor on the host (a sync), so repeats are kept: a repeated row computes the same values from the
    same inputs, so whichever copy lands is right. About 15x cheaper than SparseAdam's dozen sparse ops at the
    lesson's sizes. Reads the rows and their summed gradient from `ScatteredGrad` when clipping needs the dense
    gradient (and always on CUDA), else straight from the embedding's sparse gradient.
    """

    def __init__(self, weight: nn.Parameter, scatter: ScatteredGrad | None, lr: float, betas=(0.9, 0.999),
                 eps: float = 1e-8):
        super().__init__([weight], lr, 0.0, betas, eps)
        self.scatter = scatter  # None: read the embedding's sparse gradient directly (CPU, no clipping)

    @torch.no_grad()
    def step(self) -> None:
        (weight,) = self.params
        if weight.grad is None:
            return
        if self.scatter is None:  # sum the repeated rows of the sparse gradient on the unique rows
            indices, values = weight.grad._indices()[0], weight.grad._values()
            rows, inverse = torch.unique(indices, return_inverse=True)
            grad = values.new_zeros(len(rows), values.shape[1]).index_add_(0, inverse, values)
        else:
            rows = self.scatter.rows
            if rows is None:
                return
            if rows.device.type == "cpu":
                rows = torch.unique(rows)
            grad = weight.grad.index_select(0, rows)
        group = self.param_groups[0]
        self.steps += 1
        param, exp_avg, exp_avg_sq = (t.index_select(0, rows) for t in (weight, *self.exp_avg, *self.exp_avg_sq))
        torch._fused_adam_([param], [grad], [exp_avg], [exp_avg_sq], [], [self.steps],
                           lr=group["lr"], beta1=group["betas"][0], beta2=group["betas"][1], weight_decay=0.0,
                           eps=group["eps"], amsgrad=False, maximize=False)
        weight.index_copy_(0, rows, param)
        self.exp_avg[0].index_copy_(0, rows, exp_avg)
        self.exp_avg_sq[0].index_copy_(0, rows, exp_avg_sq)


def optimizers(model: nn.Module, scatter: ScatteredGrad | None, lr: float, weight_decay: float, sparse_embedding: bool,
               device: torch.device) -> tuple[list[FusedAdam], str]:
    """Adam, as the lesson's, on torch's fused kernel (the same algorithm, equal to the for-loop Adam within
    float rounding, and ~6x faster at stepping a 1.7M-row embedding on 2 CPU cores). `sparse_embedding`:
    LazyAdam on the embedding table (another algorithm, an explicit option), fused Adam on the rest.
    Returns the optimizers and the implementation's name, stored in every record."""
    if not sparse_embedding:
        return [FusedAdam(model.parameters(), lr, weight_decay)], "adam_fused"
    table = model.embedding.weight
    rest = [p for p in model.parameters() if p is not table]
    return [LazyAdam(table, scatter, lr), FusedAdam(rest, lr, weight_decay)], "lazy_adam+adam_fused"
