"""The speed study: analytic FLOPs, fixed batches, a tiny sweep end to end."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import bench.run as run
from bench.report.speed import crossover
from bench.speed import fixed_batches, flops_per_token
from bench.variants import parse


def test_flops_per_token_follow_the_gate_count():
    # LSTM, 1 layer, E = 64, H = 32: 2 * 4 * 32 * (64 + 32) = 24,576 forward
    assert flops_per_token(parse("lstm-packed-l1"), 64, 32) == 24_576
    assert flops_per_token(parse("lstm-packed-l1"), 64, 32, train=True) == 3 * 24_576
    assert flops_per_token(parse("rnn-packed-l1"), 64, 32) == 24_576 // 4
    assert flops_per_token(parse("gru-packed-l1"), 64, 32) == 3 * 24_576 // 4
    # bidirectional 2 layers: layer 1 = 2 dirs on E; layer 2 = 2 dirs on 2H
    assert flops_per_token(parse("gru-padded-bi-l2"), 16, 8) == 2 * 2 * 3 * 8 * (16 + 8) + 2 * 2 * 3 * 8 * (16 + 8)


def test_fixed_batches_are_padded_to_the_length_with_real_pads():
    got = fixed_batches(8, 20, 100, 3)
    assert len(got) == 3 and all(b.tokens.shape == (8, 20) and int(b.lengths.max()) == 20 for b in got)
    for b in got:
        mask = b.tokens != 0
        assert (mask.sum(1) == b.lengths).all()


def test_speed_study_measures_every_point_and_resumes(tmp_path, capsys):
    out = tmp_path / "speed"
    argv = ["study=speed", "cell=[gru]", "bidirectional=[false]", "layers=[1]", "speed.repeats=2", "speed.warmup=1",
            "speed.batch_sizes=[4,8]", "speed.seq_lens=[6,12]", "speed.batch_size=4", "speed.seq_len=6",
            "speed.vocab=50", f"out={out}"]
    assert run.main(argv) == 0
    rows = [json.loads(line) for line in (out / "speed.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 4  # padded and packed, 2 + 2 points
    assert all(len(r["train_ms_samples"]) == 2 and r["train_ms"] > 0 and r["flops_per_token"] > 0 for r in rows)
    assert {(r["sweep"], r["batch_size"], r["seq_len"]) for r in rows} == {
        ("batch", 4, 6), ("batch", 8, 6), ("length", 4, 6), ("length", 4, 12)}
    page = (out / "index.html").read_text()
    assert "Packed against padded" in page and page.count("data:image/svg+xml;base64,") == 2
    assert run.main(argv) == 0 and len((out / "speed.jsonl").read_text().splitlines()) == 8
    assert "resuming: 8 run(s) already in" in capsys.readouterr().out
    assert "train.sparse_embedding=False" in page
    # other train settings: not mixed into this folder, but measured (and shown) in a fresh one
    assert run.main([*argv, "train.sparse_embedding=true"]) == 2
    assert "holds results made with other settings" in capsys.readouterr().err
    assert run.main([*argv, "train.sparse_embedding=true", "resume=false"]) == 0
    fresh = [json.loads(line) for line in (tmp_path / "speed-2" / "speed.jsonl").read_text().splitlines()]
    assert len(fresh) == 8 and {r["sparse_embedding"] for r in fresh} == {True}
    assert "train.sparse_embedding=True" in (tmp_path / "speed-2" / "index.html").read_text()


def test_crossover_names_the_points_where_packed_wins_and_where_it_is_noise():
    """Issue 25 item 4: a packed / padded ratio carries its interval; one that spans 1 is no win."""
    from bench.report.speed import _packing_verdict
    wobble = [0.9, 1.0, 1.1, 1.0, 0.95, 1.05]
    frame = pd.DataFrame([
        {"cell": "lstm", "packing": p, "bidirectional": False, "layers": 1, "sweep": "length", "batch_size": 64,
         "seq_len": n, "train_ms": ms, "train_ms_samples": [ms * w for w in wobble]}
        for p, n, ms in [("padded", 32, 1.0), ("packed", 32, 3.0), ("padded", 512, 10.0), ("packed", 512, 8.0),
                         ("padded", 128, 5.0), ("packed", 128, 4.9)]])
    table = crossover(frame)
    assert list(table["packed_over_padded"]) == pytest.approx([3.0, 0.8, 0.98])
    assert table["ratio_low"].iloc[2] < 1 < table["ratio_high"].iloc[2] and table["ratio_high"].iloc[1] < 1
    assert _packing_verdict(table) == ("packed is faster than padded at: lstm b64 t512 (0.80x); the same within "
                                       "noise at: lstm b64 t128 (0.98x)")
