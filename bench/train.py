"""Train one variant with one set of hyperparameters and one seed, timing every epoch.

`fit(variant, params, splits, seed, device)` -> Fit. Knows nothing about YAML or Optuna: tuning
calls it through `on_epoch` (report / prune), the run stage for the measured seeds.
No host-device sync per training step: running counts stay on the device and are read once per
epoch; the only syncs are the clock reads at the epoch's ends.
"""

from __future__ import annotations

import contextlib
import math
import random
from dataclasses import dataclass, field
from typing import Callable, Generator

import torch
from torch import nn

from bench.config import Params
from bench.data import Splits
from bench.data.batching import Encoded, batches
from bench.measure import WARMUP_EVAL_BATCHES, Load, clock, fresh_peak_mb, peak_memory_mb, reset_peak_memory, time_each
from bench.models import Shape, build, count_parameters, stream, to_device
from bench.record import Epoch
from bench.optim import clip_grad_norm, optimizers
from bench.variants import Variant


@dataclass
class Fit:
    epochs: list[Epoch]
    curve: list[tuple[int, int, float]]        # (epoch, samples seen in it, running accuracy)
    params: int
    peak_mem_mb: float
    memory_kind: str
    eval_latency_s: list[float] = field(default_factory=list)  # per test batch, after warm-up
    optimizer: str = ""                                         # which implementation stepped the weights
    best_epoch: int = 0                                         # the epoch whose weights were kept (1-based)
    test_acc: float = math.nan                                  # of the kept weights; nan when not evaluated
    test_macro_f1: float = math.nan                             # of the same predictions
    test_confusion: list[list[int]] | None = None               # [true label][predicted label] counts on test
    metric: str = "accuracy"                                    # the validation score that chose the kept epoch
    epoch_cap: int = 0                                          # the most epochs it could run (params.epoch_cap)

    @property
    def last(self) -> Epoch:
        return self.epochs[-1]

    @property
    def kept(self) -> Epoch:
        """The epoch whose weights the run ended with (the best on validation under early stopping)."""
        return self.epochs[self.best_epoch - 1]

    @property
    def best_val(self) -> float:
        """The kept epoch's validation score (accuracy, or macro-F1: `metric`): the tuning objective's."""
        return self.kept.score(self.metric)


class Diverged(RuntimeError):
    """The training loss became NaN or inf."""


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA too


@torch.no_grad()
def evaluate(model: nn.Module, data: Encoded, pad_index: int, batch_size: int, device: torch.device,
             latencies: list[float] | None = None, confusion: torch.Tensor | None = None) -> float:
    """Accuracy on `data`; appends per-batch latencies (s, synchronized) when given a list, and counts each
    (true label, predicted label) into `confusion` (classes x classes, on the CPU) when given one."""
    if len(data) == 0:
        return math.nan
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    pairs = []
    for i, batch in enumerate(batches(data, batch_size, pad_index)):
        start = clock(device) if latencies is not None else 0.0
        logits = model(to_device(batch.tokens, device), batch.lengths)
        predicted, labels = logits.argmax(1), to_device(batch.labels, device)
        correct += (predicted == labels).sum()
        if latencies is not None and i >= WARMUP_EVAL_BATCHES:
            latencies.append(clock(device) - start)
        if confusion is not None:
            pairs.append(labels * len(confusion) + predicted)
    model.train()
    if confusion is not None:  # one transfer after the loop: no sync per batch
        confusion += torch.bincount(torch.cat(pairs).cpu(), minlength=confusion.numel()).view_as(confusion)
    return correct.item() / len(data)


def macro_f1(confusion: torch.Tensor) -> float:
    """The mean over classes of F1 = 2 TP / (2 TP + FP + FN), rows the true labels; a class that is neither in the
    data nor predicted is left out (scikit-learn's f1_score(average="macro") over the labels present)."""
    tp = confusion.diag().double()
    fp, fn = confusion.sum(0).double() - tp, confusion.sum(1).double() - tp
    present = (tp + fp + fn) > 0
    return (2 * tp / (2 * tp + fp + fn))[present].mean().item() if present.any() else math.nan


def shape_of(splits: Splits) -> Shape:
    return Shape(splits.vocab_size, len(splits.label_names),
                 None if splits.pad_index == splits.unk_index else splits.pad_index, splits.pretrained,
                 splits.pretrained_scale)


def trainer(variant: Variant, params: Params, shape: Shape, device: torch.device, seed: int | None = None):
    """The model, one training step (batch -> labels, logits, summed loss) and the optimizer's name:
    what `fit`, `trace` and the speed study all time. With `seed`, the model's modules are drawn from their own
    streams of it and training's stream (dropout masks) is seeded after them (bench.models: matched seeds)."""
    model = build(variant, params, shape, seed).to(device)
    if seed is not None:
        torch.manual_seed(stream(seed, "training"))
    steppers, optimizer_name = optimizers(model, params.lr, params.weight_decay, params.sparse_embedding, device)
    forward = torch.compile(model) if params.compile else model
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = params.cudnn_benchmark
    dtype = PRECISIONS[params.precision]
    scaler = torch.amp.GradScaler(device.type) if params.precision == "fp16" else None

    def step(batch):
        labels = to_device(batch.labels, device)
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext():
            logits = forward(to_device(batch.tokens, device), batch.lengths)
            loss = loss_fn(logits.float(), labels)
        for optimizer in steppers:
            optimizer.zero_grad(set_to_none=True)
        scaled = loss / len(labels)
        (scaler.scale(scaled) if scaler else scaled).backward()
        if scaler:
            for optimizer in steppers:
                scaler.unscale_(optimizer)  # clip the true gradients
        if params.clip:  # torch's clip_grad_norm_, plus sparse gradients (train.sparse_embedding)
            (clip_grad_norm if params.sparse_embedding else nn.utils.clip_grad_norm_)(model.parameters(), params.clip)
        for optimizer in steppers:
            scaler.step(optimizer) if scaler else optimizer.step()
        if scaler:
            scaler.update()
        return labels, logits, loss

    return model, step, optimizer_name


def epochs_of(variant: Variant, params: Params, splits: Splits, seed: int):
    """Each epoch's training batches, built whole, in the order `fit` draws them: shuffled by a generator of their
    own, seeded with `seed`, so every variant at the same seed, batch size and batching gets the same order."""
    shuffle = torch.Generator().manual_seed(seed)
    while True:
        yield list(batches(splits.train, params.batch_size, splits.pad_index, shuffle,
                           bucketed=variant.batching == "bucketed"))


def _endless(variant: Variant, params: Params, splits: Splits, seed: int):
    """Training batches as `fit` draws them, round and round (a small dataset has fewer batches than a
    warm-up plus the timed steps)."""
    for order in epochs_of(variant, params, splits, seed):
        yield from order


TOP = 8  # operators (and, on CUDA, kernels) a profile lists


def trace(variant: Variant, params: Params, splits: Splits, device: torch.device, path, steps: int = 8,
          warmup: int = 3) -> dict:
    """A torch.profiler trace (Chrome / Perfetto JSON) of `steps` training steps after `warmup`, at `path`; what
    ran longest: the top operators by their own CPU time (aten ops: which RNN path ran) and, on CUDA, the top
    kernels by their own device time (cuDNN's), each with calls, ms per step and share of the total."""
    from torch.profiler import ProfilerActivity, profile, record_function, schedule

    seed_everything(0)
    _, step, _ = trainer(variant, params, shape_of(splits), device, seed=0)
    order = _endless(variant, params, splits, seed=0)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    # torch's own schedule: `warmup` steps traced and dropped (first-call costs, cuDNN's choices), then `steps` kept
    window = schedule(wait=0, warmup=warmup, active=steps, repeat=1)  # one window: its figures stay readable after
    with profile(activities=activities, record_shapes=True, schedule=window,
                 on_trace_ready=lambda done: done.export_chrome_trace(str(path))) as prof:
        for i in range(warmup + steps):
            with record_function(f"train_step_{i - warmup}" if i >= warmup else "warm_up"):  # in the trace: 0..steps-1
                step(next(order))
            if device.type == "cuda" and i == warmup + steps - 1:
                torch.cuda.synchronize(device)  # the last step's kernels inside the window
            prof.step()
    events = [e for e in prof.key_averages() if not e.key.startswith(("train_step_", "warm_up", "ProfilerStep#"))]

    def top(time_of) -> list[dict]:
        total = sum(time_of(e) for e in events) or 1.0
        ranked = sorted((e for e in events if time_of(e) > 0), key=time_of, reverse=True)[:TOP]
        return [{"name": e.key, "calls": round(e.count / steps, 2),
                 "ms_per_step": time_of(e) / 1000 / steps, "share": time_of(e) / total} for e in ranked]

    return {"steps": steps, "device": str(device), "operators": top(lambda e: e.self_cpu_time_total),
            "kernels": top(lambda e: e.self_device_time_total) if device.type == "cuda" else []}


def fit(variant: Variant, params: Params, splits: Splits, seed: int, device: torch.device, evaluate_test: bool = True,
        on_step: Callable[[int], None] | None = None,
        on_epoch: Callable[[Epoch], None] | None = None, metric: str = "accuracy") -> Fit:
    """Train from scratch for at most `params.epoch_cap` epochs (`training`, run to its end); `on_step(batch_size)`
    drives a progress bar, `on_epoch` may raise to stop (the pruner)."""
    run = training(variant, params, splits, seed, device, evaluate_test, on_step, metric=metric)
    while True:
        try:
            stats = next(run)
        except StopIteration as done:
            return done.value
        if on_epoch:
            on_epoch(stats)


def training(variant: Variant, params: Params, splits: Splits, seed: int, device: torch.device,
             evaluate_test: bool = True, on_step: Callable[[int], None] | None = None,
             memory: bool = True, metric: str = "accuracy") -> Generator[Epoch, None, Fit]:
    """`fit` one epoch at a time: yields each epoch's figures and returns the Fit. Several runs may be advanced in
    turn (a group of variants tuned together, epoch by epoch): each keeps torch's random state of its own between
    its epochs, so a run's result does not depend on what ran between them.

    Matched seeds: seed s fixes, for every variant trained at s, (1) the initial weights of every module whose
    shape agrees (each module has its own stream of s: bench.models), (2) the batch order, given the same
    batch size and batching (its own generator, seeded with s), and (3) the dropout masks wherever the two
    computations draw the same shapes in the same order (training's own stream of s, seeded after the model is
    built): packed and padded + true_last of one cell at one seed and settings take the same first step from the
    same weights on the same batch; two cells at the same sizes start from the same embedding and head.

    Early stopping (`params.patience`, when there is a validation split): after every epoch the weights with
    the best validation accuracy so far are kept; training stops once `patience` epochs in a row brought no
    better one, and the kept weights are restored. Test is then evaluated once, on the restored weights:
    test never decides anything. Without a validation split every epoch runs and test is read after each.

    Memory (`run_memory`) is read at the end; `memory=False` (a tuning trial, which records none) skips it.
    `metric` (measure.metric) is the validation score early stopping keeps the best of: accuracy or macro_f1."""
    seed_everything(seed)
    if params.compile:
        torch.compiler.reset()  # each fit compiles afresh, as a user's script would
    model, step, optimizer_name = trainer(variant, params, shape_of(splits), device, seed)
    drawn = epochs_of(variant, params, splits, seed)
    random_state = _random_state(device)  # training's stream (dropout masks), kept between this run's epochs
    reset_peak_memory(device)
    has_val = len(splits.val) > 0
    stopping = has_val and params.patience is not None
    history, curve, latencies, confusions = [], [], [], []
    best_epoch, best_val, best_state = 0, -math.inf, None
    cap = params.epoch_cap(len(splits.train))  # train.epochs, or the whole epochs within train.samples
    for epoch in range(1, cap + 1):
        _set_random_state(random_state, device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        points: list[tuple[int, torch.Tensor]] = []  # read after the epoch: no sync per step
        seen = 0
        # the epoch's batches are built before the clock starts (~0.1 s for 10k rows): the epoch time is the
        # training pass alone, as the minimal loop of benchmarks/lesson_epoch.py times it
        order = next(drawn)
        real, padded = sum(b.real_tokens for b in order), sum(b.padded_tokens for b in order)
        widths = sum(b.tokens.shape[1] for b in order)
        start = clock(device)
        for batch in order:
            labels, logits, loss = step(batch)
            loss_sum += loss.detach()
            correct += (logits.detach().argmax(1) == labels).sum()
            before, seen = seen, seen + len(labels)
            if seen // params.curve_every > before // params.curve_every:
                points.append((seen, correct.clone()))
            if on_step:
                on_step(len(labels))
        elapsed = clock(device) - start
        train_loss = loss_sum.item() / seen
        curve += [(epoch, n, c.item() / n) for n, c in points]
        if not math.isfinite(train_loss):
            raise Diverged(f"training loss is {train_loss} in epoch {epoch}")
        last = epoch == cap
        classes = len(splits.label_names)
        val_confusion = torch.zeros(classes, classes, dtype=torch.long)
        val_acc = evaluate(model, splits.val, splits.pad_index, params.eval_batch_size, device,
                           confusion=val_confusion)
        test_confusion = torch.zeros(classes, classes, dtype=torch.long)
        test_acc = (evaluate(model, splits.test, splits.pad_index, params.eval_batch_size, device,
                             latencies if last else None, test_confusion)
                    if evaluate_test and not has_val else math.nan)
        stats = Epoch(epoch, train_loss, correct.item() / seen, val_acc, test_acc, elapsed, seen, real, padded,
                      widths, steps=len(order), val_macro_f1=macro_f1(val_confusion) if len(splits.val) else math.nan)
        if not has_val:
            confusions.append(test_confusion)
        history.append(stats)
        if not stopping or stats.score(metric) > best_val:  # without early stopping the last epoch is kept
            best_epoch, best_val = epoch, stats.score(metric)
            if stopping:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        random_state = _random_state(device)
        yield stats
        if stopping and epoch - best_epoch >= params.patience:
            break
    if best_state is not None and best_epoch != len(history):
        model.load_state_dict(best_state)
    if has_val and evaluate_test:  # once, on the kept weights
        confusion = torch.zeros(len(splits.label_names), len(splits.label_names), dtype=torch.long)
        test = evaluate(model, splits.test, splits.pad_index, params.eval_batch_size, device, latencies, confusion)
    else:
        test = history[best_epoch - 1].test_acc
        confusion = confusions[best_epoch - 1] if evaluate_test else None
    peak, kind = run_memory(variant, params, splits, device) if memory else (math.nan, "")
    scored = confusion is not None and len(splits.test) > 0
    return Fit(history, curve, count_parameters(model), peak, kind, latencies, optimizer_name, best_epoch, test,
               macro_f1(confusion) if scored else math.nan, confusion.tolist() if scored else None, metric, cap)


def run_memory(variant: Variant, params: Params, splits: Splits, device: torch.device) -> tuple[float, str]:
    """(MiB, kind) of a run of `variant` at `params`: on a GPU the allocator's peak since the run began; on the CPU
    `step_memory` on the widest and the fullest batch of seed 0's first epoch. Those batches depend only on the
    batch size and batching, never on the run's seed, so every seed of a variant reads one figure (measured once
    per process), and two variants that batch alike (padded and packed) are measured on the same batches."""
    if device.type == "cuda":
        return peak_memory_mb(device)
    key = (variant, params.model_dump_json(), splits.info.get("cache_key"), len(splits.train), torch.get_num_threads())
    if key not in _measured:
        order = next(epochs_of(variant, params, splits, 0))
        widest = max(order, key=lambda b: (b.padded_tokens, b.real_tokens))
        fullest = max(order, key=lambda b: (b.real_tokens, b.padded_tokens))
        _measured[key] = step_memory(variant, params, shape_of(splits), [widest, fullest], device)
    return _measured[key]


_measured: dict = {}  # run_memory's figures in this process


def step_memory(variant: Variant, params: Params, shape: Shape, batches: list, device: torch.device,
                seed: int = 0) -> tuple[float, str]:
    """(MiB, kind): on the CPU what a fresh process adds to build the model and take a training step on each of
    `batches` (what decides a step's memory), then on the first again (the optimizer's state exists from the
    first step on); bench.measure says why a CPU figure is not read in this process. On a GPU, this process's
    allocator peak since `reset_peak_memory`."""
    if device.type == "cuda":
        return peak_memory_mb(device)
    steps = list({id(b): b for b in batches}.values()) + batches[:1]
    return fresh_peak_mb(memory_steps, variant, params, shape, steps, seed, torch.get_num_threads())


def memory_steps(variant: Variant, params: Params, shape: Shape, batches: list, seed: int, threads: int) -> None:
    """What `run_memory` measures in its fresh process, with this process's share of the CPU threads."""
    torch.set_num_threads(threads)
    seed_everything(seed)
    _, step, _ = trainer(variant, params, shape, torch.device("cpu"), seed)
    for batch in batches:
        step(batch)


def _random_state(device: torch.device) -> tuple:
    return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def _set_random_state(state: tuple, device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def time_steps(variant: Variant, params: Params, splits: Splits, device: torch.device, steps: int = 30,
               warmup: int = 5, seed: int = 0) -> dict:
    """Training steps of `variant` at `params`' sizes on the study's own training batches (shuffled as in
    `fit`, `warmup` steps first): every step's time in ms (CUDA events on a GPU, the synchronized clock on the
    CPU) and the peak memory. The effects table compares variants at one shared set of sizes with this, so
    a time ratio is not a ratio of two differently tuned models."""
    seed_everything(seed)
    model, step, _ = trainer(variant, params, shape_of(splits), device, seed)
    order = _endless(variant, params, splits, seed)
    taken = [next(order) for _ in range(warmup + steps)]
    reset_peak_memory(device)
    with Load() as load:
        samples = time_each(step, taken, warmup, device)
    peak, kind = run_memory(variant, params, splits, device)
    real, padded = sum(b.real_tokens for b in taken[warmup:]), sum(b.padded_tokens for b in taken[warmup:])
    return {"step_ms": samples, "peak_mem_mb": peak, "memory_kind": kind, "pad_fraction": 1 - real / padded,
            "load": load.facts,
            "sizes": {"embed_dim": params.embed_dim, "hidden_size": params.hidden_size,
                      "batch_size": params.batch_size}}
