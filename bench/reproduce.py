"""`python -m bench.run reproduce=FOLDER [reproduce.tune=false] [out=NEW]`: run a finished folder's study again.

The study comes from FOLDER's study.json (its resolved settings and its first wave's seeds, not its command line),
into a new folder (NEW, else FOLDER-reproduced, -2, ...). With `reproduce.tune=false` (the default) the variants'
stored tuned settings are handed to the new folder's storage as restored tuning (bench.runs.restored_tuning), so the
seeds re-train at exactly those settings: the fast check that the table reproduces. `reproduce.tune=true` tunes
again: the whole study. Then bench.report.compare writes the comparison of FOLDER and the new folder.
"""

from __future__ import annotations

from pathlib import Path

from bench import runs, store
from bench.config import Study
from bench.errors import BenchError

KEYS = ("reproduce", "reproduce.tune", "out")
LEFT = ("out", "storage", "resume", "workers", "sweep")  # where and how it ran, not what


def parse(words: list[str]) -> tuple[Path, bool, str | None]:
    said = {}
    for word in words:
        key, _, value = word.partition("=")
        if key not in KEYS or not value:
            raise BenchError(f"reproduce= takes only {', '.join(k + '=' for k in KEYS)}: '{word[:60]}' is not one of "
                             "them (the study and its settings come from the folder)")
        said[key] = value
    if said.get("reproduce.tune", "false").lower() not in ("true", "false"):
        raise BenchError("reproduce.tune= is true or false")
    return Path(said["reproduce"]), said.get("reproduce.tune", "false").lower() == "true", said.get("out")


def study_of(folder: Path, tune: bool, out: str | None) -> Study:
    """FOLDER's stored study, to run into a new folder."""
    doc = store.load_study(folder)
    if not doc.get("planned") or not (folder / store.RECORDS).is_file():
        raise BenchError(f"reproduce={folder}: not a finished study folder (it needs study.json and records.jsonl of "
                         "a run): give a folder under reports/")
    fields = {k: v for k, v in doc.items() if k in Study.model_fields and k not in LEFT}
    fields["measure"] = {**fields.get("measure", {}), "seeds": doc["planned"]["seeds"]}
    target = Path(out) if out else store.fresh_folder(folder.with_name(folder.name + "-reproduced"))
    words = (f"reproduce={folder}", f"reproduce.tune={str(tune).lower()}", f"out={target}")
    return Study(**fields, out=str(target), resume=True, words=words)


def hand_over_tuning(folder: Path, study: Study) -> int:
    """The stored tuned settings, as restored tuning in the new folder's storage; how many variants got them."""
    tuning = store.load_tuning(folder)
    if not tuning:
        return 0
    study.out_dir.mkdir(parents=True, exist_ok=True)
    storage = runs.open_storage(study.storage, study.out_dir, study.lease)
    for variant, summary in tuning.items():
        runs.put(storage, summary.get("optuna_study") or f"{study.name}/{variant}", "tuning",
                 {**summary, "restored": True})
    return len(tuning)
