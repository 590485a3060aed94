"""bench.floors (issue 25 item 1): the arithmetic and latency floors under an epoch or a step."""

import math

import pytest
import torch

from bench import floors
from bench.config import Params
from bench.variants import parse


def test_the_floors_follow_the_dependent_steps_and_the_flops(monkeypatch):
    monkeypatch.setattr(floors, "cell_step_ms", lambda cell, batch, width, hidden, device: 0.5 if width == 8 else 0.25)
    monkeypatch.setattr(floors, "peak", lambda device, precision: (1e9, "test peak"))
    params = Params(embed_dim=8, hidden_size=4, batch_size=2)
    two = floors.of(parse("lstm-padded-bi-l2"), params, widths=100, slots=1000, device=torch.device("cpu"))
    # 100 steps per layer and direction, both directions: layer 1 at 0.5 ms, layer 2 (input 2 x 4 = 8) at 0.5 ms
    assert two["dependent_steps"] == 100 * 2 * 2 and two["latency_s"] == pytest.approx(100 * 2 * 1.0 / 1000)
    flops = floors.flops_per_token(parse("lstm-padded-bi-l2"), 8, 4, train=True)
    assert flops == 3 * 2 * (2 * 4 * 4 * (8 + 4) + 2 * 4 * 4 * (8 + 4)) and two["arith_s"] == flops * 1000 / 1e9
    one = floors.of(parse("gru-packed-l1"), params, widths=100, slots=1000, device=torch.device("cpu"))
    assert one["latency_s"] == pytest.approx(100 * 0.5 / 1000) and one["peak_source"] == "test peak"
    assert floors.of(parse("bag"), params, 100, 1000, torch.device("cpu")) == {}  # no recurrence, no floor


def test_a_known_gpu_reads_its_data_sheet_and_the_cpu_is_measured(monkeypatch):
    floors.peak.cache_clear()
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    assert floors.peak(torch.device("cuda"), "bf16") == (989.4e12, "H200 data sheet, dense bf16")
    assert floors.peak(torch.device("cuda"), "fp32")[0] == 67.0e12
    rate, source = floors.peak(torch.device("cpu"))
    assert 1e8 < rate < 1e14 and source.startswith("measured: 512x512 float32 matmul, best of 0.25 s")
    floors.peak.cache_clear()


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # the input needs no gradient: as timed
def test_a_cell_step_is_timed_forward_and_backward(monkeypatch):
    """Every one of the 9 runs (2 warm-up, 7 timed) goes forward and backward through the layer: a backward hook
    on it counts them, so forward-only timing cannot pass."""
    passes = {"forward": 0, "backward": 0}
    real = floors.CELLS["gru"]

    def counted(*args, **kwargs):
        layer = real(*args, **kwargs)
        layer.register_forward_hook(lambda *a: passes.__setitem__("forward", passes["forward"] + 1))
        layer.register_full_backward_hook(lambda *a: passes.__setitem__("backward", passes["backward"] + 1))
        return layer
    monkeypatch.setitem(floors.CELLS, "gru", counted)
    ms = floors.cell_step_ms("gru", 4, 8, 8, torch.device("cpu"))
    assert 0 < ms < 50 and math.isfinite(ms)
    assert passes == {"forward": 9, "backward": 9}


def test_every_record_carries_its_floors_and_the_leaderboard_shows_them(tmp_path):
    from bench import run
    from bench.report.board import leaderboard
    from bench.report.tables import summarize
    from bench.store import load
    assert run.main(["study=smoke", "cell=[gru]", "packing=[padded]", "data.synthetic.n_train=120",
                     "data.synthetic.n_test=40", "tune.trials=0", "measure.seeds=1", "train.epochs=1",
                     f"out={tmp_path}"]) == 0
    records = load(tmp_path)
    floor = records[0]["floors"]
    assert floor["latency_s"] > 0 and floor["arith_s"] > 0 and floor["dependent_steps"] > 0
    summary = summarize(records)
    assert summary["x_latency_floor"].iloc[0] == pytest.approx(records[0]["epoch_time_s"] / floor["latency_s"])
    assert "× latency floor" in leaderboard(summary).text
