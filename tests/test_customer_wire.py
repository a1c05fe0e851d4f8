"""The customer documents PostgreSQL builds (the `customer_wire` view) are exactly what `CustomerSchema`
states: dumping one through the schema changes nothing. Every field, nested object and variant is set."""

import copy
from datetime import date

from conftest import EXAMPLES
from crm_provider.customers.schemas import CustomerSchema


def dumped(document: dict) -> dict:
    """The document dumped through the schema (which takes the birthday as a date, as it loads it)."""
    if "birthday" in document:
        document = {**document, "birthday": date.fromisoformat(document["birthday"])}
    return CustomerSchema().dump(document)

FULL = {
    "member_number": "77001", "email": "Full.Field@Example.com", "name_first": "Full", "name_last": "Field",
    "personal_id": "19700101-0001", "company": "Field AB", "company_id": "556000-0001", "phone": "+46812345670",
    "mobile": "+46701234567", "birthday": "1970-01-01", "gender": "undisclosed",
    "invoice_address": {"name": "F", "address": "A 1", "address2": "B", "zip": "1", "city": "C", "state": "S",
                        "country_id": "SE"},
    "delivery_address": {"address": "D 2", "country_id": "NO"},
    "accepts_communication": ["email", "sms", "mail"], "consents": ["consent_personal_offers"],
    "additional_options": [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]},
                           {"id": "notes", "text": "likes blue"}],
    "store_id_home": "300",
}
PROMOTION_TYPES = [{"type": "cart_amount", "value_money": "50.00"}, {"type": "cart_percent", "value_int": 15},
                   {"type": "manual"}, {"type": "offer", "value_string": "VIP2026"}]


def test_a_customer_with_every_field_is_the_schema_dump_of_itself(spi, admin):
    sections = copy.deepcopy(EXAMPLES["Get Additional Options"]["response"])
    sections[0]["options"].append({"id": "notes", "name": "Notes", "type": "text"})
    admin.put("/admin/consents", json=EXAMPLES["Get Consents"]["response"])
    admin.put("/admin/additional-options", json=sections)
    customer_id = spi.post("/customers", json=FULL).json["customer_id"]
    for index, promotion_type in enumerate(PROMOTION_TYPES):
        assert admin.post(f"/admin/customers/{customer_id}/promotions", json={
            "promotion_id": f"p{index}", "name": f"P{index}", "description": "d",
            "promotion_type": promotion_type}).status_code == 201
    admin.post(f"/admin/customers/{customer_id}/bonus-checks",
               json={"bonus_check_id": "b1", "name": "B", "description": "d", "cart_amount": "100.00"})
    admin.post(f"/admin/customers/{customer_id}/bonus-checks", json={"bonus_check_id": "b2", "name": "B2",
                                                                     "cart_amount": "1.50"})
    assert spi.post(f"/customers/{customer_id}/redeem", json={"bonus_checks": ["b1"], "promotions": ["p0"]}).status_code == 200
    admin.patch(f"/admin/customers/{customer_id}", json={
        "status": {"color": "orange", "text": "Check id"}, "voucher_passwords": ["vip"],
        "sections": [{"title": "T", "values": [{"type": "text", "title": "a", "text": "b"},
                                               {"type": "money", "title": "m", "value": "12.50"}]}]})

    document = spi.get(f"/customers/{customer_id}").json
    assert dumped(document) == document
    assert {k: document[k] for k in FULL} == {**FULL, "email": FULL["email"]}
    assert [p["promotion_type"] for p in document["promotions"]] == PROMOTION_TYPES
    assert document["promotions"][0]["redeemed"] is True and isinstance(document["promotions"][0]["date_redeemed"], int)
    assert "date_redeemed" not in document["promotions"][1]
    assert [b["cart_amount"] for b in document["bonus_checks"]] == ["100.00", "1.50"]
    assert spi.get("/customers", query_string={"key_type": "member_number", "key": "77001"}).json == [document]


def test_a_customer_with_nothing_but_a_member_number(spi):
    document = spi.post("/customers", json={}).json
    assert dumped(document) == document
    assert set(document) == {"customer_id", "member_number", "accepts_communication", "consents",
                             "additional_options", "promotions", "bonus_checks", "voucher_passwords", "sections"}
