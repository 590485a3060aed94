"""One epoch of each `study=lesson` variant: the lesson's own loop against the harness, same machine.

    python -m benchmarks.lesson_epoch --data ../shared/data/ag_news_first10k      # every lesson variant
    python -m benchmarks.lesson_epoch --data DIR --variants lstm-padded-l1-shifted --rows 3000

The lesson's loop, as LESSON.md describes it: a DataLoader over raw (label, text) rows whose collate
function tokenizes with basic_english, looks the tokens up (pad = unk = 0) and pads to the batch's
longest; the default Adam (for-loop implementation on the CPU); mean cross-entropy. The harness:
bench.train.fit with the lesson's hyperparameters on pre-tokenized tensors, with fused Adam. Both
train the same model class from the same seed; only the training pass is timed (no evaluation).
Prints seconds per epoch, samples/s and the running train accuracy of each, and the speed-up.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="folder with AG News train.csv[.gz] and test.csv[.gz]")
    parser.add_argument("--variants", nargs="*", help="lesson variant names (default: all of studies/lesson.yaml)")
    parser.add_argument("--rows", type=int, default=None, help="use only the first N training rows")
    parser.add_argument("--repeats", type=int, default=1, help="epochs per side; the median is shown")
    args = parser.parse_args()
    study = load_study(["study=lesson", f"data.root={args.data}"]
                       + ([f"data.max_train={args.rows}"] if args.rows else []))
    splits = data.load(study.data)
    raw = data.DATASETS["ag_news"].read(study.data)
    texts, labels = raw.train_texts[: len(splits.train)], raw.train_labels[: len(splits.train)]
    stoi = {token: i for i, token in enumerate(splits.itos)}
    params = params_of(study)
    print(f"{len(texts):,} training rows, vocabulary {len(stoi):,}, batch 16, {torch.get_num_threads()} threads")
    sparse = replace(params, sparse_embedding=True)
    print("columns: seconds per epoch (training pass), samples/s, running train accuracy; speed-up over the lesson")
    print(f"{'variant':34} {'lesson':>22} {'harness (same math)':>30} {'harness sparse_embedding':>30}")
    for name in args.variants or study.variants:
        variant = parse(name)
        lesson = [lesson_epoch(variant, texts, labels, stoi, seed=0) for _ in range(args.repeats)]
        lesson_s = statistics.median(s for s, _ in lesson)
        cells = [f"{lesson_s:7.2f} {len(texts) / lesson_s:7,.0f} {lesson[0][1]:.3f}"]
        for p in (params, sparse):
            runs = [fit(variant, p, splits, 0, torch.device("cpu")) for _ in range(args.repeats)]
            s = statistics.median(f.last.time_s for f in runs)
            cells.append(f"{s:7.2f} {len(texts) / s:7,.0f} {runs[0].last.running_acc:.3f} {lesson_s / s:4.1f}x")
        print(f"{name:34} {cells[0]:>22} {cells[1]:>30} {cells[2]:>30}")


if __name__ == "__main__":
    main()
