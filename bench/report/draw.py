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
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from scipy.cluster.hierarchy import fcluster, linkage

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
    key = "\n".join(f"{rank:>2}  {name}" for rank, name in enumerate(data["variant"], 1))
    _legend(ax, title=key, title_fontproperties={"family": "monospace", "size": 7}, alignment="left")
    ax.figure.tight_layout()  # labels are placed in the final axes: the page's layout keeps them where they are
    _number_points(ax, data)


OVERPRINT = 6.0  # points (1/72 in): markers whose centres are closer than a diameter overprint, and share a label
RINGS = (5.0, 11.0, 18.0, 28.0, 42.0)  # offsets (points) tried for a label, nearest first
FAR = (56.0, 72.0, 96.0, 128.0)  # then, its line naming its points, any free spot out to these
TURNS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))


def _number_points(ax, data: pd.DataFrame) -> None:
    """Every point numbered in the leaderboard's order, each number at the points it names: points that overprint
    (complete linkage, so every two in a group are closer than OVERPRINT) share one label, "1,4"; the Pareto
    front's labels are placed first; each goes to the nearest spot around its points that covers no point and no
    other label, stays inside the axes, and has its own points nearest to it, with a thin line back to them when
    it had to move off."""
    fig = ax.figure
    scale = fig.dpi / 72  # points -> pixels
    xy = ax.transData.transform(data[["time_s", "acc"]].to_numpy(float))
    groups = (fcluster(linkage(xy, "complete"), OVERPRINT * scale, "distance") if len(xy) > 1 else np.ones(1, int))
    members = [list(np.flatnonzero(groups == g)) for g in dict.fromkeys(groups)]
    members.sort(key=lambda m: (not data["front"].iloc[m].any(), m[0]))
    renderer = fig.canvas.get_renderer()
    frame, taken, dot = ax.get_window_extent(renderer), [], 5.5 * scale  # the front's ring, a radius
    for group in members:
        at = ax.transData.inverted().transform(xy[group].mean(axis=0))
        label = ax.annotate(",".join(str(i + 1) for i in group), at, xytext=(0, 0), textcoords="offset points",
                            fontsize=7)
        spot = next((s for s in _spots() if _free(label, s, group, xy, taken, frame, dot, renderer)), None)
        if spot is None or spot[0] > RINGS[1]:  # moved off: a thin line says which points it names
            spot = spot or next((s for s in _spots(FAR) if _free(label, s, None, xy, taken, frame, dot, renderer)),
                                _spots()[0])
            label.remove()
            label = ax.annotate(label.get_text(), at, xytext=(0, 0), textcoords="offset points", fontsize=7,
                                arrowprops={"arrowstyle": "-", "color": "0.5", "linewidth": 0.6, "shrinkB": dot})
            _place(label, spot)
        taken.append(_box(label, renderer))


def _spots(rings: tuple[float, ...] = RINGS) -> list[tuple[float, int, int]]:
    return [(radius, dx, dy) for radius in rings for dx, dy in TURNS]


def _place(label, spot: tuple[float, int, int]) -> None:
    radius, dx, dy = spot
    label.set_position((dx * radius, dy * radius))
    label.set_horizontalalignment("left" if dx > 0 else "right" if dx < 0 else "center")
    label.set_verticalalignment("bottom" if dy > 0 else "top" if dy < 0 else "center")


def _free(label, spot, group: list[int] | None, xy, taken: list, frame, dot: float, renderer) -> bool:
    """Whether `label` at `spot` stays inside the axes, covers no point and no placed label, and (with `group`)
    has one of its own points nearest to it."""
    _place(label, spot)
    box = _box(label, renderer)
    gaps = [_gap(box, p) for p in xy]
    return (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            and min(gaps) > dot and (group is None or int(np.argmin(gaps)) in group)
            and not any(box.overlaps(t) for t in taken))


def _box(label, renderer):
    """The label's text alone (an Annotation's own extent takes in its line)."""
    label.update_positions(renderer)
    return Text.get_window_extent(label, renderer)


def _gap(box, point) -> float:
    """Pixels from a label's box to a point (0 inside it)."""
    return math.hypot(max(box.x0 - point[0], 0, point[0] - box.x1), max(box.y0 - point[1], 0, point[1] - box.y1))


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


def _confusion(ax, plot: Plot) -> None:
    names = plot.extra["classes"]
    table = plot.data.pivot(index="true", columns="predicted", values="share").loc[names, names]
    counts = plot.data.pivot(index="true", columns="predicted", values="count").loc[names, names]
    image = ax.imshow(table.values, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    if len(names) <= 12:  # each cell's share and count, legible up to a dozen classes
        for (r, c), share in zip(((r, c) for r in range(len(names)) for c in range(len(names))), table.values.flat):
            ax.text(c, r, f"{share:.0%}\n{int(counts.values[r, c])}", ha="center", va="center", fontsize=7,
                    color="white" if share > 0.6 else "black")
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label="share of the true class's rows")


def _history(fig, plot: Plot) -> None:
    variants, axes = _grid(fig, plot)
    for ax, variant in zip(axes, variants):
        group = plot.data[plot.data["variant"] == variant]
        ax.scatter(group["trial"], group["value"], s=12, color="tab:blue")
        ax.plot(group["trial"], group["best_so_far"], color="tab:red", drawstyle="steps-post")
        ax.set_title(variant, fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


DRAW = {"bars": _bars, "scatter": _scatter, "lines": _lines, "strip": _strip, "heatmap": _heatmap,
        "confusion": _confusion}


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
        if plot.kind == "confusion":
            side = min(7.0, 2.5 + 0.45 * len(plot.extra["classes"]))
            fig.set_size_inches(side + 1.5, side)
        if plot.kind == "strip" or plot.kind == "heatmap":
            fig.set_size_inches(WIDTH, max(2.5, 0.9 + 0.35 * plot.data["variant"].nunique()))
        ax.set_title(plot.title)  # before drawing: the scatter places its labels in the finished layout
        ax.set_xlabel(plot.xlabel)
        ax.set_ylabel(plot.ylabel)
        DRAW[plot.kind](ax, plot)
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
