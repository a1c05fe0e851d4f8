"""Purchases flow in by themselves, end to end: events posted to the running server (`crm-provider serve`),
`crm-provider worker` processes running as subprocesses, the fake Sitoo API over HTTP, and the purchases read
back through `GET /customers/{id}/transactions`. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from click.testing import CliRunner

from conftest import ADMIN_PASSWORD, ADMIN_USER, EVENTS_PASSWORD, EVENTS_USER, SPI_PASSWORD, SPI_USER
from crm_provider.cli import main
from fake_sitoo import SPEC_ORDER, SPEC_REFUND, SPEC_SALE, _fake_sitoo_server, event, order, sitoo  # noqa: F401

WAIT = 20.0  # seconds any one condition may take


def wait_until(condition, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def worker_env(sitoo, database_url):
    """A worker configured for tests: short heartbeats, polls and back-off."""
    return {**sitoo.env(), "DATABASE_URL": database_url, "CRM_WORKER_CONCURRENCY": "2",
            "CRM_WORKER_POLL_SECONDS": "0.2", "CRM_WORKER_HEARTBEAT_SECONDS": "0.5",
            "CRM_EVENTS_RETRY_SECONDS": "0.2", "CRM_EVENTS_RETRY_MAX_SECONDS": "1", "SITOO_TIMEOUT": "10",
            "LOG_LEVEL": "WARNING"}


@pytest.fixture
def workers(worker_env, tmp_path):
    """Start `crm-provider worker` processes; all are stopped at the end of the test. `.log` is its output."""
    started = []

    def start(**env) -> subprocess.Popen:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("w") as out:
            process = subprocess.Popen([sys.executable, "-m", "crm_provider", "worker"],
                                       env={**os.environ, **worker_env, **env},
                                       stdout=out, stderr=subprocess.STDOUT)
        process.log = log
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def post_events(live_server, batch: list[dict]) -> dict:
    response = live_server.session.post(live_server.url("/events"), json=batch, auth=(EVENTS_USER, EVENTS_PASSWORD),
                                        timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def new_customer(live_server, member_number: str) -> str:
    response = live_server.session.post(live_server.url("/customers"), timeout=5,
                                        json={"member_number": member_number, "name_first": "Test"})
    assert response.status_code == 201, response.text
    return response.json()["customer_id"]


def purchases(live_server, customer_id: str) -> list[dict]:
    response = live_server.session.get(live_server.url(f"/customers/{customer_id}/transactions"),
                                       auth=(SPI_USER, SPI_PASSWORD), timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def statuses(conn) -> dict[str, str]:
    return {row["event_id"]: row["status"]
            for row in conn.execute("SELECT event_id::text, status FROM inbound_events").fetchall()}


def done(conn, event_ids) -> bool:
    found = statuses(conn)
    return all(found.get(str(e)) not in (None, "pending") for e in event_ids)


def test_a_purchase_is_updated_refunded_and_cancelled_through_the_events(live_server, sitoo, workers, conn):
    customer_id = new_customer(live_server, "6001")
    sitoo.put(order(10051, SPEC_SALE, customer_id=customer_id))
    workers()
    added = uuid.uuid4()
    assert post_events(live_server, [event(10051, added, "add")]) == {"received": 1, "duplicates": 0, "ignored": 0}
    found = wait_until(lambda: purchases(live_server, customer_id), "the purchase")
    assert found == [{
        "date_created": 1463041119, "receipt_id": "SII000000000000000010051", "order_id": 10051,
        "store_id": "200", "store_name": "Concept Store", "currency_code": "USD",
        "items": [{"sku": "121292-4", "product_name": "Cookbook", "quantity": 1, "total": "15.00", "vat": "0.85",
                   "vat_value": 6, "discounts": []}],
        "payments": [{"name": "Card", "total": "15.00"}],
    }]

    # The order changes in Sitoo: the update event replaces the transaction.
    sitoo.put(order(10051, SPEC_ORDER, customer_id=customer_id))
    updated = uuid.uuid4()
    post_events(live_server, [event(10051, updated, "update")])
    wait_until(lambda: len(purchases(live_server, customer_id)[0]["items"]) == 3, "the updated purchase")

    # A refund naming only the original purchase is the same customer's.
    refund = order(10052, SPEC_REFUND, **{"pos-originalsales-orderid": "10051"})
    sitoo.put(refund)
    post_events(live_server, [event(10052, uuid.uuid4(), "add")])
    wait_until(lambda: sorted(t["order_id"] for t in purchases(live_server, customer_id)) == [10051, 10052],
               "the refund")

    # Cancelled in Sitoo: the purchase is removed.
    sitoo.put(order(10051, SPEC_ORDER, customer_id=customer_id, state=20))
    post_events(live_server, [event(10051, uuid.uuid4(), "update", order_state_changed="cancelled")])
    wait_until(lambda: [t["order_id"] for t in purchases(live_server, customer_id)] == [10052], "the cancellation")

    # Events already handled, sent again: acknowledged, not processed again (the order is not read again).
    reads = sitoo.fetches[10051]
    assert post_events(live_server, [event(10051, added), event(10051, updated)]) == {
        "received": 0, "duplicates": 2, "ignored": 0}
    time.sleep(0.5)  # room for a (wrong) second processing to show
    assert sitoo.fetches[10051] == reads


def test_repeated_and_out_of_order_events_leave_one_transaction_in_the_orders_current_state(
        live_server, sitoo, workers, conn):
    customer_id = new_customer(live_server, "6002")
    sitoo.put(order(20001, SPEC_ORDER, customer_id=customer_id))
    update, add = uuid.uuid4(), uuid.uuid4()
    # The update arrives before the add, and everything arrives twice, before any worker runs.
    post_events(live_server, [event(20001, update, "update"), event(20001, add, "add")])
    post_events(live_server, [event(20001, add, "add"), event(20001, update, "update")])
    workers()
    wait_until(lambda: done(conn, [update, add]), "both events")
    found = purchases(live_server, customer_id)
    assert len(found) == 1 and len(found[0]["items"]) == 3
    assert sitoo.fetches[20001] == 2  # one read per event, none per duplicate
    rows = conn.execute("SELECT event_id::text, attempts FROM inbound_events ORDER BY processed_at").fetchall()
    assert [row["event_id"] for row in rows] == [str(update), str(add)]  # the order Sitoo sent them in
    assert all(row["attempts"] == 1 for row in rows)


def test_an_order_naming_an_unknown_customer_is_skipped_with_the_reason_and_counted(live_server, sitoo, workers,
                                                                                    conn):
    sitoo.put(order(30001, member_number="no-such-member"), order(30002))
    unknown, anonymous = uuid.uuid4(), uuid.uuid4()
    post_events(live_server, [event(30001, unknown), event(30002, anonymous)])
    workers()
    wait_until(lambda: done(conn, [unknown, anonymous]), "both events")
    rows = {row["event_id"]: (row["status"], row["reason"]) for row in conn.execute(
        "SELECT event_id::text, status, reason FROM inbound_events").fetchall()}
    assert rows == {str(unknown): ("skipped", "unknown_customer"), str(anonymous): ("skipped", "no_customer")}
    counts = live_server.session.get(live_server.url("/admin/events/counts"), timeout=5,
                                     auth=(ADMIN_USER, ADMIN_PASSWORD)).json()
    assert {"event_type": "order", "status": "skipped", "reason": "unknown_customer", "count": 1} in counts
    assert conn.execute("SELECT count(*) AS n FROM transactions").fetchone()["n"] == 0


def test_events_wait_out_a_sitoo_outage_rate_limits_and_slow_answers(live_server, sitoo, workers, conn):
    customer_id = new_customer(live_server, "6003")
    sitoo.put(*(order(n, customer_id=customer_id) for n in (40001, 40002, 40003)))
    sitoo.outage(500)
    workers(SITOO_TIMEOUT="1")
    down = uuid.uuid4()
    post_events(live_server, [event(40001, down)])
    failures = "SELECT attempts, last_error, status FROM inbound_events WHERE event_id = %s"
    row = wait_until(lambda: (r := conn.execute(failures, (down,)).fetchone())["attempts"] >= 2 and r,
                     "retries during the outage")
    assert row["last_error"] == "Sitoo API answered 500" and row["status"] == "pending"
    sitoo.restore()
    wait_until(lambda: done(conn, [down]), "the event after the outage")

    limited = uuid.uuid4()
    sitoo.fail(429, times=1, retry_after="1")
    post_events(live_server, [event(40002, limited)])
    wait_until(lambda: done(conn, [limited]), "the event after the rate limit")
    assert conn.execute(failures, (limited,)).fetchone()["attempts"] >= 2

    slow = uuid.uuid4()
    sitoo.delay = 2.0  # beyond SITOO_TIMEOUT=1
    post_events(live_server, [event(40003, slow)])
    wait_until(lambda: conn.execute(failures, (slow,)).fetchone()["last_error"] == "Sitoo API timed out",
               "a timeout")
    sitoo.delay = 0.0
    wait_until(lambda: done(conn, [slow]), "the event after the slow answers")
    assert sorted(t["order_id"] for t in purchases(live_server, customer_id)) == [40001, 40002, 40003]
    assert set(statuses(conn).values()) == {"processed"}


def test_an_event_whose_retries_run_out_is_failed_and_counted(live_server, sitoo, workers, conn):
    sitoo.outage(503)
    workers(CRM_EVENTS_MAX_ATTEMPTS="2", CRM_EVENTS_RETRY_SECONDS="0.1")
    given_up = uuid.uuid4()
    post_events(live_server, [event(50001, given_up)])
    wait_until(lambda: statuses(conn).get(str(given_up)) == "failed", "the event to be given up")
    row = conn.execute("SELECT attempts, last_error FROM inbound_events").fetchone()
    assert row == {"attempts": 2, "last_error": "Sitoo API answered 503"}


def test_a_worker_killed_in_the_middle_of_a_batch_loses_nothing_and_repeats_nothing(live_server, sitoo, workers,
                                                                                   conn):
    customer_id = new_customer(live_server, "6004")
    order_ids = list(range(60001, 60013))
    sitoo.put(*(order(n, customer_id=customer_id) for n in order_ids))
    # The first three orders are read at once, the others hang: the worker (concurrency 2) is surely in the
    # middle of two jobs when it is killed.
    sitoo.order_delays.update({str(n): 30.0 for n in order_ids[3:]})
    first = workers(SITOO_TIMEOUT="60")  # its reads do not time out before the kill
    ids = [uuid.uuid4() for _ in order_ids]
    post_events(live_server, [event(n, e) for n, e in zip(order_ids[:10], ids[:10])])
    post_events(live_server, [event(n, e) for n, e in zip(order_ids[10:], ids[10:])])
    wait_until(lambda: list(statuses(conn).values()).count("processed") >= 3, "some events processed")
    in_flight = "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'doing'"
    wait_until(lambda: conn.execute(in_flight).fetchone()["n"] == 2, "two jobs in flight")
    wait_until(lambda: sum(sitoo.waiting.values()) == 2, "two orders being read")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=5)
    sitoo.order_delays.clear()
    processed_before = list(statuses(conn).values()).count("processed")
    second = workers()
    wait_until(lambda: done(conn, ids), "every event, by the second worker", timeout=30)
    assert set(statuses(conn).values()) == {"processed"} and processed_before < len(ids)
    assert sorted(t["order_id"] for t in purchases(live_server, customer_id)) == order_ids
    attempts = conn.execute("SELECT order_id, attempts, last_error FROM inbound_events").fetchall()
    assert all(row["attempts"] == 1 for row in attempts), attempts  # each applied once, the killed jobs included
    assert second.log.read_text().count("requeued job") == 2  # the killed worker's two jobs, taken over
    wait_until(lambda: conn.execute("SELECT count(*) AS n FROM procrastinate_jobs").fetchone()["n"] == 0,
               "the queue to empty")


def test_several_workers_process_each_event_once_and_each_orders_events_in_order(live_server, sitoo, workers,
                                                                                 conn):
    customer_id = new_customer(live_server, "6005")
    order_ids = [70001, 70002, 70003, 70004]
    sitoo.put(*(order(n, customer_id=customer_id) for n in order_ids))
    # The first read of each order is slow: a later event of the same order, run alongside, would finish first.
    sitoo.first_read_delay = 0.5
    workers(CRM_WORKER_HEARTBEAT_SECONDS="2")
    workers(CRM_WORKER_HEARTBEAT_SECONDS="2")
    sent = [(n, uuid.uuid4()) for n in order_ids for _ in range(5)]  # 20 events, 5 per order in a row
    for start in range(0, len(sent), 10):
        post_events(live_server, [event(n, e, "update") for n, e in sent[start:start + 10]])
    wait_until(lambda: done(conn, [e for _, e in sent]), "every event", timeout=30)
    rows = conn.execute("SELECT event_id::text, order_id, attempts FROM inbound_events "
                        "ORDER BY processed_at, event_id").fetchall()
    assert all(row["attempts"] == 1 for row in rows), rows
    for order_id in order_ids:
        assert [row["event_id"] for row in rows if row["order_id"] == order_id] == \
            [str(e) for n, e in sent if n == order_id]
    assert sorted(t["order_id"] for t in purchases(live_server, customer_id)) == order_ids


def test_sync_orders_backfills_page_by_page_and_resumes_where_it_stopped(spi, sitoo, worker_env, conn):
    customer = spi.post("/customers", json={"member_number": "6006"}).json["customer_id"]
    sitoo.put(*(order(n, customer_id=customer if n % 5 else None) for n in range(80001, 80026)))
    sitoo.put(order(79999, customer_id=customer))  # before the starting point: not read
    env = {**worker_env, "CRM_EVENTS_RETRY_SECONDS": "0.01"}
    runner = CliRunner()
    sitoo.fail(500, times=5, after=1)  # the second page fails every try
    stopped = runner.invoke(main, ["sync-orders", "--from-order-id", "80001", "--page-size", "10"], env=env)
    assert stopped.exit_code == 1
    assert "stopped before order 80011" in stopped.output
    assert conn.execute("SELECT count(*) AS n FROM transactions").fetchone()["n"] == 8

    resumed = runner.invoke(main, ["sync-orders", "--page-size", "10"], env=env)
    assert resumed.exit_code == 0, resumed.output
    assert "processed: stored: 12" in resumed.output and "skipped: no_customer: 3" in resumed.output
    assert [page["orderidfrom"] for page in sitoo.pages][-2:] == [80011, 80021]
    stored = [row["order_id"] for row in conn.execute("SELECT order_id FROM transactions ORDER BY order_id")]
    assert stored == [n for n in range(80001, 80026) if n % 5]


def test_twenty_concurrent_purchases_of_one_customer_accrue_as_one_after_another(live_server, sitoo, workers, conn):
    """The loyalty program at a running server: 20 purchases of one customer posted at once, processed by two
    workers in parallel; the ledger holds each once, and the bonus checks are those of the sum."""
    from concurrent.futures import ThreadPoolExecutor

    from conftest import ADMIN_PASSWORD, ADMIN_USER

    program = {"currency": "USD", "points_per_unit": 1, "points_valid_months": 24,
               "reward": {"points": 100, "amount": "10.00", "valid_days": 90}}
    assert live_server.session.put(live_server.url("/admin/program"), json=program, timeout=5,
                                   auth=(ADMIN_USER, ADMIN_PASSWORD)).status_code == 200
    customer_id = new_customer(live_server, "6101")
    orders = [order(20000 + n, SPEC_SALE, customer_id=customer_id) for n in range(20)]
    for found in orders:  # bought now: the worker's daily expiry (due when it starts after 03:30 UTC) leaves them
        found["orderdate"] = int(time.time())
    for n, found in enumerate(orders):  # 15, 20, 25, ... 110 points
        found["orderitems"][0]["moneyitemtotal_net"] = f"{14.15 + 5 * n:.2f}"
    sitoo.put(*orders)
    workers()
    workers()
    ids = [uuid.uuid4() for _ in orders]
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda pair: post_events(live_server, [event(pair[0]["orderid"], pair[1])]), zip(orders, ids)))
    wait_until(lambda: done(conn, ids), "the 20 purchases")
    earned = sum(15 + 5 * n for n in range(20))  # 1250
    rows = conn.execute("SELECT kind, sum(points)::int AS points, count(*)::int AS n FROM points_ledger "
                        "WHERE customer_id = %s GROUP BY kind ORDER BY kind", [customer_id]).fetchall()
    assert rows == [{"kind": "converted", "points": -(earned // 100) * 100, "n": earned // 100},
                    {"kind": "earned", "points": earned, "n": 20}]
    card = live_server.session.get(live_server.url(f"/customers/{customer_id}"), timeout=5).json()
    assert len(card["bonus_checks"]) == earned // 100
    assert card["sections"][-1] == {"title": "Customer Info", "values": [
        {"type": "text", "title": "Bonus Points", "text": str(earned % 100)}]}
