"""User-facing errors: one line that names the problem and the fix.

The CLI turns any `BenchError` into `error: <message>` on stderr and exit code 2; anything
else is a bug and keeps its traceback.
"""

import stat


class BenchError(Exception):
    """Bad input from the user (config, data, command line): exit 2, nothing written."""


class ConfigError(BenchError):
    """A study file or a `key=value` override is wrong."""


class DataError(BenchError):
    """A dataset is missing, malformed or empty."""


class StorageError(BenchError):
    """The study folder or database cannot be written (read-only, disk full, unreachable)."""


def printable(value: object) -> str:
    """`value` as text a terminal shows and does not obey: each control character (ESC, BEL, a newline, ...) is
    written as its escape (`\\x1b`), so a name or a word echoed in a line cannot set a title or clear the screen."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def printable_lines(text: object) -> str:
    """`printable` line by line: the line breaks stay, every other control character is escaped."""
    return "\n".join(printable(line) for line in str(text).split("\n"))


def kind_of(mode: int) -> str:
    """What a path that is not a regular file is, in words."""
    for test, said in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return said
    return "not a regular file"
