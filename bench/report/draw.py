"""Draw a bench.report.plots.Plot with matplotlib, as SVG text (inline in the page, crisp when printed).

Drawing only: every number comes from the Plot's data. The output is deterministic (no date, a fixed
hash salt), so re-rendering the same records writes the same page.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import BinaryIO

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bench import store
from bench.report.plots import Plot

# The figures' style, applied inside matplotlib.rc_context only. Figures are made as matplotlib.figure.Figure, not
# through pyplot: no backend is chosen and no global setting changes in the caller's process (a notebook keeps its
# own backend and rcParams after bench.run_study or bench.load).
STYLE = {"svg.fonttype": "none", "svg.hashsalt": "rnnbench", "font.size": 9, "axes.titlesize": 10,
         "axes.grid": True, "grid.alpha": 0.3}
WIDTH = 7.0  # inches


def _bars(ax, plot: Plot) -> None:
    data = plot.data
    series = [c for c in data.columns if c not in ("variant", "kind", "metric")]
    width = 0.8 / len(series)
    x = range(len(data))
    for i, column in enumerate(series):
        ax.bar([p + (i - (len(series) - 1) / 2) * width for p in x], data[column], width, label=column)
    ax.set_xticks(list(x), data["variant"], rotation=30, ha="right")
    if len(series) > 1:
        _legend(ax)


def _legend(ax, **more) -> None:
    """The key beside the axes, never over the data."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **more)


LEVEL_STYLES = [("tab:green", "--"), ("tab:gray", ":"), ("tab:purple", "-.")]


def _levels(ax, plot: Plot, vertical: bool = False) -> None:
    """Labelled reference levels (the classical model, the majority-class rate) as dashed lines."""
    for (label, value), (color, style) in zip(plot.extra.get("levels", {}).items(), LEVEL_STYLES):
        (ax.axvline if vertical else ax.axhline)(value, color=color, linestyle=style, linewidth=1.2, label=label)


def _scatter(ax, plot: Plot) -> None:
    data = plot.data
    ci = data["ci"].fillna(0)
    learned = data["learned"] if "learned" in data else pd.Series(True, index=data.index)
    for ok, part in data.groupby(learned, sort=False):
        ax.errorbar(part["time_s"], part["acc"], yerr=ci[part.index], fmt="o", color="tab:blue",
                    mfc="tab:blue" if ok else "white", ecolor="tab:gray", capsize=3,
                    label=None if ok else "did not learn")
    _levels(ax, plot)
    front = data[data["front"]].sort_values("time_s")
    # the front as a staircase through ringed points: a one-point front (fastest and most accurate) still shows
    ax.plot(front["time_s"], front["acc"], drawstyle="steps-post", color="tab:red", marker="o", markersize=11,
            markerfacecolor="none", label="Pareto front")
    # numbers, not names, beside the points (names collide when variants cluster): points closer than a label's
    # size share one label, "1,4"; the key to the numbers heads the legend
    ax.autoscale_view()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    spots: list[tuple[float, float, list[str]]] = []
    for rank, (_, row) in enumerate(data.iterrows(), 1):
        x, y = (row["time_s"] - x0) / ((x1 - x0) or 1), (row["acc"] - y0) / ((y1 - y0) or 1)
        near = next((s for s in spots if abs(s[0] - x) < 0.12 and abs(s[1] - y) < 0.06), None)
        if near:
            near[2].append(str(rank))
        else:
            spots.append((x, y, [str(rank)]))
    for x, y, ranks in spots:
        right = x > 0.8  # near the right edge the label goes left of its point, inside the axes
        ax.annotate(",".join(ranks), (x0 + x * (x1 - x0), y0 + y * (y1 - y0)), fontsize=7,
                    xytext=(-5 if right else 5, 3), ha="right" if right else "left", textcoords="offset points")
    key = "\n".join(f"{rank:>2}  {name}" for rank, name in enumerate(data["variant"], 1))
    _legend(ax, title=key, title_fontproperties={"family": "monospace", "size": 7}, alignment="left")


# Lines that coincide (two variants with the same curve) must both stay visible: each variant gets its own marker
# and dash pattern as well as its colour, and later lines are drawn thinner over earlier ones.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DASHES = ("-", "--", "-.", ":")


def _lines(ax, plot: Plot, legend: bool = True) -> None:
    x, y = plot.extra.get("x", "epoch"), plot.extra.get("y", "acc")
    segment = plot.extra.get("segment")
    for i, (variant, group) in enumerate(plot.data.groupby("variant", sort=False)):
        color = None
        style = {"marker": MARKERS[i % len(MARKERS)], "linestyle": DASHES[(i // len(MARKERS)) % len(DASHES)],
                 "markersize": 6 - min(i, 3), "linewidth": 2.2 - 0.3 * min(i, 4), "markerfacecolor": "none"}
        parts = group.groupby(segment, sort=False) if segment else [(None, group)]
        for _, part in parts:  # a running count restarts each epoch: one segment each
            line = ax.plot(part[x], part[y], color=color, label=None if color else variant,
                           markevery=max(1, len(part) // 12), **style)
            color = line[0].get_color()
            if "ci" in part and part["ci"].notna().any():
                ax.fill_between(part[x], part[y] - part["ci"], part[y] + part["ci"], color=color, alpha=0.15)
            elif "low" in part and part["low"].notna().any():  # an asymmetric band (a bootstrap's)
                ax.fill_between(part[x], part["low"], part["high"], color=color, alpha=0.12)
        floor = plot.extra.get("floor")
        if floor is not None and (floor["variant"] == variant).any():
            under = floor[floor["variant"] == variant]
            ax.plot(under["x"], under["y"], color=color, linestyle=":", linewidth=1.2,
                    label="latency floor (dotted)" if i == 0 else None)
        reference = plot.extra.get("reference", {}).get(variant)
        if reference is not None:
            ax.axhline(reference, color=color, linestyle="--", linewidth=1,
                       label=f"{variant}: {plot.extra.get('reference_label', 'reference')} ({reference:.3f})")
    if plot.extra.get("log"):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        values = sorted(plot.data[x].unique())
        if len(values) <= 12:
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.minorticks_off()
    elif plot.data[x].nunique() <= 12 and plot.data[x].dtype.kind in "iu":  # epochs, trials: whole numbers
        ax.set_xticks(sorted(plot.data[x].unique()))
    _levels(ax, plot)
    if legend:
        _legend(ax)


def _grid(fig, plot: Plot):
    """One small panel per variant (three across), sharing the axes; the variants and the panels in use."""
    variants = list(dict.fromkeys(plot.data["variant"]))
    cols = min(3, len(variants))
    rows = math.ceil(len(variants) / cols)
    fig.set_size_inches(WIDTH, 1.9 * rows + 0.8)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    for ax in axes.flat[len(variants):]:
        ax.set_visible(False)
    fig.supxlabel(plot.xlabel)
    fig.supylabel(plot.ylabel)
    fig.suptitle(plot.title)
    return variants, list(axes.flat[:len(variants)])


def _panels(fig, plot: Plot) -> None:
    """Small multiples: each variant in colour with its band, the others faint grey behind it for comparison."""
    x, y = plot.extra.get("x", "epoch"), plot.extra.get("y", "acc")
    segment = plot.extra.get("segment")
    variants, axes = _grid(fig, plot)
    for ax, variant in zip(axes, variants):
        for other, group in plot.data.groupby("variant", sort=False):
            for _, part in (group.groupby(segment, sort=False) if segment else [(None, group)]):
                if other != variant:
                    ax.plot(part[x], part[y], color="0.8", linewidth=0.8)
        _lines(ax, Plot(**{**plot.__dict__, "data": plot.data[plot.data["variant"] == variant]}), legend=False)
        ax.set_title(variant, fontsize=8)
        ax.set_xlabel("")
    if plot.extra.get("levels") or plot.extra.get("reference"):
        _legend(axes[min(2, len(axes) - 1)])


def _strip(ax, plot: Plot) -> None:
    variants = list(dict.fromkeys(plot.data["variant"]))
    for i, variant in enumerate(variants):
        values = plot.data.loc[plot.data["variant"] == variant, "acc"]
        jitter = [0.15 * ((k % 5) - 2) / 2 for k in range(len(values))]
        ax.scatter(values, [i + j for j in jitter], color="tab:blue", s=18, zorder=3)
        ax.plot([values.mean()] * 2, [i - 0.3, i + 0.3], color="tab:red")
    _levels(ax, plot, vertical=True)
    if plot.extra.get("levels"):
        _legend(ax)
    ax.set_yticks(range(len(variants)), variants)
    ax.invert_yaxis()


def _heatmap(ax, plot: Plot) -> None:
    table = plot.data.pivot_table(index="variant", columns="param", values="importance", sort=False).fillna(0)
    image = ax.imshow(table.values, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(table.columns)), table.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(table.index)), table.index)
    for (r, c), value in zip(((r, c) for r in range(table.shape[0]) for c in range(table.shape[1])), table.values.flat):
        ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white" if value < 0.6 else "black")
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label="importance (share of variance)")


def _history(fig, plot: Plot) -> None:
    variants, axes = _grid(fig, plot)
    for ax, variant in zip(axes, variants):
        group = plot.data[plot.data["variant"] == variant]
        ax.scatter(group["trial"], group["value"], s=12, color="tab:blue")
        ax.plot(group["trial"], group["best_so_far"], color="tab:red", drawstyle="steps-post")
        ax.set_title(variant, fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


DRAW = {"bars": _bars, "scatter": _scatter, "lines": _lines, "strip": _strip, "heatmap": _heatmap}


def _drawn(plot: Plot):
    """The matplotlib figure of a Plot (the caller closes it)."""
    fig = Figure(figsize=(WIDTH, 4.0))
    FigureCanvasAgg(fig)  # its own canvas: pyplot's backend is never chosen
    if plot.kind == "history":
        _history(fig, plot)
    elif plot.extra.get("panels"):
        _panels(fig, plot)
    else:
        ax = fig.subplots()
        if plot.kind == "strip" or plot.kind == "heatmap":
            fig.set_size_inches(WIDTH, max(2.5, 0.9 + 0.35 * plot.data["variant"].nunique()))
        DRAW[plot.kind](ax, plot)
        ax.set_title(plot.title)
        ax.set_xlabel(plot.xlabel)
        ax.set_ylabel(plot.ylabel)
    fig.tight_layout()
    return fig


def svg(plot: Plot, png: BinaryIO | None = None) -> str:
    """The figure as SVG text; with `png`, also written there as a PNG (150 dpi, for slides and papers)."""
    with matplotlib.rc_context(STYLE):
        fig = _drawn(plot)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
        if png is not None:
            fig.savefig(png, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
        return buffer.getvalue()


def data_uri(svg_text: str) -> str:
    """An <img src> that needs no file and no network."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg_text.encode()).decode()


FIGURES = "figures"  # beside index.html: every figure of the page as <key>.svg and <key>.png


def export(plots: list[Plot], out: Path | None) -> dict[str, str]:
    """Draw every plot once: {key: SVG text} for the page, and (with `out`) out/figures/<key>.svg and .png, named
    by what each shows (the page's figure ids); files of figures the page no longer has are removed."""
    folder = None if out is None else out / FIGURES
    drawn: dict[str, str] = {}
    try:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        for plot in plots:
            if folder is None:
                drawn[plot.key] = svg(plot)
                continue
            with store.atomic(folder / f"{plot.key}.png") as png:  # store.atomic: no temporary file is left behind
                drawn[plot.key] = svg(plot, png)
            with store.atomic(folder / f"{plot.key}.svg") as f:
                f.write(drawn[plot.key].encode("utf-8"))
        for old in folder.iterdir() if folder is not None else []:
            if old.suffix in (".svg", ".png") and old.stem not in drawn:
                old.unlink(missing_ok=True)
    except OSError as e:  # a full or read-only disk: one line
        raise store.cannot_write(folder, e) from None
    return drawn
