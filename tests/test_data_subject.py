"""The data subject (GDPR): the subject-access export and the erasure (customers/service.py), over what every
area registers with crm_provider/personal_data.py."""

from __future__ import annotations

import copy

from conftest import ADMIN_PASSWORD, ADMIN_USER, EXAMPLES, Client
from crm_provider import personal_data

CUSTOMER = {
    "member_number": "5501", "email": "Ada.Lovelace@Example.com", "name_first": "Ada", "name_last": "Lovelace",
    "personal_id": "18151210-1234", "company": "Engines AB", "company_id": "556677-8899", "phone": "08-123 45 67",
    "mobile": "070-123 45 67", "birthday": "1815-12-10", "gender": "female",
    "invoice_address": {"address": "St James's Square 12", "zip": "111 22", "city": "London", "country_id": "GB"},
    "accepts_communication": ["email"], "consents": ["consent_personal_offers"],
    "additional_options": [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]},
                           {"id": "notes", "text": "prefers analytical engines"}],
}
PERSONAL = ("Ada", "Lovelace", "18151210", "Engines", "556677", "123 45 67", "St James", "1815-12-10", "analytical")
KEYS = {"member_number": "5501", "email": "ada.lovelace@example.com", "personal_id": "181512101234",
        "mobile": "0701234567", "company_id": "5566778899"}


def a_customer_with_everything(spi, admin) -> str:
    options = copy.deepcopy(EXAMPLES["Get Additional Options"]["response"])
    options[0]["options"].append({"id": "notes", "name": "Notes", "type": "text"})
    assert admin.put("/admin/consents", json=EXAMPLES["Get Consents"]["response"]).status_code == 200
    assert admin.put("/admin/additional-options", json=options).status_code == 200
    cid = spi.post("/customers", json=CUSTOMER).json["customer_id"]
    assert admin.post(f"/admin/customers/{cid}/promotions", json={
        "promotion_id": "p1", "name": "10% off", "promotion_type": {"type": "cart_percent", "value_int": 10}}
    ).status_code == 201
    assert admin.post(f"/admin/customers/{cid}/bonus-checks", json={
        "bonus_check_id": "b1", "name": "Bonus", "cart_amount": "100.00"}).status_code == 201
    assert spi.post(f"/customers/{cid}/redeem", json={"bonus_checks": ["b1"], "promotions": []}).status_code == 200
    transaction = EXAMPLES["Get Transactions"]["response"][0]
    assert admin.post(f"/admin/customers/{cid}/transactions", json=transaction).status_code == 201
    admin.patch(f"/admin/customers/{cid}", json={"sections": [{"title": "Notes", "values": [
        {"type": "text", "title": "Staff", "text": "Ada asked for Babbage"}]}]})
    return cid


def test_the_export_holds_everything_about_the_customer(spi, admin):
    cid = a_customer_with_everything(spi, admin)
    export = admin.get(f"/admin/customers/{cid}/export")
    assert export.status_code == 200
    assert export.json["customer"]["personal_id"] == CUSTOMER["personal_id"]
    held = export.json["held"]
    assert set(held) >= {"additional_options", "loyalty", "transactions", "points", "sitoo_events", "audit"}
    assert set(held) == {holder.name for holder in personal_data.holders()}
    assert {"id": "notes", "enum_values": [], "text": "prefers analytical engines"} in held["additional_options"]
    assert [p["promotion_id"] for p in held["loyalty"]["promotions"]] == ["p1"]
    assert [b["bonus_check_id"] for b in held["loyalty"]["bonus_checks"]] == ["b1"]
    assert len(held["loyalty"]["redeems"]) == 1 and len(held["transactions"]) == 1
    assert {row["operation"] for row in held["audit"]} >= {"POST /customers", "POST /customers/<customer_id>/redeem"}
    assert admin.get("/admin/customers/6d7c8b9a-0000-4000-8000-000000000000/export").status_code == 404


def test_an_erased_customer_is_found_by_no_key_and_its_accounts_stay(spi, admin, conn, make_app):
    cid = a_customer_with_everything(spi, admin)
    hooked = Client(make_app(customer_hooks=("test_seams:Counts",)), ADMIN_USER, ADMIN_PASSWORD)
    erased = hooked.post(f"/admin/customers/{cid}/erase")
    assert erased.status_code == 200 and erased.json["customer_id"] == cid
    assert spi.get(f"/customers/{cid}").status_code == 404
    for key_type, key in KEYS.items():
        assert spi.get("/customers", query_string={"key_type": key_type, "key": key}).json == [], key_type
    assert admin.get(f"/admin/customers/{cid}/export").status_code == 404
    row = conn.execute("SELECT * FROM customers WHERE customer_id = %s", [cid]).fetchone()
    stored = " ".join(str(value) for value in row.values())
    assert not [text for text in PERSONAL if text in stored]
    assert conn.execute("SELECT count(*) AS n FROM customer_option_values WHERE customer_id = %s AND text IS NOT NULL",
                        [cid]).fetchone()["n"] == 0
    # what the accounts need stays, under the id no read finds
    for table in ("transactions", "redeems", "bonus_checks"):
        assert conn.execute(f"SELECT count(*) AS n FROM {table} WHERE customer_id = %s", [cid]).fetchone()["n"] == 1
    # audited (who and when, never what) and heard by the customer hooks
    audit = conn.execute("SELECT credential, http_status, detail FROM audit_log WHERE operation = "
                         "'POST /admin/customers/<customer_id>/erase'").fetchall()
    assert [(a["credential"], a["http_status"]) for a in audit] == [(ADMIN_USER, 200)]
    assert not [text for text in PERSONAL if text in str(audit[0]["detail"])]
    assert [e["kind"] for e in conn.execute("SELECT kind FROM customer_events WHERE customer_id = %s", [cid])] \
        == ["erased"]
    # idempotent; and the keys are free for a live customer again
    again = admin.post(f"/admin/customers/{cid}/erase")
    assert again.status_code == 200 and again.json["erased_at"] == erased.json["erased_at"]
    again_keys = {k: CUSTOMER[k] for k in ("member_number", "email", "mobile", "personal_id", "additional_options")}
    assert spi.post("/customers", json=again_keys).status_code == 201
    assert admin.post("/admin/customers/6d7c8b9a-0000-4000-8000-000000000000/erase").status_code == 404
    assert admin.post("/admin/customers/not-an-id/erase").status_code == 404  # as every route with an id


def test_an_erased_customers_orders_and_redeems_are_refused_at_the_till(spi, admin):
    cid = a_customer_with_everything(spi, admin)
    assert admin.post(f"/admin/customers/{cid}/erase").status_code == 200
    assert spi.post(f"/customers/{cid}/redeem", json={"bonus_checks": [], "promotions": ["p1"]}).status_code == 404
    assert spi.put(f"/customers/{cid}", json={"name_first": "Ada"}).status_code == 404


def test_every_grant_and_withdrawal_of_a_consent_is_kept_with_who_where_and_its_text(spi, admin, conn):
    consents = EXAMPLES["Get Consents"]["response"] + [
        {"consent_id": "consent_newsletter", "name": "Newsletter", "description": "Monthly", "value": False}]
    assert admin.put("/admin/consents", json=consents).status_code == 200
    till = {"Store-ID": "200", "Staff-ID": "anna", "Register-ID": "R1"}
    cid = spi.post("/customers", json={"member_number": "5601", "consents": [consents[0]["consent_id"]]},
                   headers=till).json["customer_id"]
    changed = [{**consents[0], "name": "Personal offers (2027 wording)"}, *consents[1:]]
    assert admin.put("/admin/consents", json=changed).status_code == 200
    spi.put(f"/customers/{cid}", json={"consents": [consents[1]["consent_id"]]}, headers={**till, "Staff-ID": "bo"})
    spi.put(f"/customers/{cid}", json={"name_first": "Ada"})  # consents not named: no change, no row
    history = admin.get(f"/admin/customers/{cid}/export").json["held"]["consent_history"]
    assert [(h["consent_id"], h["granted"], h["staff_id"], h["store_id"], h["register_id"]) for h in history] == [
        (consents[0]["consent_id"], True, "anna", "200", "R1"),
        (consents[0]["consent_id"], False, "bo", "200", "R1"),
        (consents[1]["consent_id"], True, "bo", "200", "R1")]
    assert history[0]["name"] == consents[0]["name"] and history[1]["name"] == "Personal offers (2027 wording)"
    assert {h["credential"] for h in history} == {"pos"}
    # the proof outlives an erasure; and the service's role cannot rewrite it (migration 0013)
    assert admin.post(f"/admin/customers/{cid}/erase").status_code == 200
    assert conn.execute("SELECT count(*) AS n FROM consent_history WHERE customer_id = %s", [cid]).fetchone()["n"] == 3
    grants = conn.execute("SELECT privilege_type FROM information_schema.role_table_grants "
                          "WHERE grantee = 'crm_app' AND table_name = 'consent_history'").fetchall()
    privileges = {g["privilege_type"] for g in grants}
    assert privileges >= {"SELECT", "INSERT"} and not privileges & {"UPDATE", "DELETE", "TRUNCATE"}


def test_the_export_command_prints_the_same_document(spi, admin, database_url):
    import json

    from click.testing import CliRunner

    from crm_provider.cli import main

    cid = a_customer_with_everything(spi, admin)
    ran = CliRunner().invoke(main, ["customers", "export", "--customer", cid], env={"DATABASE_URL": database_url})
    assert ran.exit_code == 0, ran.output
    printed = json.loads(ran.output)
    served = admin.get(f"/admin/customers/{cid}/export").json
    # (the command's sections are its environment's providers': the Purchases section too)
    assert {**printed["customer"], "sections": []} == {**served["customer"], "sections": []}
    assert set(printed["held"]) == set(served["held"]) and printed["held"]["transactions"] == served["held"]["transactions"]
    missing = CliRunner().invoke(main, ["customers", "export", "--customer", "6d7c8b9a-0000-4000-8000-000000000000"],
                                 env={"DATABASE_URL": database_url})
    assert missing.exit_code != 0 and "Customer not found" in missing.output


def test_the_person_registrys_records_of_the_customer_are_exported_and_erased(spi, admin, conn):
    from crm_provider.lookup import service as lookup

    cid = a_customer_with_everything(spi, admin)
    lookup.put_person(conn, {"personal_id": "181512101234", "name_first": "Ada"}, "SE")
    lookup.put_person(conn, {"mobile": "+46701234567", "name_first": "Augusta"}, "SE")
    lookup.put_person(conn, {"email": "someone.else@example.com", "company_id": "556677-8899"}, "SE")
    held = admin.get(f"/admin/customers/{cid}/export").json["held"]["person_registry"]
    assert sorted(person["name_first"] for person in held) == ["Ada", "Augusta"]
    assert admin.post(f"/admin/customers/{cid}/erase").status_code == 200
    left = conn.execute("SELECT person FROM person_registry").fetchall()
    assert [row["person"]["email"] for row in left] == ["someone.else@example.com"]  # its company id is shared
