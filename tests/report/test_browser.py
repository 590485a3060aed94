"""The rendered page, opened in a real browser (headless Chromium)."""

from __future__ import annotations

import os
import shutil

from bench.report import render
from bench.report.board import REFERENCE_ROW
from bench.store import load

from .conftest import copy_study


def test_report_page_loads_cleanly_in_chromium(smoke_study, chromium, tmp_path):
    render(smoke_study)
    page = smoke_study / "index.html"
    seen = chromium.probe(page)
    assert seen["problems"] == [] and seen["console"] == [], (seen["problems"], seen["console"])
    variants = {r["variant"] for r in load(smoke_study)}
    assert len(variants) == 6 and set(seen["rows"]) == variants | {REFERENCE_ROW}, seen["rows"]
    assert seen["rows"][-1] == REFERENCE_ROW  # the TF-IDF + LR reference: last, unranked
    assert {"learned", "epochs kept/run", "ms/step (shared sizes)"} <= set(seen["header"]), seen["header"]
    # the answer in words opens the page, above the tables, with its caveats
    assert seen["answerAboveBoard"] and "TF-IDF + LR (" in seen["answer"]
    assert "Caveats:" in seen["answer"] and "times from one device" in seen["answer"]
    assert "Tuning budget: " in seen["answer"]  # the budget figure's reading, in the answer too
    budget = [i for i in seen["images"] if i["alt"].startswith("Lines of expected best validation accuracy")]
    assert budget and budget[0]["width"] > 0, [i["alt"] for i in seen["images"]]
    assert any("unbiased estimator" in c for c in seen["captions"])
    assert any("Dashed lines: the levels named in the legend" in c for c in seen["captions"])
    assert len(seen["images"]) >= 6, "the smoke study has tuning, several epochs and seeds: expected every figure"
    for image in seen["images"]:
        assert image["width"] > 0 and image["height"] > 0, f"a figure did not decode: {image['alt']}"
        assert image["alt"], "every figure has alt text"
    png = tmp_path / "report.png"
    assert chromium.screenshot(page, png, seen["height"]) == []
    assert png.stat().st_size > 20_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("RNNBENCH_SCREENSHOTS")  # set it to keep the picture for a person to look at
    if keep:
        shutil.copy(png, os.path.join(keep, "smoke-report.png"))


def test_reports_index_page_loads_cleanly(smoke_study, chromium):
    from bench.report.index import write_index
    index = write_index(smoke_study.parent)
    seen = chromium.probe(index)
    assert seen["problems"] == [] and seen["console"] == []
    assert "smoke/index.html" in index.read_text()


def test_packing_page_shows_one_cause_per_effect_and_who_did_not_learn(tmp_path, chromium):
    """A packing study's records (padded+last at chance for lstm and gru), rendered and read in Chromium."""
    import json

    from bench.store import save_study
    from .test_effects import _packing_study

    records = _packing_study()
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    save_study(tmp_path, {"name": "t", "description": "Does packing change accuracy?",
                          "classical": {"model": "TF-IDF (1-2 grams) + logistic regression", "test_acc": 0.867,
                                        "val_acc": 0.9, "C": 4.0, "train_rows": 9386}})
    render(tmp_path)
    seen = chromium.probe(tmp_path / "index.html")
    assert seen["problems"] == [] and seen["console"] == []
    header = ["variant", *seen["header"][1:]]
    board = {row[0]: dict(zip(header, row)) for row in seen["board"]}
    assert board["lstm-padded-l1"]["learned"] == "NO" and board["rnn-padded-l1-true_last"]["learned"] == "yes"
    assert seen["rows"][-3:-1] == ["lstm-padded-l1", "gru-padded-l1"] and seen["rows"][-1] == REFERENCE_ROW
    pairs = {row[0]: row for row in seen["readings"]}
    assert "lstm-padded-l1 → lstm-packed-l1" not in pairs  # two causes at once: never a row
    assert "not comparable (did not learn)" in pairs["lstm-padded-l1 → lstm-padded-l1-true_last"]
    assert "equivalent" in pairs["lstm-padded-l1-true_last → lstm-packed-l1"]  # the same function
    assert "better" in pairs["rnn-padded-l1 → rnn-padded-l1-true_last"]
    readings = {row[1] for row in seen["readings"]}
    assert readings <= {"better", "worse", "equivalent", "not comparable (did not learn)"} | {
        r for r in readings if r.startswith("undecided")}, readings  # four verdicts, and no others
    every = {row[0]: row for row in seen["readingsAll"]}  # the folded-out table: every column
    assert "embed 64, hidden 64, batch 64" in every["lstm-padded-l1-true_last → lstm-packed-l1"]
    assert "lenses agree" in every["rnn-padded-l1 → rnn-padded-l1-true_last"]
    assert seen["answer"].startswith("The answer") and "Packing (padded → packed): equivalent for rnn, lstm, gru" \
        in seen["answer"]
    assert "no significant difference" not in seen["answer"] + json.dumps(seen["readingsAll"])


def _fits(layout: dict, table: str) -> bool:
    seen = layout["overflow"][table]
    return seen["table"] <= seen["box"] + 1


def test_page_layout_at_1280_px_and_at_phone_width(tmp_path, chromium):
    """At 1280 px the leaderboard's and the effects table's key columns show without sideways scrolling, and no
    caption runs off the window; at phone width the page itself never scrolls sideways: the tables scroll in
    their own box, the figures shrink to the width. (Headless Chromium opens no window narrower than 500 px, so
    "phone" is 500 px here: below the page's 40rem = 640 px breakpoint, where its phone rules apply.)"""
    import json

    from bench.store import save_study
    from .test_effects import _packing_study

    records = _packing_study()
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    save_study(tmp_path, {"name": "t", "description": "Does packing change accuracy?"})
    render(tmp_path)
    wide = chromium.probe(tmp_path / "index.html", width=1280)["layout"]
    assert wide["window"] == 1280 and wide["page"] <= wide["window"], wide
    assert _fits(wide, "leaderboard-table") and _fits(wide, "effects-table"), wide["overflow"]
    assert max(wide["notes"]) <= wide["window"], "a caption runs off the window"
    assert not wide["overflow"]["leaderboard-all"]["visible"], "the every-column table folds out on demand only"
    phone = chromium.probe(tmp_path / "index.html", width=500)["layout"]
    assert phone["window"] == 500 and phone["page"] <= phone["window"], phone
    assert phone["widestImage"] <= phone["window"] and max(phone["notes"]) <= phone["window"], phone


def test_every_page_type_fits_1280_px(smoke_study, chromium, tmp_path):
    """Issue 24 item 6: the study, sweep, speed and index pages at 1280 px: the page never scrolls sideways, and
    every table shown by default (the tuning table included) fits its box; the every-column tables fold out."""
    from bench import run
    from bench.report.index import write_index
    reports = tmp_path / "reports"
    render(copy_study(smoke_study, reports / "smoke"))
    assert run.main(["study=speed", "cell=[gru]", "layers=[1]", "bidirectional=[false]", "speed.repeats=2", "speed.warmup=1",
                     "speed.batch_sizes=[4,8]", "speed.seq_lens=[6,12]", "speed.batch_size=4", "speed.seq_len=6",
                     "speed.vocab=50", f"out={reports / 'speed'}"]) == 0
    assert run.main(["study=smoke", "cell=[gru]", "packing=[padded]", "data.synthetic.n_train=120",
                     "data.synthetic.n_test=40", "measure.seeds=1", "tune.trials=0", "train.epochs=1",
                     "sweep={data.synthetic.distance:[0,3],train.lr:[0.01,0.003]}", f"out={reports / 'sweep'}"]) == 0
    pages = [write_index(reports), *(reports / name / "index.html" for name in ("smoke", "speed", "sweep"))]
    for page in pages:
        seen = chromium.probe(page, width=1280)
        layout = seen["layout"]
        assert seen["problems"] == [] and seen["console"] == [], (page, seen["problems"], seen["console"])
        assert layout["page"] <= layout["window"] == 1280, (page, layout)
        wide = {t: o for t, o in layout["overflow"].items() if o["visible"] and o["table"] > o["box"] + 1}
        assert not wide, (page, wide)
        assert layout["overflow"], f"{page} has no table"
    assert "<h2 id='tuning'>" in (reports / "smoke" / "index.html").read_text()  # the tuning table was measured too
