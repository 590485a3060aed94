"""Several workers on one study: a folder lock for the local storage, and `workers=N` on one machine.

Local storage (no storage=): one process owns the study folder at a time (an exclusive `flock` on
`<out>/.run.lock`); a second run of the same folder refuses with a clear message instead of
interleaving writes. `workers=N` starts N child processes of the same command under that lock:
they share the folder's Optuna storage (optuna.db: trials, runs, records), each child gets its share of
the CPU threads, or its own GPU (CUDA_VISIBLE_DEVICES) when there are GPUs; the parent shows one
progress bar for them all and renders the report when they are done. With storage=URL every worker
is started by hand (or by SLURM) on any machine with the same command; the database coordinates.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable


from bench import progress, store
from bench.errors import BenchError

CHILD_ENV = "RNNBENCH_WORKER_OF"     # set on a workers=N child: the parent holds the folder's lock
THREADS_ENV = "RNNBENCH_THREADS"     # torch threads for a child: the CPU split between the workers
STORAGE_ENV = "RNNBENCH_WORKER_STORAGE"  # a child's storage= URL: in its environment, which only its user can read,
                                         # not on its command line, which `ps` shows every local user
_held: list = []                     # the lock file stays open (locked) for the life of the process


def is_child() -> bool:
    return bool(os.environ.get(CHILD_ENV))


def child_words(words: list[str]) -> list[str]:
    """A workers=N child's words with the storage URL its parent put in its environment (`spawn`)."""
    url = os.environ.get(STORAGE_ENV) if is_child() else None
    return [*words, f"storage={url}"] if url else words


def lock_folder(out: Path):
    """Own `out` for the life of this process, or refuse: another run is using it."""
    store.check_writable(out)
    out.mkdir(parents=True, exist_ok=True)  # every check has passed: the folder may be made now
    handle = open(out / ".run.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise BenchError(f"{out} is in use by another run (pid {owner}): wait for it to finish, or share the work "
                         "with workers=N on this machine, or storage=postgresql://... across machines") from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    _held.append(handle)
    return handle


def unlock(handle) -> None:
    if handle is not None and handle in _held:
        _held.remove(handle)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _die_with_parent() -> None:
    """In a worker, before it starts: Linux sends it SIGTERM when its parent dies, even by SIGKILL (prctl's
    PR_SET_PDEATHSIG), so no worker outlives its command. Elsewhere a no-op (SIGTERM/SIGINT still stop them)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _gpus(device) -> list[str]:
    if device.type != "cuda":
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        return [v for v in visible.split(",") if v.strip()]
    import torch
    return [str(i) for i in range(torch.cuda.device_count())]


def spawn(words: list[str], n: int, device, out: Path, done: Callable[[], int], total: Callable[[], int]) -> int:
    """Run N workers of the command `words` (a child Study's words); one progress bar (`done()` counts finished runs,
    `total()` the runs planned so far: sequential seeds add waves); the highest exit code."""
    gpus = _gpus(device)
    threads = max(1, (os.cpu_count() or 1) // n)
    storage = [w.split("=", 1)[1] for w in words if w.startswith("storage=")]
    words = [w for w in words if not w.startswith("storage=")]
    out.mkdir(parents=True, exist_ok=True)  # a storage= study's folder may not exist yet: the logs go there
    procs = []
    for i in range(n):
        env = {**os.environ, CHILD_ENV: str(os.getpid()), THREADS_ENV: str(threads),
               **({STORAGE_ENV: storage[-1]} if storage else {})}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[i % len(gpus)]
        log = open(out / f"worker-{i}.log", "w")
        procs.append(subprocess.Popen([sys.executable, "-m", "bench.run", *words], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, preexec_fn=_die_with_parent))
        log.close()
    where = f"GPU {', '.join(gpus)}" if gpus else f"{threads} CPU thread(s) each"
    progress.tell(f"{n} workers ({where}); their logs: {out}/worker-*.log")
    try:
        with progress.bar(total(), f"runs ({n} workers)", "run") as bar:
            while any(p.poll() is None for p in procs):
                bar.n, bar.total = done(), total()
                bar.refresh()
                time.sleep(1.0)
            bar.n = done()
            bar.refresh()
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker that does not stop on SIGTERM is killed: none outlives us
                p.kill()
                p.wait()
        raise
    return max(p.returncode for p in procs)
