"""`reports/index.html`: one link per study (or sweep) found under a reports folder."""

from __future__ import annotations

import json
from pathlib import Path

from bench import store
from bench.report.html import document, esc
from bench.store import SWEEP


def studies(root: Path) -> list[dict]:
    """One entry per sub-folder holding records or a sweep, by name."""
    entries = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        sweep = (folder / SWEEP).is_file()
        if (folder / store.SPEED_RECORDS).is_file():
            study = store.load_study(folder)
            entries.append({"folder": folder.name, "kind": "speed", "description": study.get("description", ""),
                            "runs": len((folder / store.SPEED_RECORDS).read_text().splitlines()), "planned": None,
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
        f"<tr><th class='name' scope='row'><a href='{esc(e['folder'])}/index.html'>{esc(e['folder'])}</a>"
        f"</th><td class='text'>{esc(e['description'])}</td><td>{esc(e['kind'])}</td>"
        f"<td>{e['runs']}{'' if e['planned'] is None else ' / ' + str(e['planned'])}</td>"
        f"<td>{esc(e['budget'])}</td><td class='text'>{esc(e['device'])}</td>"
        f"<td>{'partial' if e['partial'] else 'full'}</td><td>{esc(e['finished'])}</td></tr>"
        for e in studies(root))
    body = (f"<p class='note'>Every study under {esc(str(root))}; re-render with <code>python -m bench.report"
            f"</code>.</p><div class='scroll'><table><thead><tr><th class='name'>study</th><th>question</th>"
            f"<th>kind</th><th>runs / planned</th><th>budget</th><th>device</th><th>data</th><th>last run</th></tr>"
            f"</thead><tbody>{rows}</tbody></table></div>")
    store.write_atomic(root / "index.html", document("rnnbench reports", body))
    return root / "index.html"
