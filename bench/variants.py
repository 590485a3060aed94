"""Variants are data: one frozen dataclass, a readable name, and the product of a study's axes.

A variant says *what* model is compared (cell, packing, direction, depth, read-out, embedding
init); hyperparameters say *how big / how fast it learns* and are tuned or fixed per study.
A new axis gets a default and enters the name only when it differs from it, so old records
keep their names: `lstm-packed-l1`, `gru-padded-bi-l2-true_last`, `rnn-padded-l1-mean`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields, replace
from typing import Any, Iterable, Mapping

from bench.errors import ConfigError

RECURRENT = ("rnn", "lstm", "gru")  # bench.models.CELLS is keyed by these names
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # gate blocks per step: FLOPs (bench.floors) and memory (bench.measure)
# Non-recurrent baselines on the same tokens (bench.models.BASELINES): mean of embeddings -> linear, and a
# small transformer encoder. Selected where a cell is (`cell=bag`), so every study and page can hold them.
BASELINES = ("bag", "transformer")
CELLS = RECURRENT + BASELINES
PACKINGS = ("padded", "packed")
# Which state the classifier reads; the model's docstring says exactly what each one takes.
READOUTS = ("last", "true_last", "mean", "masked_mean", "max")
# shifted = randn - 0.5, as the lesson's LSTMs; glove = GloVe 6B 50-d vectors, fine-tuned; glove_frozen = the same,
# never updated (bench.embeddings: an optional package)
PRETRAINED = ("glove", "glove_frozen")
EMBED_INITS = ("normal", "shifted", *PRETRAINED)
# Settings a variant fixes whatever the study says, so tuning does not search them: GloVe's width.
FIXED_PARAMS = {init: {"embed_dim": 50} for init in PRETRAINED}
# How training batches are drawn: random (shuffled rows) or bucketed (rows of similar length batched
# together, batches shuffled): it separates the cost of padding from the cost of packing.
BATCHINGS = ("random", "bucketed")
# Axes that mean nothing for a baseline are held at the value that describes what it does (a padded batch
# under a mask, read by a masked mean), so they never multiply its runs and its name leaves them out.
NOT_APPLICABLE = {"bag": {"packing": "padded", "bidirectional": False, "layers": 1, "readout": "masked_mean"},
                  "transformer": {"packing": "padded", "bidirectional": False, "readout": "masked_mean"}}


@dataclass(frozen=True)
class Variant:
    """One point of the scientific axes. `name` and `parse` are inverse of each other."""

    cell: str = "lstm"
    packing: str = "packed"
    bidirectional: bool = False
    layers: int = 1
    readout: str = "last"
    embed_init: str = "normal"
    batching: str = "random"

    def __post_init__(self) -> None:
        for axis, value in self.__dict__.items():
            check_value(axis, value)
        for axis, value in NOT_APPLICABLE.get(self.cell, {}).items():
            object.__setattr__(self, axis, value)  # frozen: the canonical value, set once here

    @property
    def recurrent(self) -> bool:
        return self.cell in RECURRENT

    @property
    def fixed_params(self) -> dict:
        """Params this variant fixes (its embedding width for GloVe): applied over the study's, never tuned."""
        return dict(FIXED_PARAMS.get(self.embed_init, {}))

    @property
    def name(self) -> str:
        if not self.recurrent:  # bag, transformer-l2: only the axes that apply
            parts = [self.cell] + ([f"l{self.layers}"] if "layers" not in NOT_APPLICABLE[self.cell] else [])
            parts += [v for v, default in ((self.embed_init, "normal"), (self.batching, "random")) if v != default]
            return "-".join(parts)
        parts = [self.cell, self.packing]
        if self.bidirectional:
            parts.append("bi")
        parts.append(f"l{self.layers}")
        if self.readout != "last":
            parts.append(self.readout)
        if self.embed_init != "normal":
            parts.append(self.embed_init)
        if self.batching != "random":
            parts.append(self.batching)
        return "-".join(parts)

    def axes(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


AXES = tuple(f.name for f in fields(Variant))
# What each axis means, for --help (tests/test_variants.py keeps every axis described)
AXIS_HELP = {"cell": "the recurrent cell (nn.RNN, nn.LSTM, nn.GRU), or a non-recurrent baseline",
             "packing": "padded batches, or pack_padded_sequence (the cell reads only each text's true tokens)",
             "bidirectional": "read each text forwards and backwards (two states, concatenated)",
             "layers": "stacked recurrent layers",
             "readout": "what the classifier reads: the last state, the state at each true end, the mean of all "
                        "outputs (pads included), of the true ones, or their max",
             "embed_init": "embedding initialisation: N(0,1), randn - 0.5 (the lesson's LSTMs), or GloVe 6B 50-d "
                           "vectors (width 50), fine-tuned (glove) or frozen (glove_frozen)",
             "batching": "random batches, or rows of similar length batched together (fewer pads)"}
_ALLOWED = {"cell": CELLS, "packing": PACKINGS, "readout": READOUTS, "embed_init": EMBED_INITS,
            "bidirectional": (False, True), "batching": BATCHINGS}


def allowed(axis: str) -> str:
    """The values an axis takes, in words."""
    return "a whole number >= 1" if axis == "layers" else "one of " + ", ".join(str(a).lower() for a in _ALLOWED[axis])


def check_value(axis: str, value: Any) -> Any:
    """Return `value` if it is allowed on `axis`, else raise a one-line ConfigError."""
    if axis not in AXES:
        raise ConfigError(f"unknown variant axis '{axis}': the axes are {', '.join(AXES)}")
    if axis == "layers":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"layers={value!r} is not allowed: use a whole number >= 1, e.g. layers=2")
        return value
    allowed = _ALLOWED[axis]
    if value not in allowed or (axis == "bidirectional") != isinstance(value, bool):
        shown = ", ".join(str(a).lower() for a in allowed)
        raise ConfigError(f"{axis}={value!r} is not allowed: use one of {shown}")
    return value


def parse(name: str) -> Variant:
    """Inverse of `Variant.name`: `parse('gru-packed-bi-l2')` -> Variant(cell='gru', ...)."""
    axes: dict[str, Any] = {}
    for token in name.split("-"):
        if token in CELLS:
            key, value = "cell", token
        elif token in PACKINGS:
            key, value = "packing", token
        elif token == "bi":
            key, value = "bidirectional", True
        elif token[:1] == "l" and token[1:].isdigit():
            key, value = "layers", int(token[1:])
        elif token in READOUTS:
            key, value = "readout", token
        elif token in EMBED_INITS:
            key, value = "embed_init", token
        elif token in BATCHINGS:
            key, value = "batching", token
        else:
            raise ConfigError(f"cannot parse variant name '{name}': unknown part '{token}'")
        if key in axes:
            raise ConfigError(f"cannot parse variant name '{name}': '{key}' given twice")
        axes[key] = value
    return Variant(**axes)


def _matches(variant: Variant, rule: Mapping[str, Any]) -> bool:
    """A rule {axis: value or [values]} matches when every axis it names matches."""
    for axis, want in rule.items():
        wanted = want if isinstance(want, (list, tuple)) else [want]
        if getattr(variant, axis) not in wanted:
            return False
    return True


_ALLOWED_HINT = {"cell": "lstm,gru", "packing": "padded,packed", "bidirectional": "false,true", "layers": "1,2"}


def expand(scientific: Mapping[str, Iterable[Any]], fixed: Mapping[str, Any] | None = None,
           exclude: Iterable[Mapping[str, Any]] = ()) -> list[Variant]:
    """The product of the `scientific` axes, with `fixed` axes held, minus `exclude` matches.

    Order follows the YAML: the first axis varies slowest. Duplicates (possible once an
    exclude or a fixed axis collapses two points) are dropped, first one kept.
    """
    fixed, rules = dict(fixed or {}), list(exclude)
    for axis in [*scientific, *fixed, *(a for rule in rules for a in rule)]:
        if axis not in AXES:
            raise ConfigError(f"unknown variant axis '{axis}': the axes are {', '.join(AXES)}")
    both = set(scientific) & set(fixed)
    if both:
        raise ConfigError(f"axis {sorted(both)} is both scientific and fixed: keep it in one of them")
    axes = list(scientific)
    values = [list(v) if isinstance(v, (list, tuple)) else [v] for v in scientific.values()]
    for axis, axis_values in zip(axes, values):
        if not axis_values:
            raise ConfigError(f"{axis}=[] has no values: give at least one, e.g. {axis}=[{_ALLOWED_HINT.get(axis, '...')}]")
    seen: dict[str, Variant] = {}
    for point in itertools.product(*values):
        variant = replace(Variant(**fixed), **dict(zip(axes, point)))
        if not any(_matches(variant, r) for r in rules):
            seen.setdefault(variant.name, variant)
    return list(seen.values())


def groups(variants: Iterable[Variant], share: Iterable[str]) -> list[list[Variant]]:
    """The variants that differ only along the `share` axes, grouped (in the study's order): each group is tuned
    once, together, and trains at the same settings (bench.pipeline). No shared axes: one group per variant."""
    shared, found = set(share), {}
    for variant in variants:
        key = tuple((axis, value) for axis, value in variant.axes().items() if axis not in shared)
        found.setdefault(key, []).append(variant)
    return list(found.values())


def group_name(members: Iterable[Variant]) -> str:
    """A group's name: its one member's name, or the members' names joined by '+' (its Optuna tuning study is
    `<study>/<group name>`, so a variant tuned alone keeps the name it always had)."""
    return "+".join(v.name for v in members)


def shared_fixed(members: Iterable[Variant]) -> dict:
    """The settings the group's members fix (GloVe's width), shared by every member so that a pair differs in its
    axis alone; a key that members fix to different values stays each member's own (the pair's row says so)."""
    fixed: dict[str, set] = {}
    for variant in members:
        for key, value in variant.fixed_params.items():
            fixed.setdefault(key, set()).add(value)
    return {key: values.pop() for key, values in fixed.items() if len(values) == 1}
