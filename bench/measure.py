"""Timing and memory, TorchBench's discipline: synchronize around timed work, keep every sample.

Time: `time.perf_counter` between two `synchronize()` calls, so queued CUDA kernels are counted
(without it we would time only the launches). Memory: the CUDA allocator's peak on a GPU, reset before
each run. On the CPU there is no allocator to ask, and a process's resident memory is not a run's: the
C heap keeps what earlier runs freed (and the next run reuses it, or not), so one process's readings
follow the order its runs ran in. A run's CPU figure is therefore read in a fresh process
(`fresh_peak_mb`): the resident memory that building the model and training on the run's largest
batches adds there. Where that cannot be read, the process's peak since it started is recorded under
its own kind, which no star and no ratio compares (`comparable`).
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import platform
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

from bench.errors import ConfigError
from bench.record import FRESH_KIND, SINCE_START
from bench.variants import GATES

WARMUP_EVAL_BATCHES = 2  # eval latency: the first batches pay for allocator / cuDNN set-up


def resolve_device(spec: str) -> torch.device:
    """`auto` -> cuda when available, else cpu; `cuda` without a GPU is an error, not a fallback."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={spec} but torch sees no CUDA GPU: use device=cpu or device=auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device={spec} but only {torch.cuda.device_count()} GPU(s): use cuda:0..")
    return device


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # wait for the kernels, or we time only the launch


def clock(device: torch.device) -> float:
    """A timestamp after all queued work on `device` has finished (seconds)."""
    sync(device)
    return time.perf_counter()


class StepTimer:
    """Milliseconds of one step: CUDA events recorded on the stream around the work on a GPU (no host
    sync inside the step; one at the end to read them), the synchronized wall clock on the CPU."""

    def __init__(self, device: torch.device):
        self.device = device

    def __enter__(self) -> "StepTimer":
        if self.device.type == "cuda":
            self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self.start.record()
        else:
            self.t0 = clock(self.device)
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.end.record()
            self.end.synchronize()
            self.ms = self.start.elapsed_time(self.end)
        else:
            self.ms = 1000 * (clock(self.device) - self.t0)


def time_each(run, items: list, warmup: int, device: torch.device) -> list[float]:
    """`run(item)` for every item, each timed with StepTimer; the ms of every item after the first `warmup`
    (those pay for allocator, cuDNN and cache set-up). Every sample is kept: the caller takes medians."""
    samples = []
    for i, item in enumerate(items):
        with StepTimer(device) as timer:
            run(item)
        if i >= warmup:
            samples.append(timer.ms)
    return samples


class Load:
    """What else ran on the machine while a block ran: the other processes' share of its CPUs (the machine's busy
    CPU time from /proc/stat, less this process's own), and the 1-minute load average at the end. Times taken on a
    busy machine are inflated (torch's threads wait for cores), and the page says so (bench.report.tables.busy)."""

    def __enter__(self) -> "Load":
        self.t0, self.machine0, self.own0 = time.perf_counter(), _machine_busy_s(), _own_cpu_s()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self.t0
        machine = _machine_busy_s()
        others = (machine - self.machine0) - (_own_cpu_s() - self.own0) if machine is not None else None
        self.facts = {"others_cpu": None if others is None or wall <= 0 else
                      round(max(0.0, others) / ((os.cpu_count() or 1) * wall), 3),
                      "load_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}


def _machine_busy_s() -> float | None:
    """Seconds of CPU time every process of the machine has used since boot (Linux), else None."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _read_status(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    except OSError:
        pass
    return None


def reset_peak_memory(device: torch.device) -> None:
    """Before a run on a GPU (a CPU run's figure is read in a fresh process: `fresh_peak_mb`)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """(MiB, kind) in this process: the CUDA allocator's peak since `reset_peak_memory`; on the CPU the process's
    peak since it started (a progress figure for tuning trials; a run's own CPU figure is `fresh_peak_mb`'s)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_allocator_peak"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, SINCE_START


def _rise(work, args: tuple) -> float:
    """MiB of resident memory `work(*args)` adds over what this process held before it: the peak (VmHWM) is reset
    to the current resident set by writing 5 to /proc/self/clear_refs (Linux >= 4.0)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    start = _read_status("VmRSS")
    work(*args)
    peak = _read_status("VmHWM")
    if start is None or peak is None:
        raise OSError("/proc/self/status has no VmRSS or VmHWM")
    return (peak - start) / 1024


def serve() -> None:
    """The fork server `fresh_peak_mb` starts: an interpreter that has imported bench.train (torch) and run nothing.
    For each task (a length line on stdin, then that many bytes of pickle, read unbuffered) it forks; the fork
    reads the task, runs it (`_rise`) and writes one JSON line; this server then writes the fork's exit status,
    so a fork that died still answers. The server itself never reads a task, so its heap, which each fork starts
    from, stays as it was (a fork could otherwise reuse a freed task's pages without its resident memory rising)."""
    import importlib
    import signal
    importlib.import_module("bench.train")  # what every task needs, imported once, before any fork
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it closes stdin, and the server ends
    answer = os.dup(1)
    os.dup2(2, 1)  # a task's prints go to stderr, never into the answers
    while line := _read_line(0):
        pid = os.fork()
        if pid == 0:
            try:
                work, args = pickle.loads(_read_exactly(0, int(line)))
                said = {"mib": _rise(work, args)}
            except BaseException as e:  # noqa: BLE001 - one line back, whatever went wrong
                said = {"error": f"{type(e).__name__}: {e}"}
            _answer(answer, said)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if not _answer(answer, {"exit": os.waitstatus_to_exitcode(status)}):
            return  # the parent is gone (stopped, killed): nothing to answer, nothing to say


def _answer(fd: int, said: dict) -> bool:
    """One JSON line to the parent; False, silently, when it no longer reads (a stopped study)."""
    try:
        os.write(fd, (json.dumps(said) + "\n").encode())
        return True
    except OSError:
        return False


def _read_line(fd: int) -> bytes:
    """One line from a raw file descriptor, a byte at a time: nothing past it is read (the fork reads the rest)."""
    line = b""
    while (byte := os.read(fd, 1)) and byte != b"\n":
        line += byte
    return line


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left and (chunk := os.read(fd, min(left, 1 << 20))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


_server: subprocess.Popen | None = None


def _forker() -> subprocess.Popen:
    global _server
    if _server is None or _server.poll() is not None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # bench as this process sees it
        _server = subprocess.Popen([sys.executable, "-c", "from bench.measure import serve; serve()"], env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return _server


def fresh_peak_mb(work, *args) -> tuple[float, str]:
    """(MiB, kind): the resident memory `work(*args)` (a picklable function and its arguments) adds in a fresh
    process, forked for it from a clean server (`serve`), so no earlier run's freed heap is counted or reused:
    two identical runs read the same figure, whatever ran before. Where that cannot be read (no fork, no
    /proc/self/clear_refs: not Linux), this process's peak since start, under a kind that is never compared."""
    if not hasattr(os, "fork") or not Path("/proc/self/clear_refs").exists():
        return peak_memory_mb(torch.device("cpu"))
    task = pickle.dumps((work, args))
    server = _forker()
    try:
        server.stdin.write(b"%d\n" % len(task) + task)
        server.stdin.flush()
        said: dict = {}
        while "exit" not in said:
            line = server.stdout.readline()
            if not line:
                break
            said.update(json.loads(line))
    except (OSError, ValueError):
        said = {}
    if "mib" in said:
        return said["mib"], FRESH_KIND
    return peak_memory_mb(torch.device("cpu"))


def step_estimate_mb(batch: int, length: int, embed: int, hidden: int, layers: int = 1, directions: int = 1,
                     cell: str = "lstm") -> float:
    """A rough size of one padded training step's activations (float32; what the forward keeps for the backward,
    about twice over with the gradients): the embeddings B·T·E, and per layer and direction B·T·H·(gates + 2)
    (gate pre-activations, states, outputs). An order of magnitude, to refuse a run that cannot fit, not a figure."""
    per_token = embed + layers * directions * hidden * (GATES.get(cell, 1) + 2)
    return 2 * 4 * batch * length * per_token / 2**20


def available_mb(device: torch.device) -> float | None:
    """Free memory where the model trains: the GPU's free memory, or the machine's MemAvailable; None if unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0] / 2**20
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _git_sha() -> str:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _nvidia_driver() -> str:
    """The NVIDIA driver's version from nvidia-smi, or '' where it cannot be asked."""
    import subprocess
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.splitlines()[0].strip() if out.returncode == 0 and out.stdout.strip() else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def environment(device: torch.device) -> dict:
    """What a record needs to be compared fairly: hardware and software versions, git SHA."""
    env = {"device": str(device), "torch_version": torch.__version__, "python": platform.python_version(),
           "host": socket.gethostname(), "cpu_threads": torch.get_num_threads(), "git_sha": _git_sha(),
           "cuda_version": torch.version.cuda or "", "cudnn_version": "", "device_name": platform.processor() or "cpu"}
    env["driver_version"] = ""
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
        env["cudnn_version"] = str(torch.backends.cudnn.version() or "")
        env["driver_version"] = _nvidia_driver()
    else:
        env["device_name"] = f"cpu x{os.cpu_count()}"
    return env
