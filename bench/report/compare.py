"""Does a second run of a study reproduce the first? `python -m bench.report compare=[A,B]`.

Both folders' tables are computed from their records alone (bench.report.study.compute), then, per variant both
hold, B's test accuracy is set against A's with the effects table's own decision rule (bench.report.effects.decide:
equivalence within ±measure.margin first, Holm over the variants): `reproduced` (equivalent), `differs` (better or
worse), `undecided` (with the seeds a side that would settle it). Where both ran the same seed numbers at the same
settings (`effects.design`: the same source of settings and the same hyperparameters), the per-seed differences are
tested (paired); else Welch's t. Times are B / A at the shared sizes with a 95 % bootstrap interval over the timed
steps ('same' when it spans 1). Each effect row both hold: does its verdict come out the same? What differs between
the two machines, software and settings is listed, and different data or budgets put a box at the top.
"""

from __future__ import annotations

import json
import math
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench import store
from bench.config import flat
from bench.errors import BenchError
from bench.record import ENVIRONMENT
from bench.report import effects as fx
from bench.report.html import grid, page
from bench.report.stats import holm, paired, ratio_ci, seeds_needed, tost, welch
from bench.report.study import Tables, compute, read
from bench.report.tables import scored

WORDS = {"equivalent": "reproduced", "better": "differs", "worse": "differs", "undecided": "undecided"}


@dataclass
class Comparison:
    a: Path
    b: Path
    variants: pd.DataFrame                 # one row per variant both hold (compare.csv)
    effects: pd.DataFrame                  # one row per effect row both hold: the two verdicts
    differences: list[tuple[str, str, str]]  # (what, A's, B's) for every environment fact or setting that differs
    only: list[str]                        # variants one side lacks, with the reason
    boxes: list[str]                       # what makes the accuracy comparisons not like for like
    margin: float
    how: str = ""                          # how B was made, when bench.run reproduce= made it

    def regressions(self) -> list[str]:
        """Variants worse in accuracy on B, or slower beyond noise (fail_on=regression)."""
        rows = [r for _, r in self.variants.iterrows()]
        return [f"{r['variant']} accuracy {r['delta']:+.4f}" for r in rows if r["verdict"] == "differs" and
                r["delta"] < 0] + [f"{r['variant']} {r['time_ratio']:.2f}x slower" for r in rows if r["time_low"] > 1]

    def sentences(self) -> list[str]:
        """The answer in words, one sentence per kind of result."""
        rows, said = self.variants, []
        if rows.empty:
            return ["No variant is in both folders: nothing to compare."]
        kept = rows[rows["verdict"] == "reproduced"]
        said.append(f"{len(kept)} of {len(rows)} variant(s) reproduced within ±{self.margin:g} accuracy.")
        for _, r in rows[rows["verdict"] == "differs"].iterrows():
            said.append(f"{r['variant']} differs ({r['delta']:+.4f}, {r['design']}).")
        undecided = rows[rows["verdict"] == "undecided"]
        if not undecided.empty:
            need = [f"{v} (~{n:.0f} seeds a side)" if math.isfinite(n) else f"{v} (more than one seed a side)"
                    for v, n in zip(undecided["variant"], undecided["seeds_needed"])]
            said.append("Undecided: " + ", ".join(need) + ".")
        timed = rows.dropna(subset=["time_ratio"])
        if not timed.empty:
            same = timed[(timed["time_low"] <= 1) & (timed["time_high"] >= 1)]
            if len(same) == len(timed):
                said.append("Step times are the same within noise.")
            else:
                ratio = float(timed["time_ratio"].median())
                why = [w for w, *_ in self.differences if w in ("cpu_threads", "torch_version", "device_name",
                                                                "cuda_version", "git_sha")]
                said.append(f"Step times {ratio:.2f}x on B (median over variants; {len(same)} of {len(timed)} the "
                            "same within noise)" + (f", whose {', '.join(why)} differ." if why else "."))
        if not self.effects.empty:
            agree = int(self.effects["same"].sum())
            said.append(f"{agree} of {len(self.effects)} effect verdict(s) came out the same.")
        return said


def _tables(path: Path) -> Tables:
    if not (path / store.RECORDS).is_file():
        raise BenchError(f"compare: '{path}' holds no records.jsonl: give two study folders of finished runs "
                         "(compare=[reports/A,reports/B])")
    tables = compute(*read(path))
    if tables is None:
        raise BenchError(f"compare: '{path}' holds no run its study asked for: run it first")
    return tables


def _ratio(a: pd.DataFrame, b: pd.DataFrame, sa: pd.Series, sb: pd.Series) -> dict:
    """B / A of the step time at the shared sizes (else the epoch time), with its bootstrap interval."""
    timed = pd.notna(sa["timing_step_ms"]) and pd.notna(sb["timing_step_ms"])
    column = "timing_step_ms" if timed else "epoch_time_s"
    low, high = ratio_ci(fx.times(a, timed), fx.times(b, timed))
    same_memory = sa["memory_kind"] == sb["memory_kind"]
    return {"timed": bool(timed), "time_ratio": sb[column] / sa[column], "time_low": low, "time_high": high,
            "epoch_time_ratio": sb["epoch_time_s"] / sa["epoch_time_s"],
            "memory_ratio": sb["peak_mem_mb"] / sa["peak_mem_mb"] if same_memory else math.nan}


SETTINGS = ("train", "tune", "data", "measure", "nuisance", "budget")  # the study document's parts that set a run
NOT_SETTINGS = ("data.root", "data.url", "data.cache")  # where the data was read from, not what it is


def _differences(ta: Tables, tb: Tables) -> list[tuple[str, str, str]]:
    found = []
    for key in (*ENVIRONMENT, "dataset", "dataset_rows", "train_rows", "val_rows", "test_rows", "budget"):
        a = sorted({str(r[key]) for r in ta.records})
        b = sorted({str(r[key]) for r in tb.records})
        if a != b:
            found.append((key, ", ".join(a), ", ".join(b)))
    da, db = (flat({k: getattr(t.study, k, None) for k in SETTINGS}) for t in (ta, tb))
    for key in sorted(set(da) | set(db)):
        if key not in NOT_SETTINGS and da.get(key) != db.get(key):
            found.append((key, json.dumps(da.get(key), default=str), json.dumps(db.get(key), default=str)))
    return found


def compare(a: Path, b: Path) -> Comparison:
    """Compare study folder B with A (see the module docstring); writes nothing."""
    ta, tb = _tables(a), _tables(b)
    criteria = fx.Criteria.of(ta.study)
    fa, fb = pd.DataFrame(ta.records), pd.DataFrame(tb.records)
    metric = scored(fa)
    common = [v for v in ta.summary.index if v in tb.summary.index]
    rows = []
    for v in common:
        ra, rb = fa[fa["variant"] == v], fb[fb["variant"] == v]
        how = fx.design(ra, rb)
        x, y = fx.sides(ra, rb, metric, how == "paired")
        with warnings.catch_warnings():  # scipy on identical seeds (a copy): tested as such, not a problem
            warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
            test = paired(x, y) if how == "paired" else welch(x, y)
        sa, sb = ta.summary.loc[v], tb.summary.loc[v]
        rows.append({"variant": v, "acc_a": sa[f"{metric}_mean"], "acc_a_ci": sa[f"{metric}_ci"],
                     "acc_b": sb[f"{metric}_mean"], "acc_b_ci": sb[f"{metric}_ci"], "delta": test.delta,
                     "ci_low": test.low, "ci_high": test.high, "p_value": test.p, "p_tost": tost(test, criteria.margin),
                     "design": how, "seeds_a": len(ra), "seeds_b": len(rb), "x": x, "y": y,
                     **_ratio(ra, rb, sa, sb)})
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["p_holm"], frame["p_tost_holm"] = holm(frame["p_value"].tolist()), holm(frame["p_tost"].tolist())
        strictest = criteria.alpha / len(frame)
        frame["verdict"] = [WORDS[fx.decide(p, q, d, criteria.alpha)]
                            for p, q, d in zip(frame["p_holm"], frame["p_tost_holm"], frame["delta"])]
        frame["seeds_needed"] = [seeds_needed(x, y, strictest, criteria.margin, is_paired=d == "paired")
                                 if verdict == "undecided" else math.nan
                                 for x, y, d, verdict in zip(frame["x"], frame["y"], frame["design"], frame["verdict"])]
        frame = frame.drop(columns=["x", "y"])
    keys = ["variant_baseline", "variant"]
    both = ta.effects[[*keys, "axis", "verdict"]].merge(tb.effects[[*keys, "verdict"]], on=keys,
                                                        suffixes=("_a", "_b")) if not (
        ta.effects.empty or tb.effects.empty) else pd.DataFrame(columns=[*keys, "axis", "verdict_a", "verdict_b"])
    both["same"] = both["verdict_a"] == both["verdict_b"]
    only = [f"{v}: only in A ({a})" for v in ta.summary.index if v not in tb.summary.index] + [
        f"{v}: only in B ({b})" for v in tb.summary.index if v not in ta.summary.index]
    differences = _differences(ta, tb)
    differ = {w for w, *_ in differences}
    boxes = []
    if differ & {"dataset", "dataset_rows", "train_rows", "val_rows", "test_rows"} or any(
            w.startswith("data.") for w in differ):
        boxes.append("DIFFERENT DATA: the two folders did not train and test on the same rows; their accuracies are "
                     "not like for like (see 'what differs')")
    if "budget" in differ or any(w.startswith(("tune.", "train.")) for w in differ):
        boxes.append("DIFFERENT BUDGET OR SETTINGS: tuning or training differed between the two; an accuracy "
                     "difference may be theirs, not the machine's (see 'what differs')")
    return Comparison(a, b, frame, both, differences, only, boxes, criteria.margin)


def _fmt(v, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _time_words(r: pd.Series) -> str:
    if math.isnan(r["time_ratio"]):
        return "-"
    if r["time_low"] <= 1 <= r["time_high"]:
        return f"the same within noise ({r['time_ratio']:.2f} [{r['time_low']:.2f}, {r['time_high']:.2f}])"
    return f"{r['time_ratio']:.2f}x [{r['time_low']:.2f}, {r['time_high']:.2f}]" + (
        " (slower)" if r["time_ratio"] > 1 else " (faster)")


def write(c: Comparison, out: Path) -> str:
    """compare.csv and index.html in `out`; the console's text."""
    out.mkdir(parents=True, exist_ok=True)
    store.write_atomic(out / "compare.csv", c.variants.to_csv(index=False))
    shown = pd.DataFrame({
        "A": [f"{_fmt(m, '.4f')} ± {_fmt(h, '.4f')}" for m, h in zip(c.variants["acc_a"], c.variants["acc_a_ci"])],
        "B": [f"{_fmt(m, '.4f')} ± {_fmt(h, '.4f')}" for m, h in zip(c.variants["acc_b"], c.variants["acc_b_ci"])],
        "Δ (B − A)": [f"{_fmt(d, '+.4f')} [{_fmt(lo, '+.4f')}, {_fmt(hi, '+.4f')}]"
                      for d, lo, hi in zip(c.variants["delta"], c.variants["ci_low"], c.variants["ci_high"])],
        "verdict": [v + (f" (~{n:.0f} seeds a side)" if v == "undecided" and math.isfinite(n) else "")
                    for v, n in zip(c.variants["verdict"], c.variants["seeds_needed"])],
        "design": c.variants["design"], "seeds A / B": [f"{a} / {b}" for a, b in zip(c.variants["seeds_a"],
                                                                                    c.variants["seeds_b"])],
        "time B / A": [_time_words(r) for _, r in c.variants.iterrows()],
        "s/epoch B / A": c.variants["epoch_time_ratio"].map(lambda v: _fmt(v, ".2f")),
        "memory B / A": c.variants["memory_ratio"].map(lambda v: _fmt(v, ".2f"))},
        index=c.variants["variant"]) if not c.variants.empty else pd.DataFrame()
    said = c.sentences()
    effects = c.effects.set_index(c.effects["variant_baseline"] + " → " + c.effects["variant"])[
        ["axis", "verdict_a", "verdict_b", "same"]].map(str) if not c.effects.empty else pd.DataFrame()
    differ = pd.DataFrame(c.differences, columns=["what", "A", "B"]).set_index("what") if c.differences else \
        pd.DataFrame()
    store.write_atomic(out / "index.html", page(
        "compare.html", f"rnnbench compare: {c.a.name} vs {c.b.name}",
        f"Does {c.b} reproduce {c.a}?", c.boxes, [("A", str(c.a)), ("B", str(c.b)), *([("how B was made", c.how)] if c.how else [])],
        answer=said,
        variants=grid(shown, caption=f"reproduced: B's accuracy within ±{c.margin:g} of A's (TOST, Holm over the "
                                     "variants); differs: a difference shown; paired where both ran the same seeds at "
                                     "the same settings. Times: B / A of the training step at the shared sizes, 95% "
                                     "bootstrap interval over the timed steps.") if not shown.empty else None,
        effects=grid(effects, index_label="pair") if not effects.empty else None,
        differences=grid(differ, index_label="what", text_columns=("A", "B")) if not differ.empty else None,
        only=c.only))
    return "\n".join([*c.boxes, *said, f"wrote {out / 'index.html'} and {out / 'compare.csv'}"])


def run(folders: list[str], out: str | None, fail_on: str | None, how: str = "",
        study: str | None = None) -> tuple[str, int]:
    """`python -m bench.report compare=[A,B]`: (the console's text, the exit code: 1 on a regression when asked).
    A side given as a database URL (postgresql://..., sqlite:///FILE) is study= exported from it first, into
    `<out>/A-<study>` or `<out>/B-<study>`, which the page then reads like any folder."""
    if len(folders) != 2:
        raise BenchError(f"compare= takes two study folders, got {len(folders)}: compare=[reports/A,reports/B]")
    if any("://" in f for f in folders) and not study:
        raise BenchError("a compare= side given as a database URL needs study=NAME: the database can hold several "
                         "studies")
    names = [study if "://" in f else Path(f).name for f in folders]
    target = Path(out) if out else Path("reports") / f"compare-{names[0]}-{names[1]}"
    made = not target.exists()
    try:
        a, b = (_exported(f, study, target / f"{label}-{study}") if "://" in f else Path(f)
                for label, f in zip("AB", folders))
        c = compare(a, b)
    except BenchError:
        if made and target.exists():  # nothing half-written: what an export put there goes with the error
            shutil.rmtree(target, ignore_errors=True)
        raise
    c.how = how
    text = write(c, target)
    regressions = c.regressions() if fail_on == "regression" else []
    if regressions:
        return text + "\nREGRESSION: " + "; ".join(regressions), 1
    return text, 0


def _exported(url: str, study: str, folder: Path) -> Path:
    """study= from the database at `url`, exported into `folder` (records, study.json, tuning.json)."""
    from bench import runs
    if not runs.export(runs.open_storage(url, folder, lease=120), study, folder):
        raise BenchError(f"the database at {store.mask_secrets(url)} holds no finished run of study '{study}'")
    return folder
