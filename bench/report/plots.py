"""What each figure shows, as data: a Plot holds its numbers, title, axis labels, caption and alt text.

Builders here never touch matplotlib (bench.report.draw does), so figures are tested as data.
Each builder returns None when its data is absent (no tuning, one epoch, no reference ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from bench.record import FRESH_KIND, SINCE_START
from bench.report.stats import LEVEL, mean_ci
from bench.report.tables import said as words, scored


@dataclass
class Plot:
    key: str            # file-safe id, also the HTML anchor
    kind: str           # how bench.report.draw draws it: scatter | bars | lines | strip | history | heatmap
    title: str
    xlabel: str
    ylabel: str
    caption: str        # what to read from it
    alt: str            # the figure in words, for screen readers and broken images
    data: pd.DataFrame
    extra: dict = field(default_factory=dict)


def pareto_front(time: pd.Series, acc: pd.Series) -> pd.Series:
    """True where no other point is at least as fast and as accurate, and strictly better in one."""
    on = []
    for i in time.index:
        dominated = ((time <= time[i]) & (acc >= acc[i]) & ((time < time[i]) | (acc > acc[i]))).any()
        on.append(not dominated)
    return pd.Series(on, index=time.index)


def _metric(summary: pd.DataFrame) -> tuple[str, str]:
    column = scored(summary, "_mean").removesuffix("_mean")
    return column, words(column)


def _lines_for(classical: dict | None, metric: str, summary: pd.DataFrame) -> dict:
    """Labelled reference levels for an accuracy axis: the classical model and the majority-class rate."""
    levels = {}
    if classical and metric == "test_acc" and classical.get("test_acc") is not None:
        levels[f"TF-IDF + LR reference ({classical['test_acc']:.3f})"] = classical["test_acc"]
    if "majority_acc" in summary and summary["majority_acc"].notna().any() and metric == "test_acc":
        majority = float(summary["majority_acc"].dropna().iloc[0])
        levels[f"majority class ({majority:.3f})"] = majority
    return levels


def accuracy_vs_time(summary: pd.DataFrame, classical: dict | None = None) -> Plot | None:
    metric, label = _metric(summary)
    learned = summary["learned"] if "learned" in summary else pd.Series(None, index=summary.index)
    data = pd.DataFrame({"variant": summary.index, "time_s": summary["epoch_time_s"].values,
                         "acc": summary[f"{metric}_mean"].values, "ci": summary[f"{metric}_ci"].values,
                         "learned": (learned != False).values})  # noqa: E712
    data = data.dropna(subset=["time_s", "acc"]).reset_index(drop=True)
    if data.empty:
        return None
    data["front"] = pareto_front(data["time_s"], data["acc"]) & data["learned"]
    front = ", ".join(data.loc[data["front"]].sort_values("time_s")["variant"])
    hollow = " Hollow points did not learn and are left off the front." if not data["learned"].all() else ""
    return Plot("accuracy-vs-time", "scatter", f"{label.capitalize()} against training time per epoch",
                "median training time per epoch at the tuned sizes (s)", f"{label} (mean over seeds)",
                "Up and to the left is better; numbers follow the leaderboard's order (key on the right). The line "
                "joins the Pareto front: variants that no other variant beats on both accuracy and speed. Bars: "
                f"{LEVEL:.0%} CI over seeds. Dashed lines: the levels named in the legend.{hollow} Times are each "
                "variant's own tuned sizes; the effects table compares times at shared sizes.",
                f"Scatter of {label} against seconds per epoch for {len(data)} variants; Pareto front: {front}.", data,
                {"levels": _lines_for(classical, metric, summary)})


def throughput(summary: pd.DataFrame) -> Plot | None:
    data = pd.DataFrame({"variant": summary.index, "real tokens/s": summary["tokens_per_s"].values,
                         "padded tokens/s": summary["padded_tokens_per_s"].values}).dropna()
    if data.empty:
        return None
    fastest = data.loc[data["real tokens/s"].idxmax(), "variant"]
    return Plot("throughput", "bars", "Training throughput", "variant", "tokens per second (median over seeds)",
                "Real tokens exclude pads; padded tokens count every slot of the padded batch (batch size x longest "
                "text). A padded run does the padded work; a packed run does only the real work, plus the cost of "
                "packing. Compare real tokens/s across variants: that is useful work per second.",
                f"Bar chart of real and padded tokens per second per variant; fastest on real tokens: {fastest}.",
                data)


def memory(summary: pd.DataFrame) -> Plot | None:
    data = pd.DataFrame({"variant": summary.index, "peak MiB": summary["peak_mem_mb"].values,
                         "kind": summary["memory_kind"].values}).dropna(subset=["peak MiB"])
    if data.empty:
        return None
    kinds = ", ".join(sorted(set(data["kind"])))
    return Plot("memory", "bars", "Peak memory per variant", "variant", f"peak memory (MiB, {kinds})",
                f"The highest peak over seeds, measured as {MEASURED.get(kinds, kinds)}. Lower is better.",
                f"Bar chart of peak memory in MiB ({kinds}) per variant; largest: "
                f"{data.loc[data['peak MiB'].idxmax(), 'variant']}.", data)


MEASURED = {  # what each memory kind measured, in words (bench.measure)
    "cuda_allocator_peak": "the CUDA allocator's peak over the run",
    FRESH_KIND: "the resident memory that building the model and training on the run's largest batches adds in a "
                "fresh process (the data, Python and torch themselves excluded)",
    SINCE_START: "the process's peak resident memory since it started: it follows the order the runs ran in, so "
                 "the bars are not each a run's own and are not compared",
}


def confusion(records: list[dict], summary: pd.DataFrame) -> Plot | None:
    """The test confusion matrix of the top-ranked variant that learned (the summary's first, by measure.metric),
    summed over its seeds: each row a true class, as shares of that class's test rows."""
    ranked = [v for v in summary.index if "learned" not in summary or summary.loc[v, "learned"] != False]  # noqa: E712
    runs = [r for r in records if ranked and r["variant"] == ranked[0] and r.get("test_confusion")]
    if not runs:
        return None
    names = runs[0].get("label_names") or [str(i) for i in range(len(runs[0]["test_confusion"]))]
    counts = pd.DataFrame(0, index=names, columns=names)
    for r in runs:
        counts += pd.DataFrame(r["test_confusion"], index=names, columns=names)
    shares = counts.div(counts.sum(axis=1).where(lambda n: n > 0), axis=0).fillna(0.0)
    worst = (shares.values.diagonal()).argmin()
    data = pd.DataFrame([{"true": t, "predicted": p, "share": shares.loc[t, p], "count": int(counts.loc[t, p])}
                         for t in names for p in names])
    return Plot("confusion", "confusion", f"Confusion matrix on test: {ranked[0]}", "predicted class", "true class",
                f"The top-ranked variant's test predictions over its {len(runs)} seed(s): each row is one true "
                "class, split by what the model predicted (shares of that class's rows; the diagonal is each class's "
                f"recall). Its weakest class: {names[worst]} ({shares.values.diagonal()[worst]:.0%} recalled).",
                f"Heat map of {len(names)} by {len(names)} test prediction shares for {ranked[0]}; weakest class "
                f"{names[worst]}.", data, {"classes": names})


def learning_curves(epochs: pd.DataFrame) -> Plot | None:
    if epochs.empty:
        return None
    column, label = ("val_acc", "validation accuracy") if epochs["val_acc"].notna().any() else ("test_acc",
                                                                                              "test accuracy")
    rows = []
    for (variant, epoch), group in epochs.groupby(["variant", "epoch"], sort=False):
        mean, half = mean_ci(group[column].astype(float))
        rows.append({"variant": variant, "epoch": int(epoch), "acc": mean, "ci": half, "seeds": len(group)})
    data = pd.DataFrame(rows).dropna(subset=["acc"])
    if data.empty or data["epoch"].nunique() < 2:  # one epoch is no curve: the running accuracy shows it
        return None
    return Plot("learning-curves", "lines", f"Learning curves: {label} after each epoch", "epoch",
                f"{label} (mean over seeds)",
                f"Each line is one variant at its own hyperparameters; shaded: {LEVEL:.0%} CI over seeds. A line "
                "still rising at the last epoch would gain from more epochs.",
                f"Line chart of {label} per epoch for {data['variant'].nunique()} variants over "
                f"{data['epoch'].max()} epoch(s).", data)


def seed_spread(records: list[dict], order: list[str], levels: dict | None = None) -> Plot | None:
    frame = pd.DataFrame(records)
    column = scored(frame)
    data = frame[["variant", "seed", column]].rename(columns={column: "acc"}).dropna()
    if data.empty:
        return None
    data["variant"] = pd.Categorical(data["variant"], categories=order, ordered=True)
    data = data.sort_values(["variant", "seed"]).reset_index(drop=True)
    data["variant"] = data["variant"].astype(str)
    label = words(column)
    return Plot("seed-spread", "strip", f"Every seed's {label}", label, "variant",
                "One dot per seed, the bar at the mean. Overlapping clouds mean the ranking between those "
                "variants may be seed luck; see the effects table for the test. Dashed lines: the levels named in "
                "the legend.",
                f"Strip plot of {label} per seed for {data['variant'].nunique()} variants.", data,
                {"levels": levels if column == "test_acc" else {}})


def optimization_history(tuning: dict) -> Plot | None:
    rows = []
    for variant, t in tuning.items():
        best = -math.inf
        for trial in t["trials"]:
            value = trial["values"][0] if trial.get("values") else math.nan
            if trial["state"] == "COMPLETE" and not math.isnan(value):
                best = max(best, value)
            rows.append({"variant": variant, "trial": trial["number"], "value": value, "state": trial["state"],
                         "best_so_far": best if best > -math.inf else math.nan})
    data = pd.DataFrame(rows)
    if data.empty or data["value"].isna().all():
        return None
    return Plot("optimization-history", "history", "Optuna optimization history per variant", "trial number",
                "validation accuracy of the trial",
                "Dots: each trial's validation accuracy (pruned and failed trials have none); line: the best so far. "
                "A line still climbing at the last trial means the tuning budget was too small for that variant.",
                f"Small multiples, one per variant ({data['variant'].nunique()}), of trial value and best so far "
                "against trial number.", data)


def importance(tuning: dict) -> Plot | None:
    rows = [{"variant": v, "param": p, "importance": x} for v, t in tuning.items()
            for p, x in sorted(t.get("importance", {}).items())]
    data = pd.DataFrame(rows)
    if data.empty:
        return None
    why = {v: t.get("importance_note") or "fANOVA gave no importances" for v, t in tuning.items()
           if not t.get("importance")}
    return Plot("importance", "heatmap", "Hyperparameter importance (fANOVA) per variant", "hyperparameter",
                "variant",
                "Share of the variance in validation accuracy that each hyperparameter explains, per variant (rows "
                "sum to 1). With few trials this is a rough guide: it says which ranges to tune first, not a law.",
                f"Heat map of fANOVA importance for {data['param'].nunique()} hyperparameters and "
                f"{data['variant'].nunique()} variants.", data, {"missing": why})


def lesson_comparison(summary: pd.DataFrame) -> Plot | None:
    references = [c for c in summary.columns if c.startswith("reference_")]
    rows = []
    for variant, row in summary.iterrows():
        for col in references:
            metric = col.removeprefix("reference_")
            if not pd.isna(row[col]) and f"{metric}_mean" in summary:
                rows.append({"variant": variant, "metric": metric, "lesson": row[col], "ours": row[f"{metric}_mean"]})
    data = pd.DataFrame(rows)
    if data.empty:
        return None
    lesson = list(data.sort_values("lesson", ascending=False)["variant"])
    ours = list(data.sort_values("ours", ascending=False)["variant"])
    order = ("The variants' ordering is the same as the lesson's" if lesson == ours else
             f"The ordering differs: the lesson has {' > '.join(lesson)}; this run has {' > '.join(ours)}")
    return Plot("lesson-vs-ours", "bars", "The lesson's reported figures beside ours", "variant",
                "running train accuracy over the epoch",
                "Left bar: the figure the lesson reports (full 120,000-row split); right bar: this run. With a partial "
                f"split or another budget the heights are not comparable. {order} (one run each side: an ordering of "
                "close bars may be seed luck).",
                "Paired bars of the lesson's and our running train accuracy for "
                f"{len(data)} variants. {order}.", data.rename(columns={"lesson": "lesson (reported)", "ours": "this run"}))


def running_accuracy(curves: pd.DataFrame, summary: pd.DataFrame) -> Plot | None:
    if curves.empty:
        return None
    first = curves.groupby("variant")["seed"].transform("min") == curves["seed"]
    data = curves.loc[first, ["variant", "epoch", "samples_total", "running_acc"]].reset_index(drop=True)
    references = {v: summary.loc[v, "reference_train_acc"] for v in summary.index
                  if "reference_train_acc" in summary and not pd.isna(summary.loc[v, "reference_train_acc"])}
    return Plot("running-accuracy", "lines", "Running train accuracy within each epoch (first seed)",
                "training samples seen", "running train accuracy",
                "Correct predictions over samples seen so far in the epoch, the model still learning: the lesson's "
                "own figure. Dashed lines: the lesson's reported end-of-epoch value, where there is one.",
                f"Line chart of running train accuracy against samples seen for {data['variant'].nunique()} variants.",
                data, {"x": "samples_total", "y": "running_acc", "segment": "epoch", "reference": references,
                       "reference_label": "the lesson's end-of-epoch value"})


def sweep_curve(table: pd.DataFrame, key: str) -> Plot | None:
    """Accuracy against the swept key (e.g. dependency distance), one line per variant."""
    if table.empty:
        return None
    metric, label = _metric(table)
    data = table[["variant", key, f"{metric}_mean", f"{metric}_ci"]].rename(
        columns={key: "x", f"{metric}_mean": "acc", f"{metric}_ci": "ci"}).sort_values(["variant", "x"])
    failed = ""
    if "learned" in table:
        no = table[table["learned"].astype(str) == "False"]
        if not no.empty:
            failed = " Did not learn (not above the majority-class rate by more than its noise): " + "; ".join(
                f"{v} at {key} {', '.join(str(x) for x in sorted(g[key]))}" for v, g in no.groupby("variant", sort=False)
            ) + "."
    return Plot(f"sweep-{key}", "lines", f"{label.capitalize()} against {key}", key.replace("_", " "),
                f"{label} (mean over seeds)",
                f"One line per variant; shaded: {LEVEL:.0%} CI over seeds; each point is a study of its own.{failed}",
                f"Line chart of {label} against {key} for {data['variant'].nunique()} variants.{failed}",
                data.reset_index(drop=True), {"x": "x", "y": "acc"})


def _per_text(table: pd.DataFrame, key: str, tokens: str) -> dict:
    """Median over variants, at each point, of `tokens` per second over samples per second: tokens per text."""
    if not {tokens, "samples_per_s"} <= set(table.columns):
        return {}
    per = (table[tokens] / table["samples_per_s"]).groupby(table[key]).median().dropna()
    return {x: float(v) for x, v in per.items() if v > 0}


# A sweep's cost curves: (summary column, what it is, its unit, figure key)
COSTS = (("epoch_time_s", "time per epoch", "s, median", "time"),            # each variant at its own tuned sizes
         ("timing_step_ms", "time per training step", "ms, shared sizes", "step"),  # every variant at the same sizes
         ("peak_mem_mb", "peak memory", "MiB", "memory"))


SIZES = {"epoch_time_s": " (median over seeds, each variant at its own tuned sizes)",
         "timing_step_ms": " (median step, every variant at the study's shared sizes and batch)"}


def growth(data: pd.DataFrame) -> dict[str, float]:
    """Per variant, the log-log slope of cost against the key from its first to its last point: 1 = linear."""
    slopes = {}
    for variant, group in data.groupby("variant", sort=False):
        group = group[(group["x"] > 0) & (group["y"] > 0)].sort_values("x")
        if len(group) >= 2 and group["x"].iloc[-1] > group["x"].iloc[0]:
            first, last = group.iloc[0], group.iloc[-1]
            slopes[variant] = math.log(last["y"] / first["y"]) / math.log(last["x"] / first["x"])
    return slopes


def sweep_cost(table: pd.DataFrame, key: str, column: str, what: str, unit: str, name: str) -> Plot | None:
    """A cost (time per epoch, step time, peak memory) against a numeric swept key, log-log, one line per variant,
    the caption stating each line's measured growth exponent."""
    if table.empty or column not in table or not pd.api.types.is_numeric_dtype(table[key]):
        return None
    data = table[["variant", key, column]].rename(columns={key: "x", column: "y"}).dropna()
    data = data[data["y"] > 0].sort_values(["variant", "x"]).reset_index(drop=True)
    if data.empty or data["x"].nunique() < 2:
        return None
    slopes = growth(data)
    said = "; ".join(f"{v} {s:.2f}" for v, s in slopes.items())
    real, padded = _per_text(table, key, "tokens_per_s"), _per_text(table, key, "padded_tokens_per_s")
    tokens = ""
    if len(real) >= 2 and len(padded) == len(real):
        tokens = (f" Texts shorter than {key} are not padded up to it. Per text, real tokens read / padded length "
                  "(the longest text of its batch: the steps a recurrent layer runs) were "
                  + ", ".join(f"{real[x]:.0f} / {padded[x]:.0f} at {x:g}" for x in sorted(real)) + ".")
    kind = ""
    if column == "peak_mem_mb" and "memory_kind" in table:
        kind = f" ({_join_kinds(table['memory_kind'])})"
    extra = {"x": "x", "y": "y", "log": True}
    floor = ""
    if column == "epoch_time_s" and "latency_floor_s" in table and table["latency_floor_s"].notna().any():
        extra["floor"] = table[["variant", key, "latency_floor_s"]].rename(
            columns={key: "x", "latency_floor_s": "y"}).dropna().sort_values(["variant", "x"])
        floor = (" Dotted, in each variant's colour: its latency floor (the epoch's dependent steps × one cell step, "
                 "timed alone: bench.floors); the gap above it is what surrounds the recurrence.")
    return Plot(f"sweep-{key}-{name}", "lines", f"{what.capitalize()} against {key}", key.replace("_", " "),
                f"{what} ({unit}){kind}",
                f"Log-log axes, one line per variant{SIZES.get(column, '')}. Growth exponent from the first to the last point (cost ~ "
                f"{key}^k; k = 1 is linear, below 1 a fixed cost still dominates): {said}.{tokens}{floor}"
                + (f" Memory: {MEASURED[kind.strip(' ()')]}." if kind.strip(" ()") in MEASURED else ""),
                f"Line chart of {what} against {key} for {data['variant'].nunique()} variants; exponents: {said}.",
                data, extra)


def _join_kinds(kinds: pd.Series) -> str:
    return ", ".join(sorted({str(k) for k in kinds.dropna()})) or "unknown kind"


def sweep_plots(table: pd.DataFrame, keys: list[str]) -> list[Plot]:
    """A sweep page's figures: accuracy against every swept key that varies, then its cost curves."""
    varying = [k for k in keys if table[k].nunique() > 1]
    built = [sweep_curve(table, k) for k in varying]
    built += [sweep_cost(table, k, *cost) for k in varying for cost in COSTS]
    return [p for p in built if p is not None]


MANY = 6  # more lines than this, with their bands, hide each other on one axes: one panel per variant


def _panelled(plot: Plot) -> Plot:
    """Line figures of many variants become small multiples (bench.report.draw), and their captions say so."""
    if plot.kind == "lines" and "variant" in plot.data and plot.data["variant"].nunique() > MANY:
        plot.extra["panels"] = True
        plot.caption += (f" One panel per variant: {plot.data['variant'].nunique()} lines with their bands would hide "
                         "each other on one axes; the other variants are drawn in grey behind each.")
    return plot


def _say_missing(plot: Plot, order: list[str]) -> Plot:
    """A figure never drops a variant silently: the ones it lacks are named in its caption, with why."""
    if "variant" not in plot.data:
        return plot
    shown = set(plot.data["variant"])
    why = {v: plot.extra.get("missing", {}).get(v, "no data for this figure") for v in order if v not in shown}
    if why:
        said = "; ".join(f"{v} ({reason})" for v, reason in why.items())
        plot.caption += f" Not shown: {said}."
        plot.alt += f" Not shown: {', '.join(why)}."
    return plot


def study_plots(summary: pd.DataFrame, records: list[dict], epochs: pd.DataFrame, curves: pd.DataFrame,
                tuning: dict, classical: dict | None = None, budget: pd.DataFrame | None = None,
                changes: tuple[str | None, list[int]] = (None, [])) -> list[Plot]:
    """Every figure a study's page shows, in reading order."""
    order = list(summary.index)
    metric, _ = _metric(summary)
    tuned = [v for v in order if summary.loc[v, "tuned"]] if "tuned" in summary else order
    built = [accuracy_vs_time(summary, classical), lesson_comparison(summary), running_accuracy(curves, summary),
             learning_curves(epochs), seed_spread(records, order, _lines_for(classical, metric, summary)),
             confusion(records, summary), throughput(summary), memory(summary),
             optimization_history({v: tuning[v] for v in order if v in tuning}),
             tuning_budget(budget if budget is not None else pd.DataFrame(columns=["k"]), changes),
             importance({v: tuning[v] for v in order if v in tuning})]
    learned = [v for v in tuned if summary.loc[v, "learned"] != False] if "learned" in summary else tuned  # noqa: E712
    expected = {"optimization-history": tuned, "importance": tuned, "lesson-vs-ours": [], "tuning-budget": learned}
    return [_panelled(_say_missing(p, expected.get(p.key, order))) for p in built if p is not None]


def tuning_budget(budget: pd.DataFrame, changes: tuple[str | None, list[int]]) -> Plot | None:
    """Expected best validation accuracy after k tuning trials, per variant (bench.report.tables.budget_frame)."""
    if budget.empty or budget["k"].max() < 2:
        return None
    best, ks = changes
    verdict = (f"The leader at the full budget, {best}, also leads at every smaller k: stable." if best and not ks
               else f"The leader at the full budget, {best}, does not lead at k = {', '.join(map(str, ks))}: with "
                    "another tuning budget the ranking changes." if best else "")
    data = budget.rename(columns={"expected_best": "acc"})
    return Plot("tuning-budget", "lines", "Expected best validation accuracy after k tuning trials",
                "tuning trials k", "expected best validation accuracy",
                "Read it as: what the winner of a variant's tuning would score had it been given only k trials "
                "(Dodge et al. 2019; Tang et al. 2020's unbiased estimator over the trials run; a pruned trial counts "
                f"at the best epoch it reached; variants that did not learn are left out). Every variant's tuner has the same seed, so its first, random trials try the same configurations. Bands: {LEVEL:.0%} bootstrap over the trials. Curves that cross mean "
                f"the ranking depends on the tuning budget; beyond the trials run nothing is known. {verdict}",
                f"Lines of expected best validation accuracy against k tuning trials for {data['variant'].nunique()} "
                f"variants. {verdict}", data, {"x": "k", "y": "acc"})
