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
from bench.config import Params, TuneConfig
from bench.report import effects as effects_
from bench.report import page as page_
from bench.record import DataInfo, StudyDoc
from bench.report import board as board_
from bench.report import plots, tables
from bench.report.answer import answer

QUICK_BUDGETS = ("smoke", "quick")
FILES = (*store.TABLES, store.STUDY, store.TUNING, store.RECORDS)


def _join(values) -> str:
    return ", ".join(sorted({str(v) for v in values if v not in (None, "")})) or "-"


@dataclass(frozen=True)
class Caution:
    """What limits a page's claims, decided once (`warnings`): its `kind`, the line every output starts with
    (`banner`, '' when it only limits claims) and its short form in the answer's caveats (`caveat`, '' when none)."""
    kind: str
    banner: str = ""
    caveat: str = ""


def warnings(records: list[dict], doc: StudyDoc, missing: list[tuple[str, int]] = (),
             summary: pd.DataFrame | None = None) -> list[Caution]:
    """Every caution of a study's (or a sweep's) records: nothing learned, partial data, a small budget, unfinished
    runs, a test split inside the training split, a busy machine, torch.compile, SparseAdam, mixed machines. The
    banner, the answer's caveats and the sweep page all read this list."""
    found = []
    if summary is not None and (summary["learned"] == False).all():  # noqa: E712 - None: not known
        found.append(Caution("nothing_learned", f"NOTHING LEARNED: no variant's accuracy is above the majority-class "
                             f"rate ({summary['majority_acc'].iloc[0]:.3f}) by more than its noise; these figures "
                             "compare models that did not learn, so no ranking or effect below means anything (more "
                             "epochs, data or tuning)"))
    if any(r["partial_data"] for r in records):
        found.append(Caution("partial", "PARTIAL DATA: the training split is not the full dataset; figures are not "
                             "comparable with published results", "a partial training split"))
    small = sorted({str(r["budget"]) for r in records} & set(QUICK_BUDGETS))
    if small:
        found.append(Caution("small_budget", f"SMALL BUDGET ({', '.join(small)}): tuning and training were cut short "
                             "to save time; use budget=full before comparing these figures with published ones",
                             f"a small budget ({', '.join(small)})"))
    if missing:
        by_variant: dict[str, list[int]] = {}
        for variant, seed in missing:
            by_variant.setdefault(variant, []).append(seed)
        listed = "; ".join(f"{v} seed(s) {', '.join(map(str, s))}" for v, s in by_variant.items())
        found.append(Caution("incomplete", f"INCOMPLETE: {len(missing)} of {doc.total} planned runs are missing "
                             f"({listed}); run the same command again to finish them (finished runs are kept)",
                             f"{len(missing)} planned run(s) missing"))
    found += [Caution("overlap", text) for text in doc.data_info.kinds("overlap")]
    loaded = tables.busy([r["load"] for r in records] + [r["timing"]["load"] for r in records if r["timing"]],
                         "training runs and timing passes")
    found += [Caution("busy", loaded)] if loaded else []
    settings = [r["hyperparameters"] for r in records]
    compiled = sum(bool(h.get("compile")) for h in settings)
    if compiled:
        found.append(Caution("compiled", f"TORCH.COMPILE: {compiled} of {len(records)} run(s) ran under torch.compile; "
                             "where it fell back to eager (graph breaks, e.g. around the recurrent modules) is not "
                             "counted here, as torch has no public API for it: run with TORCH_LOGS=graph_breaks to see "
                             "them"))
    lazy = sum(bool(h.get("sparse_embedding")) for h in settings)
    if lazy:
        found.append(Caution("sparse", f"SPARSE ADAM: {lazy} of {len(records)} run(s) trained with "
                             "train.sparse_embedding=true: torch.optim.SparseAdam moved only the embedding rows in "
                             "each batch, another algorithm than the dense Adam of the other settings (faster, "
                             "accuracy may differ)"))
    for key, what in (("device_name", "devices"), ("git_sha", "git commits"), ("torch_version", "torch versions")):
        seen = sorted({str(r[key]) for r in records})
        mixed = (f"MIXED {what.upper()}: these runs come from {_join(seen)}; speed figures are then not comparable "
                 "across variants") if len(seen) > 1 else ""
        caveat = "" if key != "device_name" else f"times from one device ({', '.join(seen)})" if len(seen) == 1 \
            else f"times from {len(seen)} devices ({', '.join(seen)}): not comparable"
        if mixed or caveat:
            found.append(Caution(f"mixed_{key}", mixed, caveat))
    return found


def banner(cautions: list[Caution]) -> list[str]:
    return [c.banner for c in cautions if c.banner]


def caveats(cautions: list[Caution]) -> list[str]:
    return [c.caveat for c in cautions if c.caveat]


def facts(records: list[dict], doc: StudyDoc, summary: pd.DataFrame, others: list[dict] = ()) -> list[tuple[str, str]]:
    """The header's (label, text) pairs (the template escapes them)."""
    first = records[0]
    finished = sorted(r["finished_at"] for r in records if r["finished_at"])
    command = doc.command or f"python -m bench.run study={doc.name}"
    total = doc.total or len(records)
    software = [f"torch {_join(r['torch_version'] for r in records)}",
                f"CUDA {_join(r['cuda_version'] for r in records)}",
                f"cuDNN {_join(r['cudnn_version'] for r in records)}",
                f"NVIDIA driver {_join(r['driver_version'] for r in records)}",
                f"Python {_join(r['python'] for r in records)}"]
    tuned = bool(summary["tuned"].any())
    tune, patience, rows = doc.tune, doc.train.get("patience"), first["train_rows"]
    return [
        ("date", f"runs finished {finished[0]} – {finished[-1]}; page rendered {time.strftime('%Y-%m-%d %H:%M')}"
                 if finished else time.strftime("%Y-%m-%d %H:%M")),
        ("reproduce", command),
        ("device", (f"{_join(r['device_name'] for r in records)} ({_join(r['device'] for r in records)}), "
                    f"{_join(r['cpu_threads'] for r in records)} CPU thread(s), host "
                    f"{_join(r['host'] for r in records)}")),
        ("software", ", ".join(software)),
        ("git commit", _join(r['git_sha'] for r in records)),
        ("budget", (f"{_join(r['budget'] or 'none (the study file as written)' for r in records)}; "
                    + (f"{tune.get('trials')} {tune.get('sampler')} trial(s) per variant on validation accuracy, "
                       f"each of {TuneConfig.of(tune).bound_said(rows)}, then" if tuned else "no tuning:")
                    + f" each seed of {Params.of(doc.train).bound_said(rows)}"
                    + (f", early stopping after {patience} epoch(s) without a better validation accuracy (the best "
                       "epoch's weights kept)" if patience else ""))),
        ("dataset", (f"{first['dataset']}: {first['dataset_rows']:,} train rows read, {first['test_rows']:,} test "
                     f"rows; used train {first['train_rows']:,} / validation {first['val_rows']:,} / "
                     f"test {first['test_rows']:,}" + (" (PARTIAL split)" if first["partial_data"] else "")
                     + _text_settings(doc.data, doc.data_info) + _glove(doc.data_info.glove))),
        ("runs", _runs_line(records, doc, total, summary)),
        *([("not shown", _others_line(others))] if others else []),
    ]


def _others_line(others: list[dict]) -> str:
    """The runs an earlier command left in the folder that this one did not ask for (kept, not shown)."""
    variants = sorted({r["variant"] for r in others})
    seeds = sorted({r["seed"] for r in others})
    return (f"{len(others)} stored run(s) of earlier commands that this one did not ask for (variants "
            f"{', '.join(variants)}; seeds {', '.join(map(str, seeds))}): kept in records.jsonl, left out of every "
            "table and figure here; name those variants and seeds to see them")


def _runs_line(records: list[dict], doc: StudyDoc, total: int, summary: pd.DataFrame) -> str:
    """How many of the first wave's planned runs exist, and how many sequential seeds added."""
    first = set(doc.planned.seeds) if doc.planned else None
    added = sum(r["seed"] not in first for r in records) if first is not None else 0
    line = f"{len(records) - added} of {total} planned ({summary.shape[0]} variant(s))"
    return line + (f", and {added} more seed run(s) added while pairs were undecided" if added else "")


def _glove(glove: dict | None) -> str:
    """The GloVe vectors' coverage, when a variant read them (bench.embeddings.coverage)."""
    if not glove:
        return ""
    return (f"; {glove['source']}: {glove['tokens']:.1%} of training tokens and {glove['types']:.1%} of the "
            f"{glove['vocabulary']:,} vocabulary types found (glove variants are 50 wide: embed_dim is fixed, not "
            "tuned; words GloVe lacks start random at its scale, the pad at zero; glove_frozen never updates them)")


def _text_settings(cfg: dict, info: DataInfo) -> str:
    """What a model reads of each text, and of the training split: accuracy and speed depend on both. What the
    caps cut is measured from the texts (the data stage's notes)."""
    cut = f"at most {cfg['max_len']:,} tokens ({cfg.get('truncate', 'head')})" if cfg.get("max_len") else "every token"
    vocab = f"at most {cfg['max_vocab']:,} words" if cfg.get("max_vocab") else "every word"
    capped = "".join(f"; {text}" for text in info.kinds("cut", "capped"))
    return f"; read: {cut}; vocabulary: {vocab} seen at least {cfg.get('min_freq', 1)} time(s) in training{capped}"


def _seeds(records: list[dict], order: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(records).pivot_table(index="variant", columns="seed", values="test_acc", sort=False)
    frame.columns = [f"seed {c}" for c in frame.columns]
    return frame.reindex(order)


@dataclass
class Tables:
    """A study's tables, computed from its records alone (`compute`): what the page shows and the CSV files hold."""
    study: StudyDoc
    records: list[dict]
    summary: pd.DataFrame      # one row per variant (summary.csv)
    results: pd.DataFrame      # one row per measured run (results.csv)
    effects: pd.DataFrame      # one row per pair of variants differing on one axis (effects.csv)
    epochs: pd.DataFrame       # one row per run and epoch (epochs.csv)
    curves: pd.DataFrame       # running train accuracy within epochs (curves.csv)
    board: board_.Leaderboard  # the page's leaderboard: display text, best cells, hover text
    tuning: dict
    missing: list
    others: list[dict]                 # runs the folder keeps from earlier commands, not asked for this time
    criteria: effects_.Criteria        # how the effects table's verdicts were decided
    budget: pd.DataFrame               # expected best validation accuracy after k tuning trials (budget.csv)
    budget_changes: tuple              # (the leader at the full tuning budget, the k where another leads)
    cautions: list[Caution]            # what limits the page's claims (`warnings`)

    @property
    def leaderboard(self) -> pd.DataFrame:
        """The page's leaderboard, as display text."""
        return self.board.text


def read(out: Path) -> tuple[StudyDoc, list[dict], dict]:
    """A study folder's document, records and tuning summary, each checked as it is read (bench.record)."""
    return StudyDoc.model_validate(store.load_study(out)), store.load(out), store.load_tuning(out)


def compute(doc: StudyDoc, stored: list[dict], tuning: dict) -> Tables | None:
    """Every table of a study from its document, records and tuning summary; writes nothing. None when none of
    the records is one the last command asked for."""
    records, others = tables.requested(stored, doc)
    if not records:
        return None
    summary = tables.summarize(records, doc.reference, tuning)
    criteria = effects_.Criteria.of(doc)
    effects = effects_.effects(records, summary, criteria)
    summary["seeds_stop"] = pd.Series(effects_.seed_stops(summary, effects, criteria))
    learned = [v for v in summary.index if summary.loc[v, "learned"] != False]  # noqa: E712 - None: unknown
    budget = tables.budget_frame(tuning, learned)
    missing = tables.missing_runs(records, doc.planned)
    return Tables(study=doc, records=records, summary=summary, results=tables.results_frame(records),
                  effects=effects, epochs=tables.epochs_frame(records), curves=tables.curves_frame(records),
                  board=board_.leaderboard(summary, doc.classical, criteria), tuning=tuning, missing=missing,
                  others=others, criteria=criteria, budget=budget, budget_changes=tables.budget_changes(budget),
                  cautions=warnings(records, doc, missing, summary))


def write(t: Tables, out: Path) -> str:
    """Write the tables and index.html of `t` into `out`; return the console text."""
    records, doc, summary, effects, board = t.records, t.study, t.summary, t.effects, t.board
    lines = banner(t.cautions)
    words = answer(summary, effects, doc.classical, caveats(t.cautions), t.budget_changes)
    tuned = {v: x for v, x in t.tuning.items() if v in summary.index}
    for name, frame, index in (("results.csv", t.results, False), ("summary.csv", summary, "variant"),
                               ("effects.csv", effects, False), ("epochs.csv", t.epochs, False),
                               ("curves.csv", t.curves, False), ("budget.csv", t.budget, False)):
        store.write_atomic(out / name, frame.to_csv(index=bool(index), index_label=index or None))
    store.write_atomic(out / "leaderboard.md", board_.markdown(board))
    page = page_.Page(study=doc, facts=facts(records, doc, summary, t.others), warnings=lines, board=board,
                      seeds=_seeds(records, list(summary.index)), effects=effects,
                      plots=plots.study_plots(summary, records, t.epochs, t.curves, t.tuning, doc.classical, t.budget,
                                              t.budget_changes),
                      tuning=tables.tuning_frame(tuned), together=tables.tuned_together(tuned),
                      files=[f for f in FILES if (out / f).is_file()], answer=words, out=out,
                      criteria=t.criteria, profiles={v: json.loads(path.read_text()) for v in summary.index
                                                     if (path := out / f"profile-{v}.top.json").is_file()})
    store.write_atomic(out / "index.html", page_.html_page(page))
    text = [*lines, *(f"{k}: {v}" for k, v in facts(records, doc, summary, t.others)
                      if k in ("device", "dataset", "not shown")),
            "", words.text(), "", board_.fit_width(board_.key_view(board).text)]
    if not effects.empty:
        shown = page_.effects_display(effects)[["reading", "Δ acc", "p (Holm)", "design", "time ×", "memory ×",
                                                "95% CI"]]
        family = int((effects["question"] & effects["comparable"]).sum())
        text += ["", f"effects (changed minus baseline; paired t over per-seed differences where the sides share "
                     f"settings and seeds, else Welch's t; {t.criteria.describe(family)}):",
                 board_.fit_width(shown)]
    return "\n".join(textwrap.fill(line, 120) if len(line) > 120 and "  " not in line else line
                     for block in text for line in block.splitlines())


def render(out: Path) -> str:
    """Write every table and index.html into `out` from its stored records; return the console text."""
    t = compute(*read(out))
    return f"no records in {out} yet" if t is None else write(t, out)
