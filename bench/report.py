"""Tables and the HTML page, rebuilt from stored records alone (this module never imports torch).

    python -m bench.report study=packing          # re-render reports/packing/
    python -m bench.report out=path/to/results    # or any output folder

Writes results.csv (one row per run), curves.csv (running accuracy), summary.csv (one row per
variant) and a self-contained index.html; returns the console table.
"""

from __future__ import annotations

import base64
import html
import io
import json
import sys
from pathlib import Path

import pandas as pd

from bench import store

LIST_COLUMNS = ("history", "curve")  # in records.jsonl and curves.csv; too long for a CSV cell


def results_frame(records: list[dict]) -> pd.DataFrame:
    """One row per run; nested fields become JSON text so the CSV stays flat."""
    rows = [{k: json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v
             for k, v in r.items() if k not in LIST_COLUMNS} for r in records]
    return pd.DataFrame(rows)


def curves_frame(records: list[dict]) -> pd.DataFrame:
    rows = [{"variant": r["variant"], "seed": r["seed"], "epoch": e, "samples": n, "running_acc": acc,
             "samples_total": (e - 1) * r["train_rows"] + n, "partial_data": r["partial_data"]}
            for r in records for e, n, acc in r["curve"]]
    return pd.DataFrame(rows, columns=["variant", "seed", "epoch", "samples", "running_acc", "samples_total",
                                       "partial_data"])


def summarize(records: list[dict], reference: dict | None = None) -> pd.DataFrame:
    """One row per variant (first-seen order): accuracy mean and sd over seeds, median speed, peak memory."""
    frame = pd.DataFrame(records)
    order = list(dict.fromkeys(frame["variant"]))
    grouped = frame.groupby("variant", sort=False)
    summary = pd.DataFrame({
        "seeds": grouped["seed"].count(),
        **{f"{m}_{s}": grouped[m].agg(s) for m in ("train_acc", "val_acc", "test_acc") for s in ("mean", "std")},
        "epoch_time_s": grouped["epoch_time_s"].median(),
        "samples_per_s": grouped["samples_per_s"].median(),
        "tokens_per_s": grouped["tokens_per_s"].median(),
        "padded_tokens_per_s": grouped["padded_tokens_per_s"].median(),
        "pad_fraction": grouped["pad_fraction"].median(),
        "peak_mem_mb": grouped["peak_mem_mb"].max(),
        "memory_kind": grouped["memory_kind"].first(),
        "eval_latency_ms": grouped["eval_latency_ms"].median(),
        "params": grouped["params"].first(),
        "budget": grouped["budget"].first(),
        "partial_data": grouped["partial_data"].any(),
    }).loc[order]
    for variant, figures in (reference or {}).items():
        for metric, value in figures.items():
            summary.loc[summary.index == variant, f"reference_{metric}"] = value
    return summary


def _acc(mean: float, sd: float) -> str:
    if pd.isna(mean):
        return "-"
    return f"{mean:.4f}" if pd.isna(sd) else f"{mean:.4f} ± {sd:.4f}"


def display(summary: pd.DataFrame) -> pd.DataFrame:
    """The human table: formatted strings, units in the headers."""
    shown = pd.DataFrame(index=summary.index)
    shown["seeds"] = summary["seeds"]
    for m in ("train_acc", "val_acc", "test_acc"):
        shown[m] = [_acc(a, b) for a, b in zip(summary[f"{m}_mean"], summary[f"{m}_std"])]
    for col in [c for c in summary.columns if c.startswith("reference_")]:
        shown[col.replace("reference_", "ref ")] = summary[col].map(lambda v: "-" if pd.isna(v) else f"{v:.3f}")
    shown["epoch s"] = summary["epoch_time_s"].map("{:.2f}".format)
    shown["samples/s"] = summary["samples_per_s"].map("{:,.0f}".format)
    shown["tokens/s"] = summary["tokens_per_s"].map("{:,.0f}".format)
    shown["padded tok/s"] = summary["padded_tokens_per_s"].map("{:,.0f}".format)
    shown["pad %"] = (100 * summary["pad_fraction"]).map("{:.1f}".format)
    shown["peak MiB"] = summary["peak_mem_mb"].map("{:,.1f}".format)
    shown["eval ms/batch"] = summary["eval_latency_ms"].map(lambda v: "-" if pd.isna(v) else f"{v:.2f}")
    shown["params"] = summary["params"].map("{:,}".format)
    shown.index.name = "variant"
    return shown


def tuning_frame(tuning: dict) -> pd.DataFrame:
    """One row per tuned variant: best validation accuracy, winning params, edge flags, importances."""
    rows = []
    for variant, t in tuning.items():
        states = pd.Series([trial["state"] for trial in t["trials"]]).value_counts().to_dict()
        top = sorted(t["importance"].items(), key=lambda kv: -kv[1])[:3]
        rows.append({"variant": variant, "budget": t.get("budget"), "best_val_acc": t["best_value"],
                     "trials": ", ".join(f"{n} {s.lower()}" for s, n in states.items()),
                     "best_params": ", ".join(f"{k}={_short(v)}" for k, v in sorted(t["best"].items())),
                     "on_edge": ", ".join(t["edges"]) or "-",
                     "importance": ", ".join(f"{k} {v:.2f}" for k, v in top) or t.get("importance_note", "-"),
                     "pareto_front": len(t["front"]) or "-"})
    return pd.DataFrame(rows).set_index("variant") if rows else pd.DataFrame()


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _curve_png(curves: pd.DataFrame) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for variant, group in curves.groupby("variant", sort=False):
        first = group[group["seed"] == group["seed"].min()]
        line = None
        for _, part in first.groupby("epoch"):  # the running count restarts each epoch: one segment each
            line = ax.plot(part["samples_total"], part["running_acc"], marker=".",
                           color=line[0].get_color() if line else None, label=None if line else variant)
    ax.set_xlabel("training samples seen")
    ax.set_ylabel("running train accuracy")
    ax.set_title("running train accuracy within each epoch (first seed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def banner(records: list[dict]) -> list[str]:
    """Lines every output starts with: partial data, the environment."""
    first = records[0]
    lines = [f"data: {first['dataset']}, {first['dataset_rows']:,} train rows read, {first['test_rows']:,} test rows; "
             f"used train {first['train_rows']:,} / val {first['val_rows']:,} / test {first['test_rows']:,}"]
    if any(r["partial_data"] for r in records):
        lines.insert(0, "PARTIAL DATA: the training split is not the full dataset; "
                        "figures are not comparable with published results")
    budgets = sorted({str(r.get("budget")) for r in records})
    tuned = any(r.get("tuned") for r in records)
    lines.append(f"budget: {', '.join(budgets)}; hyperparameters "
                 + ("tuned per variant on validation accuracy (see tuning)" if tuned else "fixed, not tuned"))
    devices = sorted({f"{r['device_name']} ({r['device']}), torch {r['torch_version']}" for r in records})
    lines.append("device: " + "; ".join(devices))
    kinds = sorted({r["memory_kind"] for r in records})
    lines.append("memory: " + ", ".join(kinds) + " (CPU figures are the whole process's peak RSS)")
    return lines


def _html(study: dict, lines: list[str], shown: pd.DataFrame, png: str | None, tuning: pd.DataFrame) -> str:
    title = f"rnnbench: {study.get('name', 'study')}"
    notes = "".join(f"<p class='{'warn' if l.startswith('PARTIAL') else 'note'}'>{html.escape(l)}</p>" for l in lines)
    image = f"<h2>Running accuracy</h2><img alt='running accuracy curves' src='data:image/png;base64,{png}'>" if png else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:75em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}} .warn{{background:#fee;padding:.5em;font-weight:bold}}
.note{{color:#444}} pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head><body>
<h1>{html.escape(title)}</h1><p><em>{html.escape(study.get('description', ''))}</em></p>
{notes}<h2>Results</h2>{shown.to_html(escape=True)}
<p class="note">Accuracies are mean ± sd over seeds; times are medians over epochs and seeds.
train_acc is the running accuracy of the last epoch (the lesson's figure), not a held-out score.</p>
{_tuning_html(tuning)}{image}<h2>Configuration</h2><pre>{html.escape(json.dumps(study, indent=2, sort_keys=True, default=str))}</pre>
</body></html>
"""


def _tuning_html(tuning: pd.DataFrame) -> str:
    if tuning.empty:
        return ""
    return ("<h2>Tuning</h2><p class='note'>Each variant got the same Optuna budget on validation accuracy; "
            "a parameter listed under on_edge won at the end of its range: widen that range. importance is "
            "fANOVA's share of the variance in validation accuracy.</p>" + tuning.to_html(escape=True))


def render(out: Path) -> str:
    """Write results.csv, curves.csv, summary.csv and index.html into `out`; return the console text."""
    records, study = store.load(out), store.load_study(out)
    if not records:
        return f"no records in {out} yet"
    summary = summarize(records, study.get("reference"))
    shown = display(summary)
    curves = curves_frame(records)
    tuning = tuning_frame(store.load_tuning(out))
    lines = banner(records)
    store.write_atomic(out / "results.csv", results_frame(records).to_csv(index=False))
    store.write_atomic(out / "curves.csv", curves.to_csv(index=False))
    store.write_atomic(out / "summary.csv", summary.to_csv(index_label="variant"))
    store.write_atomic(out / "index.html", _html(study, lines, shown, _curve_png(curves) if len(curves) else None,
                                                     tuning))
    text = lines + ["", shown.to_string()]
    if not tuning.empty:
        text += ["", "tuning:", tuning[["best_val_acc", "trials", "on_edge", "best_params"]].to_string()]
    return "\n".join(text)


def render_sweep(out: Path) -> str:
    """One table across a sweep's sub-studies (see bench.run.sweep): test accuracy per variant and point."""
    points = json.loads((out / "sweep.json").read_text())
    frames = []
    for slug, point in points.items():
        if (out / slug / store.RECORDS).is_file():
            render(out / slug)
            summary = pd.read_csv(out / slug / "summary.csv")
            frames.append(summary.assign(**{k.split(".")[-1]: v for k, v in point.items()}, point=slug))
    if not frames:
        return f"no records under {out} yet"
    table = pd.concat(frames, ignore_index=True)
    store.write_atomic(out / "summary.csv", table.to_csv(index=False))
    pivot = table.pivot_table(index="variant", columns="point", values="test_acc_mean", sort=False)
    links = "".join(f"<li><a href='{html.escape(s)}/index.html'>{html.escape(s)}</a></li>" for s in points)
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>rnnbench sweep</title></head><body>"
            f"<h1>rnnbench sweep: {html.escape(out.name)}</h1><p>test accuracy, mean over seeds</p>"
            f"{pivot.to_html(float_format='{:.4f}'.format)}<ul>{links}</ul></body></html>")
    store.write_atomic(out / "index.html", page)
    return "test accuracy (mean over seeds) across the sweep:\n" + pivot.to_string(float_format="{:.4f}".format)


def main(argv: list[str] | None = None) -> int:
    from bench.config import parse_overrides
    from bench.errors import BenchError

    try:
        args = parse_overrides(sys.argv[1:] if argv is None else argv)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args["out"]) if args.get("out") else Path("reports") / str(args.get("study", ""))
    if (out / "sweep.json").is_file():
        print(render_sweep(out))
        return 0
    if not (out / store.RECORDS).is_file():
        print(f"error: no records in '{out}': give study=NAME (reports/NAME) or out=FOLDER of a finished run",
              file=sys.stderr)
        return 2
    print(render(out))
    print(f"\nwrote {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
