"""User-facing errors: one line that names the problem and the fix.

The CLI turns any `BenchError` into `error: <message>` on stderr and exit code 2; anything
else is a bug and keeps its traceback.
"""


class BenchError(Exception):
    """Bad input from the user (config, data, command line): exit 2, nothing written."""


class ConfigError(BenchError):
    """A study file or a `key=value` override is wrong."""


class DataError(BenchError):
    """A dataset is missing, malformed or empty."""


class StorageError(BenchError):
    """The study folder or database cannot be written (read-only, disk full, unreachable)."""
