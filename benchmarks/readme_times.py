"""Time the README's commands as a newcomer meets them, against the times the README states.

    python -m benchmarks.readme_times                       # every timed command up to --max-minutes (10)
    python -m benchmarks.readme_times --max-minutes 40      # the quick studies too
    python -m benchmarks.readme_times --only smoke,typo     # commands whose line holds one of these words
    python -m benchmarks.readme_times --busy                # beside one parallel heavy job (a torch matmul loop)

The README and docs/*.md mark each command whose time they state with a comment `# ~N s` or `# ~N min` (N a number; a
range `~N-M min` takes M). This reads those lines, runs each in a fresh process with a cold data cache
(`RNNBENCH_CACHE` in a new folder) and a fresh output folder, exactly as written except for: `data.root=...`
pointed at --ag-news / --imdb by dataset, and `out=` in a scratch folder. It prints measured vs stated and
fails (exit 1) when a measured time is more than 2x the stated one, or under half of it: a stated time must be
what a user sees, within 2x. A benchmark, not a test: it takes minutes, and its times are this machine's.
"""

from __future__ import annotations

import argparse
import os
import resource
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMED = re.compile(r"^(?P<cmd>(?:python -m bench\.\w+|rnnbench)\b[^#]*?)\s*#.*?~(?:\d+(?:\.\d+)?-)?"
                   r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|seconds?|min|minutes?)\b")


def stated_commands(readme: Path) -> list[tuple[str, float]]:
    """(command, stated seconds) for every README line that states the time of a command."""
    found = []
    for line in readme.read_text().splitlines():
        match = TIMED.match(line.strip())
        if match:
            seconds = float(match["n"]) * (60 if match["unit"].startswith("min") else 1)
            found.append((match["cmd"].strip(), seconds))
    return found


def prepared(command: str, ag_news: str, imdb: str, out: Path) -> list[str]:
    words = shlex.split(command)
    dataset = imdb if any(w in ("data.name=imdb", "study=imdb_packing", "study=imdb_best", "study=length")
                          for w in words) else ag_news
    words = [f"data.root={dataset}" if w.startswith("data.root=") else w for w in words]
    if words[0] == "rnnbench":
        words = ["python", "-m", "bench.run", *words[1:]]
    if words[:3] == ["python", "-m", "bench.run"] and not any(w.startswith("--") for w in words):
        words.append(f"out={out}")
    return [sys.executable, *words[1:]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ag-news", default=str(ROOT.parent / "shared/data/ag_news_first10k"))
    parser.add_argument("--imdb", default=str(ROOT.parent / "shared/data/imdb"))
    parser.add_argument("--max-minutes", type=float, default=10.0, help="skip commands stated to take longer")
    parser.add_argument("--only", default="", help="comma-separated words; run the commands holding one")
    parser.add_argument("--busy", action="store_true", help="run one heavy job beside them (torch's default threads)")
    args = parser.parse_args()
    rows, bad = [], 0
    scratch = Path(tempfile.mkdtemp(prefix="rnnbench-readme-"))
    heavy = subprocess.Popen([sys.executable, "-c", HEAVY]) if args.busy else None
    try:
        bad = _run_all(args, scratch, rows)
    finally:
        if heavy:
            heavy.kill()
    print("\n| command | exit | measured | stated | measured / stated | load (1 min) | CPU / wall |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    return 1 if bad else 0


# the parallel heavy job of --busy: what a newcomer's other work looks like to torch's threads
HEAVY = "import torch\na = torch.randn(1024, 1024)\nwhile True:\n    a = torch.tanh(a @ a)"


def _run_all(args, scratch: Path, rows: list[str]) -> int:
    """Run the stated commands, a table row each; how many are outside 2x of their stated time."""
    bad = 0
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]  # the quick start, then the manual
    for i, (command, stated) in enumerate(c for page in pages for c in stated_commands(page)):
        if stated > 60 * args.max_minutes or (args.only and not any(w in command for w in args.only.split(","))):
            continue
        env = {**os.environ, "RNNBENCH_CACHE": str(scratch / f"cache-{i}"), "RNNBENCH_PROGRESS": "plain"}
        argv = prepared(command, args.ag_news, args.imdb, scratch / f"out-{i}")
        start, cpu = time.perf_counter(), _children_cpu()
        proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
        ratio = seconds / stated
        ok = 0.5 <= ratio <= 2.0
        bad += not ok
        rows.append(f"| `{command}` | {proc.returncode} | {seconds:,.1f} s | {stated:g} s | {ratio:.2f} "
                    f"{'' if ok else '(outside 2x)'} | {os.getloadavg()[0]:.1f} | "
                    f"{(_children_cpu() - cpu) / seconds:.2f} |")
        print(rows[-1], flush=True)
    return bad


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
