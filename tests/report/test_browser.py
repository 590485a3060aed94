"""The rendered page, opened in a real browser (headless Chromium)."""

from __future__ import annotations

import os
import shutil

from bench.report import render
from bench.store import load


def test_report_page_loads_cleanly_in_chromium(smoke_study, chromium, tmp_path):
    render(smoke_study)
    page = smoke_study / "index.html"
    seen = chromium.probe(page)
    assert seen["problems"] == [] and seen["console"] == [], (seen["problems"], seen["console"])
    variants = {r["variant"] for r in load(smoke_study)}
    assert len(variants) == 6 and set(seen["rows"]) == variants, seen["rows"]
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
