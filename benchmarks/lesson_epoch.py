"""One epoch of each `study=lesson` variant: the harness against the floor, and against the lesson's own loop.

    python -m benchmarks.lesson_epoch --data ../shared/data/ag_news_first10k --seeds 3   # every lesson variant
    python -m benchmarks.lesson_epoch --data DIR --variants lstm-padded-l1-shifted --rows 3000 --seeds 3

Four loops train the same maths from the same seed with the lesson's hyperparameters, and only the training pass
is timed (no evaluation):
- **bare torch**: the floor's loop with bare nn.Embedding / nn.RNN or nn.LSTM / nn.Linear and each variant's
  read-out written inline (not bench.models): what the model wrapper itself costs shows against it;
- **floor**: a minimal loop of ours over pre-built batches (the very batches `fit` draws for that seed, built
  before the clock starts), `torch.optim.Adam(fused=True)`, mean cross-entropy, nothing else: what any
  harness around these modules can at best reach on this machine;
- **harness**: `bench.train.fit` (its batches built on the fly one step ahead, running counts kept on the
  device, the same fused Adam): its epoch time, `Epoch.time_s`;
- **lesson loop**: LESSON.md's own loop: a DataLoader over raw (label, text) rows whose collate function
  tokenizes with basic_english, looks the tokens up (pad = unk = 0) and pads; the default Adam (for-loop on
  the CPU).
Prints seconds per epoch (median over --seeds) and running train accuracy, then harness / bare torch (the goal:
<= 1.05), harness / floor (the harness's own loop) and lesson / harness. The last line sums the medians over variants.
This is a benchmark, not a test: it takes minutes and its figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader

from bench import data
from bench.config import load_study
from bench.data.tokenizer import basic_english
from bench.config import Params
from bench.models import Shape, build
from bench.data.batching import batches
from bench.train import fit, seed_everything, shape_of
from bench.variants import parse


def lesson_epoch(variant, texts: list[str], labels: list[int], stoi: dict[str, int], seed: int) -> tuple[float, float]:
    """The lesson's training loop for one epoch: (seconds, running train accuracy)."""
    torch.manual_seed(seed)
    model = build(variant, Params(embed_dim=64, hidden_size=32), Shape(len(stoi), 4, None))
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


def _minimal(forward, parameters, params, order, rows: int) -> tuple[float, float]:
    """The minimal loop both the floor and bare torch time: forward, mean cross-entropy, fused Adam, nothing else."""
    optimizer = torch.optim.Adam(parameters, lr=params.lr, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    correct = torch.zeros((), dtype=torch.long)
    start = time.perf_counter()
    for batch in order:
        logits = forward(batch)
        loss = loss_fn(logits, batch.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        correct += (logits.detach().argmax(1) == batch.labels).sum()
    return time.perf_counter() - start, correct.item() / rows


def floor_epoch(variant, params, splits, seed: int) -> tuple[float, float]:
    """The minimal loop over pre-built batches, on bench.models' model: (seconds, running train accuracy)."""
    order = list(batches(splits.train, params.batch_size, splits.pad_index, torch.Generator().manual_seed(seed)))
    seed_everything(seed)
    model = build(variant, params, shape_of(splits))
    return _minimal(lambda b: model(b.tokens, b.lengths), model.parameters(), params, order, len(splits.train))


def bare_epoch(variant, params, splits, seed: int) -> tuple[float, float]:
    """The same minimal loop with bare torch modules (nn.Embedding, nn.RNN / nn.LSTM, nn.Linear) and each lesson
    variant's read-out written inline, not bench.models: what the wrapper's own layers cost shows against it."""
    order = list(batches(splits.train, params.batch_size, splits.pad_index, torch.Generator().manual_seed(seed)))
    seed_everything(seed)
    embedding = nn.Embedding(splits.vocab_size, params.embed_dim)
    if variant.embed_init == "shifted":
        with torch.no_grad():
            embedding.weight.sub_(0.5)  # the lesson's LSTMs: randn - 0.5
    rnn = {"rnn": nn.RNN, "lstm": nn.LSTM}[variant.cell](params.embed_dim, params.hidden_size, batch_first=True)
    head = nn.Linear(params.hidden_size, len(splits.label_names))

    def forward(batch):
        x = embedding(batch.tokens)
        if variant.packing == "packed":
            _, state = rnn(pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=False))
            return head((state[0] if isinstance(state, tuple) else state)[-1])
        out, state = rnn(x)
        if variant.readout == "mean":
            return head(out.mean(dim=1))
        if variant.readout == "true_last":
            return head(out[torch.arange(len(batch.lengths)), batch.lengths - 1])
        return head((state[0] if isinstance(state, tuple) else state)[-1])

    return _minimal(forward, nn.ModuleList([embedding, rnn, head]).parameters(), params, order, len(splits.train))


def _cell(seconds: list[float], accs: list[float]) -> str:
    acc = f"{statistics.mean(accs):.3f}" + (f"±{statistics.stdev(accs):.3f}" if len(accs) > 1 else "")
    return f"{statistics.median(seconds):6.2f} s {acc}"


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
    params = study.train
    rows, seeds = len(texts), range(args.seeds)
    print(f"{rows:,} training rows, vocabulary {len(stoi):,}, batch {params.batch_size}, {torch.get_num_threads()} "
          f"threads, {args.seeds} seed(s); each cell: seconds per epoch (training pass), running train accuracy")
    print(f"{'variant':34} {'bare torch':>20} {'floor':>20} {'harness':>20} {'lesson loop':>20} {'harness/bare':>13} "
          f"{'harness/floor':>14} {'lesson/harness':>15}")
    totals = {"bare": 0.0, "floor": 0.0, "harness": 0.0, "lesson": 0.0}
    for name in args.variants or study.variants:
        variant = parse(name)
        runs = {"bare": [bare_epoch(variant, params, splits, seed) for seed in seeds],
                "floor": [floor_epoch(variant, params, splits, seed) for seed in seeds],
                "harness": [(f.last.time_s, f.last.running_acc) for f in
                            (fit(variant, params, splits, seed, torch.device("cpu")) for seed in seeds)],
                "lesson": [lesson_epoch(variant, texts, labels, stoi, seed) for seed in seeds]}
        median = {k: statistics.median(s for s, _ in v) for k, v in runs.items()}
        for k in totals:
            totals[k] += median[k]
        cells = [_cell([s for s, _ in v], [a for _, a in v]) for v in runs.values()]
        print(f"{name:34} {cells[0]:>20} {cells[1]:>20} {cells[2]:>20} {cells[3]:>20} "
              f"{median['harness'] / median['bare']:>13.3f} {median['harness'] / median['floor']:>14.3f} "
              f"{median['lesson'] / median['harness']:>14.2f}x")
    print(f"{'all variants (sum of medians)':34} {totals['bare']:>18.2f} s {totals['floor']:>18.2f} s "
          f"{totals['harness']:>18.2f} s {totals['lesson']:>18.2f} s {totals['harness'] / totals['bare']:>13.3f} "
          f"{totals['harness'] / totals['floor']:>14.3f} {totals['lesson'] / totals['harness']:>14.2f}x")


if __name__ == "__main__":
    main()
