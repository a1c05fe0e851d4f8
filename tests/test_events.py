"""Sitoo Events SPI: the webhook, the order → transaction mapping, and applying orders to customers.

The end-to-end runs (a real server, a real worker, the fake Sitoo API over HTTP) are in
test_events_worker.py; here each rule is checked on its own, against the real database.
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import replace

import pytest

from conftest import ADMIN_PASSWORD, ADMIN_USER, EVENTS_PASSWORD, EVENTS_USER, SPI_PASSWORD, SPI_USER, Client, basic
from crm_provider.config import parse_users
from crm_provider import db
from crm_provider.events import mapping, service
from crm_provider.events.sitoo import SitooClient, SitooError, retry_after_seconds
from crm_provider.worker import Backoff
from fake_sitoo import (ACCOUNT_ID, API_ID, API_PASSWORD, SPEC_ORDER, SPEC_REFUND, SPEC_SALE, _fake_sitoo_server,  # noqa: F401
                        event, order, sitoo)


@pytest.fixture
def events(app):
    return Client(app, EVENTS_USER, EVENTS_PASSWORD)


def new_customer(spi, member_number: str) -> str:
    response = spi.post("/customers", json={"member_number": member_number, "name_first": "Test"})
    assert response.status_code == 201, response.json
    return response.json["customer_id"]


def stored_events(conn) -> list[dict]:
    return conn.execute("SELECT event_id::text, event_type, order_id, status, reason FROM inbound_events "
                        "ORDER BY received_at, event_id").fetchall()


def queued_jobs(conn) -> list[dict]:
    return conn.execute("SELECT queue_name, task_name, lock, args, status::text FROM procrastinate_jobs "
                        "ORDER BY id").fetchall()


# --- the webhook -------------------------------------------------------------------------------------------

def test_order_events_are_stored_and_queued_one_job_each_in_batch_order(events, conn):
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    batch = [event(1001, first, "add"), event(1002, second, "update"), event(1001, third, "update")]
    response = events.post("/events", json=batch)
    assert response.status_code == 200
    assert response.json == {"received": 3, "duplicates": 0, "ignored": 0}
    assert {(e["event_id"], e["order_id"], e["status"]) for e in stored_events(conn)} == {
        (str(first), 1001, "pending"), (str(second), 1002, "pending"), (str(third), 1001, "pending")}
    assert queued_jobs(conn) == [
        {"queue_name": service.QUEUE, "task_name": service.TASK, "lock": "order:1001",
         "args": {"event_id": str(first)}, "status": "todo"},
        {"queue_name": service.QUEUE, "task_name": service.TASK, "lock": "order:1002",
         "args": {"event_id": str(second)}, "status": "todo"},
        {"queue_name": service.QUEUE, "task_name": service.TASK, "lock": "order:1001",
         "args": {"event_id": str(third)}, "status": "todo"},
    ]


def test_an_event_received_again_is_acknowledged_and_not_queued_twice(events, conn):
    one, two = uuid.uuid4(), uuid.uuid4()
    assert events.post("/events", json=[event(7, one)]).json == {"received": 1, "duplicates": 0, "ignored": 0}
    response = events.post("/events", json=[event(7, one), event(8, two), event(8, two)])
    assert response.status_code == 200
    assert response.json == {"received": 1, "duplicates": 2, "ignored": 0}
    assert [job["args"]["event_id"] for job in queued_jobs(conn)] == [str(one), str(two)]
    assert len(stored_events(conn)) == 2


def _valid():
    return event(1, uuid.uuid4())


@pytest.mark.parametrize("body, text", [
    ({"event_id": "x"}, "body: Invalid input type."),
    ([], "body: A batch holds 1 to 10 events."),
    ([event(n, uuid.uuid4()) for n in range(11)], "body: A batch holds 1 to 10 events."),
    ([_valid(), {**_valid(), "event_id": "not-a-uuid"}], "[1].event_id: Not a valid UUID."),
    ([_valid(), {**_valid(), "data": {"eshop_id": 1, "order_event_type": "add"}}],
     "[1].data.order_id: Missing data for required field."),
    ([_valid(), {**_valid(), "data": {"order_id": "12"}}], "[1].data.order_id: Not a valid integer."),
    ([_valid(), {**_valid(), "event_date": "yesterday"}], "[1].event_date: Not a valid integer."),
    ([_valid(), {**_valid(), "data": None}], "[1].data: Field may not be null."),
    ([_valid(), "an event"], "[1]: Invalid input type."),
])
def test_a_malformed_batch_is_a_400_and_stores_nothing(events, conn, body, text):
    response = events.post("/events", json=body)
    assert response.status_code == 400
    assert response.json == {"errortext": text, "statuscode": 400}
    assert stored_events(conn) == [] and queued_jobs(conn) == []


def test_a_body_that_is_not_json_is_a_400(events, conn):
    response = events.post("/events", data="[{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json["statuscode"] == 400
    assert stored_events(conn) == []


def test_other_event_types_are_acknowledged_ignored_and_counted(events, admin, conn):
    batch = [
        {**event(5, uuid.uuid4()), "event_type": "order-delivery"},
        {**event(5, uuid.uuid4()), "event_type": "booking"},
        {"event_id": str(uuid.uuid4()), "event_type": "z-report", "event_date": 1, "account_id": ACCOUNT_ID,
         "data": {"zreport_id": 3}},
        {"event_id": str(uuid.uuid4()), "event_type": "a-type-sitoo-adds-later", "event_date": 1,
         "account_id": ACCOUNT_ID, "data": {}},
        event(5, uuid.uuid4(), "email-receipt"),
        event(5, uuid.uuid4(), "ready-for-pickup", order_state_changed="closed"),  # a state change: processed
    ]
    response = events.post("/events", json=batch)
    assert response.status_code == 200
    assert response.json == {"received": 6, "duplicates": 0, "ignored": 5}
    assert [job["lock"] for job in queued_jobs(conn)] == ["order:5"]
    counts = admin.get("/admin/events/counts")
    assert counts.status_code == 200
    assert counts.json == [
        {"event_type": "a-type-sitoo-adds-later", "status": "ignored", "reason": "not_an_order_event", "count": 1},
        {"event_type": "booking", "status": "ignored", "reason": "not_an_order_event", "count": 1},
        {"event_type": "order", "status": "ignored", "reason": "no_purchase_change", "count": 1},
        {"event_type": "order", "status": "pending", "count": 1},
        {"event_type": "order-delivery", "status": "ignored", "reason": "not_an_order_event", "count": 1},
        {"event_type": "z-report", "status": "ignored", "reason": "not_an_order_event", "count": 1},
    ]


def test_the_webhook_has_its_own_credentials(app, events, conn):
    body = [_valid()]
    anonymous = app.test_client().post("/events", json=body)
    assert anonymous.status_code == 401 and "Basic" in anonymous.headers["WWW-Authenticate"]
    assert Client(app, EVENTS_USER, "wrong").post("/events", json=body).status_code == 401
    assert Client(app, SPI_USER, SPI_PASSWORD).post("/events", json=body).status_code == 403
    assert Client(app, ADMIN_USER, ADMIN_PASSWORD).post("/events", json=body).status_code == 403
    assert events.get("/customers?key_type=member_number&key=1").status_code == 403
    assert events.get("/admin/events/counts").status_code == 403
    assert stored_events(conn) == []


def test_the_webhook_answers_503_when_the_database_cannot_take_the_events(make_app):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(database_url=f"postgresql://crm@127.0.0.1:{port}/crm", pool_timeout=0.5)
    response = Client(app, EVENTS_USER, EVENTS_PASSWORD).post("/events", json=[_valid()])
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json["statuscode"] == 503


# --- the order → transaction mapping ----------------------------------------------------------------------

def test_the_spec_sale_becomes_the_contracts_transaction():
    sale = order(11513, SPEC_SALE, **{"pos-receiptid": "SII000000150000110009"})
    assert mapping.transaction(sale) == {
        "date_created": 1463041119,
        "receipt_id": "SII000000150000110009",
        "order_id": 11513,
        "store_id": "200",
        "store_name": "Concept Store",
        "currency_code": "USD",
        "items": [{"sku": "121292-4", "product_name": "Cookbook", "quantity": 1, "total": "15.00",
                   "vat": "0.85", "vat_value": 6, "discounts": []}],
        "payments": [{"name": "Card", "total": "15.00"}],
    }


def test_a_row_discount_is_added_back_and_shown_as_the_manual_discount():
    items = mapping.transaction(order(11514, SPEC_ORDER))["items"]
    assert [(i["sku"], i["quantity"], i["total"], i["vat"], i.get("manual_discount"), i.get("manual_discount_vat"))
            for i in items] == [
        ("10038-2", 1, "125.00", "25.00", None, None),
        ("83428-0", 2, "250.00", "50.00", "50.00", "10.00"),  # the POST's moneyrowprice 250, moneyrowdiscount 50
        ("83537-0", 1, "106.00", "6.00", None, None),
    ]


def test_a_per_unit_discount_without_the_row_discount_is_computed_from_the_net_price():
    sofa = order(11514, SPEC_ORDER)
    del sofa["orderitems"][1]["additionaldata"]["orderitem-moneyrowdiscount"]
    sofa["orderitems"][1]["additionaldata"]["reasoncode-manualdiscount"] = "RC7"
    item = mapping.transaction(sofa)["items"][1]
    assert (item["total"], item["manual_discount"], item["manual_discount_vat"], item["manual_discount_name"]) == (
        "250.00", "50.00", "10.00", "RC7")


def test_a_refund_is_a_transaction_with_negative_amounts():
    refund = mapping.transaction(order(11512, SPEC_REFUND))
    assert refund["items"] == [{"sku": "44079-0", "product_name": "Coffee Table", "quantity": -1,
                                "total": "-2990.00", "vat": "-598.00", "vat_value": 25, "discounts": []}]
    assert refund["payments"] == [{"name": "Card", "total": "-2900.00"}]


def test_discount_rows_belong_to_the_item_before_them_and_the_details_are_kept():
    sale = order(42, SPEC_SALE)
    sale["externalid"] = "WEB-42"
    sale["moneytotal_gross_roundoff"] = "-0.15"
    row = sale["orderitems"][0]
    row.update(productattributes="Color: Red", unitlabel="kg", decimalunitquantity="1.5", externalinput="Hi")
    sale["orderitems"].append({"orderitemtype": 20, "productname": "Summer sale", "vouchername": "SUMMER",
                               "quantity": 1, "vatvalue": 6, "moneyitemtotal_net": "-1.42",
                               "moneyitemtotal_vat": "-0.08"})
    found = mapping.transaction(sale)
    assert found["order_external_id"] == "WEB-42" and found["roundoff"] == "-0.15"
    assert found["items"] == [{
        "sku": "121292-4", "product_name": "Cookbook", "product_name2": "Color: Red", "quantity": 1,
        "total": "15.00", "vat": "0.85", "vat_value": 6, "note": "Hi", "unit_label": "kg", "unit_quantity": "1.500",
        "discounts": [{"name": "SUMMER", "total": "1.50", "vat": "0.08"}],
    }]


def test_an_order_the_mapping_cannot_read_is_refused():
    broken = order(1, SPEC_SALE)
    broken["orderitems"][0]["quantity"] = "one"
    with pytest.raises(mapping.UnreadableOrder):
        mapping.transaction(broken)


# --- applying orders ----------------------------------------------------------------------------------------

def transactions_of(conn, customer_id) -> list[dict]:
    return conn.execute("SELECT order_id, receipt_id, items FROM transactions WHERE customer_id = %s "
                        "ORDER BY order_id", (customer_id,)).fetchall()


def apply(conn, found: dict) -> service.Outcome:
    with conn.transaction():
        return service.apply_order(conn, found)


@pytest.mark.parametrize("key, value", [
    ("crm-customerid", "id"), ("crm-membernumber", "number"),
    ("customcrm-contactid", "id"), ("customcrm-membernumber", "number"),
])
def test_an_order_becomes_the_transaction_of_the_customer_it_names(spi, conn, key, value):
    customer_id = new_customer(spi, "5001")
    outcome = apply(conn, order(3001, **{key: customer_id if value == "id" else "5001"}))
    assert outcome == ("processed", "stored", uuid.UUID(customer_id))
    assert [t["order_id"] for t in transactions_of(conn, customer_id)] == [3001]


def test_an_order_naming_no_known_customer_is_skipped_with_the_reason(spi, conn):
    erased = new_customer(spi, "5002")
    conn.execute("UPDATE customers SET erased_at = now() WHERE customer_id = %s", (erased,))
    assert apply(conn, order(3002, customer_id=erased)) == ("skipped", "unknown_customer", None)
    assert apply(conn, order(3003, member_number="no-such-member")) == ("skipped", "unknown_customer", None)
    assert apply(conn, order(3004, **{"crm-customerid": "not-a-uuid"})) == ("skipped", "unknown_customer", None)
    assert apply(conn, order(3005)) == ("skipped", "no_customer", None)
    assert conn.execute("SELECT count(*) AS n FROM transactions").fetchone()["n"] == 0


def test_the_first_customer_reference_that_is_known_wins(spi, conn):
    known = new_customer(spi, "5003")
    outcome = apply(conn, order(3006, customer_id=uuid.uuid4(), member_number="5003"))
    assert outcome.customer_id == uuid.UUID(known)


def test_a_refund_naming_no_customer_belongs_to_the_customer_of_the_purchase_it_returns(spi, conn):
    customer_id = new_customer(spi, "5004")
    apply(conn, order(4001, SPEC_SALE, customer_id=customer_id))
    by_credit = order(4002, SPEC_REFUND)
    by_credit["creditorderid"] = 4001
    by_pos = order(4003, SPEC_REFUND, **{"pos-originalsales-orderid": "4001"})
    assert apply(conn, by_credit).customer_id == uuid.UUID(customer_id)
    assert apply(conn, by_pos).customer_id == uuid.UUID(customer_id)
    assert [t["order_id"] for t in transactions_of(conn, customer_id)] == [4001, 4002, 4003]


def test_an_order_seen_again_replaces_its_transaction_and_a_cancelled_one_removes_it(spi, conn):
    customer_id = new_customer(spi, "5005")
    apply(conn, order(5001, SPEC_SALE, customer_id=customer_id))
    apply(conn, order(5001, SPEC_ORDER, customer_id=customer_id))
    assert [len(t["items"]) for t in transactions_of(conn, customer_id)] == [3]
    other = new_customer(spi, "5006")
    apply(conn, order(5001, SPEC_ORDER, customer_id=other))  # the order now names another customer
    assert transactions_of(conn, customer_id) == [] and len(transactions_of(conn, other)) == 1
    assert apply(conn, order(5001, customer_id=other, state=20)) == ("processed", "cancelled", None)
    assert transactions_of(conn, other) == []
    assert apply(conn, order(5002, customer_id=other, state=-1)) == ("processed", "cancelled", None)


def test_bookings_and_parked_orders_are_no_purchases(spi, conn):
    customer_id = new_customer(spi, "5007")
    booking = order(6001, customer_id=customer_id)
    booking["ordertypeid"] = 100
    assert apply(conn, booking) == ("skipped", "not_a_sale", None)
    assert transactions_of(conn, customer_id) == []


def _grant(conn, customer_id):
    conn.execute("INSERT INTO bonus_checks (bonus_check_id, customer_id, name, cart_amount) "
                 "VALUES ('bc-1', %s, 'Bonus', 100.00)", (customer_id,))
    conn.execute("INSERT INTO promotions (promotion_id, customer_id, name, promotion_type, value_int) "
                 "VALUES ('pr-1', %s, '10%%', 'cart_percent', 10)", (customer_id,))


def _consumed(conn):
    rows = conn.execute("SELECT bonus_check_id AS id, consumed_order_id, date_redeemed IS NOT NULL AS redeemed "
                        "FROM bonus_checks UNION ALL SELECT promotion_id, consumed_order_id, date_redeemed IS NOT NULL "
                        "FROM promotions ORDER BY 1").fetchall()
    return {row["id"]: (row["consumed_order_id"], row["redeemed"]) for row in rows}


def test_items_naming_a_bonus_check_or_promotion_consume_it_until_the_order_is_cancelled(spi, conn):
    customer_id = new_customer(spi, "5008")
    _grant(conn, customer_id)
    sale = order(7001, SPEC_ORDER, customer_id=customer_id)
    sale["orderitems"][0]["additionaldata"]["crm-bonuscheckid"] = "bc-1"
    sale["orderitems"][2]["additionaldata"]["customcrm-promotionid"] = "pr-1"
    apply(conn, sale)
    assert _consumed(conn) == {"bc-1": (7001, True), "pr-1": (7001, True)}
    apply(conn, sale)  # the same order again: still consumed by it
    assert _consumed(conn) == {"bc-1": (7001, True), "pr-1": (7001, True)}
    other = order(7002, SPEC_SALE, customer_id=customer_id)
    other["orderitems"][0]["additionaldata"]["crm-bonuscheckid"] = "bc-1"
    apply(conn, other)  # a bonus check consumed by one purchase stays with it
    assert _consumed(conn)["bc-1"] == (7001, True)
    del sale["orderitems"][2]["additionaldata"]["customcrm-promotionid"]
    apply(conn, sale)  # updated: no longer uses the promotion, which had no redeem: it is free again
    assert _consumed(conn) == {"bc-1": (7001, True), "pr-1": (None, False)}
    apply(conn, order(7001, SPEC_ORDER, customer_id=customer_id, state=20))
    assert _consumed(conn) == {"bc-1": (None, False), "pr-1": (None, False)}


def test_a_cancelled_purchase_leaves_a_redeemed_item_redeemed_and_its_undo_allowed_again(spi, conn):
    customer_id = new_customer(spi, "5011")
    _grant(conn, customer_id)
    redeem = spi.post(f"/customers/{customer_id}/redeem", json={"bonus_checks": ["bc-1"], "promotions": []})
    assert redeem.status_code == 200
    sale = order(7004, SPEC_ORDER, customer_id=customer_id)
    sale["orderitems"][0]["additionaldata"]["crm-bonuscheckid"] = "bc-1"
    apply(conn, sale)
    undo = f"/customers/{customer_id}/redeem/{redeem.json['redeem_id']}"
    assert spi.delete(undo).status_code == 409  # consumed by the purchase
    apply(conn, order(7004, SPEC_ORDER, customer_id=customer_id, state=20))
    assert _consumed(conn)["bc-1"] == (None, True)  # still held by its open redeem
    assert spi.delete(undo).status_code == 200
    assert _consumed(conn)["bc-1"] == (None, False)


def test_another_customers_bonus_check_is_not_consumed(spi, conn):
    owner, buyer = new_customer(spi, "5009"), new_customer(spi, "5010")
    _grant(conn, owner)
    sale = order(7003, SPEC_SALE, customer_id=buyer)
    sale["orderitems"][0]["additionaldata"]["crm-bonuscheckid"] = "bc-1"
    apply(conn, sale)
    assert _consumed(conn)["bc-1"] == (None, False)


def conflicts(admin, **query):
    response = admin.get("/admin/item-conflicts", query_string=query)
    assert response.status_code == 200, response.json
    return [(c["order_id"], c["kind"], c["item_id"], c["reason"], c.get("other_order_id")) for c in response.json]


def test_the_same_bonus_check_on_a_second_purchase_after_an_undo_is_a_recorded_conflict(spi, admin, conn, make_app):
    """Redeem X for a purchase, undo, redeem X again for a second purchase: both purchases got the discount.
    When the orders arrive the second cannot consume X: it is recorded, listed and counted, never dropped."""
    customer_id = new_customer(spi, "5012")
    _grant(conn, customer_id)
    first = spi.post(f"/customers/{customer_id}/redeem", json={"bonus_checks": ["bc-1"], "promotions": []})
    assert spi.delete(f"/customers/{customer_id}/redeem/{first.json['redeem_id']}").status_code == 200
    assert spi.post(f"/customers/{customer_id}/redeem", json={"bonus_checks": ["bc-1"], "promotions": []}).status_code == 200
    sales = []
    for order_id in (7101, 7102):
        sale = order(order_id, SPEC_SALE, customer_id=customer_id)
        sale["orderitems"][0]["additionaldata"]["crm-bonuscheckid"] = "bc-1"
        sales.append(sale)
        apply(conn, sale)
    apply(conn, sales[1])  # replayed: still one conflict
    assert _consumed(conn)["bc-1"] == (7101, True)
    assert conflicts(admin) == [(7102, "bonus_check", "bc-1", "used_by_another_order", 7101)]

    metrics_user, metrics_password = "prometheus", "prometheus-3Rk9wQ7zLs"
    scraped = make_app(metrics_users=parse_users(f"{metrics_user}:{metrics_password}")).test_client().get(
        "/metrics", headers=basic(metrics_user, metrics_password)).text
    assert 'crm_item_conflicts{reason="used_by_another_order"} 1.0' in scraped
    assert 'crm_item_conflicts{reason="unknown_item"} 0.0' in scraped

    del sales[1]["orderitems"][0]["additionaldata"]["crm-bonuscheckid"]
    apply(conn, sales[1])  # the order corrected in Sitoo: it no longer names the item
    assert conflicts(admin) == []


def test_another_customers_item_and_an_unknown_id_are_recorded_conflicts(spi, admin, conn):
    owner, buyer = new_customer(spi, "5013"), new_customer(spi, "5014")
    _grant(conn, owner)
    sale = order(7103, SPEC_ORDER, customer_id=buyer)
    sale["orderitems"][0]["additionaldata"]["crm-bonuscheckid"] = "bc-1"
    sale["orderitems"][2]["additionaldata"]["crm-promotionid"] = "no-such-promotion"
    apply(conn, sale)
    assert _consumed(conn)["bc-1"] == (None, False)
    assert sorted(conflicts(admin)) == [(7103, "bonus_check", "bc-1", "another_customers_item", None),
                                        (7103, "promotion", "no-such-promotion", "unknown_item", None)]
    listed = admin.get("/admin/item-conflicts?reason=another_customers_item").json
    assert [(c["customer_id"], c.get("holder_customer_id")) for c in listed] == [(buyer, owner)]
    assert admin.get("/admin/item-conflicts?reason=other").status_code == 400
    apply(conn, order(7103, SPEC_ORDER, customer_id=buyer, state=20))  # cancelled: nothing is left to explain
    assert conflicts(admin) == []


# --- processing one event -----------------------------------------------------------------------------------

def test_an_order_the_api_does_not_return_yet_is_retried_before_it_is_skipped(events, spi, conn, sitoo, settings):
    from crm_provider.events.worker import AttemptFailed, Ingestion

    customer_id = new_customer(spi, "5015")
    event_id = str(uuid.uuid4())
    events.post("/events", json=[event(8101, event_id)])
    ingestion = Ingestion(conn.info.dsn, replace(settings, sitoo_account_id=ACCOUNT_ID),
                          SitooClient(sitoo.url, ACCOUNT_ID, API_ID, API_PASSWORD, timeout=5))
    ingestion.retry = Backoff(5, 60, settings.events_max_attempts)  # as worker.py registers it
    try:
        with pytest.raises(AttemptFailed, match="does not return the order yet"):
            ingestion.process(event_id, 0)  # the event came before the order is readable
        assert stored_events(conn)[0]["status"] == "pending"
        sitoo.put(order(8101, customer_id=customer_id))
        ingestion.process(event_id, 1)
        assert [t["order_id"] for t in transactions_of(conn, customer_id)] == [8101]

        never = str(uuid.uuid4())
        events.post("/events", json=[event(8102, never)])
        for attempt in range(service.ORDER_NOT_FOUND_ATTEMPTS - 1):
            with pytest.raises(AttemptFailed):
                ingestion.process(never, attempt)
        ingestion.process(never, service.ORDER_NOT_FOUND_ATTEMPTS - 1)  # the last try: skipped, with the reason
        row = conn.execute("SELECT status, reason FROM inbound_events WHERE event_id = %s", (never,)).fetchone()
        assert row == {"status": "skipped", "reason": "order_not_found"}
    finally:
        ingestion.close()


def test_a_sitoo_answer_larger_than_the_limit_is_a_retryable_failure(sitoo, monkeypatch):
    from crm_provider.events import sitoo as sitoo_module

    sitoo.put(order(8103))
    monkeypatch.setattr(sitoo_module, "MAX_RESPONSE_BYTES", 100)
    client = SitooClient(sitoo.url, ACCOUNT_ID, API_ID, API_PASSWORD, timeout=5)
    try:
        with pytest.raises(SitooError, match="more than"):
            client.order(8103)
    finally:
        client.close()


def test_an_event_is_processed_once_and_its_order_read_from_the_api(events, spi, conn, sitoo):
    customer_id = new_customer(spi, "5011")
    sitoo.put(order(8001, customer_id=customer_id))
    event_id = str(uuid.uuid4())
    events.post("/events", json=[event(8001, event_id)])
    client = SitooClient(sitoo.url, ACCOUNT_ID, API_ID, API_PASSWORD, timeout=5)
    try:
        assert service.process_event(conn, event_id, client.order, ACCOUNT_ID) == (
            "processed", "stored", uuid.UUID(customer_id))
        assert service.process_event(conn, event_id, client.order, ACCOUNT_ID) is None
    finally:
        client.close()
    assert sitoo.fetches[8001] == 1
    row = conn.execute("SELECT status, reason, customer_id::text, attempts FROM inbound_events").fetchone()
    assert row == {"status": "processed", "reason": "stored", "customer_id": customer_id, "attempts": 1}


def test_an_event_processed_by_another_worker_while_its_order_was_being_read_is_not_applied_again(
        events, spi, conn, database_url):
    """A job taken for stalled runs again while the first run is still reading the order: only one applies."""
    customer_id = new_customer(spi, "5012")
    event_id = str(uuid.uuid4())
    events.post("/events", json=[event(8002, event_id)])
    sale = order(8002, customer_id=customer_id)

    def read_while_another_worker_finishes(order_id):
        with db.connect(database_url, autocommit=True) as other:
            assert service.process_event(other, event_id, lambda _: sale).status == "processed"
        return sale

    assert service.process_event(conn, event_id, read_while_another_worker_finishes) is None
    assert conn.execute("SELECT attempts FROM inbound_events").fetchone()["attempts"] == 1


def test_an_order_whose_transaction_would_break_the_contract_is_skipped(spi, conn):
    customer_id = new_customer(spi, "5013")
    odd = order(8003, customer_id=customer_id)
    odd["orderitems"][0]["vatvalue"] = 150
    assert apply(conn, odd) == ("skipped", "unreadable_order", None)
    assert transactions_of(conn, customer_id) == []


def test_an_event_of_another_account_or_for_an_order_the_api_does_not_know_is_skipped(events, conn, sitoo):
    other, missing = str(uuid.uuid4()), str(uuid.uuid4())
    events.post("/events", json=[event(9001, other, account_id=999), event(9002, missing)])
    client = SitooClient(sitoo.url, ACCOUNT_ID, API_ID, API_PASSWORD, timeout=5)
    try:
        assert service.process_event(conn, other, client.order, ACCOUNT_ID).reason == "other_account"
        with pytest.raises(SitooError, match="not return the order yet"):  # retried first
            service.process_event(conn, missing, client.order, ACCOUNT_ID, attempts=0)
        last = service.ORDER_NOT_FOUND_ATTEMPTS - 1
        assert service.process_event(conn, missing, client.order, ACCOUNT_ID, last).reason == "order_not_found"
    finally:
        client.close()
    assert sitoo.fetches[9001] == 0


# --- the Sitoo API client -----------------------------------------------------------------------------------

def test_the_client_reads_only_the_fields_it_needs(sitoo):
    sitoo.put(order(11514, SPEC_ORDER))
    client = SitooClient(sitoo.url, ACCOUNT_ID, API_ID, API_PASSWORD, timeout=5)
    try:
        found = client.order(11514)
        assert found["orderid"] == 11514 and len(found["orderitems"]) == 3
        assert not {"email", "namefirst", "namelast", "phone", "personalid"} & set(found)
        assert client.order(1) is None
    finally:
        client.close()


def test_the_client_turns_every_failure_into_a_retryable_error(sitoo):
    client = SitooClient(sitoo.url, ACCOUNT_ID, API_ID, API_PASSWORD, timeout=0.3)
    wrong = SitooClient(sitoo.url, ACCOUNT_ID, API_ID, "wrong", timeout=5)
    try:
        with pytest.raises(SitooError, match="answered 401"):
            wrong.order(1)
        sitoo.fail(500)
        with pytest.raises(SitooError, match="answered 500"):
            client.order(1)
        sitoo.fail(429, retry_after="7")
        with pytest.raises(SitooError, match="429") as limited:
            client.order(1)
        assert limited.value.retry_after == 7
        sitoo.delay = 1.0
        with pytest.raises(SitooError, match="timed out"):
            client.order(1)
    finally:
        client.close()
        wrong.close()


def test_retry_after_is_read_as_seconds_or_as_a_date():
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_back_off_doubles_up_to_its_cap_honours_retry_after_and_gives_up():
    backoff = Backoff(first=2, cap=60, max_attempts=10)
    waits = [backoff.delay(n) for n in range(1, 10)]
    assert all(0.8 * min(2 * 2 ** (n - 1), 60) <= w <= min(2 * 2 ** (n - 1), 60) for n, w in enumerate(waits, 1))
    assert backoff.delay(3, SitooError("429", retry_after=17)) == 17
    assert backoff.delay(3, SitooError("429", retry_after=3600)) == 60
    assert backoff.delay(10) is None
