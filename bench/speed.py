"""The speed study (`mode: speed`, studies/speed.yaml): how fast is each variant, on fixed batches?

No tuning and no accuracy: for every variant and every point of two sweeps (batch size at a fixed
sequence length, sequence length at a fixed batch size) it pre-builds batches of random tokens whose
lengths are uniform in [1, seq_len] (about half the slots are pads, as in AG News), then times
`repeats` training steps (forward, backward, fused Adam) and inference steps after `warmup`,
each timed with CUDA events on a GPU (the synchronized wall clock on the CPU), every sample kept. It reports real and padded tokens/s, the peak memory, the
analytic FLOPs per token (bench.floors.flops_per_token), the achieved FLOP/s, and the two floors under
each step (bench.floors): padded runs compute on every slot, packed runs on real tokens only, so achieved
FLOP/s and the arithmetic floor use the slots each one really computes.
"""

from __future__ import annotations

import statistics

import torch

from bench import floors
from bench.config import SPEED_SETTINGS, Params
from bench.data.batching import Batch
from bench.floors import TRAIN_FACTOR, flops_per_token
from bench.measure import Load, reset_peak_memory, time_each
from bench.models import Shape, to_device
from bench.train import step_memory, trainer
from bench.variants import Variant

def fixed_batches(batch_size: int, seq_len: int, vocab: int, count: int, seed: int = 0) -> list[Batch]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        lengths = torch.randint(1, seq_len + 1, (batch_size,), generator=g)
        lengths[0] = seq_len  # every batch is padded to exactly seq_len
        tokens = torch.randint(2, vocab, (batch_size, seq_len), generator=g)
        tokens[torch.arange(seq_len)[None, :] >= lengths[:, None]] = 0
        out.append(Batch(tokens, lengths, torch.randint(0, 4, (batch_size,), generator=g)))
    return out


def measure_point(variant: Variant, params: Params, vocab: int, batch_size: int, seq_len: int, warmup: int,
                  repeats: int, device: torch.device) -> dict:
    """Train-step and inference-step times (ms, every sample) for one variant at one (batch, length):
    the very step `bench.train.fit` runs (host-to-device copy included)."""
    torch.manual_seed(0)
    params, shape = params.replace(dropout=0.0), Shape(vocab, 4, 0)
    model, step, _ = trainer(variant, params, shape, device)
    data = fixed_batches(batch_size, seq_len, vocab, warmup + repeats)
    reset_peak_memory(device)
    with Load() as load:
        train_ms = time_each(step, data, warmup, device)
        model.eval()
        with torch.no_grad():
            infer_ms = time_each(lambda b: model(to_device(b.tokens, device), b.lengths), data, warmup, device)
    peak, kind = step_memory(variant, params, shape, data[warmup:warmup + 1], device)
    real = statistics.mean(b.real_tokens for b in data[warmup:])
    padded = batch_size * seq_len
    computed = real if variant.packing == "packed" else padded
    train_med, infer_med = statistics.median(train_ms), statistics.median(infer_ms)
    q1, _, q3 = statistics.quantiles(train_ms, n=4, method="inclusive") if len(train_ms) > 1 else [train_med] * 3
    fwd = flops_per_token(variant, params.embed_dim, params.hidden_size)
    floor = floors.of(variant, params.replace(batch_size=batch_size), seq_len, computed, device, params.precision)
    return {"variant": variant.name, **variant.axes(), "batch_size": batch_size, "seq_len": seq_len,
            "train_ms": train_med, "train_ms_q1": q1, "train_ms_q3": q3,
            "infer_ms": infer_med, "train_ms_samples": train_ms, "infer_ms_samples": infer_ms,
            "real_tokens_per_s": real / train_med * 1000, "padded_tokens_per_s": padded / train_med * 1000,
            "pad_fraction": 1 - real / padded, "flops_per_token": fwd, "train_flops_per_token": TRAIN_FACTOR * fwd,
            "train_gflops_per_s": TRAIN_FACTOR * fwd * computed / train_med / 1e6,
            "infer_gflops_per_s": fwd * computed / infer_med / 1e6, "peak_mem_mb": peak, "memory_kind": kind,
            "arith_floor_ms": 1000 * floor["arith_s"] if floor else None,
            "latency_floor_ms": 1000 * floor["latency_s"] if floor else None,
            "x_latency_floor": train_med / (1000 * floor["latency_s"]) if floor else None,
            "peak_source": floor.get("peak_source"), **load.facts}


def jobs(speed) -> list[dict]:
    """One job per point of both sweeps (batch size at seq_len, sequence length at batch_size); the shared
    point is measured once per sweep."""
    return ([{"sweep": "batch", "batch_size": b, "seq_len": speed.seq_len} for b in speed.batch_sizes]
            + [{"sweep": "length", "batch_size": speed.batch_size, "seq_len": n} for n in speed.seq_lens])


def measure(variant: Variant, study, job: dict, device: torch.device) -> dict:
    """The row of one job: `measure_point` at the study's model sizes and speed settings."""
    settings = {key: getattr(study.train, key) for key in SPEED_SETTINGS}
    row = measure_point(variant, study.train, study.speed.vocab, job["batch_size"], job["seq_len"], study.speed.warmup,
                        study.speed.repeats, device)
    return {"sweep": job["sweep"], **row, **settings}
