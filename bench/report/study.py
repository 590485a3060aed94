"""A study's tables and page, rebuilt from its stored records alone (`render`), with the banner of warnings
and the header's facts. bench.report.tables computes the tables, .effects the paired effects, .answer the
answer in words, .plots the figures as data; .page lays them out on the one skeleton (.html).
"""

from __future__ import annotations

import json
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench import store
from bench.report import effects as effects_
from bench.report import page as page_
from bench.report import plots, tables
from bench.report.answer import answer

QUICK_BUDGETS = ("smoke", "quick")
FILES = (*store.TABLES, store.STUDY, store.TUNING, store.RECORDS)


def _join(values) -> str:
    return ", ".join(sorted({str(v) for v in values if v not in (None, "")})) or "-"


def banner(records: list[dict], study: dict, missing: list[tuple[str, int]],
           summary: pd.DataFrame | None = None) -> list[str]:
    """Warnings every output starts with: nothing learned, partial data, a small budget, unfinished or mixed runs."""
    lines = []
    if summary is not None and (summary["learned"] == False).all():  # noqa: E712 - None: not known
        lines.append(f"NOTHING LEARNED: no variant's accuracy is above the majority-class rate "
                     f"({summary['majority_acc'].iloc[0]:.3f}) by more than its noise; these figures compare models "
                     "that did not learn, so no ranking or effect below means anything (more epochs, data or tuning)")
    if any(r["partial_data"] for r in records):
        lines.append("PARTIAL DATA: the training split is not the full dataset; figures are not comparable with "
                     "published results")
    small = sorted({str(r.get("budget")) for r in records} & set(QUICK_BUDGETS))
    if small:
        lines.append(f"SMALL BUDGET ({', '.join(small)}): tuning and training were cut short to save time; use "
                     "budget=full before comparing these figures with published ones")
    if missing:
        planned = study["planned"]
        total = len(planned["variants"]) * len(planned["seeds"])
        by_variant: dict[str, list[int]] = {}
        for variant, seed in missing:
            by_variant.setdefault(variant, []).append(seed)
        listed = "; ".join(f"{v} seed(s) {', '.join(map(str, s))}" for v, s in by_variant.items())
        lines.append(f"INCOMPLETE: {len(missing)} of {total} planned runs are missing ({listed}); run the same "
                     "command again to finish them (finished runs are kept)")
    lines += [n for n in (study.get("data_info") or {}).get("notes", []) if n.startswith("TEST OVERLAPS")]
    loaded = tables.busy([r.get("load") for r in records] + [(r.get("timing") or {}).get("load") for r in records],
                         "training runs and timing passes")
    lines += [loaded] if loaded else []
    settings = [r.get("hyperparameters") or {} for r in records]
    compiled = sum(bool(h.get("compile")) for h in settings)
    if compiled:
        lines.append(f"TORCH.COMPILE: {compiled} of {len(records)} run(s) ran under torch.compile; where it fell back "
                     "to eager (graph breaks, e.g. around the recurrent modules) is not counted here, as torch has no "
                     "public API for it: run with TORCH_LOGS=graph_breaks to see them")
    lazy = sum(bool(h.get("sparse_embedding")) for h in settings)
    if lazy:
        lines.append(f"SPARSE ADAM: {lazy} of {len(records)} run(s) trained with train.sparse_embedding=true: "
                     "torch.optim.SparseAdam moved only the embedding rows in each batch, another algorithm than the "
                     "dense Adam of the other settings (faster, accuracy may differ)")
    for key, what in (("device_name", "devices"), ("git_sha", "git commits"), ("torch_version", "torch versions")):
        if len({r.get(key) for r in records}) > 1:
            lines.append(f"MIXED {what.upper()}: these runs come from {_join(r.get(key) for r in records)}; "
                         "speed figures are then not comparable across variants")
    return lines


def caveats(records: list[dict], missing: list[tuple[str, int]]) -> list[str]:
    """The short form of the banner, for the answer paragraph: what limits every claim on the page."""
    found = []
    if any(r.get("partial_data") for r in records):
        found.append("a partial training split")
    budgets = sorted({str(r.get("budget")) for r in records} & set(QUICK_BUDGETS))
    if budgets:
        found.append(f"a small budget ({', '.join(budgets)})")
    devices = sorted({str(r.get("device_name")) for r in records})
    found.append(f"times from one device ({', '.join(devices)})" if len(devices) == 1 else
                 f"times from {len(devices)} devices ({', '.join(devices)}): not comparable")
    if missing:
        found.append(f"{len(missing)} planned run(s) missing")
    return found


def facts(records: list[dict], study: dict, summary: pd.DataFrame, others: list[dict] = ()) -> list[tuple[str, str]]:
    """The header's (label, text) pairs (the template escapes them)."""
    first = records[0]
    finished = sorted(r["finished_at"] for r in records if r.get("finished_at"))
    command = study.get("command") or f"python -m bench.run study={study.get('name', '?')}"
    planned = study.get("planned")
    total = len(planned["variants"]) * len(planned["seeds"]) if planned else len(records)
    software = [f"torch {_join(r['torch_version'] for r in records)}",
                f"CUDA {_join(r.get('cuda_version') for r in records)}",
                f"cuDNN {_join(r.get('cudnn_version') for r in records)}",
                f"NVIDIA driver {_join(r.get('driver_version') for r in records)}",
                f"Python {_join(r.get('python') for r in records)}"]
    tuned = bool(summary["tuned"].any())
    tune = study.get("tune", {})
    return [
        ("date", f"runs finished {finished[0]} – {finished[-1]}; page rendered {time.strftime('%Y-%m-%d %H:%M')}"
                 if finished else time.strftime("%Y-%m-%d %H:%M")),
        ("reproduce", command),
        ("device", (f"{_join(r['device_name'] for r in records)} ({_join(r['device'] for r in records)}), "
                       f"{_join(r.get('cpu_threads') for r in records)} CPU thread(s), host "
                       f"{_join(r.get('host') for r in records)}")),
        ("software", ", ".join(software)),
        ("git commit", _join(r.get('git_sha') for r in records)),
        ("budget", (f"{_join(r.get('budget') or 'none (the study file as written)' for r in records)}; "
                       + (f"{tune.get('trials')} {tune.get('sampler')} trial(s) of {tune.get('epochs')} epoch(s) "
                          f"per variant on validation accuracy, then" if tuned else "no tuning:")
                       + f" at most {summary['epoch_cap'].max()} epoch(s) per seed"
                       + (f", early stopping after {study.get('train', {}).get('patience')} epoch(s) without a better "
                          "validation accuracy (the best epoch's weights kept)" if study.get("train", {}).get("patience")
                          else ""))),
        ("dataset", (f"{first['dataset']}: {first['dataset_rows']:,} train rows read, {first['test_rows']:,} test "
                        f"rows; used train {first['train_rows']:,} / validation {first['val_rows']:,} / "
                        f"test {first['test_rows']:,}" + (" (PARTIAL split)" if first["partial_data"] else "")
                        + _text_settings(study.get("data", {}), study.get("data_info") or {})
                        + _glove(study.get("data_info") or {}))),
        ("runs", _runs_line(records, planned, total, summary)),
        *([("not shown", _others_line(others))] if others else []),
    ]


def _others_line(others: list[dict]) -> str:
    """The runs an earlier command left in the folder that this one did not ask for (kept, not shown)."""
    variants = sorted({r["variant"] for r in others})
    seeds = sorted({r["seed"] for r in others})
    return (f"{len(others)} stored run(s) of earlier commands that this one did not ask for (variants "
            f"{', '.join(variants)}; seeds {', '.join(map(str, seeds))}): kept in records.jsonl, left out of every "
            "table and figure here; name those variants and seeds to see them")


def _runs_line(records: list[dict], planned: dict | None, total: int, summary: pd.DataFrame) -> str:
    """How many of the first wave's planned runs exist, and how many sequential seeds added."""
    first = {str(s) for s in planned["seeds"]} if planned else None
    added = sum(str(r["seed"]) not in first for r in records) if first is not None else 0
    line = f"{len(records) - added} of {total} planned ({summary.shape[0]} variant(s))"
    return line + (f", and {added} more seed run(s) added while pairs were undecided" if added else "")


def _glove(info: dict) -> str:
    """The GloVe vectors' coverage, when a variant read them (bench.embeddings.coverage)."""
    glove = info.get("glove")
    if not glove:
        return ""
    return (f"; {glove['source']}: {glove['tokens']:.1%} of training tokens and {glove['types']:.1%} of the "
            f"{glove['vocabulary']:,} vocabulary types found (glove variants are 50 wide: embed_dim is fixed, not "
            "tuned; words GloVe lacks start random at its scale, the pad at zero; glove_frozen never updates them)")


def _text_settings(cfg: dict, info: dict) -> str:
    """What a model reads of each text, and of the training split: accuracy and speed depend on both. What the
    caps cut is measured from the texts (the data stage's notes)."""
    cut = f"at most {cfg['max_len']:,} tokens ({cfg.get('truncate', 'head')})" if cfg.get("max_len") else "every token"
    vocab = f"at most {cfg['max_vocab']:,} words" if cfg.get("max_vocab") else "every word"
    capped = "".join(f"; {n}" for n in info.get("notes", []) if n.startswith(("texts cut", "training rows capped")))
    return f"; read: {cut}; vocabulary: {vocab} seen at least {cfg.get('min_freq', 1)} time(s) in training{capped}"


def _seeds(records: list[dict], order: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(records).pivot_table(index="variant", columns="seed", values="test_acc", sort=False)
    frame.columns = [f"seed {c}" for c in frame.columns]
    return frame.reindex(order)


@dataclass
class Tables:
    """A study folder's tables, computed from its records alone: what the page shows and the CSV files hold."""
    study: dict
    records: list[dict]
    summary: pd.DataFrame      # one row per variant (summary.csv)
    results: pd.DataFrame      # one row per measured run (results.csv)
    effects: pd.DataFrame      # one row per pair of variants differing on one axis (effects.csv)
    epochs: pd.DataFrame       # one row per run and epoch (epochs.csv)
    curves: pd.DataFrame       # running train accuracy within epochs (curves.csv)
    board: tables.Leaderboard  # the page's leaderboard: display text, best cells, hover text
    tuning: dict
    missing: list
    others: list[dict]                 # runs the folder keeps from earlier commands, not asked for this time
    criteria: effects_.Criteria        # how the effects table's verdicts were decided
    budget: pd.DataFrame               # expected best validation accuracy after k tuning trials (budget.csv)
    budget_changes: tuple              # (the leader at the full tuning budget, the k where another leads)

    @property
    def leaderboard(self) -> pd.DataFrame:
        """The page's leaderboard, as display text."""
        return self.board.text


def compute(out: Path) -> Tables | None:
    """Every table of the study folder `out`, from its records; None when it holds none yet."""
    study = store.load_study(out)
    records, others = tables.requested(store.load(out), study)
    if not records:
        return None
    tuning = store.load_tuning(out)
    summary = tables.summarize(records, study.get("reference"), tuning)
    criteria = effects_.Criteria.of(study)
    effects = effects_.effects(records, summary, criteria)
    summary["seeds_stop"] = pd.Series(effects_.seed_stops(summary, effects, criteria))
    learned = [v for v in summary.index if summary.loc[v, "learned"] != False]  # noqa: E712 - None: unknown
    budget = tables.budget_frame(tuning, learned)
    return Tables(study=study, records=records, summary=summary, results=tables.results_frame(records),
                  effects=effects, epochs=tables.epochs_frame(records), curves=tables.curves_frame(records),
                  board=tables.leaderboard(summary, study.get("classical")), tuning=tuning,
                  missing=tables.missing_runs(records, study.get("planned")), others=others, criteria=criteria,
                  budget=budget,
                  budget_changes=tables.budget_changes(budget))


def render(out: Path) -> str:
    """Write every table and index.html into `out` from its stored records; return the console text."""
    t = compute(out)
    if t is None:
        return f"no records in {out} yet"
    records, study, summary, effects, board = t.records, t.study, t.summary, t.effects, t.board
    classical = study.get("classical")
    warnings = banner(records, study, t.missing, summary)
    words = answer(summary, effects, classical, caveats(records, t.missing), t.budget_changes)
    tuning_table = tables.tuning_frame({v: x for v, x in t.tuning.items() if v in summary.index})
    store.write_atomic(out / "results.csv", t.results.to_csv(index=False))
    store.write_atomic(out / "summary.csv", summary.to_csv(index_label="variant"))
    store.write_atomic(out / "effects.csv", effects.to_csv(index=False))
    store.write_atomic(out / "epochs.csv", t.epochs.to_csv(index=False))
    store.write_atomic(out / "curves.csv", t.curves.to_csv(index=False))
    store.write_atomic(out / "leaderboard.md", tables.markdown(board))
    store.write_atomic(out / "budget.csv", t.budget.to_csv(index=False))
    page = page_.Page(study=study, facts=facts(records, study, summary, t.others), warnings=warnings, board=board,
                      seeds=_seeds(records, list(summary.index)), effects=effects,
                      plots=plots.study_plots(summary, records, t.epochs, t.curves, t.tuning, classical, t.budget,
                                              t.budget_changes),
                      tuning=tuning_table, together=tables.tuned_together(
                          {v: x for v, x in t.tuning.items() if v in summary.index}),
                      files=[f for f in FILES if (out / f).is_file()], answer=words, out=out,
                      criteria=t.criteria, profiles={v: json.loads(path.read_text()) for v in summary.index
                                                     if (path := out / f"profile-{v}.top.json").is_file()})
    store.write_atomic(out / "index.html", page_.html_page(page))
    text = [*warnings, *(f"{k}: {v}" for k, v in facts(records, study, summary, t.others)
                         if k in ("device", "dataset", "not shown")),
            "", words.text(), "", tables.fit_width(tables.key_view(board).text)]
    if not effects.empty:
        shown = page_.effects_display(effects)[["reading", "Δ acc", "p (Holm)", "design", "time ×", "memory ×",
                                                "95% CI"]]
        family = int((effects["question"] & effects["comparable"]).sum())
        text += ["", f"effects (changed minus baseline; paired t over per-seed differences where the sides share "
                     f"settings and seeds, else Welch's t; {t.criteria.describe(family)}):",
                 tables.fit_width(shown)]
    return "\n".join(textwrap.fill(line, 120) if len(line) > 120 and "  " not in line else line
                     for block in text for line in block.splitlines())
