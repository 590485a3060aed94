"""Data preparation at the full AG News size: tokenize, vocabulary, tensors; first time and from the cache.

    python -m benchmarks.prepare_data                      # 120,000 train / 7,600 test generated rows
    python -m benchmarks.prepare_data --like ../shared/data/ag_news_first10k   # copy its length distribution

The full 120,000-row split is not on these machines, so a corpus of the same size is generated: rows of
AG News's CSV format (class, title, description) whose word counts follow the real split's (sampled
from --like when given) and whose words follow a Zipf law over a 60,000-word vocabulary, with the
punctuation basic_english splits off. Prints the seconds of a cold load (read + tokenize + vocabulary +
tensors + cache write) and of a warm load (the tensor cache), each the median of --repeats.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench import data
from bench.config import DataConfig


def lengths_like(folder: Path | None, rng: random.Random) -> list[int]:
    if folder is None:
        return [max(3, int(rng.gauss(38, 10))) for _ in range(1000)]
    path = folder / "train.csv.gz" if (folder / "train.csv.gz").is_file() else folder / "train.csv"
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [len((title + " " + text).split()) for _, title, text in csv.reader(f)]


def generate(out: Path, rows: dict[str, int], lengths: list[int], seed: int = 0) -> None:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(60_000)]
    weights = [1 / (i + 1) for i in range(len(words))]
    punct = [",", ".", "'s", "(", ")", "!", "?", ";", ":", '"']
    for split, n in rows.items():
        with open(out / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, quoting=csv.QUOTE_ALL)
            for i in range(n):
                k = rng.choice(lengths)
                tokens = rng.choices(words, weights, k=k)
                tokens = [t + rng.choice(punct) if rng.random() < 0.12 else t.capitalize() if rng.random() < 0.1
                          else t for t in tokens]
                cut = max(1, k // 6)
                writer.writerow([1 + i % 4, " ".join(tokens[:cut]), " ".join(tokens[cut:])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--like", type=Path, default=None, help="an AG News folder whose lengths to copy")
    parser.add_argument("--train", type=int, default=120_000)
    parser.add_argument("--test", type=int, default=7_600)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lengths = lengths_like(args.like, random.Random(0))
    print(f"words per row: median {statistics.median(lengths)}, max {max(lengths)} "
          f"({'from ' + str(args.like) if args.like else 'generated'})")
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ag"
        folder.mkdir()
        generate(folder, {"train": args.train, "test": args.test}, lengths)
        for repeat in range(args.repeats):
            os.environ["RNNBENCH_CACHE"] = str(Path(tmp) / f"cache{repeat}")
            cfg = DataConfig(root=str(folder))
            start = time.perf_counter()
            splits = data.load(cfg)
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            again = data.load(cfg)
            warm.append(time.perf_counter() - start)
            assert again.info["cache"] == "hit" and len(again.train) == len(splits.train)
    print(f"{args.train:,} train + {args.test:,} test rows, vocabulary {splits.vocab_size:,}, "
          f"{len(splits.train):,} train sequences after the validation split")
    print(f"cold load (read, tokenize, vocabulary, tensors, cache write): median {statistics.median(cold):.2f} s "
          f"{[round(s, 2) for s in cold]}")
    print(f"warm load (tensor cache): median {statistics.median(warm):.3f} s {[round(s, 3) for s in warm]}")


if __name__ == "__main__":
    main()
