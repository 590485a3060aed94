"""`train.kernels=harness`: every variant's recurrence, same mathematics, on the fastest path the harness knows.

`train.kernels=torch` (the default) runs the nn.RNN / nn.LSTM / nn.GRU module as a user would: packed
batches through PackedSequence, every cell on torch's kernel for the device. That is what the speed and
packing studies measure. Two of those paths are slow on a CPU for reasons that have nothing to do with the
mathematics, and `harness` avoids them:

- packed input: the CPU loses the fused (oneDNN) LSTM kernel and runs an autograd op per cell per time
  step. A packed recurrence is the padded one read at the right places: the forward direction at position t
  has seen only tokens <= t, so it is exact at every real position; the backward direction is a forward
  recurrence over each sequence reversed within its own length. `recurrence` runs each layer and direction
  padded (on the fused kernel), reverses per sequence where needed, zeroes the pads (as packed outputs are)
  and takes h_n at each sequence's true end.
- nn.RNN on the CPU has no fused kernel at all (an autograd op per step). `TanhScan` runs the recurrence
  with a hand-written backward pass through time and no autograd graph per step; its time loops are C++
  (bench/csrc/scan.cpp, built on first use) or, without a compiler, the same loops as torch ops.
- nn.GRU on the CPU has no fused kernel either: `GruScan` runs it the same way, on compiled loops only (without
  a compiler GRU keeps torch's kernels).

Same weights, same outputs and gradients within float rounding (tests/test_kernels.py checks every cell,
direction, layer count and packing against the modules). What changes is only which kernels run, so times
measured under `harness` say nothing about packing's own cost: the report says so on every page.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.autograd.function import once_differentiable

_SOURCE = Path(__file__).resolve().parent / "csrc" / "scan.cpp"
_compiled: object = None  # the built extension; False when it cannot be built (then torch ops run the loops)


def compiled():
    """bench/csrc/scan.cpp, built on first use (~40 s, then cached by torch in TORCH_EXTENSIONS_DIR), or None:
    no compiler, or RNNBENCH_COMPILED_SCAN=0. The fallbacks compute the same thing, only slower."""
    global _compiled
    if _compiled is None:
        _compiled = False
        if os.environ.get("RNNBENCH_COMPILED_SCAN", "1") != "0":
            try:
                from torch.utils.cpp_extension import load
                _compiled = load("rnnbench_scan", [str(_SOURCE)], extra_cflags=["-O3"], verbose=False)
            except Exception as e:  # noqa: BLE001 - a missing compiler surfaces as many different errors
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                warnings.warn(f"train.kernels=harness: could not build {_SOURCE.name} ({first}); the time loops run "
                              "as torch ops instead (the same results, slower)", stacklevel=2)
    return _compiled or None


class TanhScan(torch.autograd.Function):
    """One layer, one direction of nn.RNN(nonlinearity='tanh') from a zero state, batch-first:
    out[:, t] = tanh(x[:, t] W_ih^T + b_ih + out[:, t-1] W_hh^T + b_hh). Returns out (B, T, H)."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        batch, steps, _ = x.shape
        hidden = w_hh.shape[0]
        x_tm = x.transpose(0, 1).contiguous()                             # (T, B, E), time-major
        out = torch.addmm(b_ih + b_hh, x_tm.view(-1, x.shape[2]), w_ih.t()).view(steps, batch, hidden)
        ext = compiled() if out.dtype == torch.float32 else None  # the compiled loop is float32 only
        if ext is not None:
            ext.rnn_tanh_forward(out, w_hh.t().contiguous())
        else:
            rows = out.unbind(0)                                          # T views at once, not T selects
            rows[0].tanh_()                                               # the state before t = 0 is zero
            for t in range(1, steps):                                     # in place: out[t] holds x_t's part
                rows[t].addmm_(rows[t - 1], w_hh.t()).tanh_()
        ctx.save_for_backward(x_tm, w_ih, w_hh, out)
        return out.transpose(0, 1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x_tm, w_ih, w_hh, out = ctx.saved_tensors
        steps, batch, hidden = out.shape
        ext = compiled() if out.dtype == torch.float32 else None
        if ext is not None:
            grad_z = ext.rnn_tanh_backward(grad_out.transpose(0, 1).contiguous(), out, w_hh.contiguous())
        else:
            grad_z = torch.empty_like(out).copy_(grad_out.transpose(0, 1))  # becomes dL/d(pre-activation)
            slope = 1 - out * out                                         # tanh' at every step, one op
            carried = torch.zeros(batch, hidden, dtype=out.dtype, device=out.device)
            rows, slopes = grad_z.unbind(0), slope.unbind(0)
            for t in range(steps - 1, -1, -1):
                rows[t].add_(carried).mul_(slopes[t])
                if t:
                    torch.mm(rows[t], w_hh, out=carried)
        return _input_grads(grad_z, x_tm, w_ih, out)


class GruScan(torch.autograd.Function):
    """One layer, one direction of nn.GRU from a zero state, batch-first, on the compiled loop (gate order r, z, n;
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)), as PyTorch's). Returns out (B, T, H)."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        batch, steps, _ = x.shape
        x_tm = x.transpose(0, 1).contiguous()
        xp = torch.addmm(b_ih, x_tm.view(-1, x.shape[2]), w_ih.t()).view(steps, batch, -1)
        gates, hp, out = compiled().gru_forward(xp, w_hh.t().contiguous(), b_hh.contiguous())
        ctx.save_for_backward(x_tm, w_ih, w_hh, gates, hp, out)
        return out.transpose(0, 1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x_tm, w_ih, w_hh, gates, hp, out = ctx.saved_tensors
        grad_xp, grad_hp = compiled().gru_backward(grad_out.transpose(0, 1).contiguous(), gates, hp, out,
                                                   w_hh.contiguous())
        return _input_grads(grad_xp, x_tm, w_ih, out, grad_hp)


def _input_grads(grad_z, x_tm, w_ih, out, grad_hz=None):
    """The gradients of x, W_ih, W_hh, b_ih, b_hh, each one product, from dL/d(pre-activations) (T, B, G*H): of the
    input part (grad_z) and of the recurrent part (grad_hz; the same tensor unless the cell gates them apart, as
    the GRU's n = tanh(x_n + r * h_n) does)."""
    grad_hz = grad_z if grad_hz is None else grad_hz
    steps, batch, width = grad_z.shape
    flat = grad_z.view(-1, width)
    grad_x = (flat @ w_ih).view(steps, batch, -1).transpose(0, 1)
    grad_w_ih = flat.t() @ x_tm.view(-1, x_tm.shape[2])
    grad_w_hh = grad_hz[1:].reshape(-1, width).t() @ out[:-1].reshape(-1, out.shape[2])
    return grad_x, grad_w_ih, grad_w_hh, flat.sum(0), grad_hz.reshape(-1, width).sum(0)


def _one_direction(rnn: nn.RNNBase, x: torch.Tensor, layer: int, suffix: str) -> torch.Tensor:
    """Layer `layer`, one direction, read left to right from a zero state: outputs (B, T, H)."""
    weights = [getattr(rnn, f"{name}_l{layer}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    if isinstance(rnn, nn.LSTM):
        zero = x.new_zeros(1, x.shape[0], rnn.hidden_size)
        return torch._VF.lstm(x, (zero, zero), weights, True, 1, 0.0, rnn.training, False, True)[0]
    fast_cpu = x.device.type == "cpu" and x.dtype == torch.float32
    if isinstance(rnn, nn.GRU) and fast_cpu and compiled() is not None:
        return GruScan.apply(x, *weights)
    if isinstance(rnn, nn.GRU):
        zero = x.new_zeros(1, x.shape[0], rnn.hidden_size)
        return torch._VF.gru(x, zero, weights, True, 1, 0.0, rnn.training, False, True)[0]
    if fast_cpu and rnn.nonlinearity == "tanh":
        return TanhScan.apply(x, *weights)
    zero = x.new_zeros(1, x.shape[0], rnn.hidden_size)
    run = torch._VF.rnn_tanh if rnn.nonlinearity == "tanh" else torch._VF.rnn_relu
    return run(x, zero, weights, True, 1, 0.0, rnn.training, False, True)[0]


def recurrence(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor, packed: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """What `rnn` returns for this batch (batch-first), padded (`packed=False`) or as if packed (outputs zero at
    the pads, h_n at each sequence's true end): (out (B, T, D*H), h_n (layers*D, B, H)). LSTM: h_n only.
    `lengths` (B,) on x's device."""
    batch, steps = x.shape[:2]
    directions = 2 if rnn.bidirectional else 1
    if packed:
        position = torch.arange(steps, device=x.device)
        real = position[None, :] < lengths[:, None]                                      # (B, T)
        # reversing each sequence within its length (pads stay put); the map is its own inverse
        reverse = torch.where(real, lengths[:, None] - 1 - position[None, :], position[None, :])
        last = (lengths - 1).clamp(min=0)
    finals = []
    for layer in range(rnn.num_layers):
        outs = []
        for direction in range(directions):
            suffix = "_reverse" if direction else ""
            if direction == 0:
                y = _one_direction(rnn, x, layer, suffix)
                final = y[torch.arange(batch, device=x.device), last] if packed else y[:, -1]
            elif packed:
                index = reverse[..., None].expand(-1, -1, x.shape[2])
                y = _one_direction(rnn, x.gather(1, index), layer, suffix)
                y = y.gather(1, reverse[..., None].expand(-1, -1, y.shape[2]))
                final = y[:, 0]
            else:
                y = _one_direction(rnn, x.flip(1), layer, suffix).flip(1)
                final = y[:, 0]
            outs.append(y)
            finals.append(final)
        x = outs[0] if directions == 1 else torch.cat(outs, dim=2)
        if packed:
            x = x * real[..., None].to(x.dtype)
        if rnn.dropout and rnn.training and layer < rnn.num_layers - 1:
            x = nn.functional.dropout(x, rnn.dropout, training=True)
    return x, torch.stack(finals)
