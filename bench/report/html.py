"""The one page skeleton every rnnbench page is built from (study, sweep, speed, index): one self-contained
HTML document (inline CSS, figures as data URIs, no script, no network), and its public parts: `table`,
`figure`, `warnings`, `facts`. Every string that comes from a study, a record or a dataset goes through
`esc` here or in the caller; nothing here adds a number of its own.
"""

from __future__ import annotations

import html
import time

import pandas as pd

from bench.report import draw
from bench.report.plots import Plot

esc = html.escape

CSS = """
:root{--fg:#1b1b1b;--muted:#555;--line:#d0d0d0;--warn:#fff1e6;--warnline:#d9822b;--best:#e6f4ea}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0 auto;
 padding:1rem;max-width:80rem}
h1{font-size:1.5rem;margin:.2rem 0} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid var(--line)}
.question{font-size:1.1rem;font-style:italic;margin:.3rem 0 1rem}
.answer{font-size:1rem;max-width:60rem;background:#f4f8fc;border-left:4px solid #4a7ab5;padding:.5rem .8rem}
.warn{background:var(--warn);border-left:4px solid var(--warnline);padding:.5rem .8rem;margin:.4rem 0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dl.facts dt{font-weight:600;color:var(--muted)} dl.facts dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.85rem;font-variant-numeric:tabular-nums}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0} td.name,th.name{text-align:left}
thead th{white-space:normal;vertical-align:bottom} tbody th.name{white-space:normal;overflow-wrap:anywhere;
 min-width:9rem;max-width:22rem}
td.best{background:var(--best);font-weight:700} td.best::after{content:" \\2605"}
td.text{text-align:left;white-space:normal;min-width:26rem;font-size:.8rem}
.note{color:var(--muted);font-size:.85rem;text-align:left;padding-top:.3rem;max-width:60rem}
figure{margin:1.5rem 0;break-inside:avoid} figure img{width:100%;max-width:56rem;height:auto;display:block}
figcaption{color:var(--muted);font-size:.9rem} figcaption b{color:var(--fg)}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
pre{background:#f6f6f6;padding:.8rem;overflow:auto;white-space:pre-wrap}
details{margin:.5rem 0} summary{cursor:pointer;font-weight:600}
@media (max-width:40rem){body{font-size:14px;padding:.6rem} dl.facts{grid-template-columns:1fr}
 tbody th.name{min-width:7rem;max-width:11rem} td.text{min-width:16rem}}
@media print{body{max-width:none;font-size:10pt} .scroll{overflow:visible} th{position:static}
 details>*{display:block} a{color:inherit;text-decoration:none} h2{break-after:avoid}}
"""



def document(title: str, body: str, question: str = "", header: str = "") -> str:
    """A whole page: `<h1>title</h1>`, the question in italics, `header` (HTML: warnings, facts), then `body`
    (HTML), and a footer with the render time."""
    asked = f"<p class='question'>{esc(question)}</p>" if question else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{CSS}</style></head><body>
<header><h1>{esc(title)}</h1>{asked}
{header}</header>
<main>
{body}
</main>
<footer class="note">Rendered {esc(time.strftime('%Y-%m-%d %H:%M %Z'))} by rnnbench.</footer>
</body></html>
"""


def warnings(lines: list[str]) -> str:
    """Orange boxes, one per line: what makes the figures below not comparable."""
    return "".join(f"<p class='warn' role='note'>{esc(w)}</p>" for w in lines)


def facts(pairs: list[tuple[str, str]]) -> str:
    """A definition list; the values are HTML the caller escaped."""
    return "<dl class='facts'>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def table(frame: pd.DataFrame, best: pd.DataFrame | None = None, hover: pd.DataFrame | None = None,
          caption: str = "", text_columns: tuple[str, ...] = (), index_label: str = "variant",
          table_id: str = "") -> str:
    """A table of display strings, one row per index entry (a row header), scrolled sideways when wide;
    `best` marks cells with a star, `hover` gives cells a title, `text_columns` wrap."""
    head = f"<th class='name' scope='col'>{esc(index_label)}</th>" + "".join(
        f"<th scope='col'>{esc(str(c))}</th>" for c in frame.columns)
    body = []
    for key, row in frame.iterrows():
        cells = [f"<th class='name' scope='row'>{esc(str(key))}</th>"]
        for column, value in row.items():
            classes = [c for c, on in (("best", best is not None and bool(best.loc[key, column])),
                                       ("text", column in text_columns)) if on]
            title = hover.loc[key, column] if hover is not None and column in hover else ""
            attrs = (f" class='{' '.join(classes)}'" if classes else "") + (f" title='{esc(title)}'" if title else "")
            cells.append(f"<td{attrs}>{esc(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    # the caption is a paragraph under the table, as wide as the text: a <caption> is as wide as its table,
    # and is cut with it when the table scrolls sideways
    cap = f"<p class='note table-note'>{esc(caption)}</p>" if caption else ""
    ident = f" id='{esc(table_id)}'" if table_id else ""
    return (f"<div class='scroll'><table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            f"</table></div>{cap}")


def figures(plots: list[Plot], out=None) -> str:
    """Every figure drawn once, inline as SVG (and, with `out`, written to out/figures/ as SVG and PNG)."""
    drawn = draw.export(plots, out)
    return "".join(figure(p, drawn[p.key]) for p in plots)


def figure(plot: Plot, svg: str) -> str:
    """A figure (its SVG drawn by bench.report.draw) inline, with its title and caption; its alt text says it in
    words."""
    return (f"<figure id='{esc(plot.key)}'><img src='{draw.data_uri(svg)}' alt='{esc(plot.alt)}'>"
            f"<figcaption><b>{esc(plot.title)}.</b> {esc(plot.caption)}</figcaption></figure>")
