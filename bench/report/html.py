"""The pages' templates (bench/report/templates: page.html is the one skeleton every page extends) and what
they are given: `grid` turns a table of display strings into cells, `drawn` draws the figures. jinja2
autoescapes every value, so text from a study, a record or a dataset is safe wherever it lands; nothing
here adds a number of its own.
"""

from __future__ import annotations

import time

import jinja2
import pandas as pd

from bench.report import draw
from bench.report.plots import Plot

ENV = jinja2.Environment(loader=jinja2.PackageLoader("bench.report"), autoescape=True, trim_blocks=True,
                         lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def page(template: str, title: str, question: str = "", warnings: list[str] = (),
         facts: list[tuple[str, str]] = (), **parts) -> str:
    """A whole page: `template` (extending page.html) with the title, the question in italics, the warning boxes
    and the header's facts."""
    return ENV.get_template(template).render(title=title, question=question, warnings=list(warnings),
                                             header=list(facts), rendered=time.strftime("%Y-%m-%d %H:%M %Z"), **parts)


def grid(frame: pd.DataFrame, best: pd.DataFrame | None = None, hover: pd.DataFrame | None = None,
         caption: str = "", text_columns: tuple[str, ...] = (), index_label: str = "variant",
         table_id: str = "") -> dict:
    """A table for parts.html's `table`: one row per index entry (a row header), each cell (text, classes,
    title); `best` marks cells with a star, `hover` gives cells a title, `text_columns` wrap."""
    rows = []
    for key, row in frame.iterrows():
        cells = []
        for column, value in row.items():
            classes = [c for c, on in (("best", best is not None and bool(best.loc[key, column])),
                                       ("text", column in text_columns)) if on]
            title = hover.loc[key, column] if hover is not None and column in hover else ""
            cells.append((str(value), " ".join(classes), title))
        rows.append((str(key), cells))
    # the caption is a paragraph under the table, as wide as the text: a <caption> is as wide as its table,
    # and is cut with it when the table scrolls sideways
    return {"columns": [str(c) for c in frame.columns], "rows": rows, "caption": caption,
            "index_label": index_label, "id": table_id}


def drawn(plots: list[Plot], out=None) -> list[dict]:
    """Every figure drawn once, for inline SVG (and, with `out`, written to out/figures/ as SVG and PNG); its alt
    text says it in words."""
    svgs = draw.export(plots, out)
    return [{"key": p.key, "uri": draw.data_uri(svgs[p.key]), "alt": p.alt, "title": p.title, "caption": p.caption}
            for p in plots]
