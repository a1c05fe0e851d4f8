"""The audit log's months (issue 15, migration 0018, audit/partitions.py): partitioned by month, the expired
months dropped by `crm-provider maintenance` and nothing else, the hash chain verifying across the cut, a row
with no month to go to kept, and a log from before partitioning moved across while the service writes."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from click.testing import CliRunner
from conftest import DEMO_CUSTOMER_ID
from sqlalchemy.engine import make_url
from test_hardening import app_role_url  # noqa: F401 (a fixture)

from crm_provider import db, migrate
from crm_provider.audit import chain, partitions
from crm_provider.cli import main

INSERT = """INSERT INTO audit_log (at, operation, http_status, request_id, credential, authenticated)
            VALUES (%(at)s, 'GET /customers', 200, %(request_id)s, 'pos', true)"""


def month_start(months_ago: int) -> datetime:
    now = datetime.now(timezone.utc)
    index = now.year * 12 + now.month - 1 - months_ago
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


def add_row(conn, at: datetime, request_id: str) -> None:
    conn.execute(INSERT, {"at": at, "request_id": request_id})


def where(conn, request_id: str) -> str:
    return conn.execute("SELECT tableoid::regclass::text AS partition FROM audit_log WHERE request_id = %s",
                        (request_id,)).fetchone()["partition"]


def months(conn) -> list[str]:
    return [row["name"] for row in conn.execute(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'audit_log'::regclass ORDER BY 1")]


def test_the_audit_log_is_partitioned_by_month_and_a_request_writes_into_this_months(spi, demo_data, conn):
    this_month = month_start(0)
    assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'audit_log'::regclass").fetchone()["relkind"] == "p"
    assert {f"audit_log_{month_start(-n):%Y_%m}" for n in range(4)} | {"audit_log_default"} <= set(months(conn))
    assert spi.get(f"/customers/{DEMO_CUSTOMER_ID}").status_code == 200
    [row] = conn.execute("SELECT tableoid::regclass::text AS partition FROM audit_log").fetchall()
    assert row["partition"] == f"audit_log_{this_month:%Y_%m}"


def test_retention_drops_the_months_past_it_and_nothing_else_and_the_chain_still_verifies(
        database_url, conn, audit_months):
    audit_months(month_start(16))
    for months_ago in (16, 15, 14, 13, 12, 0):
        for n in range(3):
            add_row(conn, month_start(months_ago) + timedelta(hours=1, minutes=n), f"m{months_ago}-{n}")
    # A request that began a second before the month 13 months ago began, and took its id after rows of it
    add_row(conn, month_start(13) - timedelta(seconds=1), "straggler")
    assert where(conn, "straggler") == f"audit_log_{month_start(14):%Y_%m}"
    assert chain.seal(conn, settle_seconds=0) == 19 and chain.verify(conn) == []

    ran = CliRunner().invoke(main, ["maintenance"], env={"DATABASE_URL": database_url,
                                                         "CRM_AUDIT_RETENTION_MONTHS": "13"})
    assert ran.exit_code == 0, ran.output
    gone = [f"audit_log_{month_start(n):%Y_%m}" for n in (16, 15, 14)]
    assert f"dropped (older than 13 months): {', '.join(gone)}" in ran.output
    assert not set(gone) & set(months(conn))
    assert [row["request_id"] for row in conn.execute("SELECT request_id FROM audit_log ORDER BY audit_id")] == [
        f"m{months_ago}-{n}" for months_ago in (13, 12, 0) for n in range(3)]
    assert chain.verify(conn) == [], "the chain goes on from the cut; the straggler was removed on purpose"

    add_row(conn, datetime.now(timezone.utc), "after")
    assert chain.seal(conn, settle_seconds=0) == 1 and chain.verify(conn) == []
    again = CliRunner().invoke(main, ["maintenance"], env={"DATABASE_URL": database_url})
    assert again.exit_code == 0 and "dropped (older than 13 months): none" in again.output


def test_two_maintenances_at_once_drop_each_month_once(database_url, conn, audit_months):
    audit_months(month_start(18))
    for months_ago in range(18, 12, -1):
        add_row(conn, month_start(months_ago) + timedelta(days=3), f"m{months_ago}")
    chain.seal(conn, settle_seconds=0)
    dropped, errors = [], []

    def drop():
        try:
            with db.connect(database_url, autocommit=True) as own:
                dropped.extend(partitions.drop_expired(own, 13))
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=drop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and sorted(dropped) == [f"audit_log_{month_start(n):%Y_%m}" for n in range(18, 13, -1)]
    assert chain.verify(conn) == []


def test_a_row_whose_month_has_no_partition_is_kept_and_moves_into_its_month(conn, audit_months):
    at = month_start(30) + timedelta(days=2)
    add_row(conn, at, "late")
    assert where(conn, "late") == "audit_log_default", "no audited request fails for a missing month"
    audit_months(None)
    assert where(conn, "late") == f"audit_log_{at:%Y_%m}"
    assert conn.execute("SELECT count(*) AS n FROM audit_log_default").fetchone()["n"] == 0
    add_row(conn, month_start(40), "later")
    for table in ("audit_log_default", f"audit_log_{at:%Y_%m}"):  # both append-only still
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"DELETE FROM {table}")


def test_the_worker_adds_months_as_the_application_role_and_only_the_owner_drops_one(
        app_role_url, conn):  # noqa: F811
    add_row(conn, month_start(20), "old")
    with psycopg.connect(app_role_url, autocommit=True, row_factory=psycopg.rows.dict_row) as app_conn:
        assert partitions.ensure(app_conn) == [month_start(20).date()]
        old = f"audit_log_{month_start(20):%Y_%m}"
        try:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                partitions.drop_expired(app_conn, 13)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app_conn.execute(f"DROP TABLE {old}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app_conn.execute("SELECT audit_log_swap()")
        finally:
            conn.execute(f"DROP TABLE {old}")


@pytest.fixture
def old_database(database_url, conn):
    """A database of its own, migrated to the release before partitioning (0017)."""
    name = f"crm_move_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE DATABASE {name}")
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url, "0017")
    yield url
    conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_a_log_from_before_partitioning_moves_across_online_and_resumably(old_database, monkeypatch):
    with db.connect(old_database, autocommit=True) as owner:
        owner.execute("""
            INSERT INTO audit_log (at, operation, customer_id, http_status, request_id, credential, authenticated,
                                   store_id, detail)
            SELECT now() - make_interval(mins => (60000 - n) * 4), 'GET /customers', md5(n::text), 200,
                   'r' || n, 'pos', true, (n % 200)::text, CASE WHEN n % 7 = 0 THEN '{"n": 1}'::jsonb END
            FROM generate_series(1, 60000) AS n""")
        assert chain.seal(owner, settle_seconds=0) == 60000
        before = owner.execute("SELECT md5(string_agg(row_to_json(a)::text, '' ORDER BY audit_id)) AS sum "
                               "FROM audit_log a").fetchone()["sum"]
        migrate.upgrade(old_database)
        assert owner.execute("SELECT relkind FROM pg_class WHERE oid = 'audit_log'::regclass").fetchone() == {
            "relkind": "r"}, "a log with rows is moved by the command, not by the migration"

        written, failures, stop = [], [], threading.Event()

        def service():  # a till's requests go on through the move, the swap included
            try:
                with db.connect(old_database, autocommit=True) as till:
                    while not stop.is_set():
                        till.execute(INSERT, {"at": datetime.now(timezone.utc), "request_id": "live"},
                                     prepare=True)
                        written.append(1)
            except Exception as error:  # reported by the assertion below
                failures.append(error)

        writer = threading.Thread(target=service)
        writer.start()
        try:
            monkeypatch.setattr(partitions, "MOVE_BATCH", 5000)

            def interrupt(copied, total):
                raise KeyboardInterrupt

            with pytest.raises(KeyboardInterrupt):
                partitions.move(owner, interrupt)
            copied = owner.execute("SELECT count(*) AS n FROM audit_log_partitioned").fetchone()["n"]
            assert copied == 5000, "one batch, committed"
            ran = CliRunner().invoke(main, ["audit", "partition"], env={"DATABASE_URL": old_database})
            assert ran.exit_code == 0, ran.output
        finally:
            stop.set()
            writer.join()
        assert not failures and len(written) > 0
        assert owner.execute("SELECT relkind FROM pg_class WHERE oid = 'audit_log'::regclass").fetchone() == {
            "relkind": "p"}
        assert owner.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"] == 60000 + len(written)
        after = owner.execute("SELECT md5(string_agg(row_to_json(a)::text, '' ORDER BY audit_id)) AS sum "
                              "FROM audit_log a WHERE request_id <> 'live'").fetchone()["sum"]
        assert after == before, "every row as it was: its canonical text, which the chain sealed"
        assert owner.execute("SELECT count(*) AS n FROM audit_log_default").fetchone()["n"] == 0
        assert chain.seal(owner, settle_seconds=0) == len(written) and chain.verify(owner) == []
        add_row(owner, datetime.now(timezone.utc), "next")
        assert owner.execute("SELECT max(audit_id) AS id FROM audit_log").fetchone()["id"] == owner.execute(
            "SELECT audit_id AS id FROM audit_log WHERE request_id = 'next'").fetchone()["id"], "ids go on"
        assert not partitions.move(owner), "moved once"


def test_a_move_never_passes_a_row_whose_transaction_is_still_open(old_database, monkeypatch):
    monkeypatch.setattr(partitions, "MOVE_BATCH", 5000)
    with db.connect(old_database, autocommit=True) as owner, db.connect(old_database) as slow:
        owner.execute("INSERT INTO audit_log (operation, http_status, request_id, credential, authenticated) "
                      "SELECT 'GET /customers', 200, 'r' || n, 'pos', true FROM generate_series(1, 20000) AS n")
        migrate.upgrade(old_database)
        add_row(slow, datetime.now(timezone.utc), "slow")  # its id taken, its commit to come
        owner.execute("INSERT INTO audit_log (operation, http_status, request_id, credential, authenticated) "
                      "SELECT 'GET /customers', 200, 'r' || n, 'pos', true FROM generate_series(1, 20000) AS n")
        def move():
            with db.connect(old_database, autocommit=True) as own:
                partitions.move(own)

        moved = threading.Thread(target=move)
        moved.start()
        moved.join(timeout=1.5)
        assert moved.is_alive(), "the move waits for the transactions that may still commit a row below its ceiling"
        slow.commit()
        moved.join()
        assert where(owner, "slow").startswith("audit_log_2")
        assert owner.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"] == 40001
