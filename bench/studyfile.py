"""Reading a study file as untrusted input: bounded, inert YAML.

A study file is shared like a notebook ("run my study"), so it is read as someone else's input:

- only a regular file is opened (a FIFO, a device or a folder is named for what it is, never read);
- at most MAX_BYTES are read; the YAML's node count (every alias expanded, as a merge would expand it) is capped at
  MAX_NODES and its nesting at MAX_DEPTH, each with its own line: a few hundred bytes of aliases cannot hang a run;
- values are plain data (PyYAML's safe loader: no `!!python` tags) with YAML 1.2 floats (`1e-3` is a number, as
  OmegaConf reads it), and a key given twice is refused;
- `${...}` is refused wherever it stands: OmegaConf would resolve it (`${oc.env:SECRET}` reads the environment), and a
  study file must not read anything but itself. Values from outside come from the command line's own words.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from bench.errors import ConfigError, kind_of, printable

MAX_BYTES = 1 << 20     # a study file is a page of settings; 1 MiB is already generous
MAX_NODES = 100_000     # scalars, lists and mappings, aliases expanded
MAX_DEPTH = 32          # lists and mappings inside each other
SUFFIXES = (".yaml", ".yml")


def read_bytes(path: Path, limit: int, what: str) -> bytes:
    """At most `limit` bytes of a regular file, or one ConfigError line saying what `path` is instead. The file is
    opened without blocking (a FIFO never waits for a writer) and checked after opening (no swap in between)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(f"{printable(path)}: {what} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{printable(path)}: {what} is a folder, not a file") from None
    except OSError as e:
        raise ConfigError(f"{printable(path)}: cannot read the {what} ({e.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{printable(path)}: the {what} is {kind_of(mode)}, not a regular file: give a "
                              f"{SUFFIXES[0]} file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ConfigError(f"{printable(path)}: the {what} is larger than {limit // 1024} KiB, the most a study file "
                          "may be: a study file holds settings, not data")
    return data


class _Loader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2's floats (1e-3, .inf) and no key given twice."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
               |\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)
               |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise ConfigError(f"{loader.name}: the key {printable(key)!r} is given twice in one mapping (line "
                              f"{key_node.start_mark.line + 1}): give it once")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _bounded(node: Any, path: str) -> None:
    """Count the nodes a full expansion would make (aliases again each time) and the nesting, stopping at a cap."""
    count, stack = 0, [(node, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(f"{path}: the YAML expands to more than {MAX_NODES:,} values (aliases such as *a "
                              "repeat what they name): a study file holds settings; remove the repeated aliases")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{path}: the YAML nests lists and mappings more than {MAX_DEPTH} deep: a study "
                              "file's sections are a few levels deep")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair)


def load(path: Path, what: str = "study file") -> Any:
    """The plain data of a YAML study file (see the module docstring); None for an empty file."""
    shown = printable(path)
    if path.suffix not in SUFFIXES:
        raise ConfigError(f"{shown}: {'an' if what[0] in 'aeiou' else 'a'} {what} is a YAML file ending in "
                          f"{' or '.join(SUFFIXES)}; this one is not read")
    data = read_bytes(path, MAX_BYTES, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{shown}: not UTF-8 text (byte {e.start}): save the file as UTF-8") from None
    loader = _Loader(text)
    loader.name = shown
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _bounded(node, shown)
        tree = loader.construct_document(node)
    except yaml.YAMLError as e:  # yaml's errors carry several lines: keep the first
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"{shown}: not valid YAML ({printable(first)})") from None
    finally:
        loader.dispose()
    interpolation(tree, shown)
    return tree


def interpolation(value: Any, where: str, key: str = "") -> None:
    """Refuse `${...}` anywhere in `value` (a study file's tree, or one command-line value), naming the key."""
    if isinstance(value, dict):
        for k, v in value.items():
            interpolation(k, where, key)
            interpolation(v, where, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            interpolation(v, where, key)
    elif isinstance(value, str) and "${" in value:
        raise ConfigError(f"{where}: {printable(key or 'a key')}: interpolation (${{...}}) is not supported: a study "
                          "reads nothing from outside itself (no environment, no other keys); write the value itself")
