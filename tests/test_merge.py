"""Merging duplicates (customers.service.merge, POST /admin/customers/{id}/merge): every kind of data moves, the
duplicate is gone from the SPI, and its member number and id still lead a till or Sitoo to the customer."""

from __future__ import annotations

import copy

from conftest import ADMIN_PASSWORD, ADMIN_USER, EXAMPLES, Client
from crm_provider.demo import PROGRAM
from crm_provider.events import service as events

OPTIONS = copy.deepcopy(EXAMPLES["Get Additional Options"]["response"])
NHL = {"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}


def catalogues(admin) -> None:
    consents = EXAMPLES["Get Consents"]["response"] + [
        {"consent_id": "consent_newsletter", "name": "Newsletter", "description": "Monthly", "value": False}]
    assert admin.put("/admin/consents", json=consents).status_code == 200
    assert admin.put("/admin/additional-options", json=OPTIONS).status_code == 200


def two_of_one_person(spi, admin) -> tuple[str, str]:
    """The customer (member 7001, with a consent and its own NHL team) and a duplicate (member 7002) with a
    bit of everything."""
    catalogues(admin)
    assert admin.put("/admin/program", json=PROGRAM).status_code == 200
    keep = spi.post("/customers", json={"member_number": "7001", "name_first": "Ada", "consents": [
        "consent_personal_offers"], "additional_options": [NHL]}).json["customer_id"]
    dup = spi.post("/customers", json={"member_number": "7002", "email": "ada@example.com", "consents": [
        "consent_newsletter"], "additional_options": [
            {"id": "fav-nhl-team", "enum_values": ["toronto-maple-leafs"]},
            {"id": "fav-mlb-team", "enum_values": ["seattle-mariners"]}]}).json["customer_id"]
    assert admin.post(f"/admin/customers/{dup}/promotions", json={
        "promotion_id": "p-dup", "name": "10% off", "promotion_type": {"type": "cart_percent", "value_int": 10}}
    ).status_code == 201
    for check in ("b-dup-1", "b-dup-2"):
        assert admin.post(f"/admin/customers/{dup}/bonus-checks", json={
            "bonus_check_id": check, "name": "Bonus", "cart_amount": "50.00"}).status_code == 201
    assert admin.post(f"/admin/customers/{dup}/transactions",
                      json=EXAMPLES["Get Transactions"]["response"][0]).status_code == 201
    assert admin.post(f"/admin/customers/{keep}/points", json={"points": 100, "reason": "welcome"}).status_code == 201
    assert admin.post(f"/admin/customers/{dup}/points", json={"points": 250, "reason": "welcome"}).status_code == 201
    return keep, dup


def test_a_merge_moves_every_kind_of_data_to_the_customer(spi, admin, conn):
    keep, dup = two_of_one_person(spi, admin)
    redeem = spi.post(f"/customers/{dup}/redeem", json={"bonus_checks": ["b-dup-1"], "promotions": []}).json
    merged = admin.post(f"/admin/customers/{keep}/merge", json={"from": dup})
    assert merged.status_code == 200, merged.json
    customer = merged.json
    # the customer keeps its own profile and member number, and its own value of an option both had
    assert customer["member_number"] == "7001" and customer["name_first"] == "Ada" and "email" not in customer
    assert sorted(customer["consents"]) == ["consent_newsletter", "consent_personal_offers"]
    assert sorted(o["id"] for o in customer["additional_options"]) == ["fav-mlb-team", "fav-nhl-team"]
    assert NHL in customer["additional_options"]
    assert [p["promotion_id"] for p in customer["promotions"]] == ["p-dup"]
    assert {b["bonus_check_id"]: b["redeemed"] for b in customer["bonus_checks"]} == {"b-dup-1": True,
                                                                                      "b-dup-2": False}
    assert len(spi.get(f"/customers/{keep}/transactions").json) == 1
    points = admin.get(f"/admin/customers/{keep}/points").json
    assert points["balance"] == 350 and sorted(e["points"] for e in points["entries"]) == [100, 250]
    # the gained consent is a grant in the customer's history, by the merge
    history = conn.execute("SELECT consent_id, granted, credential FROM consent_history WHERE customer_id = %s "
                           "ORDER BY change_id", [keep]).fetchall()
    assert history[-1] == {"consent_id": "consent_newsletter", "granted": True, "credential": "merge"}
    # the duplicate is gone from the SPI; what the till and Sitoo still have of it leads to the customer
    assert spi.get(f"/customers/{dup}").status_code == 404
    assert spi.get("/customers", query_string={"key": "ada@example.com", "key_type": "email"}).json == []
    [found] = spi.get("/customers", query_string={"key": "7002", "key_type": "member_number"}).json
    assert found["customer_id"] == keep
    undone = spi.delete(f"/customers/{dup}/redeem/{redeem['redeem_id']}")
    assert undone.status_code == 200, undone.json
    kept = conn.execute("SELECT customer_id FROM customers WHERE member_number = '7001'").fetchone()["customer_id"]
    for ref in ({"crm-customerid": dup}, {"crm-membernumber": "7002"}):  # a historic order's, or a card's
        assert events.resolve_customer(conn, {"orderid": 1, "additionaldata": ref}) == (kept, None), ref
    # one audit row names both
    audit = conn.execute("SELECT customer_id, detail, http_status FROM audit_log WHERE operation = "
                         "'POST /admin/customers/<customer_id>/merge'").fetchall()
    assert audit == [{"customer_id": keep, "detail": {"merged_customer_id": dup}, "http_status": 200}]
    row = conn.execute("SELECT merged_into::text, email FROM customers WHERE customer_id = %s", [dup]).fetchone()
    assert row == {"merged_into": keep, "email": None}


def test_a_merge_into_itself_or_of_an_erased_or_unknown_customer_changes_nothing(spi, admin, conn, make_app):
    keep, dup = two_of_one_person(spi, admin)
    assert admin.post(f"/admin/customers/{keep}/merge", json={"from": keep}).status_code == 400
    assert admin.post(f"/admin/customers/{keep}/merge", json={"from": "not-an-id"}).status_code == 400
    assert admin.post(f"/admin/customers/{keep}/merge", json={}).status_code == 400
    other = spi.post("/customers", json={"member_number": "7003", "additional_options": [NHL]}).json["customer_id"]
    assert admin.post(f"/admin/customers/{other}/erase").status_code == 200
    refused = admin.post(f"/admin/customers/{keep}/merge", json={"from": other})
    assert refused.status_code == 400 and refused.json["errortext"].startswith("from: No live customer")
    assert admin.post("/admin/customers/6d7c8b9a-0000-4000-8000-000000000000/merge",
                      json={"from": dup}).status_code == 404
    assert spi.get(f"/customers/{dup}").status_code == 200  # nothing moved
    # merged once, the duplicate cannot be merged again; the hooks heard of the merge
    hooked = Client(make_app(customer_hooks=("test_seams:Counts",)), ADMIN_USER, ADMIN_PASSWORD)
    assert hooked.post(f"/admin/customers/{keep}/merge", json={"from": dup}).status_code == 200
    assert admin.post(f"/admin/customers/{keep}/merge", json={"from": dup}).status_code == 400
    kinds = conn.execute("SELECT kind, detail FROM customer_events WHERE customer_id = %s AND kind = 'merged'",
                         [keep]).fetchall()
    assert kinds == [{"kind": "merged", "detail": {"merged_customer_id": dup}}]
