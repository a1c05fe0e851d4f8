"""The extension seams of plugins.py, each loaded the way a retailer's package offers it: through the entry
point group `crm_provider.plugins`, from the example package examples/acme_crm (docs/plugins.md). Customer
hooks end to end: the change records the event, `crm-provider worker` delivers it to a real HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ADMIN_PASSWORD, ADMIN_USER, SPI_PASSWORD, SPI_USER, Client
from crm_provider import plugins
from crm_provider.customers import hooks

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "acme_crm"


@pytest.fixture
def acme(tmp_path, monkeypatch) -> str:
    """The example package, installed as pip would leave it for importlib.metadata: its modules on the path
    and a dist-info with the entry points its pyproject.toml declares. Returns the PYTHONPATH for a worker."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    dist = tmp_path / "acme_crm-1.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = project["entry-points"]["crm_provider.plugins"]
    (dist / "entry_points.txt").write_text(
        "[crm_provider.plugins]\n" + "".join(f"{name} = {target}\n" for name, target in points.items()))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return os.pathsep.join([str(tmp_path), str(EXAMPLE)])


class Newsletter(BaseHTTPRequestHandler):
    """The newsletter tool: records each POST; answers 500 to the first call about `fail_member` (the worker
    delivers several customers' events at once: which one comes first is not given)."""

    received: list[dict] = []
    fail_member: str | None = None

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        failing = body.get("member") == Newsletter.fail_member
        if failing:
            Newsletter.fail_member = None
        Newsletter.received.append({**body, "idempotency_key": self.headers["Idempotency-Key"],
                                    "answered": 500 if failing else 200})
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def newsletter(monkeypatch):
    Newsletter.received, Newsletter.fail_member = [], None
    server = ThreadingHTTPServer(("127.0.0.1", 0), Newsletter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/members"
    monkeypatch.setenv("ACME_NEWSLETTER_URL", url)
    yield url
    server.shutdown()
    server.server_close()


# --- redeem policies --------------------------------------------------------------------------------------------

def test_a_redeem_policy_refuses_with_the_contracts_409_and_nothing_is_redeemed(acme, make_app, conn):
    app = make_app(redeem_policies=("acme-staff-home-store",))
    spi, admin = Client(app, SPI_USER, SPI_PASSWORD), Client(app, ADMIN_USER, ADMIN_PASSWORD)
    customer_id = spi.post("/customers", json={"member_number": "7001", "store_id_home": "S1"}).json["customer_id"]
    assert admin.patch(f"/admin/customers/{customer_id}",
                       json={"status": {"color": "green", "text": "Staff"}}).status_code == 200
    assert admin.post(f"/admin/customers/{customer_id}/bonus-checks",
                      json={"bonus_check_id": "bc-staff", "name": "B", "cart_amount": "50.00"}).status_code == 201
    body = {"bonus_checks": ["bc-staff"], "promotions": []}

    refused = spi.post(f"/customers/{customer_id}/redeem", json=body, headers={"Store-ID": "S1"})
    assert refused.status_code == 409
    assert refused.json == {"errortext": "Can't redeem items: staff members cannot redeem at their own store",
                            "statuscode": 409}
    assert spi.get(f"/customers/{customer_id}").json["bonus_checks"][0]["redeemed"] is False
    assert conn.execute("SELECT count(*) AS n FROM redeems").fetchone()["n"] == 0

    assert spi.post(f"/customers/{customer_id}/redeem", json=body, headers={"Store-ID": "S2"}).status_code == 200


def test_the_crms_own_refusals_come_before_the_policies(acme, make_app):
    app = make_app(redeem_policies=("acme-staff-home-store",))
    spi = Client(app, SPI_USER, SPI_PASSWORD)
    customer_id = spi.post("/customers", json={"member_number": "7002"}).json["customer_id"]
    refused = spi.post(f"/customers/{customer_id}/redeem", json={"bonus_checks": ["nope"], "promotions": []})
    assert refused.status_code == 409 and refused.json["errortext"] == "Can't redeem items: bonus check nope is unknown"


# --- earn rules -------------------------------------------------------------------------------------------------

def test_an_earn_rule_is_loaded_through_its_entry_point(acme, settings):
    from dataclasses import replace

    (rule,) = plugins.load(replace(settings, earn_rules=("acme-birthday",))).earn_rules
    assert isinstance(rule, plugins.EarnRule)
    on_the_day = {"date_created": 1691150400}  # 2023-08-04 12:00 UTC
    assert rule.earn(on_the_day, 120, customer={"birthday": "1975-08-04"}) == 240
    assert rule.earn(on_the_day, 120, customer={"birthday": "1975-08-05"}) == 120
    assert rule.earn(on_the_day, 120, customer={}) == 120


# --- customer hooks ---------------------------------------------------------------------------------------------

def customer_events(conn) -> list[tuple[str, str]]:
    return [(row["kind"], str(row["customer_id"])) for row in conn.execute(
        "SELECT kind, customer_id FROM customer_events ORDER BY occurred_at, event_id")]


def test_a_change_records_its_event_and_job_in_its_own_transaction(acme, newsletter, make_app, conn):
    app = make_app(customer_hooks=("acme-newsletter",))
    spi, admin = Client(app, SPI_USER, SPI_PASSWORD), Client(app, ADMIN_USER, ADMIN_PASSWORD)
    customer_id = spi.post("/customers", json={"member_number": "7101", "email": "a@example.com"}).json["customer_id"]
    assert spi.put(f"/customers/{customer_id}", json={"name_first": "Ann"}).status_code == 200
    assert admin.patch(f"/admin/customers/{customer_id}", json={"voucher_passwords": ["vip"]}).status_code == 200
    # Refused changes record nothing: the event is rolled back with them.
    assert spi.post("/customers", json={"member_number": "7101"}).status_code == 400
    assert spi.put(f"/customers/{customer_id}", json={"member_number": None}).status_code == 400

    assert customer_events(conn) == [("created", customer_id), ("updated", customer_id), ("updated", customer_id)]
    jobs = conn.execute("SELECT queue_name, lock, args FROM procrastinate_jobs ORDER BY id").fetchall()
    assert [(job["queue_name"], job["lock"]) for job in jobs] == [("customer-hooks", f"customer:{customer_id}")] * 3
    assert Newsletter.received == []  # nothing is called on the request: the worker delivers


def test_without_hooks_a_change_records_nothing(make_app, conn):
    spi = Client(make_app(), SPI_USER, SPI_PASSWORD)
    assert spi.post("/customers", json={"member_number": "7102"}).status_code == 201
    assert customer_events(conn) == []


class FailsOnce:
    calls: list[str] = []

    def customer_event(self, event, **kwargs):
        FailsOnce.calls.append(event["event_id"])
        if len(FailsOnce.calls) == 1:
            raise ConnectionError("the tool is down")


class Counts:
    calls: list[str] = []

    def customer_event(self, event, **kwargs):
        Counts.calls.append(event["event_id"])


def test_a_retry_calls_only_the_hooks_that_failed(make_app, conn, settings):
    FailsOnce.calls, Counts.calls = [], []
    spi = Client(make_app(customer_hooks=("test_seams:Counts",)), SPI_USER, SPI_PASSWORD)
    spi.post("/customers", json={"member_number": "7103"})
    (event_id,) = [str(row["event_id"]) for row in conn.execute("SELECT event_id FROM customer_events")]
    chosen = {"counts": Counts(), "fails-once": FailsOnce()}
    with pytest.raises(hooks.DeliveryFailed):
        hooks.deliver(conn, event_id, chosen, settings)
    hooks.deliver(conn, event_id, chosen, settings)
    assert Counts.calls == [event_id] and FailsOnce.calls == [event_id, event_id]
    rows = conn.execute("SELECT hook, status, attempts, last_error FROM customer_event_deliveries ORDER BY hook").fetchall()
    assert rows == [{"hook": "counts", "status": "delivered", "attempts": 1, "last_error": None},
                    {"hook": "fails-once", "status": "delivered", "attempts": 2, "last_error": None}]


def test_the_worker_delivers_every_event_in_order_at_least_once(acme, newsletter, make_app, conn, database_url,
                                                                 tmp_path):
    """Each event reaches the tool, the one that failed again; one customer's events in the order they
    happened. The hook is given the customer as it is when the event is delivered."""
    spi = Client(make_app(customer_hooks=("acme-newsletter",)), SPI_USER, SPI_PASSWORD)
    ann = spi.post("/customers", json={"member_number": "7104", "email": "Ann@Example.com",
                                       "accepts_communication": ["email"], "name_first": "Ann"}).json["customer_id"]
    Newsletter.fail_member = ann  # the tool fails the first call about Ann: that event comes again
    spi.put(f"/customers/{ann}", json={"name_first": "Anna"})
    bob = spi.post("/customers", json={"member_number": "7105"}).json["customer_id"]
    events = {(str(row["customer_id"]), row["kind"]): str(row["event_id"])
              for row in conn.execute("SELECT customer_id, kind, event_id FROM customer_events")}

    env = {**os.environ, "DATABASE_URL": database_url, "CRM_CUSTOMER_HOOKS": "acme-newsletter",
           "ACME_NEWSLETTER_URL": newsletter, "PYTHONPATH": os.pathsep.join([acme, os.environ.get("PYTHONPATH", "")]),
           "CRM_WORKER_POLL_SECONDS": "0.2", "CRM_WORKER_HEARTBEAT_SECONDS": "0.5", "CRM_EVENTS_RETRY_SECONDS": "0.2",
           "CRM_EVENTS_RETRY_MAX_SECONDS": "0.5", "LOG_LEVEL": "WARNING"}
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen([sys.executable, "-m", "crm_provider", "worker"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while sum(r["answered"] == 200 for r in Newsletter.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
    received = Newsletter.received
    assert len(received) == 4, log.read_text()
    assert all(r["idempotency_key"] == r["event_id"] for r in received)
    assert [(r["event_id"], r["answered"]) for r in received if r["member"] == ann] == [
        (events[ann, "created"], 500), (events[ann, "created"], 200), (events[ann, "updated"], 200)]
    assert [(r["event_id"], r["action"]) for r in received if r["member"] == bob] == [
        (events[bob, "created"], "unsubscribe")]
    subscribed = next(r for r in received if r["member"] == ann and r["answered"] == 200)
    assert subscribed == {"event_id": events[ann, "created"], "action": "subscribe", "member": ann,
                          "email": "Ann@Example.com", "first_name": "Anna",
                          "idempotency_key": events[ann, "created"], "answered": 200}
    attempts = {row["event_id"]: (row["status"], row["attempts"]) for row in conn.execute(
        "SELECT event_id::text, status, attempts FROM customer_event_deliveries")}
    assert attempts == {events[ann, "created"]: ("delivered", 2), events[ann, "updated"]: ("delivered", 1),
                        events[bob, "created"]: ("delivered", 1)}
    assert "Ann@Example.com" not in log.read_text()
