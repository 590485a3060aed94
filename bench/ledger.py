"""Who runs which (variant, seed), and the finished records: one ledger per study, shared by its workers.

Each measured run is *claimed* before it starts and *finished* with its record. A claim is a lease:
the worker holding it renews it (a heartbeat thread) while it lives; a worker that dies stops
renewing, its lease runs out, and any other worker takes the run over. Finishing is conditional on
still holding the claim, so a run is finished (recorded) exactly once, even when a slow worker comes
back after its lease was taken over: its late result is dropped.

Two backends with the same operations:
- FileLedger: the study folder (records.jsonl, claims.json, study.json, tuning.json), every change
  made under an exclusive `flock` on `<out>/.ledger.lock`: the processes of one machine (`workers=N`).
- SqlLedger: three tables in a SQLAlchemy database (PostgreSQL for several machines, SQLite in tests),
  the same database as Optuna's tuning storage; atomic claims through a primary key and a
  conditional UPDATE. `python -m bench.report study=NAME storage=URL out=DIR` exports it to a folder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bench import store
from bench.errors import BenchError, StorageError

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
DONE, RUNNING = "done", "running"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Ledger:
    """The operations every backend offers; see the module docstring."""

    def __init__(self, study: str, lease_s: float):
        self.study, self.lease_s, self.worker = study, lease_s, worker_id()
        self.held: set[tuple[str, int]] = set()
        self._beat: threading.Thread | None = None
        self._stop = threading.Event()

    # subclasses: _claim, _renew, _finish, _release, records, put, get
    def claim(self, variant: str, seed: int) -> bool:
        """True when this worker may run (variant, seed) now: nobody finished it and no live lease holds it."""
        if self._claim(variant, seed, time.time()):
            self.held.add((variant, seed))
            self._start_heartbeat()
            return True
        return False

    def finish(self, variant: str, seed: int, record: dict) -> bool:
        """Store the record if this worker still holds the claim; False when it lost it (the record is dropped)."""
        self.held.discard((variant, seed))
        return self._finish(variant, seed, record)

    def release(self, variant: str, seed: int) -> None:
        """Give a claim back unfinished (the run failed): another worker, or the next run, may retry it."""
        self.held.discard((variant, seed))
        self._release(variant, seed)

    def status(self) -> dict[tuple[str, int], str]:
        """(variant, seed) -> 'done' or 'running' (a live lease) for every claimed run."""
        raise NotImplementedError

    def _start_heartbeat(self) -> None:
        if self._beat is None or not self._beat.is_alive():
            self._beat = threading.Thread(target=self._heartbeat, name="ledger-heartbeat", daemon=True)
            self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            if self.held:
                try:
                    self._renew(time.time())
                except BenchError as e:  # the database is away for a moment: try again next beat
                    log.warning("could not renew the lease: %s", e)

    def close(self) -> None:
        self._stop.set()
        for variant, seed in list(self.held):
            try:
                self.release(variant, seed)
            except BenchError:
                pass  # the lease runs out by itself


class FileLedger(Ledger):
    CLAIMS = "claims.json"

    def __init__(self, out: Path, study: str, lease_s: float):
        super().__init__(study, lease_s)
        self.out = out

    @contextmanager
    def _locked(self) -> Iterator[dict]:
        """The claims, read and written back under the folder's exclusive lock."""
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / ".ledger.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = self.out / self.CLAIMS
            claims = json.loads(path.read_text()) if path.is_file() else {}
            before = json.dumps(claims, sort_keys=True)
            yield claims
            if json.dumps(claims, sort_keys=True) != before:
                store.write_atomic(path, json.dumps(claims, indent=1, sort_keys=True))

    @staticmethod
    def _key(variant: str, seed: int) -> str:
        return f"{variant}|{seed}"

    def clear_claims(self) -> int:
        """Drop every claim: for a caller holding the folder's lock, no claim can belong to a live worker."""
        with self._locked() as claims:
            dropped = len(claims)
            claims.clear()
            return dropped

    def _done(self) -> set[tuple[str, int]]:
        return {(r["variant"], r["seed"]) for r in store.load(self.out)}

    def _claim(self, variant: str, seed: int, now: float) -> bool:
        with self._locked() as claims:
            if (variant, seed) in self._done():
                return False
            held = claims.get(self._key(variant, seed))
            if held and held["until"] > now and held["worker"] != self.worker:
                return False
            claims[self._key(variant, seed)] = {"worker": self.worker, "until": now + self.lease_s}
            return True

    def _renew(self, now: float) -> None:
        with self._locked() as claims:
            for variant, seed in list(self.held):
                held = claims.get(self._key(variant, seed))
                if held and held["worker"] == self.worker:
                    held["until"] = now + self.lease_s

    def _finish(self, variant: str, seed: int, record: dict) -> bool:
        with self._locked() as claims:
            held = claims.get(self._key(variant, seed))
            if not held or held["worker"] != self.worker or (variant, seed) in self._done():
                return False
            store.append(self.out, record)
            del claims[self._key(variant, seed)]
            return True

    def _release(self, variant: str, seed: int) -> None:
        with self._locked() as claims:
            held = claims.get(self._key(variant, seed))
            if held and held["worker"] == self.worker:
                del claims[self._key(variant, seed)]

    def status(self) -> dict[tuple[str, int], str]:
        now = time.time()
        with self._locked() as claims:
            live = {tuple(k.rsplit("|", 1)): v for k, v in claims.items() if v["until"] > now}
        found = {(v, int(s)): RUNNING for v, s in live}
        found.update({pair: DONE for pair in self._done()})
        return found

    def records(self) -> list[dict]:
        return store.load(self.out)

    def put(self, kind: str, doc: dict) -> None:
        with self._locked():
            if kind == "study":
                store.save_study(self.out, doc)
            else:  # tuning: one entry per variant, merged (several workers write their own variants)
                store.save_tuning(self.out, {**store.load_tuning(self.out), **doc})

    def get(self, kind: str) -> dict:
        return store.load_study(self.out) if kind == "study" else store.load_tuning(self.out)


def _db_errors(method):
    """A database that goes away mid-run is a StorageError (one line, no password), not a crash."""
    import functools

    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except self.sa.exc.OperationalError as e:
            raise StorageError(f"lost the database at {store.mask_secrets(self.url)}: {_reason(e)}; finished runs "
                               "are kept there: the same command resumes once it is back") from None
    return wrapped


class SqlLedger(Ledger):
    def __init__(self, url: str, study: str, lease_s: float):
        super().__init__(study, lease_s)
        import sqlalchemy as sa

        self.sa = sa
        self.url = url
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        except ImportError as e:
            raise BenchError(f"storage={store.mask_secrets(url)} needs a database driver ({e.name}): "
                             "pip install -e '.[postgres]'") from e
        except sa.exc.ArgumentError as e:
            raise BenchError(f"storage={store.mask_secrets(url)} is not a database URL ({e}); give e.g. "
                             "storage=postgresql+psycopg://user:password@host:5432/db") from e
        meta = sa.MetaData()
        self.schema = sa.Table("rnnbench_schema", meta, sa.Column("version", sa.Integer, primary_key=True))
        self.claims = sa.Table(
            "rnnbench_runs", meta,
            sa.Column("study", sa.String(200), primary_key=True), sa.Column("variant", sa.String(200), primary_key=True),
            sa.Column("seed", sa.Integer, primary_key=True), sa.Column("state", sa.String(16), nullable=False),
            sa.Column("worker", sa.String(200)), sa.Column("until", sa.Float), sa.Column("record", sa.Text))
        self.docs = sa.Table(
            "rnnbench_docs", meta, sa.Column("study", sa.String(200), primary_key=True),
            sa.Column("kind", sa.String(200), primary_key=True), sa.Column("body", sa.Text, nullable=False))
        versions = self._create(meta)
        if versions and versions != [SCHEMA_VERSION]:
            raise BenchError(f"the database at {store.mask_secrets(url)} holds rnnbench schema version "
                             f"{versions[0]}, this rnnbench writes version {SCHEMA_VERSION}: use a new database, "
                             "or the rnnbench release that made it")

    def _create(self, meta) -> list[int]:
        """The tables and the schema version, made once; workers starting together may race to make them."""
        sa = self.sa
        for attempt in range(5):
            try:
                meta.create_all(self.engine)
                with self.engine.begin() as c:
                    versions = [row.version for row in c.execute(sa.select(self.schema.c.version))]
                    if not versions:
                        c.execute(self.schema.insert().values(version=SCHEMA_VERSION))
                        versions = [SCHEMA_VERSION]
                return versions
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError) as e:
                if attempt == 4 or "does not exist" in str(e):
                    raise BenchError(f"cannot make rnnbench's tables in {store.mask_secrets(self.url)}: "
                                     f"{_reason(e)}") from None
                time.sleep(0.2 * (attempt + 1))  # another worker is making them right now
            except sa.exc.SQLAlchemyError as e:
                raise BenchError(f"cannot use the database at {store.mask_secrets(self.url)}: {_reason(e)}; check "
                                 "the host, port, user and password, or drop storage= to keep everything in the "
                                 "study's folder") from None
        return [SCHEMA_VERSION]

    def _where(self, variant: str, seed: int):
        c = self.claims.c
        return (c.study == self.study) & (c.variant == variant) & (c.seed == seed)

    @_db_errors
    def _claim(self, variant: str, seed: int, now: float) -> bool:
        sa, c = self.sa, self.claims.c
        try:
            with self.engine.begin() as conn:
                conn.execute(self.claims.insert().values(study=self.study, variant=variant, seed=seed, state=RUNNING,
                                                         worker=self.worker, until=now + self.lease_s))
            return True
        except sa.exc.IntegrityError:
            pass  # claimed before: take it over only if its lease ran out
        with self.engine.begin() as conn:
            taken = conn.execute(self.claims.update().where(
                self._where(variant, seed) & (c.state == RUNNING) & ((c.until < now) | (c.worker == self.worker))
            ).values(worker=self.worker, until=now + self.lease_s))
            return taken.rowcount == 1

    @_db_errors
    def _renew(self, now: float) -> None:
        c = self.claims.c
        with self.engine.begin() as conn:
            for variant, seed in list(self.held):
                conn.execute(self.claims.update().where(
                    self._where(variant, seed) & (c.state == RUNNING) & (c.worker == self.worker)
                ).values(until=now + self.lease_s))

    @_db_errors
    def _finish(self, variant: str, seed: int, record: dict) -> bool:
        c = self.claims.c
        with self.engine.begin() as conn:
            done = conn.execute(self.claims.update().where(
                self._where(variant, seed) & (c.state == RUNNING) & (c.worker == self.worker)
            ).values(state=DONE, record=json.dumps(record, sort_keys=True)))
            return done.rowcount == 1

    @_db_errors
    def _release(self, variant: str, seed: int) -> None:
        c = self.claims.c
        with self.engine.begin() as conn:
            conn.execute(self.claims.delete().where(
                self._where(variant, seed) & (c.state == RUNNING) & (c.worker == self.worker)))

    @_db_errors
    def status(self) -> dict[tuple[str, int], str]:
        c, now = self.claims.c, time.time()
        with self.engine.connect() as conn:
            rows = conn.execute(self.sa.select(c.variant, c.seed, c.state, c.until).where(c.study == self.study))
            return {(r.variant, r.seed): r.state for r in rows if r.state == DONE or r.until > now}

    @_db_errors
    def records(self) -> list[dict]:
        c = self.claims.c
        with self.engine.connect() as conn:
            rows = conn.execute(self.sa.select(c.record).where((c.study == self.study) & (c.state == DONE))
                                .order_by(c.variant, c.seed))
            return [json.loads(r.record) for r in rows]

    @_db_errors
    def put(self, kind: str, doc: dict) -> None:
        docs = {f"tuning:{v}": entry for v, entry in doc.items()} if kind == "tuning" else {kind: doc}
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    for name, body in docs.items():
                        self._upsert(conn, name, body)
                return
            except self.sa.exc.IntegrityError:
                # another worker inserted the same document between our update and our insert (both found no
                # row): it exists now, so the next attempt updates it
                if attempt == 2:
                    raise

    def _upsert(self, conn, kind: str, doc: dict) -> None:
        c = self.docs.c
        body = json.dumps(doc, sort_keys=True, default=str)
        if conn.execute(self.docs.update().where((c.study == self.study) & (c.kind == kind)).values(body=body)).rowcount:
            return
        conn.execute(self.docs.insert().values(study=self.study, kind=kind, body=body))

    @_db_errors
    def get(self, kind: str) -> dict:
        c = self.docs.c
        with self.engine.connect() as conn:
            rows = conn.execute(self.sa.select(c.kind, c.body).where(c.study == self.study)).all()
        if kind == "tuning":
            return {k.removeprefix("tuning:"): json.loads(b) for k, b in rows if k.startswith("tuning:")}
        return next((json.loads(b) for k, b in rows if k == kind), {})

    def export(self, out: Path) -> int:
        """Write the shared study into a folder (records.jsonl, study.json, tuning.json) for the report."""
        out.mkdir(parents=True, exist_ok=True)
        records = self.records()
        store.write_atomic(out / store.RECORDS, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
        store.save_study(out, self.get("study"))
        store.save_tuning(out, self.get("tuning"))
        return len(records)


def _reason(e: Exception) -> str:
    """The first line of a database error, any password in it masked."""
    text = str(getattr(e, "orig", None) or e).strip().splitlines()
    return store.mask_secrets(text[0] if text else type(e).__name__)


def sql_url(url: str) -> str:
    """`postgresql://` means psycopg (version 3, the `postgres` extra) unless a driver is named."""
    return "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


def open_ledger(storage: str | None, out: Path, study: str, lease_s: float) -> Ledger:
    return SqlLedger(sql_url(storage), study, lease_s) if storage else FileLedger(out, study, lease_s)
