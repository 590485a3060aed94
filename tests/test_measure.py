import os

import pytest
import torch

from bench.errors import ConfigError
from bench.measure import environment, fresh_peak_mb, peak_memory_mb, reset_peak_memory, resolve_device
from bench.record import FRESH_KIND, SINCE_START, comparable_memory

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_auto_and_cpu():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ConfigError, match="torch sees no CUDA GPU: use device=cpu"):
        resolve_device("cuda")


def test_a_cpu_figure_is_read_in_a_fresh_process_whatever_this_one_holds():
    """Issue 34 item 4: what a piece of work adds in a fresh process (64 MiB of ones, plus torch's own few MiB),
    the same figure before and after this process grew and freed a large block, which the process's own peak
    would have kept."""
    first, kind = fresh_peak_mb(torch.ones, 16 * 2**20)  # 64 MiB, touched
    block = torch.ones(128 * 2**20)  # 512 MiB in this process
    del block
    again, _ = fresh_peak_mb(torch.ones, 16 * 2**20)
    assert kind == FRESH_KIND and 64 <= first < 100 and again == pytest.approx(first, rel=0.03)


def test_without_fork_or_proc_the_figure_is_the_process_peak_under_a_kind_never_compared(monkeypatch):
    monkeypatch.delattr(os, "fork")
    mib, kind = fresh_peak_mb(torch.ones, 1024)
    assert kind == SINCE_START and mib > 50 and not comparable_memory(kind)
    assert comparable_memory(FRESH_KIND) and comparable_memory("cuda_allocator_peak")
    assert not comparable_memory("cpu_process_peak_rss")  # records before issue 34: in-process, order-dependent


def test_environment_names_versions_and_git():
    import subprocess
    from pathlib import Path
    env = environment(torch.device("cpu"))
    assert env["torch_version"] == torch.__version__ and env["device"] == "cpu"
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    if head.returncode != 0:
        pytest.skip("not a git checkout: the commit cannot be checked")
    sha = env["git_sha"].removesuffix("-dirty")
    assert len(sha) >= 7 and head.stdout.strip().startswith(sha), env["git_sha"]


@cuda
def test_cuda_allocator_peak():
    gpu = torch.device("cuda")
    reset_peak_memory(gpu)
    block = torch.ones(16 * 2**20 // 4, device=gpu)
    peak, kind = peak_memory_mb(gpu)
    del block
    assert kind == "cuda_allocator_peak" and peak >= 16


@cuda
def test_cuda_fit_packed_matches_padded_true_last_and_runs():
    import bench.data as data
    from bench.config import DataConfig, SyntheticConfig
    from bench.config import Params
    from bench.train import fit
    from bench.variants import Variant
    splits = data.load(DataConfig(name="synthetic", cache=False, synthetic=SyntheticConfig(n_train=200, n_test=40)))
    result = fit(Variant("lstm", "packed", True, 2), Params(epochs=1, hidden_size=16, embed_dim=8), splits, 0,
                 torch.device("cuda"))
    assert result.memory_kind == "cuda_allocator_peak" and result.peak_mem_mb > 0 and result.last.time_s > 0


@cuda
def test_training_steps_do_not_sync_with_the_host():
    """Syncs per epoch are a constant (clock reads, .item() at the end), not one per step."""
    import warnings

    import bench.data as data
    from bench.config import DataConfig, SyntheticConfig
    from bench.config import Params
    from bench.train import fit
    from bench.variants import Variant

    def syncs(n_train, variant):
        splits = data.load(DataConfig(name="synthetic", cache=False, val_fraction=0.0,
                                      synthetic=SyntheticConfig(n_train=n_train, n_test=16)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                fit(variant, Params(epochs=1, batch_size=16, clip=1.0),
                    splits, 0, torch.device("cuda"), evaluate_test=False)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        # "called a synchronizing CUDA operation": one per sync (the mode's own notice comes once, first)
        return [str(w.message) for w in caught if str(w.message).startswith("called a synchronizing")]

    for variant in (Variant("lstm", "packed", readout="true_last"), Variant("gru", "padded", True, 2, "max")):
        few, many = syncs(160, variant), syncs(640, variant)  # 10 vs 40 training steps
        assert len(few) == len(many), (variant.name, many)


def test_step_timer_measures_milliseconds_on_the_cpu():
    import time
    from bench.measure import StepTimer
    with StepTimer(torch.device("cpu")) as timer:
        time.sleep(0.02)
    assert 15 < timer.ms < 200


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_step_timer_uses_cuda_events_on_a_gpu():
    from bench.measure import StepTimer
    x = torch.randn(2048, 2048, device="cuda")
    with StepTimer(torch.device("cuda")) as timer:
        for _ in range(10):
            x = x @ x / 2048
    assert timer.ms > 0 and hasattr(timer, "end")


HEAVY = "import torch\na = torch.randn(1024, 1024)\nwhile True:\n    a = torch.tanh(a @ a)"


def test_a_study_timed_beside_a_heavy_job_says_so_in_a_box(tmp_path):
    """Issue 25 item 4: every timing records what else ran (bench.measure.Load); the same tiny study, timed beside
    a parallel torch job on this machine, gets the BUSY MACHINE box at the top of its page."""
    import subprocess
    import sys
    import time

    from bench import run
    from bench.store import load

    heavy = subprocess.Popen([sys.executable, "-c", HEAVY])
    try:
        time.sleep(2)  # its threads are spinning
        assert run.main(["study=smoke", "cell=[gru]", "packing=[padded]", "data.synthetic.n_train=120",
                         "data.synthetic.n_test=40", "tune.trials=0", "measure.seeds=1", "train.epochs=1",
                         f"out={tmp_path}"]) == 0
    finally:
        heavy.kill()
        heavy.wait()
    record = load(tmp_path)[0]
    assert record["timing"]["load"]["others_cpu"] > 0.25 and record["load"]["others_cpu"] > 0.25, record["load"]
    page = (tmp_path / "index.html").read_text()
    assert "BUSY MACHINE: while 2 of 2 training runs and timing passes ran, other processes used up to" in page


def test_the_busy_box_needs_a_busy_timing():
    from bench.report.tables import busy
    quiet = {"others_cpu": 0.02, "load_1min": 1.1, "cpus": 2}
    assert busy([quiet, None, {"others_cpu": None}], "runs") == ""
    said = busy([quiet, {"others_cpu": 0.9, "load_1min": 3.96, "cpus": 2}], "runs")
    assert said.startswith("BUSY MACHINE: while 1 of 2 runs ran, other processes used up to 90% of the machine's 2 "
                           "CPUs (1-minute load average up to 4.0)")


def test_the_gpu_script_plans_valid_commands_and_says_in_one_line_when_there_is_no_gpu(tmp_path):
    """Issue 25 item 3: benchmarks/gpu.py. Every study command it would run on a GPU loads here (a wrong key would
    only show on a lent GPU otherwise); without a GPU it says so in one line and exits 0."""
    import subprocess
    import sys

    from benchmarks import gpu
    from bench.config import load_study
    plan = gpu.steps(tmp_path, gpus=2)
    assert [name for name, _, _ in plan] == ["CUDA-only tests", "speed fp32", "speed bf16", "lesson", "packing quick",
                                             "imdb_packing smoke", "packing quick, workers=2"]
    assert sum(needs for _, _, needs in plan[:-1]) <= 8 * 60
    for name, argv, _ in plan[1:]:
        study = load_study([w for w in argv[3:] if w != "workers=2"])
        assert study.device == "cuda", name
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the script would run")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--out", str(tmp_path)], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and proc.stdout == "benchmarks.gpu: no CUDA GPU here (torch sees none): nothing to run\n"


def test_the_gpu_script_reads_what_each_step_found(tmp_path):
    from benchmarks import gpu
    (tmp_path / "lesson").mkdir()
    (tmp_path / "lesson" / "summary.csv").write_text("variant,test_acc_mean,epoch_time_s,x_latency_floor\n"
                                                     "lstm-padded-l1,0.81234,1.5,1.27\n")
    assert gpu.found("lesson", tmp_path, "") == "lstm-padded-l1: acc 0.812, 1.5 s/epoch, 1.27x floor"
    (tmp_path / "speed-fp32").mkdir()
    (tmp_path / "speed-fp32" / "crossover.csv").write_text("cell,packed_over_padded\nlstm,7.1\ngru,5.0\n")
    (tmp_path / "speed-fp32" / "speed.csv").write_text("variant,x_latency_floor\na,1.2\nb,3.0\nc,2.0\n")
    assert gpu.found("speed fp32", tmp_path, "") == ("packed / padded step 5.00-7.10x; x latency floor median 2.00 "
                                                     "(min 1.20)")
    assert gpu.found("CUDA-only tests", tmp_path, "5 passed") == "5 passed"
