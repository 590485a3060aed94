"""torchtext's `basic_english` tokenizer, re-implemented (torchtext is retired upstream).

Exactly the rules LESSON.md writes, in that order; `tests/data/test_tokenizer.py` pins them.
"""

from __future__ import annotations

import re

VERSION = "basic_english-1"  # part of the tensor-cache key: bump it when the rules change

_RULES = [(re.compile(pattern), replacement) for pattern, replacement in [
    (r"'", " '  "),
    (r'"', ""),
    (r"\.", " . "),
    (r"<br />", " "),
    (r",", " , "),
    (r"\(", " ( "),
    (r"\)", " ) "),
    (r"!", " ! "),
    (r"\?", " ? "),
    (r";", " "),
    (r":", " "),
    (r"\s+", " "),
]]


def basic_english(line: str) -> list[str]:
    """`You can now install TorchText using pip!` -> [you, can, now, install, torchtext, using, pip, !]."""
    line = line.lower()
    for pattern, replacement in _RULES:
        line = pattern.sub(replacement, line)
    return line.split()
