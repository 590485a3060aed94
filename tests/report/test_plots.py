"""Figures as data: what each Plot holds, never its pixels (bench.report.draw is smoke-tested once)."""

import pandas as pd
import pytest

from bench.report import draw, plots, tables

from .conftest import record


def _summary(records):
    return tables.summarize(records, reference={"lstm-padded-l1": {"train_acc": 0.77}})


def _records():
    return [record("lstm-padded-l1", s, test_acc=0.5 + s / 100, epoch_times_s=[1.0]) for s in range(2)] + \
           [record("lstm-packed-l1", s, test_acc=0.8 + s / 100, epoch_times_s=[3.0]) for s in range(2)] + \
           [record("gru-packed-l1", s, test_acc=0.7, epoch_times_s=[4.0]) for s in range(2)]


def test_pareto_front_keeps_only_undominated_points():
    time = pd.Series([1.0, 3.0, 4.0, 2.0])
    acc = pd.Series([0.5, 0.8, 0.7, 0.5])
    assert list(plots.pareto_front(time, acc)) == [True, True, False, False]


def test_accuracy_vs_time_holds_means_cis_and_front():
    plot = plots.accuracy_vs_time(_summary(_records()))
    data = plot.data.set_index("variant")
    assert data.loc["lstm-packed-l1", "acc"] == pytest.approx(0.805) and data.loc["gru-packed-l1", "time_s"] == 4.0
    assert list(data["front"]) == [True, False, True]  # gru is slower and less accurate than packed lstm
    assert "(s)" in plot.xlabel and "lstm-padded-l1" in plot.alt and plot.caption


def test_every_plot_has_title_labels_caption_alt():
    records = _records()
    summary = _summary(records)
    tuning = {"lstm-packed-l1": {"trials": [{"number": 0, "state": "COMPLETE", "values": [0.6]},
                                            {"number": 1, "state": "PRUNED", "values": None},
                                            {"number": 2, "state": "COMPLETE", "values": [0.7]}],
                                 "importance": {"lr": 0.8, "batch_size": 0.2}}}
    built = plots.study_plots(summary, records, tables.epochs_frame(records), tables.curves_frame(records), tuning)
    keys = [p.key for p in built]
    assert keys == ["accuracy-vs-time", "lesson-vs-ours", "running-accuracy", "learning-curves", "seed-spread",
                    "throughput", "memory", "optimization-history", "importance"]
    for plot in built:
        assert plot.title and plot.xlabel and plot.ylabel and plot.caption and plot.alt and not plot.data.empty
    history = next(p for p in built if p.key == "optimization-history").data
    assert list(history["best_so_far"]) == [0.6, 0.6, 0.7]
    assert history["value"].isna().tolist() == [False, True, False]
    lesson = next(p for p in built if p.key == "lesson-vs-ours").data
    assert lesson.to_dict("records") == [{"variant": "lstm-padded-l1", "metric": "train_acc",
                                          "lesson (reported)": 0.77, "this run": 0.5}]


def test_learning_curves_average_seeds_per_epoch():
    records = [record("rnn-packed-l1", 0, val_acc=0.6), record("rnn-packed-l1", 1, val_acc=0.8)]
    data = plots.learning_curves(tables.epochs_frame(records)).data
    assert list(data["epoch"]) == [1, 2] and list(data["acc"]) == pytest.approx([0.6, 0.7])
    one_epoch = [record("rnn-packed-l1", 0, history=[{"epoch": 1, "train_loss": 1, "running_acc": 0.5,
                                                       "val_acc": 0.5, "test_acc": 0.5, "time_s": 1, "samples": 9,
                                                       "real_tokens": 9, "padded_tokens": 9}])]
    assert plots.learning_curves(tables.epochs_frame(one_epoch)) is None


def test_absent_data_means_no_plot():
    assert plots.optimization_history({}) is None and plots.importance({}) is None
    assert plots.lesson_comparison(tables.summarize(_records())) is None


def test_draw_writes_deterministic_svg_for_every_kind():
    records = _records()
    summary = _summary(records)
    tuning = {"lstm-packed-l1": {"trials": [{"number": 0, "state": "COMPLETE", "values": [0.6]}],
                                 "importance": {"lr": 1.0}}}
    for plot in plots.study_plots(summary, records, tables.epochs_frame(records), tables.curves_frame(records),
                                  tuning):
        first = draw.svg(plot)
        assert first.lstrip().startswith("<?xml") and "<svg" in first and plot.title in first
        assert draw.svg(plot) == first, f"{plot.key} is not deterministic"


def test_figures_name_the_variants_they_lack_and_draw_the_reference_levels():
    records = [{**r, "majority_acc": 0.25, "tuned": True} for r in _records()]
    summary = tables.summarize(records)
    tuning = {"lstm-packed-l1": {"trials": [{"number": 0, "state": "COMPLETE", "values": [0.6]}],
                                 "importance": {"lr": 1.0}},
              "gru-packed-l1": {"trials": [{"number": 0, "state": "COMPLETE", "values": [0.6]}], "importance": {},
                                "importance_note": "every trial tied: nothing to attribute"}}
    built = {p.key: p for p in plots.study_plots(summary, records, tables.epochs_frame(records),
                                                 tables.curves_frame(records), tuning, {"test_acc": 0.867})}
    heat = built["importance"]
    assert "Not shown: gru-packed-l1 (every trial tied: nothing to attribute); lstm-padded-l1 (no data for this " \
           "figure)." in heat.caption
    scatter = built["accuracy-vs-time"]
    assert scatter.extra["levels"] == {"TF-IDF + LR reference (0.867)": 0.867, "majority class (0.250)": 0.25}
    assert built["seed-spread"].extra["levels"] == scatter.extra["levels"]
    svg = draw.svg(scatter)
    assert "TF-IDF + LR reference (0.867)" in svg and "majority class (0.250)" in svg  # labelled in the legend


def _sweep_table() -> pd.DataFrame:
    rows = []
    for variant, power in (("lstm-packed-l1", 1.0), ("bag", 0.5)):
        for max_len in (64, 256, 1024):
            rows.append({"variant": variant, "max_len": max_len, "test_acc_mean": 0.6 + max_len / 1e4,
                         "test_acc_ci": 0.01, "epoch_time_s": 2.0 * (max_len / 64) ** power,
                         "timing_step_ms": 10.0 * (max_len / 64) ** power, "peak_mem_mb": 500 + max_len,
                         "memory_kind": "cpu_fresh_process_peak_rise",
                         "latency_floor_s": 1.0 * (max_len / 64) if variant != "bag" else None})
    return pd.DataFrame(rows)


def test_sweep_cost_curves_state_the_measured_growth_exponent():
    figures = plots.sweep_plots(_sweep_table(), ["max_len"])
    assert [p.key for p in figures] == ["sweep-max_len", "sweep-max_len-time", "sweep-max_len-step",
                                        "sweep-max_len-memory"]
    time = figures[1]
    assert time.extra["log"] and "lstm-packed-l1 1.00" in time.caption and "bag 0.50" in time.caption
    assert plots.growth(time.data)["lstm-packed-l1"] == pytest.approx(1.0)
    assert "fresh process" in figures[3].caption and "cpu_fresh_process_peak_rise" in figures[3].ylabel
    for plot in figures:
        assert draw.svg(plot).startswith("<?xml")
    # issue 25: the recurrent variant's latency floor is drawn beside its measured time (the bag has none)
    assert list(time.extra["floor"]["variant"].unique()) == ["lstm-packed-l1"] and "latency floor" in time.caption
    fig = draw._drawn(time)
    try:
        dotted = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == ":"]
        assert len(dotted) == 1 and list(dotted[0].get_ydata()) == [1.0, 4.0, 16.0]
    finally:
        fig.clear()


def test_a_sweep_over_a_non_numeric_key_has_no_cost_curve():
    table = _sweep_table().assign(max_len=lambda t: t["max_len"].map(str))
    assert [p.key for p in plots.sweep_plots(table, ["max_len"])] == ["sweep-max_len"]


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_drawn_figures_keep_legends_off_the_data_labels_apart_and_the_front_drawn():
    """Issue 24 item 6, on the packing study's nine variants (three clusters of near-equal points): the legend sits
    beside the axes, no two point labels overprint, the listed Pareto front is a drawn line, and nine learning
    curves become nine small panels."""
    from .test_effects import _packing_study
    records = _packing_study()  # two epochs each (tests.report.conftest.record)
    summary = tables.summarize(records)
    built = {p.key: p for p in plots.study_plots(summary, records, tables.epochs_frame(records),
                                                 tables.curves_frame(records), {}, {"test_acc": 0.8})}
    fig = draw._drawn(built["accuracy-vs-time"])
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent(renderer)
        assert not _boxes_overlap(legend, ax.get_window_extent(renderer)), "the legend covers the data"
        labels = [t.get_window_extent(renderer) for t in ax.texts]
        assert len(labels) < 9, "near-equal points share one label"
        assert not any(_boxes_overlap(a, b) for i, a in enumerate(labels) for b in labels[i + 1:])
        assert not any(_boxes_overlap(a, legend) for a in labels)
        shown = sorted(int(n) for t in ax.texts for n in t.get_text().split(","))
        assert shown == list(range(1, 10)), "every variant's number is on the figure once"
        front = [line for line in ax.get_lines() if line.get_label() == "Pareto front"]
        assert front and len(front[0].get_xdata()) >= 1 and front[0].get_visible()
    finally:
        fig.clear()
    curves = built["learning-curves"]
    assert curves.extra["panels"] and "One panel per variant" in curves.caption
    fig = draw._drawn(curves)
    try:
        assert len([a for a in fig.axes if a.get_visible()]) == 9
    finally:
        fig.clear()


def _cloud(points: list[tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame({"epoch_time_s": [t for t, _ in points], "test_acc_mean": [a for _, a in points],
                         "test_acc_ci": 0.01, "learned": True}, index=[f"v{i}" for i in range(1, len(points) + 1)])


CLOUDS = {  # the figure: clusters of near points where one label "1,2,4" sat beside points it did not name
    "clustered": [(5.0, .65), (5.25, .655), (5.5, .645), (5.1, .652), (5.4, .66), (10, .70), (10.05, .70),
                  (9.9, .40), (5.0, .30), (5.02, .30), (7.5, .50), (7.6, .51)],
    "crowded": [(1 + (i * 37 % 11) / 40, 0.6 + (i * 53 % 13) / 400) for i in range(16)] + [(3.0, 0.9)],
    "one point": [(2.0, 0.7)],
}


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_point_is_numbered_by_a_label_that_sits_at_it(cloud):
    """Issue 34 item 4: each number on the accuracy-against-time figure is read off the drawn page (after its final
    layout): every variant's number appears once; a shared label names only points that overprint; a label sits
    nearest to a point it names, or a line runs from it to its points; labels never overprint each other or leave
    the axes, and the Pareto front's points are numbered like every other."""
    plot = plots.accuracy_vs_time(_cloud(CLOUDS[cloud]))
    fig = draw._drawn(plot)
    try:
        fig.canvas.draw()
        renderer, ax = fig.canvas.get_renderer(), fig.axes[0]
        xy = ax.transData.transform(plot.data[["time_s", "acc"]].to_numpy(float))
        scale = fig.dpi / 72
        frame = ax.get_window_extent(renderer)
        boxes, named = [], []
        for label in ax.texts:
            names = [int(n) - 1 for n in label.get_text().split(",")]
            box = draw._box(label, renderer)
            named += names
            assert all(((xy[a] - xy[b]) ** 2).sum() ** 0.5 < draw.OVERPRINT * scale for a in names for b in names)
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            gaps = [draw._gap(box, p) for p in xy]
            if label.arrow_patch is None:
                assert min(range(len(xy)), key=gaps.__getitem__) in names, f"{label.get_text()} is nearer another point"
                assert min(gaps[n] for n in names) < 3 * draw.RINGS[1] * scale
            else:  # the line ends at its points
                end = ax.transData.transform(label.xy)
                assert all(((xy[n] - end) ** 2).sum() ** 0.5 < draw.OVERPRINT * scale for n in names)
            boxes.append(box)
        assert sorted(named) == list(range(len(xy))), "every variant's number is on the figure once"
        assert not any(_boxes_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        assert plot.data["front"].any()
    finally:
        fig.clear()


def test_the_page_draws_the_most_accurate_variants_confusion_matrix_and_the_board_folds_out_macro_f1():
    """Issue 34 item 6: summed over the seeds of the summary's first variant, as shares of each true class; records
    from before macro-F1 was scored give neither the column nor the figure."""
    from bench.report import board as board_
    records = [record("lstm-packed-l1", s, test_acc=0.8, test_macro_f1=0.75 + s / 100, label_names=["a", "b"],
                      test_confusion=[[8, 2], [2 + s, 8 - s]]) for s in range(2)] + \
              [record("lstm-padded-l1", s, test_acc=0.6, test_macro_f1=0.5, label_names=["a", "b"],
                      test_confusion=[[6, 4], [4, 6]]) for s in range(2)]
    summary = tables.summarize(records)
    assert summary.loc["lstm-packed-l1", "test_macro_f1_mean"] == pytest.approx(0.755)
    board = board_.leaderboard(summary)
    assert board.text.loc["lstm-packed-l1", "test macro-F1"].startswith("0.7550 ± ")
    assert board.best.loc["lstm-packed-l1", "test macro-F1"]
    plot = plots.confusion(records, summary)
    shares = plot.data.set_index(["true", "predicted"])
    assert "lstm-packed-l1" in plot.title and shares.loc[("b", "a"), "count"] == 5
    assert shares.loc[("b", "b"), "share"] == pytest.approx(15 / 20) and "weakest class: b" in plot.caption
    assert draw.svg(plot).startswith("<?xml")
    older = [{k: v for k, v in r.items() if k not in ("test_macro_f1", "test_confusion")} for r in records]
    assert plots.confusion(older, tables.summarize(older)) is None
    assert "test macro-F1" not in board_.leaderboard(tables.summarize(older)).text
