"""Claims, leases and records, the same for the folder and for a database."""

from __future__ import annotations

import time

import pytest

from bench.errors import BenchError
from bench.ledger import DONE, RUNNING, FileLedger, SqlLedger, sql_url


@pytest.fixture(params=["folder", "sqlite", "postgres"])
def make(request, tmp_path):
    """A factory of ledgers on one shared store, as different workers."""
    if request.param == "folder":
        return lambda name, lease=60.0: _named(FileLedger(tmp_path / "out", "s", lease), name)
    url = f"sqlite:///{tmp_path}/l.db" if request.param == "sqlite" else sql_url(request.getfixturevalue("postgres"))
    if request.param == "postgres":  # a fresh study name per test: the cluster is shared by the session
        study = f"s{time.time_ns()}"
        return lambda name, lease=60.0: _named(SqlLedger(url, study, lease), name)
    return lambda name, lease=60.0: _named(SqlLedger(url, "s", lease), name)


def _named(ledger, name):
    ledger.worker = name
    return ledger


def test_a_run_is_claimed_once_and_finished_once(make):
    a, b = make("a"), make("b")
    assert a.claim("lstm", 0) and not b.claim("lstm", 0)
    assert b.claim("lstm", 1)
    assert a.status() == {("lstm", 0): RUNNING, ("lstm", 1): RUNNING}
    assert a.finish("lstm", 0, {"variant": "lstm", "seed": 0, "by": "a"})
    assert not b.claim("lstm", 0), "a finished run is never claimed again"
    assert b.finish("lstm", 1, {"variant": "lstm", "seed": 1, "by": "b"})
    assert sorted((r["seed"], r["by"]) for r in a.records()) == [(0, "a"), (1, "b")]
    assert a.status() == {("lstm", 0): DONE, ("lstm", 1): DONE}
    a.close(), b.close()


def test_an_expired_lease_is_taken_over_and_the_late_result_dropped(make):
    slow, other = make("slow", lease=1.0), make("other", lease=1.0)
    assert slow.claim("gru", 0)
    slow._stop.set()  # its heartbeat dies with it
    time.sleep(1.3)
    assert other.claim("gru", 0), "the lease ran out: the run is free"
    assert other.finish("gru", 0, {"variant": "gru", "seed": 0, "by": "other"})
    assert not slow.finish("gru", 0, {"variant": "gru", "seed": 0, "by": "slow"})
    assert [r["by"] for r in other.records()] == ["other"]
    other.close()


def test_a_live_lease_is_kept_by_its_heartbeat(make):
    holder, other = make("holder", lease=1.0), make("other", lease=1.0)
    assert holder.claim("rnn", 0)
    time.sleep(1.5)  # longer than the lease: only the heartbeat keeps it
    assert not other.claim("rnn", 0)
    holder.release("rnn", 0)
    assert other.claim("rnn", 0)
    holder.close(), other.close()


def test_documents_merge_tuning_per_variant(make):
    a, b = make("a"), make("b")
    a.put("study", {"name": "s", "n": 1})
    a.put("tuning", {"lstm": {"best": 1}})
    b.put("tuning", {"gru": {"best": 2}})
    assert b.get("tuning") == {"lstm": {"best": 1}, "gru": {"best": 2}} and b.get("study")["n"] == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_workers_writing_the_same_new_document_at_once_both_succeed(backend, tmp_path, request, monkeypatch):
    """Both find no row, both insert: the loser's insert hits the primary key. It must retry as an update (three
    PostgreSQL workers finishing together crashed here), not fail the worker."""
    url = f"sqlite:///{tmp_path}/l.db" if backend == "sqlite" else sql_url(request.getfixturevalue("postgres"))
    study = f"s{time.time_ns()}"
    a, b = SqlLedger(url, study, 60), SqlLedger(url, study, 60)
    upsert, raced = SqlLedger._upsert, []

    def insert_blindly_once(self, conn, kind, doc):  # b read "no row" just before a's insert landed
        if self is b and not raced:
            raced.append(kind)
            a.put("study", {"by": "a"})
            return conn.execute(self.docs.insert().values(study=self.study, kind=kind, body="{}"))
        return upsert(self, conn, kind, doc)
    monkeypatch.setattr(SqlLedger, "_upsert", insert_blindly_once)
    b.put("study", {"by": "b"})
    assert raced == ["study"] and a.get("study") == {"by": "b"}


def test_unreachable_database_is_one_line_without_the_password():
    with pytest.raises(BenchError) as e:
        SqlLedger("postgresql+psycopg://bob:hunter2@127.0.0.1:9/x", "s", 60)
    assert "hunter2" not in str(e.value) and "bob:***@" in str(e.value) and "\n" not in str(e.value)


def test_another_schema_version_is_refused(tmp_path):
    import sqlalchemy as sa
    url = f"sqlite:///{tmp_path}/old.db"
    SqlLedger(url, "s", 60)
    with sa.create_engine(url).begin() as c:
        c.execute(sa.text("UPDATE rnnbench_schema SET version = 99"))
    with pytest.raises(BenchError, match="schema version 99, this rnnbench writes version 1"):
        SqlLedger(url, "s", 60)


def test_postgresql_url_means_psycopg3():
    assert sql_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert sql_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"


def test_a_database_lost_mid_run_is_a_one_line_storage_error(tmp_path):
    import sqlalchemy as sa
    from bench.errors import StorageError
    url = f"sqlite:///{tmp_path}/gone.db"
    ledger = SqlLedger(url, "s", 60)
    with sa.create_engine(url).begin() as c:  # as if the server lost its tables
        c.execute(sa.text("DROP TABLE rnnbench_runs"))
    with pytest.raises(StorageError, match=r"^lost the database at sqlite:///.*gone.db: .*the same command resumes"):
        ledger.claim("lstm", 0)
