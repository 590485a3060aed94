"""Progress: a tqdm bar with an ETA on a terminal, plain lines when the output is a file or a pipe.

A log (`> run.log 2>&1`, a CI job, a worker's log) gets one readable line per step worth saying: when a bar
starts, every 10 % or every `PLAIN_EVERY` seconds at most, and when it ends; never a carriage return or an
escape code. `RNNBENCH_PROGRESS=bar|plain` overrides the choice.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from tqdm import tqdm

from bench.errors import printable, printable_lines

PLAIN_EVERY = 30.0  # seconds between two lines of one plain bar, at most (besides each 10 %)


def plain(stream: TextIO | None = None) -> bool:
    """Whether progress goes out as plain lines: the stream is not a terminal (or RNNBENCH_PROGRESS=plain)."""
    forced = os.environ.get("RNNBENCH_PROGRESS", "")
    if forced in ("bar", "plain"):
        return forced == "plain"
    stream = stream or sys.stderr
    return not (hasattr(stream, "isatty") and stream.isatty())


LINE = "{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f}%), {elapsed} elapsed"


class PlainBar:
    """tqdm's interface as far as rnnbench uses it (update, n, refresh, close, a context), in lines."""

    def __init__(self, total: int, desc: str, unit: str = "it", initial: int = 0, unit_scale: bool = False,
                 file: TextIO | None = None, every: float = PLAIN_EVERY, leave: bool = True, **_: object):
        self.total, self.desc, self.unit, self.scale = total, desc, unit, unit_scale
        self.n, self.file, self.every = initial, file or sys.stderr, every
        self.tenths = leave  # an inner bar (leave=False: a trial's or a seed's samples) says only its time lines
        self.start, self._initial = time.monotonic(), initial
        self._said_at, self._said_n = self.start, initial
        self._line("started")

    def _line(self, what: str = "") -> None:
        """One line, worded by tqdm's own format_meter (rate and ETA from the steps done since this bar began)."""
        eta = 0 < self.n - self._initial and self.n < self.total
        line = tqdm.format_meter(self.n, self.total, time.monotonic() - self.start, prefix=self.desc, unit=self.unit,
                                 unit_scale=self.scale, initial=self._initial,
                                 bar_format=LINE + (", ETA {remaining}" if eta else ""))
        what = "done" if self.total and self.n >= self.total else what
        print(line + (" " + what if what else ""), file=self.file, flush=True)
        self._said_at, self._said_n = time.monotonic(), self.n

    def refresh(self) -> None:
        if self.n == self._said_n:
            return
        tenth = self.tenths and self.total and int(10 * self.n / self.total) > int(10 * self._said_n / self.total)
        if tenth or time.monotonic() - self._said_at >= self.every:
            self._line()

    def update(self, n: float = 1) -> None:
        self.n += n
        self.refresh()

    def close(self) -> None:
        if self.n != self._said_n:
            self._line()

    def __enter__(self) -> "PlainBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bar(total: int, desc: str, unit: str = "it", **kwargs) -> tqdm | PlainBar:
    """A progress bar on stderr: tqdm on a terminal, PlainBar otherwise."""
    kwargs.setdefault("file", sys.stderr)
    desc = printable(desc)  # a name echoed on a terminal is shown, never obeyed
    if plain(kwargs["file"]):
        return PlainBar(total, desc, unit, **kwargs)
    return tqdm(total=total, desc=desc, unit=unit, **kwargs)


def say(text: str) -> None:
    """A line on stderr that does not tear a terminal's bars."""
    tqdm.write(printable_lines(text), file=sys.stderr)


def tell(text: object, file=None) -> None:
    """`print`, with every control character in the text escaped (a path or a name is shown, never obeyed)."""
    print(printable_lines(text), file=file or sys.stdout)
