"""How far a variant runs above what the machine allows: two floors under the time of an epoch (or a step).

Analytic FLOPs (multiply-adds counted as 2): a recurrent layer and direction does G gate matrix products per
token, 2*G*H*(I + H) FLOPs with G = 1 / 3 / 4 for RNN / GRU / LSTM, I the layer's input width (the embedding
for the first layer, H * directions after). Training is about 3x the forward pass (forward, plus two products
per weight in backward).

Arithmetic floor: the analytic training FLOPs (times the slots the variant computes: every slot padded, the
real tokens packed) divided by the device's peak FLOP/s. A known GPU's
dense peak comes from PEAKS (per precision; fp32 on a GPU counts TF32 when torch lets cuDNN use it, the
higher peak, so the floor stays a floor); the CPU's, and an unknown GPU's, is measured once per process by
a quarter-second matmul benchmark (the best of its repeats: longer runs find the same peak).

Latency floor: a recurrent layer cannot start step t+1 before step t is done, so an epoch takes at least its
dependent steps (each batch's longest text, times layers, times directions) times the time of one cell step,
forward and backward, at the same batch and widths. That step is timed by a micro-benchmark of the same torch
module (nn.RNN / nn.GRU / nn.LSTM, one layer, 32 steps) on the same device. measured / latency floor is what
everything around the recurrence costs: embedding, read-out, loss, optimizer, batches, Python. Packed batches
shrink along the sequence, so a packed run can come in under it. Bag and transformer have no recurrence: no
floors.
"""

from __future__ import annotations

import functools
import math
import statistics
import time

import torch

from bench.measure import StepTimer, sync
from bench.models import CELLS
from bench.variants import GATES

TRAIN_FACTOR = 3


def flops_per_token(variant, embed_dim: int, hidden: int, train: bool = False) -> float:
    """Analytic FLOPs of the recurrent stack for one token (see the module docstring); nan for the
    non-recurrent baselines (bag, transformer), which this count does not cover."""
    if variant.cell not in GATES:
        return math.nan
    dirs = 2 if variant.bidirectional else 1
    total, width = 0, embed_dim
    for _ in range(variant.layers):
        total += dirs * 2 * GATES[variant.cell] * hidden * (width + hidden)
        width = hidden * dirs
    return total * (TRAIN_FACTOR if train else 1)


# Dense peak TFLOP/s of known GPUs by name fragment (vendor data sheets; no sparsity): (fp32, tf32, bf16/fp16)
PEAKS = {"H200": (67.0, 494.7, 989.4), "H100 SXM": (67.0, 494.7, 989.4), "H100 NVL": (60.0, 417.5, 835.0),
         "H100 PCIe": (51.0, 378.0, 756.0), "H100": (67.0, 494.7, 989.4), "A100": (19.5, 156.0, 312.0),
         "L40S": (91.6, 183.0, 362.0), "L4": (30.3, 60.0, 121.0), "A10": (31.2, 62.5, 125.0),
         "V100": (15.7, 15.7, 125.0)}
STEPS = 32  # sequence length of the cell-step micro-benchmark


@functools.cache
def peak(device: torch.device, precision: str = "fp32") -> tuple[float, str]:
    """(FLOP/s, where the figure comes from) of `device` at `precision`."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for fragment, (fp32, tf32, half) in PEAKS.items():
            if fragment in name:
                value = half if precision != "fp32" else tf32 if torch.backends.cudnn.allow_tf32 else fp32
                return value * 1e12, f"{fragment} data sheet, dense {precision}" + (
                    " (TF32 allowed)" if precision == "fp32" and torch.backends.cudnn.allow_tf32 else "")
    return _matmul_peak(device, torch.float32 if precision == "fp32" else torch.bfloat16)


def _matmul_peak(device: torch.device, dtype: torch.dtype, seconds: float = 0.25) -> tuple[float, str]:
    """The best rate of a square matmul over about `seconds` (after one warm-up product)."""
    n = 2048 if device.type == "cuda" else 512
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best, end = math.inf, time.perf_counter() + seconds
    while time.perf_counter() < end:
        with StepTimer(device) as timer:
            for _ in range(8):
                a @ b
        best = min(best, timer.ms / 8)
    kind = str(dtype).removeprefix("torch.")
    return 2 * n**3 / (best / 1000), f"measured: {n}x{n} {kind} matmul, best of {seconds:g} s"


@functools.cache
def cell_step_ms(cell: str, batch: int, width: int, hidden: int, device: torch.device) -> float:
    """Milliseconds of one dependent step of one layer and direction, forward and backward (median of 7 timed
    runs of STEPS steps, after 2 warm-up runs)."""
    torch.manual_seed(0)
    layer = CELLS[cell](width, hidden, batch_first=True).to(device)
    x = torch.randn(batch, STEPS, width, device=device)
    samples = []
    for i in range(9):
        with StepTimer(device) as timer:
            out, _ = layer(x)
            out.sum().backward()
        if i >= 2:
            samples.append(timer.ms)
    sync(device)
    return statistics.median(samples) / STEPS


def of(variant, params, widths: int, slots: int, device: torch.device, precision: str = "fp32") -> dict:
    """The two floors of a block of work (an epoch, a step) of `variant` at `params`' sizes: `widths` is the sum
    of its batches' longest texts (the dependent steps of one layer and direction), `slots` the tokens it computes.
    Seconds, with the figures they come from; {} for a variant without a recurrence."""
    if variant.cell not in GATES or not widths:
        return {}
    directions = 2 if variant.bidirectional else 1
    steps = [cell_step_ms(variant.cell, params.batch_size, params.embed_dim if layer == 0 else
                          params.hidden_size * directions, params.hidden_size, device)
             for layer in range(variant.layers)]
    flops, (rate, source) = flops_per_token(variant, params.embed_dim, params.hidden_size, train=True), \
        peak(device, precision)
    return {"arith_s": flops * slots / rate, "latency_s": widths * directions * sum(steps) / 1000,
            "dependent_steps": widths * directions * variant.layers, "cell_step_ms": steps,
            "peak_tflops": rate / 1e12, "peak_source": source}
