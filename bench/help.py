"""`--help` of both commands, generated from the config dataclasses: each key's meaning, default and allowed
values come from its field (bench.config.setting), the variant axes from bench.variants, the budgets from
bench.config.BUDGETS. Nothing here is written twice; tests/test_help.py checks every key is said.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Iterator

from bench.config import BUDGETS, DATA_CAPS, ReportArgs, Study, list_studies
from bench.variants import AXES, AXIS_HELP, Variant, allowed

WIDTH = 100
# Sections of a study file: written in YAML, rarely on the command line
FILE_ONLY = ("name", "description", "scientific", "fixed", "exclude", "variants", "reference", "nuisance", "sweep")


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return repr(value) if value == "" else str(value)


def described(cls: type = Study, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """(dotted key, default, allowed values, meaning) for every leaf field, in declaration order."""
    for f in fields(cls):
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if is_dataclass(default):
            yield from described(type(default), f"{prefix}{f.name}.")
            continue
        rule = f.metadata.get("rule")
        yield prefix + f.name, _shown(default), rule.describe(f.name) if rule else "", f.metadata.get("help", "")


def _entry(key: str, default: str, values: str, meaning: str) -> str:
    """`  key = default    allowed` then the meaning, indented, wrapped to WIDTH."""
    head = f"  {key} = {default}"
    head = f"{head:<40} {values}" if len(head) < 40 else f"{head}  {values}"
    body = textwrap.fill(meaning, WIDTH, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(textwrap.wrap(head, WIDTH, subsequent_indent=" " * 42) + ([body] if meaning else []))


def _budget(name: str) -> str:
    said = ", ".join(f"{section}.{k}={_shown(v)}" for section, keys in BUDGETS[name].items() for k, v in keys.items())
    capped = "; ".join(f"on {data}: also " + ", ".join(f"data.{k}={v}" for k, v in caps[name].items())
                       for data, caps in DATA_CAPS.items() if name in caps)
    return textwrap.fill(f"{name}: {said}" + (f" ({capped}, unless given)" if capped else ""), WIDTH,
                         initial_indent="  ", subsequent_indent="      ")


def run_help() -> str:
    studies = "\n".join(textwrap.fill(f"{name:<13} {desc}", WIDTH, initial_indent="  ", subsequent_indent=" " * 16)
                        for name, desc in list_studies().items())
    axes = "\n".join(_entry(a, _shown(getattr(Variant(), a)), allowed(a), AXIS_HELP[a]) for a in AXES)
    rows = list(described())
    keys = "\n".join(_entry(*row) for row in rows if row[0] not in FILE_ONLY)
    sections = "\n".join(_entry(*row) for row in rows if row[0] in FILE_ONLY)
    budgets = "\n".join(_budget(name) for name in BUDGETS)
    return f"""usage: python -m bench.run study=NAME [key=value ...]      (or: rnnbench study=NAME ...)

Tune every variant of a study with Optuna (same budget each), re-train the winners over several seeds while
timing them, and write reports/NAME/ (index.html, results.csv, summary.csv, ...). Arguments are Hydra
overrides: key=value, lists as key=[a,b], null for none. Re-running a command resumes it.

studies (studies/NAME.yaml; the first line of each is its question):
{studies}

variant axes: name one to replace the study's values for it (a list compares them: cell=[lstm,gru])
{axes}

budgets: budget=NAME sets these in one word (budget=null: the study file's values as written)
{budgets}

keys: key = default, then the allowed values; the study file and studies/_base.yaml set their own values
{keys}

study file sections (YAML; see README "What a study is"):
{sections}

re-render a report from stored records: python -m bench.report study=NAME   (python -m bench.report --help)"""


def report_help() -> str:
    keys = "\n".join(_entry(*row) for row in described(ReportArgs))
    return f"""usage: python -m bench.report [study=NAME | out=FOLDER] [storage=URL]

Rebuild a study's tables and page from its stored records (no training, no torch): results.csv,
summary.csv, effects.csv, leaderboard.md, figures/, index.html. With no key: every study folder under
reports/, and reports/index.html.

keys:
{keys}"""
