"""Datasets -> numericalized train / validation / test splits, cached on disk.

`load(cfg)` is the data stage: read the raw texts (one module per dataset, registered in
DATASETS), cap the training rows (stratified), carve the validation split from training
(seeded, stratified: tuning reads it, never test), tokenize once, build the vocabulary from
training only, numericalize, and cache the tensors under a key made of the data files' hashes
and every preprocessing setting, so a second load does not tokenize again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench import store
from bench.record import Note
from bench.data import ag_news, csv_text, imdb, synthetic
from bench.data.base import cache_dir
from bench.data.batching import Encoded
from bench.data.split import stratified_take
from bench.data.tokenizer import VERSION as TOKENIZER, basic_english
from bench.data.vocab import build_vocab
from bench.errors import DataError, printable

log = logging.getLogger(__name__)

DATASETS = {"ag_news": ag_news, "csv": csv_text, "imdb": imdb, "synthetic": synthetic}


@dataclass
class Splits:
    train: Encoded
    val: Encoded
    test: Encoded
    itos: list[str]
    pad_index: int
    unk_index: int
    label_names: list[str]
    info: dict = field(default_factory=dict)  # dataset, row counts, partial, notes, cache key
    pretrained: torch.Tensor | None = None  # (vocab, 50) GloVe vectors in the vocabulary's order, NaN = not found (bench.embeddings)
    pretrained_scale: float = 1.0

    @property
    def vocab_size(self) -> int:
        return len(self.itos)


def _settings(cfg) -> dict:
    return {"max_train": cfg.max_train, "max_tokens": cfg.max_tokens, "val_fraction": cfg.val_fraction,
            "split_seed": cfg.split_seed, "min_freq": cfg.min_freq, "max_vocab": cfg.max_vocab, "max_len": cfg.max_len,
            "truncate": cfg.truncate, "shared_pad_unk": cfg.shared_pad_unk, "tokenizer": TOKENIZER}


def _cut(tokens: list[str], max_len: int | None, keep: str) -> list[str]:
    """At most `max_len` tokens: the first ones (head), the last ones (tail), or half of each end (both)."""
    if max_len is None or len(tokens) <= max_len:
        return tokens
    if keep == "head":
        return tokens[:max_len]
    if keep == "tail":
        return tokens[-max_len:]
    return tokens[:(max_len + 1) // 2] + tokens[len(tokens) - max_len // 2:]


def _tokenize(texts: list[str], where: str) -> list[list[str]]:
    tokens = [basic_english(t) for t in texts]
    if not any(tokens):
        raise DataError(f"every text of {where} is empty once tokenized (the tokenizer keeps words, numbers and some "
                        "punctuation): check which columns hold the text (data.csv.text_cols for a CSV)")
    # An empty text would give a length-0 sequence, which packing rejects: read it as one <unk>.
    return [t or ["<unk>"] for t in tokens]


def _caps(lengths: list[int], cfg, notes: list[Note]) -> int | None:
    """The training rows to keep: data.max_train, and fewer when the texts, once cut to data.max_len, hold more
    than data.max_tokens tokens (measured here, from the texts). Says on the page what was cut and why."""
    n, cap = len(lengths), cfg.max_len
    p90 = sorted(lengths)[int(0.9 * (n - 1))]
    cut = sum(length > cap for length in lengths) if cap else 0
    if cut:
        notes.append(Note(kind="cut", text=
            f"texts cut to {cap:,} tokens (data.max_len, keeping the {cfg.truncate}): {cut:,} of the {n:,} "
            f"training texts read were longer (their p90 is {p90:,} tokens)"))
    tokens = sum(min(length, cap or length) for length in lengths)
    rows = cfg.max_train if cfg.max_train is not None and cfg.max_train < n else None
    if cfg.max_tokens is not None and tokens * (rows or n) / n > cfg.max_tokens:
        rows = max(1, int(cfg.max_tokens * n / tokens))
        notes.append(Note(kind="capped", text=
            f"training rows capped at {rows:,} of {n:,} (data.max_tokens={cfg.max_tokens:,}: the texts "
            f"read hold {tokens:,} tokens{' once cut' if cut else ''}; stratified): figures are for this "
            "subset"))
    elif rows:
        notes.append(Note(kind="capped", text=
            f"training rows capped at {rows:,} of {n:,} (data.max_train, stratified): figures are for "
            "this subset"))
    return rows


def _overlap(train: list[list[str]], test: list[list[str]]) -> float:
    """The share of test texts that are also, token for token, training texts."""
    seen = {" ".join(t) for t in train}
    return sum(" ".join(t) in seen for t in test) / len(test)


OVERLAP = 0.1  # a test split this much inside the training split is said (AG News and IMDB: well under 1 %)


def prepare(raw, cfg) -> Splits:
    """Raw texts -> Splits, without the cache (see `load`)."""
    train_texts, train_labels = raw.train_texts, raw.train_labels
    rows_read = {"train": len(train_texts), "test": len(raw.test_texts)}
    notes = list(raw.notes)
    for split, n in rows_read.items():
        if n == 0:
            raise DataError(f"the {split} split of {raw.name} is empty: check the data files")
    rng = random.Random(cfg.split_seed)
    tokens = _tokenize(train_texts, f"the train split of {raw.name}")
    rows = _caps([len(t) for t in tokens], cfg, notes)
    if rows is not None:
        keep = stratified_take(train_labels, rows, rng)
        tokens, train_labels = [tokens[i] for i in keep], [train_labels[i] for i in keep]
    tokens = [_cut(t, cfg.max_len, cfg.truncate) for t in tokens]
    val_idx = set(stratified_take(train_labels, float(cfg.val_fraction), rng)) if cfg.val_fraction else set()
    if len(val_idx) == len(train_labels):
        raise DataError(f"data.val_fraction={cfg.val_fraction} leaves no training rows: use a value below 1")
    fit_idx = [i for i in range(len(train_labels)) if i not in val_idx]
    classes = {train_labels[i] for i in fit_idx}
    if len(classes) < 2:
        label = raw.label_names[next(iter(classes))] if classes else "?"
        raise DataError(f"the training split of {raw.name} holds one class only ('{printable(label)}') once "
                        f"data.val_fraction={cfg.val_fraction} of its {len(train_labels):,} rows are held out: a "
                        "classifier needs two or more; lower data.val_fraction or give more rows")
    vocab = build_vocab((tokens[i] for i in fit_idx), cfg.min_freq, cfg.max_vocab, cfg.shared_pad_unk)

    def encode(token_lists, labels, index) -> Encoded:
        return Encoded.from_lists([vocab.encode(token_lists[i]) for i in index], [labels[i] for i in index])

    test_tokens = [_cut(t, cfg.max_len, cfg.truncate)
                   for t in _tokenize(raw.test_texts, f"the test split of {raw.name}")]
    overlap = _overlap(tokens, test_tokens)
    if overlap >= OVERLAP:
        notes.append(Note(kind="overlap", text=
            f"TEST OVERLAPS TRAINING: {overlap:.0%} of the test texts are also training texts: the test "
            "accuracy then measures memory, not generalisation; check that the test file is not the "
            "training file (data.csv.test)"))
    info = {"dataset": raw.name, "rows_read": rows_read, "partial": raw.partial,
            "notes": [n.model_dump() for n in notes],
            "test_in_train": overlap,
            "rows": {"train": len(fit_idx), "val": len(val_idx), "test": len(test_tokens)}}
    return Splits(encode(tokens, train_labels, fit_idx), encode(tokens, train_labels, sorted(val_idx)),
                  encode(test_tokens, raw.test_labels, range(len(test_tokens))),
                  vocab.itos, vocab.pad_index, vocab.unk_index, list(raw.label_names), info)


def _dataset(cfg):
    return DATASETS[cfg.name]  # the schema (DataConfig.name) allows only these names


def _key(cfg) -> str:
    """What the tensors depend on: the data files' names and contents (or the generator's settings) and every
    preprocessing setting."""
    source = json.dumps({"dataset": cfg.name, "source": _dataset(cfg).fingerprint(cfg), **_settings(cfg)},
                        sort_keys=True)
    return hashlib.sha256(source.encode()).hexdigest()[:20]


def _cache_path(cfg, key: str) -> Path:
    return cache_dir() / "tensors" / f"{cfg.name}-{key}.pt"


def load(cfg, keep: bool = True) -> Splits:
    """The data stage: Splits for `cfg` (a DataConfig), from the tensor cache when it has them; `keep=False`
    leaves the cache for `save_cache()` to write (once every other check of a run has passed)."""
    module, key = _dataset(cfg), _key(cfg)
    path = _cache_path(cfg, key)
    if cfg.cache and path.is_file():
        try:
            state = torch.load(path, weights_only=True)
            splits = Splits(**{k: Encoded(**state[k]) for k in ("train", "val", "test")},
                            **{k: state[k] for k in ("itos", "pad_index", "unk_index", "label_names", "info")})
            splits.info["cache"] = "hit"
            return _with_majority(splits)
        except Exception as e:  # a stale or damaged cache file is rebuilt, not fatal
            log.warning("ignoring unreadable tensor cache %s (%s)", path, e)
    try:
        splits = prepare(module.read(cfg), cfg)
    except MemoryError:
        raise DataError(f"the {cfg.name} data does not fit in memory once read: cap it (data.max_train=N, "
                        "data.max_tokens=N) or give a smaller file") from None
    if _key(cfg) != key:  # the key must cover the bytes that were read
        raise DataError(f"the {cfg.name} data files changed while they were read: run again once they are complete "
                        "(nothing was cached)")
    splits.info["cache"] = "miss"
    splits.info["cache_key"] = key
    if keep:
        save_cache(splits, cfg)
    return _with_majority(splits)


def save_cache(splits: Splits, cfg) -> None:
    """Cache freshly made tensors for the next run; a cache folder that cannot be written costs the next run the
    tokenizing, nothing more (a warning, not an error)."""
    if not cfg.cache or splits.info.get("cache") != "miss":
        return
    path = _cache_path(cfg, splits.info["cache_key"])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with store.atomic(path) as f:  # a crash never leaves a half-written cache file
            torch.save({"train": splits.train.state(), "val": splits.val.state(), "test": splits.test.state(),
                        "itos": splits.itos, "pad_index": splits.pad_index, "unk_index": splits.unk_index,
                        "label_names": splits.label_names, "info": splits.info}, f)
    except (OSError, RuntimeError) as e:  # torch.save says a full disk as a RuntimeError of its stream writer
        log.warning("cannot write the tensor cache %s (%s): the next run tokenizes again; free some space there, or "
                    "set RNNBENCH_CACHE to a writable folder", path.parent, getattr(e, "strerror", None) or e)


def _with_majority(splits: Splits) -> Splits:
    """The test accuracy of always answering the most frequent test label: what a model that learned
    nothing scores (the report's "did not learn" line)."""
    counts = torch.bincount(splits.test.labels)
    splits.info["majority_acc"] = float(counts.max()) / len(splits.test) if len(splits.test) else float("nan")
    return splits
