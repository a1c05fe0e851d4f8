"""The loyalty program (crm_provider/program/): the document, earning, the ledger's exactly-once booking
through the real event pipeline (the webhook stores the event, process_event applies the order), refunds,
conversion into bonus checks, tiers, expiry, and the admin routes."""

from __future__ import annotations

import copy
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta

from conftest import DEMO_CUSTOMER_ID, EVENTS_PASSWORD, EVENTS_USER, Client
from crm_provider import db
from crm_provider.events import service as events_service
from crm_provider.program import earning
from crm_provider.program import service as program
from fake_sitoo import SPEC_ORDER, SPEC_SALE, event, order

PROGRAM = {
    "currency": "USD", "points_per_unit": 1,
    "reward": {"points": 500, "amount": "50.00", "valid_days": 90},
    "tiers": [{"name": "Member", "points": 0, "color": "green"}, {"name": "Silver", "points": 300, "color": "orange"}],
    "points_valid_months": 24, "card": ["balance", "tier"],
}
NOW = int(time.time())


@pytest.fixture
def events(app):
    return Client(app, EVENTS_USER, EVENTS_PASSWORD)


@pytest.fixture
def with_program(admin):
    def set_program(**changes):
        response = admin.put("/admin/program", json={**PROGRAM, **changes})
        assert response.status_code == 200, response.json
        return response.json
    set_program()
    return set_program


def customer(spi, member_number="8001", **fields) -> str:
    response = spi.post("/customers", json={"member_number": member_number, **fields})
    assert response.status_code == 201, response.json
    return response.json["customer_id"]


def apply(events, conn, sitoo_order: dict, event_type: str = "add", event_id=None):
    """The order, as Sitoo has it now, through the pipeline: its event posted to the webhook, then processed."""
    event_id = event_id or uuid.uuid4()
    assert events.post("/events", json=[event(sitoo_order["orderid"], event_id, event_type)]).status_code == 200
    return events_service.process_event(conn, str(event_id), lambda _: copy.deepcopy(sitoo_order))


def ledger(conn, customer_id) -> list[tuple[str, int]]:
    return [(row["kind"], row["points"]) for row in conn.execute(
        "SELECT kind, points FROM points_ledger WHERE customer_id = %s ORDER BY entry_id", [customer_id])]


def balance(conn, customer_id) -> int:
    row = conn.execute("SELECT balance FROM points_accounts WHERE customer_id = %s", [customer_id]).fetchone()
    return row["balance"] if row else 0


def sale(order_id: int, customer_id: str, template=SPEC_ORDER, date=NOW, **extra) -> dict:
    found = order(order_id, template, customer_id=customer_id, **extra)
    found["orderdate"] = date
    return found


# --- earning ----------------------------------------------------------------------------------------------------

def test_a_line_earns_on_what_was_paid_with_multipliers_and_exclusions():
    transaction = {"currency_code": "SEK", "store_id": "200", "items": [
        {"sku": "SHOE-1", "total": "500.00", "manual_discount": "50.00", "discounts": [{"total": "50.00"}]},  # 400
        {"sku": "GIFT-100", "total": "100.00"},  # a gift card earns nothing
        {"sku": "SOCK-1", "total": "99.99"},
    ], "payments": [{"name": "Card", "total": "449.99"}, {"name": "Gift card", "total": "150.00"}]}
    document = {"currency": "SEK", "points_per_unit": 1, "store_multipliers": {"200": 2},
                "sku_multipliers": [{"prefix": "SHOE-", "multiplier": 1.5}], "non_earning_sku_prefixes": ["GIFT-"],
                "non_earning_payments": ["Gift card"]}
    share = Decimal("449.99") / Decimal("599.99")
    assert earning.points(document, transaction) == int((Decimal("400") * Decimal("1.5") + Decimal("99.99")) * 2 * share)
    assert earning.points({**document, "currency": "EUR"}, transaction) == 0
    refund = {"currency_code": "SEK", "items": [{"sku": "SOCK-1", "quantity": -1, "total": "-99.99"}], "payments": []}
    assert earning.points({**document, "store_multipliers": {}}, refund) == -99  # rounded toward zero


# --- the document ---------------------------------------------------------------------------------------------

def test_the_program_is_set_validated_and_versioned(admin):
    assert admin.get("/admin/program").status_code == 404
    first = admin.put("/admin/program", json=PROGRAM)
    assert first.status_code == 200 and first.json["document"]["reward"]["points"] == 500
    second = admin.put("/admin/program", json={**PROGRAM, "points_per_unit": 2})
    assert admin.get("/admin/program").json["version"] == second.json["version"] == first.json["version"] + 1
    assert [v["version"] for v in admin.get("/admin/program/versions").json] == [second.json["version"],
                                                                                  first.json["version"]]
    for bad in ({**PROGRAM, "points_per_unit": 0}, {**PROGRAM, "reward": {"points": 500}},
                {**PROGRAM, "tiers": list(reversed(PROGRAM["tiers"]))}, {**PROGRAM, "currency": "usd"}):
        response = admin.put("/admin/program", json=bad)
        assert response.status_code == 400 and set(response.json) == {"errortext", "statuscode"}
    assert len(admin.get("/admin/program/versions").json) == 2  # the bad ones changed nothing


# --- exactly once -----------------------------------------------------------------------------------------------

def test_an_order_accrues_once_however_often_its_events_arrive(spi, events, conn, with_program):
    cid = customer(spi)
    purchase = sale(9001, cid)  # 125.00 + 200.00 (after its row discount) + 106.00 paid
    event_id = uuid.uuid4()
    assert apply(events, conn, purchase, event_id=event_id).reason == "stored"
    assert apply(events, conn, purchase, "update").reason == "stored"  # the same order again: nothing more
    assert events.post("/events", json=[event(9001, event_id)]).json["duplicates"] == 1  # a resent event
    assert ledger(conn, cid) == [("earned", 431)] and balance(conn, cid) == 431


def test_an_update_that_returns_a_line_books_the_difference_and_a_cancellation_everything(spi, events, conn,
                                                                                          with_program):
    cid = customer(spi)
    purchase = sale(9002, cid)
    apply(events, conn, purchase)
    purchase["orderitems"] = purchase["orderitems"][:2]  # the third line (106.00) is returned
    apply(events, conn, purchase, "update")
    assert ledger(conn, cid) == [("earned", 431), ("reversed", -106)]
    purchase["orderstateid"] = 20
    apply(events, conn, purchase, "update")
    assert ledger(conn, cid) == [("earned", 431), ("reversed", -106), ("reversed", -325)] and balance(conn, cid) == 0
    purchase["orderstateid"] = 10  # the cancellation undone in Sitoo: it earns again, once
    apply(events, conn, purchase, "update")
    apply(events, conn, purchase, "update")
    assert ledger(conn, cid)[3:] == [("earned", 325)] and balance(conn, cid) == 325


def test_a_partial_refund_reverses_what_it_returns_never_more_than_the_purchase_earned(spi, events, conn,
                                                                                       with_program):
    cid = customer(spi)
    apply(events, conn, sale(9003, cid))
    line = copy.deepcopy(SPEC_ORDER["orderitems"][0])  # the 125.00 sofa, returned
    line.update(quantity=-1, moneyitemtotal_net="-100.00", moneyitemtotal_vat="-25.00", decimalquantitytotal="-1.000")
    refund = sale(9004, None, creditorderid=9003)
    refund.update(orderitems=[line], creditorderid=9003)
    refund["additionaldata"].pop("crm-customerid", None)
    assert apply(events, conn, refund).customer_id == uuid.UUID(cid)  # the purchase's customer
    assert ledger(conn, cid) == [("earned", 431), ("reversed", -125)]
    everything = copy.deepcopy(refund)
    everything["orderid"] = 9005
    everything["orderitems"] = [{**line, "moneyitemtotal_net": "-9000.00", "moneyitemtotal_vat": "0.00"}] * 2
    apply(events, conn, everything)
    assert ledger(conn, cid)[-1] == ("reversed", -306) and balance(conn, cid) == 0  # only what was left


def test_points_convert_into_bonus_checks_and_a_later_refund_leaves_a_shortfall(spi, events, conn, with_program):
    with_program(reward={"points": 100, "amount": "10.00", "valid_days": 90})
    cid = customer(spi)
    apply(events, conn, sale(9006, cid))  # 431: four bonus checks of 10.00, 31 left
    card = spi.get(f"/customers/{cid}").json
    assert [b["cart_amount"] for b in card["bonus_checks"]] == ["10.00"] * 4 and balance(conn, cid) == 31
    assert card["sections"] == [{"title": "Customer Info", "values": [
        {"type": "text", "title": "Bonus Points", "text": "31"}, {"type": "text", "title": "Tier", "text": "Silver"}]}]
    cancelled = sale(9006, cid, state=20)
    apply(events, conn, cancelled, "update")
    assert balance(conn, cid) == 0
    account = conn.execute("SELECT shortfall FROM points_accounts WHERE customer_id = %s", [cid]).fetchone()
    assert account["shortfall"] == 400  # converted already: taken from future earnings
    apply(events, conn, sale(9007, cid, template=SPEC_SALE))  # 15.00 (USD) earns 15, all of it owed
    assert ledger(conn, cid)[-2:] == [("earned", 15), ("reversed", -15)] and balance(conn, cid) == 0
    assert len(spi.get(f"/customers/{cid}").json["bonus_checks"]) == 4  # an issued bonus check is never withdrawn
    assert program.verify(conn) == []


def test_an_opening_balance_converts_with_the_next_purchase_only(spi, events, conn, with_program, database_url):
    cid = customer(spi)
    with db.connect(database_url) as own:
        program.open_balance(own, uuid.UUID(cid), 990)
    assert spi.get(f"/customers/{cid}").json["bonus_checks"] == []
    apply(events, conn, sale(9008, cid, template=SPEC_SALE))  # 15 more: 1005, two bonus checks
    assert len(spi.get(f"/customers/{cid}").json["bonus_checks"]) == 2 and balance(conn, cid) == 5
    assert ledger(conn, cid) == [("opening", 990), ("earned", 15), ("converted", -500), ("converted", -500)]


def test_concurrent_purchases_of_one_customer_give_what_they_give_one_after_another(spi, events, conn,
                                                                                    with_program, database_url):
    cid = customer(spi)
    orders = [sale(9100 + n, cid, template=SPEC_SALE) for n in range(20)]  # 15 points each: 300
    for n, found in enumerate(orders):
        found["orderitems"][0]["moneyitemtotal_net"] = str(Decimal("14.15") + 10 * n)  # 15, 25, ... 205
    ids = []
    for found in orders:
        ids.append(uuid.uuid4())
        assert events.post("/events", json=[event(found["orderid"], ids[-1])]).status_code == 200
    errors = []

    def work(event_id, found):
        try:
            with db.connect(database_url, autocommit=True) as own:
                events_service.process_event(own, str(event_id), lambda _: copy.deepcopy(found))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=pair) for pair in zip(ids, orders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    earned = sum(15 + 10 * n for n in range(20))  # 2200
    assert sum(points for kind, points in ledger(conn, cid) if kind == "earned") == earned
    assert len(spi.get(f"/customers/{cid}").json["bonus_checks"]) == earned // 500
    assert balance(conn, cid) == earned % 500 and program.verify(conn) == []


# --- tiers and expiry -------------------------------------------------------------------------------------------

def test_tiers_follow_points_earned_in_the_window_and_a_status_set_by_hand_wins(spi, admin, events, conn,
                                                                               with_program, database_url):
    cid, staff = customer(spi), customer(spi, "8002")
    assert admin.patch(f"/admin/customers/{staff}", json={"status": {"color": "red", "text": "Staff"}}).status_code == 200
    apply(events, conn, sale(9201, cid))
    apply(events, conn, sale(9202, staff))
    assert spi.get(f"/customers/{cid}").json["status"] == {"color": "orange", "text": "Silver"}
    assert spi.get(f"/customers/{staff}").json["status"] == {"color": "red", "text": "Staff"}  # by hand: kept
    apply(events, conn, sale(9201, cid, state=20), "update")  # cancelled: back to Member
    assert spi.get(f"/customers/{cid}").json["status"] == {"color": "green", "text": "Member"}
    assert admin.patch(f"/admin/customers/{staff}", json={"status_by_tier": True}).status_code == 200
    apply(events, conn, sale(9203, staff, template=SPEC_SALE))
    assert spi.get(f"/customers/{staff}").json["status"] == {"color": "orange", "text": "Silver"}
    with db.connect(database_url, autocommit=True) as own:  # a year on, the earnings left the window
        program.expire(own, datetime.now(timezone.utc) + relativedelta(months=12, days=1))
    assert spi.get(f"/customers/{staff}").json["status"] == {"color": "green", "text": "Member"}


def test_a_tier_adds_its_voucher_passwords_and_its_multiplier_to_the_purchases_after_it(spi, admin, events, conn,
                                                                                      with_program):
    with_program(tiers=[{"name": "Member", "points": 0, "color": "green"},
                        {"name": "Silver", "points": 300, "color": "orange", "voucher_passwords": ["silver-prices"],
                         "multiplier": 2}])
    cid = customer(spi)
    assert admin.patch(f"/admin/customers/{cid}", json={"voucher_passwords": ["own"]}).status_code == 200
    apply(events, conn, sale(9251, cid))  # 431 at the Member tier's 1: now Silver
    assert spi.get(f"/customers/{cid}").json["voucher_passwords"] == ["own", "silver-prices"]
    later = sale(9252, cid, template=SPEC_SALE, date=int(time.time()) + 5)  # under the version with the tiers
    apply(events, conn, later)  # 15.00 at Silver's 2
    apply(events, conn, later, "update")  # again: the same points, whatever the tier is by then
    assert ledger(conn, cid) == [("earned", 431), ("earned", 30)]
    apply(events, conn, sale(9251, cid, state=20), "update")  # the first purchase cancelled: back to Member
    assert spi.get(f"/customers/{cid}").json["voucher_passwords"] == ["own"]


def test_points_expire_on_their_day_oldest_first_and_never_twice(spi, events, conn, with_program, database_url):
    cid = customer(spi)
    earned_at = datetime(2024, 3, 15, 12, 0, tzinfo=timezone.utc)
    apply(events, conn, sale(9301, cid, date=int(earned_at.timestamp())))  # 431 on 2024-03-15 12:00
    apply(events, conn, sale(9302, cid, template=SPEC_SALE, date=int((earned_at + timedelta(days=30)).timestamp())))
    due = earned_at + relativedelta(months=24)
    with db.connect(database_url, autocommit=True) as own:
        assert program.expire(own, due - timedelta(seconds=1)) == 0
        assert program.expire(own, due) == 431  # the older points; the later 15 are not due yet
        assert program.expire(own, due) == 0
    assert ledger(conn, cid)[-1] == ("expired", -431) and balance(conn, cid) == 15


# --- the back office --------------------------------------------------------------------------------------------

def test_a_manual_adjustment_is_audited_and_refused_below_zero(spi, admin, conn, with_program):
    cid = customer(spi)
    response = admin.post(f"/admin/customers/{cid}/points", json={"points": 120, "reason": "goodwill"})
    assert response.status_code == 201 and response.json == {"customer_id": cid, "balance": 120}
    refused = admin.post(f"/admin/customers/{cid}/points", json={"points": -121, "reason": "too much"})
    assert refused.status_code == 400 and "below zero" in refused.json["errortext"]
    points = admin.get(f"/admin/customers/{cid}/points").json
    assert points["balance"] == 120
    assert [(e["kind"], e["points"], e["reason"], e["actor"]) for e in points["entries"]] == [
        ("adjusted", 120, "goodwill", "backoffice")]
    rows = conn.execute("SELECT http_status, detail FROM audit_log WHERE operation = %s ORDER BY audit_id",
                        ["POST /admin/customers/<customer_id>/points"]).fetchall()
    assert [(r["http_status"], r["detail"]) for r in rows] == [(201, {"points": 120}), (400, {"points": -121})]
    assert admin.get(f"/admin/customers/{uuid.uuid4()}/points").status_code == 404


def test_the_liability_report(spi, admin, events, conn, with_program):
    cid = customer(spi)
    apply(events, conn, sale(9401, cid))
    apply(events, conn, sale(9402, cid, template=SPEC_SALE))  # 446: no conversion yet
    admin.post(f"/admin/customers/{cid}/points", json={"points": 100, "reason": "goodwill"})  # 546
    apply(events, conn, sale(9403, cid, template=SPEC_SALE))  # 561: one bonus check, 61 left
    report = admin.get("/admin/program/liability").json
    assert report["points_outstanding"] == 61
    assert (report["bonus_checks_outstanding"], report["bonus_checks_value"]) == (1, "50.00")
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    assert {"month": month, "earned": 461, "converted": 500, "expired": 0, "reversed": 0} in report["months"]
    before = admin.get("/admin/program/liability", query_string={"at": "2020-01-01T00:00:00+00:00"}).json
    assert before == {"points_outstanding": 0, "bonus_checks_outstanding": 0, "bonus_checks_value": "0", "months": []}


def test_every_card_shows_the_balance_zero_included_and_the_demo_its_example(spi, demo_data):
    cid = customer(spi, additional_options=[{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}])
    assert spi.get(f"/customers/{cid}").json["sections"] == [
        {"title": "Customer Info", "values": [{"type": "text", "title": "Bonus Points", "text": "0"}]}]
    assert spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json["sections"] == [
        {"title": "Customer Info", "values": [{"text": "2451", "title": "Bonus Points", "type": "text"}]}]


def test_rebuild_adopts_the_program_over_history_idempotently_and_converts_nothing(spi, admin, events, conn,
                                                                                 with_program, database_url):
    cid = customer(spi)
    history = {"date_created": NOW - 86400, "order_id": 9501, "store_name": "Concept Store", "currency_code": "USD",
               "items": [{"sku": "A-1", "product_name": "Coat", "quantity": 1, "total": "700.00", "vat": "140.00",
                          "vat_value": 25}], "payments": [{"name": "Card", "total": "700.00"}]}
    assert admin.post(f"/admin/customers/{cid}/transactions", json=history).status_code == 201  # no points yet
    assert ledger(conn, cid) == []
    with db.connect(database_url, autocommit=True) as own:
        assert program.rebuild(own) == 1
        assert program.rebuild(own, uuid.UUID(cid)) == 1  # again: nothing more
    assert ledger(conn, cid) == [("earned", 700)] and spi.get(f"/customers/{cid}").json["bonus_checks"] == []
    with_program(points_per_unit=2)  # a new version: the history was judged by the first one
    with db.connect(database_url, autocommit=True) as own:
        program.rebuild(own)
    assert ledger(conn, cid) == [("earned", 700)]
    later = int(time.time()) + 5  # bought after the new version took effect: 2 points a unit
    apply(events, conn, sale(9502, cid, template=SPEC_SALE, date=later))  # 30 points, and the 730 convert
    assert ledger(conn, cid)[1:] == [("earned", 30), ("converted", -500)] and balance(conn, cid) == 230


def test_the_card_shows_what_the_program_lists(spi, events, conn, with_program):
    with_program(card=["balance", "tier", "to_next_tier", "expiring"], points_valid_months=1)
    cid = customer(spi)
    apply(events, conn, sale(9601, cid, template=SPEC_SALE, date=NOW - 10 * 86400))  # 15, expiring in ~3 weeks
    values = spi.get(f"/customers/{cid}").json["sections"][0]["values"]
    assert values == [{"type": "text", "title": "Bonus Points", "text": "15"},
                      {"type": "text", "title": "Tier", "text": "Member"},
                      {"type": "text", "title": "Points to Silver", "text": "285"},
                      {"type": "text", "title": "Expiring within 30 days", "text": "15"}]


def test_the_cards_figures_follow_the_clock_through_the_daily_job_and_a_program_change(spi, events, conn,
                                                                                       with_program):
    """The card's figures are the account's (one row in the customer read): kept at every booking, and by the
    daily job as points near their expiry, and for every account after the program changed."""
    with_program(card=["balance", "to_next_tier", "expiring"], points_valid_months=1)
    cid = customer(spi)
    apply(events, conn, sale(9611, cid, template=SPEC_SALE))  # 15 points, expiring in a month
    values = lambda: spi.get(f"/customers/{cid}").json["sections"][0]["values"]  # noqa: E731
    assert values()[1:] == [{"type": "text", "title": "Points to Silver", "text": "285"},
                            {"type": "text", "title": "Expiring within 30 days", "text": "0"}]
    now = datetime.now(timezone.utc)
    program.expire(conn, now + timedelta(days=5))  # the daily job, five days on: within 30 days of their expiry
    assert values()[2] == {"type": "text", "title": "Expiring within 30 days", "text": "15"}

    with_program(card=["balance", "to_next_tier", "expiring"], points_valid_months=1,
                 tiers=[{"name": "Member", "points": 0, "color": "green"},
                        {"name": "Bronze", "points": 100, "color": "orange"}])
    program.expire(conn, now + timedelta(days=5))
    assert values()[1] == {"type": "text", "title": "Points to Bronze", "text": "85"}


def test_the_program_commands(spi, events, conn, with_program, database_url, monkeypatch):
    from click.testing import CliRunner

    from crm_provider.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    cid = customer(spi)
    apply(events, conn, sale(9701, cid, date=int(datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp())))
    runner = CliRunner()
    verified = runner.invoke(main, ["program", "verify"])
    assert verified.exit_code == 0 and "accounts differing from the ledger: 0" in verified.output
    expired = runner.invoke(main, ["program", "expire", "--at", "2022-01-02"])
    assert expired.exit_code == 0 and "points expired: 431" in expired.output
    rebuilt = runner.invoke(main, ["program", "rebuild", "--customer", cid])
    assert rebuilt.exit_code == 0 and "orders booked: 1" in rebuilt.output
    conn.execute("UPDATE points_accounts SET balance = balance + 1 WHERE customer_id = %s", [cid])
    broken = runner.invoke(main, ["program", "verify"])
    assert broken.exit_code == 1 and f"customer {cid}: stored 1, ledger 0" in broken.output


class TenMore:
    """An earn rule of a retailer's own: ten points more for a member with a birthday on file."""

    def earn(self, purchase, points, *, customer=None, **kwargs):
        return points + 10 if (customer or {}).get("birthday") else points


def test_earn_rules_have_their_say_in_the_worker_too(spi, events, conn, with_program, settings, monkeypatch):
    from dataclasses import replace

    from crm_provider import plugins

    monkeypatch.setattr(plugins, "_PROCESS", plugins.Plugins())
    plugins.use(plugins.load(replace(settings, earn_rules=("test_program:TenMore",))))  # as worker.run does
    with_birthday, without = customer(spi, birthday="1980-02-03"), customer(spi, "8003")
    apply(events, conn, sale(9801, with_birthday, template=SPEC_SALE))
    apply(events, conn, sale(9802, without, template=SPEC_SALE))
    assert ledger(conn, with_birthday) == [("earned", 25)] and ledger(conn, without) == [("earned", 15)]
