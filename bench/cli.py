"""Both commands' face: words -> Study -> pipeline.run -> Outcome -> exit code.

    python -m bench.run study=packing budget=quick data.root=../shared/data/ag_news_first10k   (or: rnnbench ...)
    python -m bench.report study=packing          # re-render from the stored records, no torch
    python -m bench.run --help                    # every key, generated from the schema (bench.config)

This is the one place that knows argv, prints `error: ...` (a BenchError: exit 2) and makes exit codes:
0 all ran, 1 some runs failed or none finished, 2 bad input, 130 interrupted. The words are checked before
torch is imported, so a typo is answered in a fraction of a second.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import textwrap
from typing import Any, Callable

from bench.config import (BUDGETS, KEYS, OPEN_KEYS, ReportArgs, allowed, catalog, dotted, flat, load_study,
                          parse_overrides)
from bench.errors import BenchError, printable
from bench.progress import tell
from bench.store import mask_secrets
from bench.variants import AXES, AXIS_HELP, Variant
from bench.variants import allowed as axis_allowed

WIDTH = 100
# The environment variables rnnbench reads (--help lists them; tests/test_help.py checks that bench/ reads no other
# RNNBENCH_ one, except a workers=N child's two, which its parent sets)
ENVIRONMENT = (
    ("RNNBENCH_STUDIES", "folder(s) of your own study files (name.yaml), ':'-separated, looked in before the shipped "
                         "studies (which stay available)"),
    ("RNNBENCH_CACHE", "the data cache (default $XDG_CACHE_HOME/rnnbench, else ~/.cache/rnnbench)"),
    ("RNNBENCH_AG_NEWS", "a folder holding AG News's train.csv and test.csv (used when data.root is not given)"),
    ("RNNBENCH_AG_NEWS_URL", "where AG News is downloaded from when no folder has it"),
    ("RNNBENCH_IMDB", "a folder holding IMDB's train.csv and test.csv"),
    ("RNNBENCH_IMDB_URL", "where IMDB's archive is downloaded from when no folder has it"),
    ("RNNBENCH_THREADS", "torch's CPU threads for the runs (default: torch's own choice)"),
    ("RNNBENCH_PROGRESS", "bar or plain: the progress display (default: a bar on a terminal, lines otherwise)"),
)
# Sections of a study file: written in YAML, rarely on the command line
FILE_ONLY = ("name", "description", "scientific", "fixed", "exclude", "variants", "reference", "nuisance", "sweep",
             "question")


def run(words: list[str] | None = None) -> int:
    """`python -m bench.run`."""
    return _command(words, run_help, _run)


def report(words: list[str] | None = None) -> int:
    """`python -m bench.report`: re-render from the stored records (bench.report.index.rerender)."""
    def rerender(words: list[str]) -> int:
        args = ReportArgs(**parse_overrides(words, known=list(ReportArgs.model_fields)))
        if args.compare is not None:
            from bench.report.compare import run
            text, code = run(args.compare, args.out, args.fail_on, study=args.study)
            tell(text)
            return code
        if args.fail_on:
            raise BenchError("fail_on= needs compare=[A,B]: it gates a comparison")
        from bench.report.index import rerender
        tell(rerender(args.study, args.out, args.storage))
        return 0
    return _command(words, report_help, rerender)


def _command(words: list[str] | None, helper: Callable[[], str], body: Callable[[list[str]], int]) -> int:
    """--help, or the command; a BenchError is its one `error:` line and exit 2 (the only place either is made)."""
    words = sys.argv[1:] if words is None else words
    try:
        if _asks_help(words):
            print(helper())
            return 0
        return body(words)
    except BenchError as e:
        print(f"error: {printable(mask_secrets(str(e)))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `| head -1` closed stdout: the reader has what it wanted; end quietly
        _quiet_stdout()
        return 0


def _quiet_stdout() -> None:
    """After a closed pipe, send what is left for stdout to /dev/null, so that Python's flush at exit raises nothing
    (the recipe of Python's signal documentation, "Note on SIGPIPE")."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # a stdout without a file descriptor (a test's capture)
        pass


def _run(words: list[str]) -> int:
    if "--cfg" in words:  # a dry run: what would run, nothing written, no torch
        print(dry_run(load_study([w for w in words if w != "--cfg"])))
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # a library's log line may quote a database URL
        handler.addFilter(_masked)
    if hasattr(sys.stdout, "reconfigure"):  # a log file gets each line when it is said, in order with stderr's
        sys.stdout.reconfigure(line_buffering=True)
    from bench import workers
    again = None
    if any(w.startswith(("reproduce=", "reproduce.")) for w in words):  # a stored study, not a study file
        from bench import reproduce
        folder, tune, out = reproduce.parse(words)
        study, again = reproduce.study_of(folder, tune, out), (folder, tune)
    else:
        study = load_study(workers.child_words(words))
    # SIGTERM stops like Ctrl-C: runs kept, workers stopped, a page. A workers=N child keeps the default (it dies at
    # once: its finished runs are in the storage already, and its parent exports and renders them).
    # SIGHUP (the terminal was closed) is the same request to stop.
    stops = (signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, signal.SIG_DFL if workers.is_child() else _stop) for s in stops}
    try:
        from bench import pipeline  # torch, Optuna, the data: only once the command line is known to be good
        if again and not again[1]:
            from bench import reproduce
            reproduce.hand_over_tuning(again[0], study)
        outcome = pipeline.run(study)
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the runs began: the records are kept as they were
        tell(f"\ninterrupted: finished trials and runs are kept in {study.out_dir}; run the same command again to "
             f"resume (python -m bench.report out={study.out_dir} renders what finished)", file=sys.stderr)
        return 130
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
    if outcome.interrupted:
        tell(f"\ninterrupted: finished trials and runs are kept in {outcome.out}; run the same command again to "
             "resume", file=sys.stderr)
        return 130
    if outcome.report:
        tell(outcome.report)
    for failure in outcome.failures:
        tell(f"FAILED {failure}")
    if not outcome.finished:
        where = "the database" if study.storage else outcome.out
        tell(f"\nno run finished: no report written (the trials are kept in {where})")
        return 1
    table = "speed.csv" if study.mode == "speed" else "summary.csv" if study.sweep else "results.csv"
    tell(f"\nwrote {table}, index.html and the other tables in {outcome.out}")
    if again:
        from bench.report import compare
        how = ("reproduce.tune=true: tuned again, then trained at the first wave's seeds" if again[1] else
               "reproduce.tune=false: B re-trained A's stored tuned settings at A's seeds")
        beside = outcome.out.parent / f"compare-{again[0].name}-{outcome.out.name}"
        tell("\n" + compare.run([str(again[0]), str(outcome.out)], str(beside), None, how)[0])
    return 1 if outcome.failures else 0


def dry_run(study: Any) -> str:
    """The resolved settings (YAML), the variants, the runs planned and those the folder already holds, and a rough
    time from them (`--cfg`, as Hydra's `--cfg job`): reads the folder's export only."""
    from omegaconf import OmegaConf

    from bench import store
    variants = [v.name for v in study.expand()]
    planned = len(variants) * len(study.seeds)
    held = store.requested(store.load(study.out_dir), variants, study.seeds)[0]
    seconds = [r["epoch_time_s"] * r["epochs"] for r in held]
    left = planned - len(held)
    rough = (f"about {left * sum(seconds) / len(seconds) / 60:.0f} min for the seed runs left, at the "
             f"{len(seconds)} stored runs' mean (tuning and extra seed waves not counted)" if seconds else
             "unknown until a run of it finishes here (tuning and extra seed waves add to it)")
    shared = [" + ".join(v.name for v in g) for g in study.groups() if len(g) > 1] if study.tune.trials else []
    together = [f"# tuned together (share: {', '.join(study.share)}; each trial trains every member): "
                + "; ".join(shared)] if shared else []
    return "\n".join([
        f"# python -m bench.run {' '.join(study.words)} --cfg: nothing was run or written",
        OmegaConf.to_yaml(study.model_dump(mode="json")).rstrip(),
        f"# {len(variants)} variant(s): {', '.join(variants)}",
        f"# {planned} seed run(s) planned ({len(study.seeds)} seed(s) each"
        + (f"; up to {study.measure.max_seeds} while a pair is undecided" if study.measure.max_seeds else "")
        + (f"), after {study.tune.trials} tuning trial(s) per variant" if study.tune.trials else ")"),
        *together,
        f"# {len(held)} of them already in {study.out_dir}; {left} to run; time: {rough}"])


def _masked(record: logging.LogRecord) -> bool:
    record.msg, record.args = printable(mask_secrets(record.getMessage())), ()
    return True


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _asks_help(words: list[str]) -> bool:
    return any(w in ("--help", "-h") or w.lower() == "help=true" for w in words)


# ---- --help, generated from the schema: each key's default, allowed values and meaning ---------------------

def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return repr(value) if value == "" else str(value)


def described(model: Any = None) -> list[tuple[str, str, str, str]]:
    """(dotted key, default, allowed values, meaning) for every key of the schema, in declaration order; the
    default says what studies/_base.yaml gives every shipped study where that differs."""
    keys = KEYS if model is None else dotted(model)
    base = _base() if model is None else {}
    return [(key, _shown(info.default) + (f"  [studies: {_shown(base[key])}]" if key in base and base[key] !=
                                          info.default else ""), allowed(info, key.split(".")[-1]),
             info.description or "") for key, info in keys.items()]


def _base() -> dict[str, Any]:
    """studies/_base.yaml's values by dotted key (empty when there is none)."""
    from bench import studyfile
    from bench.config import STUDIES_DIR
    path = STUDIES_DIR / "_base.yaml"
    try:
        tree = studyfile.load(path) if path.is_file() else {}
    except BenchError:  # a damaged _base.yaml is said when a study includes it, not in --help
        tree = {}
    return {k: v for k, v in flat(tree if isinstance(tree, dict) else {}).items()
            if k.split(".")[0] not in OPEN_KEYS}  # the search space and the axes are said in their sections


def _entry(key: str, default: str, values: str, meaning: str) -> str:
    """`  key = default    allowed` then the meaning, indented, wrapped to WIDTH."""
    head = f"  {key} = {default}"
    head = f"{head:<40} {values}" if len(head) < 40 else f"{head}  {values}"
    body = textwrap.fill(meaning, WIDTH, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(textwrap.wrap(head, WIDTH, subsequent_indent=" " * 42) + ([body] if meaning else []))


def _budget(name: str) -> str:
    said = ", ".join(f"{section}.{k}={_shown(v)}" for section, keys in BUDGETS[name].items() for k, v in keys.items())
    return textwrap.fill(f"{name}: {said}", WIDTH, initial_indent="  ", subsequent_indent="      ")


def run_help() -> str:
    found, skipped = catalog()
    studies = "\n".join([textwrap.fill(f"{name:<13} {desc}", WIDTH, initial_indent="  ", subsequent_indent=" " * 16)
                         for name, desc in found.items()] + [
        textwrap.fill(f"(skipped {printable(name)}: {why})", WIDTH, initial_indent="  ", subsequent_indent=" " * 4)
        for name, why in skipped.items()])
    axes = "\n".join(_entry(a, _shown(getattr(Variant(), a)), axis_allowed(a), AXIS_HELP[a]) for a in AXES)
    rows = described()
    keys = "\n".join(_entry(*row) for row in rows if row[0] not in FILE_ONLY)
    sections = "\n".join(_entry(*row) for row in rows if row[0] in FILE_ONLY)
    budgets = "\n".join(_budget(name) for name in BUDGETS)
    return f"""usage: python -m bench.run study=NAME [key=value ...]      (or: rnnbench study=NAME ...)

Tune every variant of a study with Optuna (same budget each), re-train the winners over several seeds while
timing them, and write reports/NAME/ (index.html, results.csv, summary.csv, ...). Arguments are Hydra
overrides: key=value, lists as key=[a,b], null for none. Re-running a command resumes it.

studies (shipped, and $RNNBENCH_STUDIES's; or study=path/to/mine.yaml; the first line of each is its question):
{studies}

variant axes: name one to replace the study's values for it (a list compares them: cell=[lstm,gru])
{axes}

budgets: budget=NAME sets these in one word (budget=null: the study file's values as written). A budget bounds
each trial (tune.samples) and each seed run (train.samples) by the training samples it may see: the epoch cap is the
whole epochs of the training rows within them, at least 1, so small data gets more epochs; early stopping ends most
runs sooner. train.epochs=N (or tune.epochs=N) replaces that bound with N epochs.
{budgets}

keys: key = default, then the allowed values; [studies: X]: what studies/_base.yaml gives every shipped study
{keys}

study file sections (YAML; see docs/studies.md):
{sections}

environment variables:
{_environment()}

re-render a report from stored records: python -m bench.report study=NAME   (python -m bench.report --help)"""


def _environment() -> str:
    return "\n".join(textwrap.fill(f"{name:<21} {meaning}", WIDTH, initial_indent="  ", subsequent_indent=" " * 24)
                     for name, meaning in ENVIRONMENT)


def report_help() -> str:
    keys = "\n".join(_entry(*row) for row in described(ReportArgs))
    return f"""usage: python -m bench.report [study=NAME | out=FOLDER] [storage=URL]

Rebuild a study's tables and page from its stored records (no training, no torch): results.csv,
summary.csv, effects.csv, leaderboard.md, figures/, index.html. With no key: every study folder under
reports/, and reports/index.html.

keys:
{keys}

environment variables:
{_environment()}"""
