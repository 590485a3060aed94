"""`reports/index.html`: one link per study (or sweep) found under a reports folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench import store
from bench.errors import BenchError
from bench.progress import tell
from bench.record import StudyDoc
from bench.report.html import page
from bench.store import SWEEP


def studies(root: Path) -> list[dict]:
    """One entry per sub-folder holding records or a sweep, by name."""
    entries = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        sweep = (folder / SWEEP).is_file()
        if (folder / store.SPEED_RECORDS).is_file():
            study = StudyDoc.model_validate(store.load_study(folder))
            entries.append({"folder": folder.name, "kind": "speed", "description": study.description,
                            "runs": len((folder / store.SPEED_RECORDS).read_text().splitlines()), "planned": None,
                            "budget": "-", "device": "-", "partial": False, "finished": ""})
            continue
        if (folder / "compare.csv").is_file() and not (folder / store.RECORDS).is_file():  # bench.report.compare
            rows = max(0, len((folder / "compare.csv").read_text().splitlines()) - 1)
            entries.append({"folder": folder.name, "kind": "comparison", "description": "does one run reproduce "
                            "another? (compare=[A,B])", "runs": rows, "planned": None, "budget": "-", "device": "-",
                            "partial": False, "finished": ""})
            continue
        if not sweep and not (folder / store.RECORDS).is_file():
            continue
        if sweep:
            points = json.loads((folder / SWEEP).read_text())
            first = next((folder / s for s in points if (folder / s / store.STUDY).is_file()), folder)
            study, records = store.load_study(first), [r for s in points for r in store.load(folder / s)]
        else:
            study, records = store.load_study(folder), store.load(folder)
        doc = StudyDoc.model_validate(study)
        total = doc.total * (len(points) if sweep else 1) if doc.total else None
        entries.append({"folder": folder.name, "kind": "sweep" if sweep else "study",
                        "description": doc.description, "runs": len(records), "planned": total,
                        "budget": ", ".join(sorted({str(r["budget"]) for r in records})) or "-",
                        "device": ", ".join(sorted({str(r["device_name"]) for r in records})) or "-",
                        "partial": any(r["partial_data"] for r in records),
                        "finished": max((r["finished_at"] or "" for r in records), default="")})
    return entries


def write_index(root: Path) -> Path:
    store.write_atomic(root / "index.html", page("index.html", "rnnbench reports", root=str(root),
                                                  entries=studies(root)))
    return root / "index.html"


REPORTS = Path("reports")


def refresh_index(out: Path) -> None:
    """Keep reports/index.html current when `out` is a study folder directly under reports/."""
    if out.resolve().parent == REPORTS.resolve():
        write_index(REPORTS)


def render_any(out: Path) -> str:
    """Render a folder's page and tables, whatever it holds (a study, a speed study, a sweep); the console's text."""
    from bench.report.speed import render_speed
    from bench.report.study import render
    from bench.report.sweep import render_sweep
    if (out / store.SPEED_RECORDS).is_file():
        return render_speed(out)
    return render_sweep(out) if (out / SWEEP).is_file() else render(out)


def _checked(out: Path) -> str:
    """render_any, with records of the wrong shape (a hand-edited or foreign file) as one line."""
    try:
        return render_any(out)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BenchError(f"{out}: its records lack what this rnnbench writes ({type(e).__name__}: {e}); re-export "
                         "the folder (python -m bench.run with the same command)") from None


def _against_storage(folder: Path) -> list[str]:
    """A local folder's records against its optuna.db, the source of truth: each difference named, and the file
    rewritten from the database when they differ (bench.runs.reconcile). Nothing when there is no database."""
    from bench import runs
    if not (folder / runs.DB).is_file() or (folder / SWEEP).is_file():
        return []
    doc = StudyDoc.model_validate(store.load_study(folder))
    kind = "speed" if (folder / store.SPEED_RECORDS).is_file() else "seeds"
    try:
        storage = runs.open_storage(None, folder, lease=120)
        _, said = runs.reconcile(storage, doc.name, folder, doc.fingerprint, kind, restore=False)
        if said:
            runs.export(storage, doc.name, folder, kind, doc.fingerprint)
    except (BenchError, *runs.LOST) as e:  # a read-only folder: Optuna cannot open its database there
        reason = str(getattr(e, "orig", None) or e.__cause__ or e).strip().splitlines()[0]
        return [f"cannot compare {folder / runs.DB} with {store.RECORDS} ({reason}): the records are taken as they "
                "are"]
    return said


def rerender(study: str | None, out: str | None, storage: str | None) -> str:
    """`python -m bench.report`: re-render from the stored records (exported from `storage` first when given),
    or every study folder under reports/ when nothing is named; what it wrote, in words."""
    if storage:
        if not study:
            raise BenchError("storage=URL needs study=NAME: the database can hold several studies")
        from bench import runs
        folder = Path(out) if out else REPORTS / study
        if not runs.export(runs.open_storage(storage, folder, lease=120), study, folder):
            raise BenchError(f"the database holds no finished run of study '{study}' yet")
        out = str(folder)
    if not (study or out):
        found = studies(REPORTS)
        if not found:
            raise BenchError(f"no study folders under {REPORTS}/: run a study first (python -m bench.run study=smoke)")
        for entry in found:
            _checked(REPORTS / entry["folder"])
        return f"rendered {len(found)} study folder(s); wrote {write_index(REPORTS)}"
    folder = Path(out) if out else REPORTS / str(study)
    if not any((folder / name).is_file() for name in (store.RECORDS, SWEEP, store.SPEED_RECORDS)):
        raise BenchError(f"no records in '{folder}': give study=NAME (reports/NAME) or out=FOLDER of a finished run")
    for line in _against_storage(folder):
        tell(line, file=sys.stderr)
    if (folder / store.RECORDS).is_file() and not store.load(folder):
        raise BenchError(f"{folder / store.RECORDS} holds no record: nothing to render (the page and tables there, if "
                         "any, are older than it); run the study again")
    text = _checked(folder)
    refresh_index(folder)
    return f"{text}\n\nwrote {folder / 'index.html'}"
