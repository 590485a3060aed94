"""`reports/index.html`: one link per study (or sweep) found under a reports folder."""

from __future__ import annotations

import json
from pathlib import Path

from bench import store
from bench.report import page
from bench.report.sweep import SWEEP


def studies(root: Path) -> list[dict]:
    """One entry per sub-folder holding records or a sweep, by name."""
    entries = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        sweep = (folder / SWEEP).is_file()
        if (folder / "speed.jsonl").is_file():
            study = store.load_study(folder)
            entries.append({"folder": folder.name, "kind": "speed", "description": study.get("description", ""),
                            "runs": len((folder / "speed.jsonl").read_text().splitlines()), "planned": None,
                            "budget": "-", "device": "-", "partial": False, "finished": ""})
            continue
        if not sweep and not (folder / store.RECORDS).is_file():
            continue
        if sweep:
            points = json.loads((folder / SWEEP).read_text())
            first = next((folder / s for s in points if (folder / s / store.STUDY).is_file()), folder)
            study, records = store.load_study(first), [r for s in points for r in store.load(folder / s)]
        else:
            study, records = store.load_study(folder), store.load(folder)
        planned = study.get("planned")
        total = len(planned["variants"]) * len(planned["seeds"]) * (len(points) if sweep else 1) if planned else None
        entries.append({"folder": folder.name, "kind": "sweep" if sweep else "study",
                        "description": study.get("description", ""), "runs": len(records), "planned": total,
                        "budget": ", ".join(sorted({str(r.get("budget")) for r in records})) or "-",
                        "device": ", ".join(sorted({str(r.get("device_name")) for r in records})) or "-",
                        "partial": any(r.get("partial_data") for r in records),
                        "finished": max((r.get("finished_at", "") for r in records), default="")})
    return entries


def write_index(root: Path) -> Path:
    rows = "".join(
        f"<tr><th class='name' scope='row'><a href='{page.esc(e['folder'])}/index.html'>{page.esc(e['folder'])}</a>"
        f"</th><td class='text'>{page.esc(e['description'])}</td><td>{page.esc(e['kind'])}</td>"
        f"<td>{e['runs']}{'' if e['planned'] is None else ' / ' + str(e['planned'])}</td>"
        f"<td>{page.esc(e['budget'])}</td><td class='text'>{page.esc(e['device'])}</td>"
        f"<td>{'partial' if e['partial'] else 'full'}</td><td>{page.esc(e['finished'])}</td></tr>"
        for e in studies(root))
    html = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>rnnbench reports</title>"
            f"<style>{page.CSS}</style></head><body><h1>rnnbench reports</h1>"
            f"<p class='note'>Every study under {page.esc(str(root))}; re-render with <code>python -m bench.report"
            f"</code>.</p><div class='scroll'><table><thead><tr><th class='name'>study</th><th>question</th>"
            f"<th>kind</th><th>runs / planned</th><th>budget</th><th>device</th><th>data</th><th>last run</th></tr>"
            f"</thead><tbody>{rows}</tbody></table></div></body></html>\n")
    store.write_atomic(root / "index.html", html)
    return root / "index.html"
