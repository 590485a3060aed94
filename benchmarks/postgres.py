"""A private PostgreSQL cluster on a free 127.0.0.1 port, for a test session or a benchmark: `with cluster() as url`.

Made with initdb + pg_ctl in a temporary folder, as the unprivileged `postgres` user when run as root (the server
refuses root); stopped and deleted at the end. `Unavailable` says why there is none (no server binaries, no user).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here."""


def _bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """The URL of a fresh cluster (trust authentication: the password in it is never checked, only never shown)."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise Unavailable("no PostgreSQL server here: install Debian's `postgresql` package (.ci/run does, as root)")
    as_user: list[str] = []
    if os.getuid() == 0:
        if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
            raise Unavailable("running as root and there is no `postgres` user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="rnnbench-pg-"))
    os.chmod(root, 0o755)
    if as_user:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"

    def run(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120)
    made = run(initdb, "-D", str(data), "-A", "trust", "-U", "bench", "--no-sync")
    if made.returncode:
        raise Unavailable(f"initdb failed: {made.stderr.strip()}")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
    started = run(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
    if started.returncode:
        raise Unavailable(f"pg_ctl start failed: {started.stderr.strip()} {(root / 'server.log').read_text()}")
    try:
        yield f"postgresql://bench:not-a-real-secret@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
