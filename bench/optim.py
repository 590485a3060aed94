"""The optimizers `fit` steps with: torch's own, chosen among its public implementations.

- `train.sparse_embedding=false` (the lesson's algorithm): `torch.optim.Adam` over every weight, with
  `fused=True` where torch has a fused kernel for the device (CPU and CUDA in torch >= 2.4; elsewhere the
  default implementation). The embedding's gradient is dense, as in a plain PyTorch script.
- `train.sparse_embedding=true`: the embedding emits a sparse gradient and `torch.optim.SparseAdam` moves
  only the rows a batch used (moments included: another algorithm, hence an explicit option); fused Adam
  steps the rest. Weight decay cannot go with it (it would shrink only those rows): bench.config refuses it.

`clip_grad_norm` is `torch.nn.utils.clip_grad_norm_` extended to sparse gradients (which torch's does not
take), with the same arithmetic: one total 2-norm over every gradient, every gradient scaled by
min(1, max_norm / (norm + 1e-6)).
"""

from __future__ import annotations

import torch
from torch import nn

FUSED_DEVICES = ("cpu", "cuda")


def _adam(params, lr: float, weight_decay: float, device: torch.device) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=device.type in FUSED_DEVICES)


def optimizers(model: nn.Module, lr: float, weight_decay: float, sparse_embedding: bool,
               device: torch.device) -> tuple[list[torch.optim.Optimizer], str]:
    """The optimizers for `model` and their name (stored in every record: 'adam_fused', 'adam',
    'sparse_adam+adam_fused', ...)."""
    fused = "adam_fused" if device.type in FUSED_DEVICES else "adam"
    if not sparse_embedding:
        return [_adam(model.parameters(), lr, weight_decay, device)], fused
    table = model.embedding.weight
    rest = [p for p in model.parameters() if p is not table]
    return [torch.optim.SparseAdam([table], lr=lr), _adam(rest, lr, weight_decay, device)], f"sparse_adam+{fused}"


def clip_grad_norm(parameters, max_norm: float) -> torch.Tensor:
    """Clip the total gradient 2-norm to `max_norm`, sparse gradients included; returns the norm before."""
    params = [p for p in parameters if p.grad is not None]
    for p in params:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()  # repeated rows summed, so that their values' norm is the gradient's
    norms = [torch.linalg.vector_norm(p.grad.values() if p.grad.is_sparse else p.grad) for p in params]
    total = torch.linalg.vector_norm(torch.stack(norms))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for p in params:
        p.grad.mul_(scale)
    return total
