"""Everything a lent GPU should run, in one go (at most 8 minutes), written to one markdown table.

    python -m benchmarks.gpu                       # writes gpu-results.md (and the studies under gpu-runs/)
    python -m benchmarks.gpu --out /tmp/gpu        # elsewhere
    python -m benchmarks.gpu --minutes 5           # a shorter budget: later steps are skipped, and say so

On a machine without a CUDA GPU it says so in one line and exits 0. On one, in this order (the order of
../shared/GPU.md): the CUDA-only tests; the speed study (one layer) at fp32 and at bf16; study=lesson; study=packing at
budget=quick; imdb_packing at budget=smoke (reduced: ~430 reviews at 400 tokens); and, with several GPUs,
the packing study again with workers=N. Each row is one step: its command, exit code, wall time and what it
found (accuracy, time per epoch, x the latency floor, packed / padded). The table opens with the device line
(GPU, driver, torch, CUDA, cuDNN). A step that would not fit the remaining time is skipped, not cut short.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def steps(out: Path, gpus: int) -> list[tuple[str, list[str], float]]:
    """(name, argv, the seconds it needs at most) in GPU.md's order."""
    run = [sys.executable, "-m", "bench.run"]
    ag, imdb = f"data.root={SHARED / 'ag_news_first10k'}", f"data.root={SHARED / 'imdb'}"
    plan = [("CUDA-only tests", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "tests/test_measure.py", "tests/test_floors.py"], 60),
            ("speed fp32", [*run, "study=speed", "layers=[1]", "device=cuda", f"out={out / 'speed-fp32'}"], 60),
            ("speed bf16", [*run, "study=speed", "layers=[1]", "device=cuda", "train.precision=bf16",
                            f"out={out / 'speed-bf16'}"], 60),
            ("lesson", [*run, "study=lesson", "device=cuda", ag, f"out={out / 'lesson'}"], 60),
            ("packing quick", [*run, "study=packing", "budget=quick", "device=cuda", ag, f"out={out / 'packing'}"],
             150),
            ("imdb_packing smoke", [*run, "study=imdb_packing", "budget=smoke", "device=cuda", imdb,
                                    f"out={out / 'imdb_packing'}"], 90)]
    if gpus > 1:
        plan.append((f"packing quick, workers={gpus}", [*run, "study=packing", "budget=quick", "device=cuda",
                                                       f"workers={gpus}", ag, f"out={out / 'packing-workers'}"],
                     120))
    return plan


def found(name: str, out: Path, tail: str) -> str:
    """What a step found, from the files it wrote (or its last line)."""
    if name == "CUDA-only tests":
        return tail
    folder = out / {"speed fp32": "speed-fp32", "speed bf16": "speed-bf16", "lesson": "lesson",
                    "packing quick": "packing", "imdb_packing smoke": "imdb_packing"}.get(name, "packing-workers")
    if name.startswith("speed"):
        rows = _rows(folder / "crossover.csv")
        ratios = [float(r["packed_over_padded"]) for r in rows if r.get("packed_over_padded")]
        floors = sorted(float(r["x_latency_floor"]) for r in _rows(folder / "speed.csv") if r.get("x_latency_floor"))
        return (f"packed / padded step {min(ratios):.2f}-{max(ratios):.2f}x" if ratios else "no crossover") + (
            f"; x latency floor median {floors[len(floors) // 2]:.2f} (min {floors[0]:.2f})" if floors else "")
    rows = _rows(folder / "summary.csv")
    return "; ".join(f"{r['variant']}: acc {float(r['test_acc_mean']):.3f}, {float(r['epoch_time_s']):.3g} s/epoch"
                     + (f", {float(r['x_latency_floor']):.2f}x floor" if r.get("x_latency_floor") else "")
                     for r in rows[:9]) or tail


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(open(path))) if path.is_file() else []


def device_line() -> str:
    import torch
    driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                            capture_output=True, text=True).stdout.strip().splitlines()
    return (f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}, driver {driver[0] if driver else '?'}, "
            f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-runs", help="folder for the studies and gpu-results.md")
    parser.add_argument("--minutes", type=float, default=8.0)
    args = parser.parse_args()
    import torch
    if not torch.cuda.is_available():
        print("benchmarks.gpu: no CUDA GPU here (torch sees none): nothing to run")
        return 0
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    end = time.monotonic() + 60 * args.minutes
    rows = [f"Device: {device_line()}", "", "| step | command | exit | wall | found |", "| --- | --- | --- | --- | --- |"]
    for name, argv, needs in steps(out, torch.cuda.device_count()):
        shown = shlex.join(["python", *argv[1:]]).replace(str(out) + "/", "").replace(str(ROOT.parent) + "/", "../")
        left = end - time.monotonic()
        if left < needs:
            rows.append(f"| {name} | `{shown}` | - | - | skipped: {left:.0f} s left of the budget, needs ~{needs} s |")
            continue
        start = time.monotonic()
        try:
            proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=left,
                                  env={**os.environ, "RNNBENCH_PROGRESS": "plain"})
            code, tail = proc.returncode, (proc.stdout.strip().splitlines() or [""])[-1]
        except subprocess.TimeoutExpired:
            code, tail = "timeout", "stopped at the budget's end"
        rows.append(f"| {name} | `{shown}` | {code} | {time.monotonic() - start:.0f} s | {found(name, out, tail)} |")
        print(rows[-1], flush=True)
    (out / "gpu-results.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows[:4]) + f"\nwrote {out / 'gpu-results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
