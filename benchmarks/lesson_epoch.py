"""One epoch of each `study=lesson` variant: the lesson's own loop against the harness, same machine.

    python -m benchmarks.lesson_epoch --data ../shared/data/ag_news_first10k      # every lesson variant
    python -m benchmarks.lesson_epoch --data DIR --variants lstm-padded-l1-shifted --rows 3000 --seeds 3

The lesson's loop, as LESSON.md describes it: a DataLoader over raw (label, text) rows whose collate
function tokenizes with basic_english, looks the tokens up (pad = unk = 0) and pads to the batch's
longest; the default Adam (for-loop implementation on the CPU); mean cross-entropy. The harness:
bench.train.fit with the lesson's hyperparameters on pre-tokenized tensors, with fused Adam. Both
train the same model class from the same seed; only the training pass is timed (no evaluation).
Prints seconds per epoch, samples/s and the running train accuracy of each, and the speed-up.
Columns: the harness on torch's modules (the lesson's mathematics), with `train.kernels=harness` (the same
mathematics on faster kernels, bench/kernels.py) and with lazy Adam on the embedding (`train.sparse_embedding`,
another algorithm: compare its accuracy over several --seeds). The last line sums the medians over variants.
This is a benchmark, not a test: it takes minutes and its figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

from bench import data
from bench.config import load_study
from bench.data.tokenizer import basic_english
from bench.models import ModelSize, build
from bench.run import params_of
from bench.train import fit
from bench.variants import parse


def lesson_epoch(variant, texts: list[str], labels: list[int], stoi: dict[str, int], seed: int) -> tuple[float, float]:
    """The lesson's training loop for one epoch: (seconds, running train accuracy)."""
    torch.manual_seed(seed)
    model = build(variant, ModelSize(len(stoi), 4, 64, 32, 0.0, None))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # the default, as in the lesson
    loss_fn = nn.CrossEntropyLoss()

    def collate(batch):
        ids = [torch.tensor([stoi.get(t, 0) for t in basic_english(text)] or [0]) for _, text in batch]
        lengths = torch.tensor([len(x) for x in ids])
        return torch.tensor([label for label, _ in batch]), pad_sequence(ids, batch_first=True), lengths

    loader = DataLoader(list(zip(labels, texts)), batch_size=16, shuffle=True, collate_fn=collate,
                        generator=torch.Generator().manual_seed(seed))
    correct = seen = 0
    start = time.perf_counter()
    for label, tokens, lengths in loader:
        logits = model(tokens, lengths)
        loss = loss_fn(logits, label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        correct += (logits.argmax(1) == label).sum().item()  # the lesson prints a running accuracy
        seen += len(label)
    return time.perf_counter() - start, correct / seen


CONFIGS = {  # column title -> Params overrides; the first two keep the lesson's mathematics exactly
    "harness, torch kernels": {"kernels": "torch"},
    "harness, kernels=harness": {"kernels": "harness"},
    "kernels=harness + lazy Adam": {"kernels": "harness", "sparse_embedding": True},  # another algorithm
}


def _cell(seconds: list[float], accs: list[float], lesson_s: float | None, rows: int) -> str:
    s = statistics.median(seconds)
    acc = f"{statistics.mean(accs):.3f}" + (f"±{statistics.stdev(accs):.3f}" if len(accs) > 1 else "")
    return f"{s:6.2f} {rows / s:6,.0f} {acc}" + (f" {lesson_s / s:4.1f}x" if lesson_s else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="folder with AG News train.csv[.gz] and test.csv[.gz]")
    parser.add_argument("--variants", nargs="*", help="lesson variant names (default: all of studies/lesson.yaml)")
    parser.add_argument("--rows", type=int, default=None, help="use only the first N training rows")
    parser.add_argument("--seeds", type=int, default=1, help="epochs per column, seeds 0..N-1: median time, mean±sd "
                                                                 "running accuracy")
    args = parser.parse_args()
    study = load_study(["study=lesson", f"data.root={args.data}"]
                       + ([f"data.max_train={args.rows}"] if args.rows else []))
    splits = data.load(study.data)
    raw = data.DATASETS["ag_news"].read(study.data)
    texts, labels = raw.train_texts[: len(splits.train)], raw.train_labels[: len(splits.train)]
    stoi = {token: i for i, token in enumerate(splits.itos)}
    params = params_of(study)
    rows, seeds = len(texts), range(args.seeds)
    print(f"{rows:,} training rows, vocabulary {len(stoi):,}, batch 16, {torch.get_num_threads()} threads, "
          f"{args.seeds} seed(s)")
    print("each column: seconds per epoch (training pass only), samples/s, running train accuracy, speed-up over the "
          "lesson's loop")
    print(f"{'variant':34} {'lesson loop':>26}" + "".join(f" {title:>32}" for title in CONFIGS))
    totals = [0.0] * (1 + len(CONFIGS))
    for name in args.variants or study.variants:
        variant = parse(name)
        lesson = [lesson_epoch(variant, texts, labels, stoi, seed) for seed in seeds]
        lesson_s = statistics.median(s for s, _ in lesson)
        cells, totals[0] = [_cell([s for s, _ in lesson], [a for _, a in lesson], None, rows)], totals[0] + lesson_s
        for i, overrides in enumerate(CONFIGS.values(), start=1):
            runs = [fit(variant, replace(params, **overrides), splits, seed, torch.device("cpu")) for seed in seeds]
            cells.append(_cell([f.last.time_s for f in runs], [f.last.running_acc for f in runs], lesson_s, rows))
            totals[i] += statistics.median(f.last.time_s for f in runs)
        print(f"{name:34} {cells[0]:>26}" + "".join(f" {c:>32}" for c in cells[1:]))
    print(f"{'all variants (sum of medians)':34} {totals[0]:>17.2f} s" + "".join(
        f" {t:>20.2f} s {totals[0] / t:7.1f}x" for t in totals[1:]))


if __name__ == "__main__":
    main()
