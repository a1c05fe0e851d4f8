"""The workshop on the customer card (issue 16): Sitoo's open service orders swept from a fake Sitoo API and
Shopmonkey's work orders read from a fake Shopmonkey API, both over real HTTP; the matching rule, the sections
on a real customer card, the exactly-once webhook, a failing API and bad data."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from conftest import SPI_PASSWORD, SPI_USER, basic
from fake_shopmonkey import (EXAMPLES, TOKEN, _fake_shopmonkey_server, service, service_order,  # noqa: F401
                             shopmonkey)
from fake_sitoo import ACCOUNT_ID, API_ID, API_PASSWORD, _fake_sitoo_server, sitoo  # noqa: F401

from crm_provider.config import parse_users
from crm_provider.events.sitoo import SitooError
from crm_provider.workshop import service as workshop
from crm_provider.workshop.clients import ServiceOrdersClient, ShopmonkeyClient

SHOPMONKEY_USER, SHOPMONKEY_PASSWORD = "shopmonkey-relay", "relay-Qw7Ln3Vb9Xz2"
ERICA = {"name_first": "Erica", "mobile": "0701112233", "email": "Erica@Example.com"}  # as the till typed them
BOB = {"name_first": "Bob", "mobile": "0709998877", "email": "bob@example.com"}


@pytest.fixture
def card(make_app):
    """An app whose customers show the workshop's sections; `card(customer_id)` is the sections of the card."""
    app = make_app(sections_providers=("sitoo-service-orders", "shopmonkey"),
                   shopmonkey_users=parse_users(f"{SHOPMONKEY_USER}:{SHOPMONKEY_PASSWORD}"))
    client = app.test_client()

    def sections(customer_id: str) -> list[dict]:
        response = client.get(f"/customers/{customer_id}", headers=basic(SPI_USER, SPI_PASSWORD))
        assert response.status_code == 200
        return [s for s in response.json["sections"] if s["title"] in ("Service", "Workshop")]

    sections.client = client
    return sections


def customer(spi, profile: dict) -> str:
    response = spi.post("/customers", json=profile)
    assert response.status_code == 201, response.json
    return response.json["customer_id"]


def sweep(conn, sitoo, **kwargs):
    client = ServiceOrdersClient(sitoo.url, ACCOUNT_ID, API_ID, API_PASSWORD, timeout=5)
    try:
        return workshop.sweep(conn, client.service_orders, "SE", **kwargs)
    finally:
        client.close()


def kept(conn) -> dict[str, tuple]:
    return {row["service_order_id"]: (str(row["customer_id"]), row["state"], row["revision"]) for row in conn.execute(
        "SELECT service_order_id, customer_id, state, revision FROM sitoo_service_orders")}


def test_the_vendored_examples_match_the_spec_files():
    spec = Path(__file__).resolve().parents[2] / "shared" / "spec"
    if not spec.exists():
        pytest.skip("no ../shared/spec beside this checkout")
    decoder = json.JSONDecoder()
    sitoo_text = (spec / "sitoo-service-orders-api.txt").read_text()
    listing = sitoo_text.index("gethttps://api.mysitoo.com/v2/accounts/1500/serviceorders.json?")
    assert decoder.raw_decode(sitoo_text[sitoo_text.index("[", listing):])[0] == EXAMPLES[
        "sitoo: Get Service Orders, response"]
    adding = sitoo_text.index("posthttps://api.mysitoo.com/v2/accounts/1500/serviceorders.json")
    assert decoder.raw_decode(sitoo_text[sitoo_text.index("{", adding):])[0] == EXAMPLES[
        "sitoo: Add Service Order, request"]
    shopmonkey_text = (spec / "shopmonkey-services-api.txt").read_text()
    example = shopmonkey_text.index("Example Responseapplication/json",
                                    shopmonkey_text.index("/v3/order/:orderId/servicecurl"))
    assert decoder.raw_decode(shopmonkey_text[shopmonkey_text.index("{", example):])[0] == EXAMPLES[
        "shopmonkey: Get Services, response"]


def test_a_sweep_puts_each_open_order_on_its_customers_card_and_a_closed_one_comes_off(
        spi, sitoo, conn, card, monkeypatch):
    monkeypatch.setattr(workshop, "PAGE_SIZE", 2)  # pages of two: the sweep pages through start_after_id
    erica, bob, nobody = customer(spi, ERICA), customer(spi, BOB), customer(spi, {"name_first": "Nobody"})
    sitoo.put_service_orders(
        service_order("A1", state="service_done", created=100),                       # Erica's mobile
        service_order("A2", created=200, mobile="+46700000000"),                      # her email only
        service_order("A3", created=300, mobile="0709998877", email="erica@example.com"),  # the mobile wins: Bob
        service_order("A4", created=400, mobile="+46700000001", email="x@example.com"),    # nobody's
        service_order("A5", created=500, state="closed"),
        service_order("A6", created=600, state="in_progress", product=EXAMPLES[
            "sitoo: Add Service Order, request"]["product"]),                          # a list, as in a request
    )
    assert sweep(conn, sitoo) == {"sweep": 1, "closed": 0, "skipped": 0}
    assert [page.get("start_after_id") for page in sitoo.service_order_pages] == [None, "A4", "A2"]
    assert all(page["state"] == "new,in_progress,service_done" for page in sitoo.service_order_pages)
    assert kept(conn) == {"A1": (erica, "service_done", 2), "A2": (erica, "new", 2), "A3": (bob, "new", 2),
                          "A6": (erica, "in_progress", 2)}
    assert card(erica) == [{"title": "Service", "values": [
        {"type": "text", "title": "Barlay Shoe: Replace heel, Polish Shoes", "text": "Service done"},
        {"type": "text", "title": "Barlay Shoe: Replace heel, Polish Shoes", "text": "New"},
        {"type": "text", "title": "Barlay Shoe: Replace heel", "text": "In progress"}]}]
    assert card(nobody) == [], "no open service order, no section"

    sitoo.put_service_orders(service_order("A1", state="closed", created=100),
                             service_order("A2", state="in_progress", revision=3, created=200, mobile="+46700000000"))
    assert sweep(conn, sitoo) == {"sweep": 2, "closed": 1, "skipped": 0}
    assert kept(conn) == {"A2": (erica, "in_progress", 3), "A3": (bob, "new", 2), "A6": (erica, "in_progress", 2)}
    assert [value["text"] for value in card(erica)[0]["values"]] == ["In progress", "In progress"]


def test_a_failed_sweep_backs_off_and_goes_on_from_its_last_page(spi, sitoo, conn, monkeypatch):
    monkeypatch.setattr(workshop, "PAGE_SIZE", 2)
    erica = customer(spi, ERICA)
    sitoo.put_service_orders(*(service_order(f"B{n}", created=n) for n in range(1, 6)))
    sitoo.fail(500, times=1, after=1)  # the second page fails
    with pytest.raises(SitooError, match="answered 500"):
        sweep(conn, sitoo)
    assert workshop.sweep_failed(conn, "Sitoo API answered 500", lambda failures: 30 * failures) == 30
    state = conn.execute("SELECT * FROM workshop_sync").fetchone()
    assert (state["resume_after"], state["failures"], state["last_success"]) == ("B4", 1, None)
    assert not workshop.sweep_due(conn), "backing off"
    assert set(kept(conn)) == {"B5", "B4"}, "the first page is kept"

    conn.execute("UPDATE workshop_sync SET retry_at = now()")
    assert workshop.sweep_due(conn)
    assert sweep(conn, sitoo) == {"sweep": 1, "closed": 0, "skipped": 0}
    assert sitoo.service_order_pages[-2]["start_after_id"] == "B4", "it went on from the last page stored"
    assert set(kept(conn)) == {f"B{n}" for n in range(1, 6)} and {erica} == {c for c, _, _ in kept(conn).values()}
    state = conn.execute("SELECT * FROM workshop_sync").fetchone()
    assert (state["failures"], state["retry_at"], state["last_success"] is not None) == (0, None, True)

    sitoo.huge_service_orders = True  # a body of megabytes is a failure, not a worker's memory filled
    with pytest.raises(SitooError, match="more than 32 MiB"):
        sweep(conn, sitoo)
    assert len(kept(conn)) == 5, "a failed sweep drops nothing"


def test_bad_data_is_skipped_by_its_id_and_what_was_kept_stays(spi, sitoo, conn, caplog):
    erica = customer(spi, ERICA)
    sitoo.put_service_orders(service_order("C1", created=1), service_order("C2", created=2))
    sweep(conn, sitoo)
    broken = service_order("C2", created=2, product=None)
    sitoo.put_service_orders(broken, {"id": "C3", "created": 3, "state": "new", "customer": {"mobile": "0701112233"}},
                             {"created": 4, "state": "new"}, service_order("C4", created=5))
    sitoo.service_orders["C4 again"] = service_order("C4", created=5)  # an API that lists an order twice
    with caplog.at_level(logging.WARNING):
        assert sweep(conn, sitoo)["skipped"] == 3
    assert kept(conn) == {"C1": (erica, "new", 2), "C2": (erica, "new", 2), "C4": (erica, "new", 2)}
    text = caplog.text
    assert "C2 skipped: no product" in text and "C3 skipped: no revision" in text and "without an id" in text
    assert "701112233" not in text and "erica" not in text.lower() and "Swansson" not in text


def test_the_section_comes_from_the_table_when_the_api_is_down(spi, sitoo, conn, card):
    erica = customer(spi, ERICA)
    sitoo.put_service_orders(service_order("D1"))
    sweep(conn, sitoo)
    sitoo.outage(500)
    assert card(erica)[0]["values"][0]["text"] == "New", "what was last synced"


def test_an_erased_customers_orders_go_and_do_not_come_back_and_the_export_has_them(
        spi, admin, sitoo, conn):
    erica = customer(spi, ERICA)
    sitoo.put_service_orders(service_order("E1"))
    sweep(conn, sitoo)
    exported = admin.get(f"/admin/customers/{erica}/export").json
    assert exported["held"]["workshop"]["sitoo"] == [{"service_order_id": "E1", "state": "new", "store_id": "STORE111", "card": {
        "type": "text", "title": "Barlay Shoe: Replace heel, Polish Shoes", "text": "New"}}]
    assert admin.post(f"/admin/customers/{erica}/erase").status_code == 200
    assert kept(conn) == {}
    sweep(conn, sitoo)
    assert kept(conn) == {}, "no one has the mobile or the email any more"


# --- Shopmonkey -----------------------------------------------------------------------------------------------

def webhook(card, body: dict, user: str = SHOPMONKEY_USER, password: str = SHOPMONKEY_PASSWORD):
    return card.client.post("/events/shopmonkey", json=body, headers=basic(user, password))


def handle(conn, shopmonkey, event_id: str, currency: str | None = "SEK"):
    client = ShopmonkeyClient(shopmonkey.url, TOKEN, timeout=5)
    try:
        return workshop.handle_shopmonkey_event(conn, event_id, client.services, currency, "SE")
    finally:
        client.close()


def test_a_work_order_reaches_the_card_once_and_leaves_it_when_closed(spi, shopmonkey, conn, card):
    erica = customer(spi, {**ERICA, "member_number": "7001"})
    shopmonkey.put("wo-1", [service("Replace brakes", total_cents=125050, labors=(True, True)),
                            service("Align wheels", authorization="NotAuthorized", total_cents=4900, labors=(True, False)),
                            service("New tyres", authorization="Declined", total_cents=99900),
                            service("Internal check", hidden=True, total_cents=100)])
    event = {"event_id": "evt-1", "order_id": "wo-1", "customer": {"external_id": "7001"}}
    assert webhook(card, event).json == {"received": 1, "duplicates": 0}
    assert webhook(card, event).json == {"received": 0, "duplicates": 1}
    jobs = conn.execute("SELECT lock, args FROM procrastinate_jobs WHERE task_name = %s", (workshop.TASK,)).fetchall()
    assert jobs == [{"lock": "shopmonkey:wo-1", "args": {"event_id": "evt-1"}}], "one job for the event sent twice"
    assert handle(conn, shopmonkey, "evt-1") == "processed"
    assert handle(conn, shopmonkey, "evt-1") is None, "handled once"
    assert shopmonkey.reads["wo-1"] == 1
    assert card(erica) == [{"title": "Workshop", "values": [
        {"type": "text", "title": "Replace brakes", "text": "Authorized · Completed"},
        {"type": "text", "title": "Align wheels", "text": "Not authorized · In progress"},
        {"type": "text", "title": "New tyres", "text": "Declined · Not started"},
        {"type": "money", "title": "Total SEK", "value": "1299.50"}]}]
    assert conn.execute("SELECT customer_key FROM shopmonkey_events").fetchone() == {"customer_key": None}

    # A change names no customer: the order keeps its own. Then it closes.
    shopmonkey.put("wo-1", [service("Replace brakes", total_cents=100, labors=(True,))])
    webhook(card, {"event_id": "evt-2", "order_id": "wo-1"})
    handle(conn, shopmonkey, "evt-2")
    assert card(erica)[0]["values"][-1] == {"type": "money", "title": "Total SEK", "value": "1.00"}
    webhook(card, {"event_id": "evt-3", "order_id": "wo-1", "status": "closed"})
    assert handle(conn, shopmonkey, "evt-3") == "processed" and card(erica) == []
    assert shopmonkey.reads["wo-1"] == 2, "a closed order is not read"


def test_a_work_order_finds_its_customer_by_mobile_or_email_or_is_skipped(spi, shopmonkey, conn, card):
    erica, bob = customer(spi, ERICA), customer(spi, BOB)
    for order_id in ("wo-2", "wo-3", "wo-4"):
        shopmonkey.put(order_id, [service("Service", total_cents=1000)])
    webhook(card, {"event_id": "m", "order_id": "wo-2", "customer": {"mobile": "070-111 22 33", "email": "bob@example.com"}})
    webhook(card, {"event_id": "e", "order_id": "wo-3", "customer": {"email": "BOB@example.com"}})
    webhook(card, {"event_id": "n", "order_id": "wo-4", "customer": {"mobile": "+46700000000"}})
    assert [handle(conn, shopmonkey, event_id) for event_id in ("m", "e", "n")] == ["processed", "processed", "skipped"]
    assert len(card(erica)) == 1 and len(card(bob)) == 1
    assert conn.execute("SELECT reason FROM shopmonkey_events WHERE event_id = 'n'").fetchone() == {"reason": "no_customer"}


def test_a_failing_shopmonkey_is_retried_and_a_deleted_order_is_dropped(spi, shopmonkey, conn, card):
    erica = customer(spi, ERICA)
    shopmonkey.put("wo-5", [service("Service", total_cents=1000)])
    webhook(card, {"event_id": "f", "order_id": "wo-5", "customer": {"mobile": "0701112233"}})
    shopmonkey.fail(503)
    with pytest.raises(SitooError, match="Shopmonkey API answered 503"):
        handle(conn, shopmonkey, "f")
    assert handle(conn, shopmonkey, "f") == "processed" and len(card(erica)) == 1
    shopmonkey.remove("wo-5")  # gone from Shopmonkey: a re-read takes it off the card
    webhook(card, {"event_id": "g", "order_id": "wo-5"})
    assert handle(conn, shopmonkey, "g") == "processed" and card(erica) == []


def test_the_webhook_has_its_own_credential_and_refuses_malformed_events(card, conn):
    assert webhook(card, {"event_id": "x", "order_id": "wo"}, SPI_USER, SPI_PASSWORD).status_code == 403
    assert webhook(card, {"event_id": "x", "order_id": "wo"}, SHOPMONKEY_USER, "wrong-password-123456").status_code == 401
    for body in ({"order_id": "wo"}, {"event_id": "x", "order_id": "../etc"}, {"event_id": "x", "order_id": "wo", "status": "lost"},
                 {"event_id": "x", "order_id": "wo", "customer": {}}):
        response = webhook(card, body)
        assert response.status_code == 400 and set(response.json) == {"errortext", "statuscode"}, body
    assert conn.execute("SELECT count(*) AS n FROM shopmonkey_events").fetchone()["n"] == 0


def test_the_admin_reads_a_work_order_again(admin, spi, shopmonkey, conn, card):
    erica = customer(spi, ERICA)
    shopmonkey.put("wo-6", [service("Service", total_cents=1000)])
    response = admin.post("/admin/workshop/shopmonkey/wo-6", json={"customer": {"email": "erica@example.com"}})
    assert response.status_code == 202
    assert handle(conn, shopmonkey, response.json["event_id"]) == "processed" and len(card(erica)) == 1
    assert admin.post("/admin/workshop/shopmonkey/bad%20id", json={}).status_code == 400


def test_the_workers_sweep_records_a_failure_backs_off_and_the_metric_tells_the_age(
        spi, sitoo, conn, database_url, settings, app):
    from dataclasses import replace

    from crm_provider import worker
    from crm_provider.ops import service as ops
    from crm_provider.workshop.worker import ServiceOrdersSync

    erica = customer(spi, ERICA)
    sitoo.put_service_orders(service_order("F1"))
    configured = replace(settings, sections_providers=("sitoo-service-orders",))
    part = ServiceOrdersSync(database_url, configured, ServiceOrdersClient(sitoo.url, ACCOUNT_ID, API_ID, API_PASSWORD))
    part.retry = worker.Backoff(first=20, cap=600, max_attempts=5)
    try:
        sitoo.fail(500)
        part.sweep()  # recorded, not raised: the minute's sweeps wait out the back-off
        state = conn.execute("SELECT failures, last_error, retry_at - now() AS wait FROM workshop_sync").fetchone()
        assert (state["failures"], state["last_error"]) == (1, "Sitoo API answered 500")
        assert 15 <= state["wait"].total_seconds() <= 20
        part.sweep()
        assert sitoo.service_order_pages == [], "not before its time"
        conn.execute("UPDATE workshop_sync SET retry_at = now()")
        part.sweep()
        assert kept(conn) == {"F1": (erica, "new", 2)}
    finally:
        part.close()
    [gauge] = [family for family in ops.scrape_families(app.extensions["crm_db"])
               if family.name == "crm_workshop_sync_age_seconds"]
    [sample] = gauge.samples
    assert sample.labels == {"source": "sitoo-service-orders"} and 0 <= sample.value < 60


def test_sync_service_orders_sweeps_once_from_the_command_line(spi, sitoo, conn, database_url):
    from click.testing import CliRunner

    from crm_provider.cli import main

    erica = customer(spi, ERICA)
    sitoo.put_service_orders(service_order("G1"), service_order("G2", created=1, state="cancelled"))
    env = {**sitoo.env(), "DATABASE_URL": database_url}
    ran = CliRunner().invoke(main, ["sync-service-orders"], env=env)
    assert ran.exit_code == 0 and "sweep 1: 0 closed, 0 skipped" in ran.output, ran.output
    assert kept(conn) == {"G1": (erica, "new", 2)}
    sitoo.outage(502)
    failed = CliRunner().invoke(main, ["sync-service-orders"], env=env)
    assert failed.exit_code == 1 and "Sitoo API answered 502: run again" in failed.output
    assert conn.execute("SELECT failures FROM workshop_sync").fetchone() == {"failures": 1}


def test_maintenance_trims_the_handled_shopmonkey_events_past_the_retention(conn, database_url):
    from click.testing import CliRunner

    from crm_provider.cli import main

    conn.execute("""INSERT INTO shopmonkey_events (event_id, order_id, status, outcome, received_at)
                    VALUES ('old', 'wo', 'open', 'processed', now() - interval '31 days'),
                           ('old-pending', 'wo', 'open', 'pending', now() - interval '31 days'),
                           ('recent', 'wo', 'open', 'skipped', now() - interval '29 days')""")
    ran = CliRunner().invoke(main, ["maintenance"], env={"DATABASE_URL": database_url})
    assert ran.exit_code == 0 and "handled events older than 30 days deleted: 1" in ran.output, ran.output
    assert [row["event_id"] for row in conn.execute("SELECT event_id FROM shopmonkey_events ORDER BY 1")] == [
        "old-pending", "recent"]
