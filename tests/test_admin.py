"""Admin routes of the customer core: catalogue replacement and back-office customer fields."""

import uuid

import pytest

from conftest import DEMO_CUSTOMER_ID, EXAMPLES

SECTIONS = EXAMPLES["Get Additional Options"]["response"]


def test_replacing_consents_withdraws_removed_ones_from_customers(spi, admin, demo_data):
    new = [{"consent_id": "consent_newsletter", "name": "Newsletter", "value": True}]
    response = admin.put("/admin/consents", json=new)
    assert response.status_code == 200 and response.json == new
    assert spi.get("/consents").json == new
    assert spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json["consents"] == []


def test_consents_keep_the_order_given(spi, admin):
    consents = [{"consent_id": f"c{i}", "name": f"C{i}", "description": "", "value": False} for i in (3, 1, 2)]
    admin.put("/admin/consents", json=consents)
    assert [c["consent_id"] for c in spi.get("/consents").json] == ["c3", "c1", "c2"]


@pytest.mark.parametrize("body,field", [
    ([{"consent_id": "a", "name": "A"}], "value"),
    ([{"consent_id": "a", "name": "A", "value": "yes"}], "value"),
    ([{"consent_id": "a", "name": "A", "value": True}, {"consent_id": "a", "name": "B", "value": True}], "consent_id"),
    ({"consent_id": "a"}, "body"),
])
def test_invalid_consent_catalogue_is_400_and_changes_nothing(spi, admin, demo_data, body, field):
    response = admin.put("/admin/consents", json=body)
    assert response.status_code == 400 and field in response.json["errortext"]
    assert spi.get("/consents").json == EXAMPLES["Get Consents"]["response"]


def option(**kwargs):
    return {"id": "fav-nhl-team", "name": "NHL", "type": "enum-single",
            "enum_options": [{"id": "new-york-rangers", "name": "New York Rangers"}], **kwargs}


@pytest.mark.parametrize("sections,field", [
    ([{"name": "", "options": []}], "name"),
    ([{"name": "x" * 33, "options": []}], "name"),
    ([{"name": "S"}], "options"),
    ([{"name": "S", "options": [option(id="-bad")]}], "options[0].id"),
    ([{"name": "S", "options": [option(name="n" * 33)]}], "options[0].name"),
    ([{"name": "S", "options": [option(type="radio")]}], "options[0].type"),
    ([{"name": "S", "options": [option(enum_options=[])]}], "options[0].enum_options"),
    ([{"name": "S", "options": [option(type="text")]}], "options[0].enum_options"),
    ([{"name": "S", "options": [option(enum_options=[{"id": "aa", "name": "x" * 65}])]}], "enum_options[0].name"),
    ([{"name": "S", "options": [option(enum_options=[{"id": "aa", "name": "A"}, {"id": "aa", "name": "B"}])]}],
     "enum_options"),
    ([{"name": "S", "options": [option()]}, {"name": "T", "options": [option()]}], "options.id"),
])
def test_invalid_option_catalogue_is_400_and_changes_nothing(spi, admin, demo_data, sections, field):
    response = admin.put("/admin/additional-options", json=sections)
    assert response.status_code == 400, response.json
    assert field in response.json["errortext"]
    assert spi.get("/additional-options").json == SECTIONS


def test_replacing_options_keeps_values_still_offered_and_drops_the_rest(spi, admin, demo_data):
    sections = [
        {"name": "Teams", "options": [
            {"id": "fav-mlb-team", "name": "MLB", "type": "enum-multi",
             "enum_options": [{"id": "texas-rangers", "name": "Texas Rangers"}]},
            {"id": "fav-nhl-team", "name": "NHL", "type": "enum-single", "required": True,
             "enum_options": [{"id": "toronto-maple-leafs", "name": "Toronto Maple Leafs"}]},
        ]},
        {"name": "Empty", "options": []},
    ]
    response = admin.put("/admin/additional-options", json=sections)
    assert response.status_code == 200 and response.json == sections
    assert spi.get("/additional-options").json == sections
    # seattle-mariners is no longer offered: the customer's MLB value goes; the NHL value stays
    assert spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json["additional_options"] == [
        {"id": "fav-nhl-team", "enum_values": ["toronto-maple-leafs"]}]
    # and the catalogue shrinks again
    assert admin.put("/admin/additional-options", json=SECTIONS[:1]).status_code == 200
    assert spi.get("/additional-options").json == SECTIONS


def test_patch_sets_back_office_fields(spi, admin, demo_data):
    sections = [{"title": "Points", "values": [{"type": "money", "title": "Balance", "value": "120.50"},
                                               {"type": "text", "title": "Level", "text": "Gold"}]}]
    response = admin.patch(f"/admin/customers/{DEMO_CUSTOMER_ID}", json={
        "status": {"color": "red", "text": "Blocked"}, "voucher_passwords": ["vip", "staff"],
        "sections": sections, "store_id_home": "500"})
    assert response.status_code == 200
    customer = spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json
    assert customer["status"] == {"color": "red", "text": "Blocked"}
    assert customer["voucher_passwords"] == ["vip", "staff"]
    assert customer["sections"] == [*sections, *EXAMPLES["Get Customer"]["response"]["sections"]]  # then the program's card
    assert customer["store_id_home"] == "500"


def test_patch_absent_fields_are_unchanged_and_null_clears(spi, admin, demo_data):
    before = spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json
    admin.patch(f"/admin/customers/{DEMO_CUSTOMER_ID}", json={"status": None})
    after = spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json
    assert "status" not in after
    assert {k: v for k, v in after.items() if k != "status"} == {k: v for k, v in before.items() if k != "status"}


@pytest.mark.parametrize("body,field", [
    ({"status": {"color": "blue", "text": ""}}, "status.color"),
    ({"status": {"color": "red"}}, "status.text"),
    ({"sections": [{"title": "T", "values": [{"type": "money", "title": "M", "value": "12.5"}]}]},
     "sections[0].values[0].value"),
    ({"sections": [{"title": "T", "values": [{"type": "text", "title": "M"}]}]}, "sections[0].values[0].text"),
    ({"sections": [{"title": "T", "values": [{"type": "chart", "title": "M", "text": "x"}]}]},
     "sections[0].values[0].type"),
    ({"sections": [{"values": []}]}, "sections[0].title"),
    ({"voucher_passwords": "vip"}, "voucher_passwords"),
])
def test_patch_invalid_is_400(admin, demo_data, body, field):
    response = admin.patch(f"/admin/customers/{DEMO_CUSTOMER_ID}", json=body)
    assert response.status_code == 400 and field in response.json["errortext"]


def test_patch_unknown_customer_is_404(admin):
    assert admin.patch(f"/admin/customers/{uuid.uuid4()}", json={}).status_code == 404
