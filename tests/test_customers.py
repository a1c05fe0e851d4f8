"""Customer search, create and update: every rule of the customer core."""

import uuid

import pytest

from conftest import DEMO_CUSTOMER_ID, EXAMPLES, SPI_PASSWORD, SPI_USER, Client
from crm_provider import keys
from crm_provider.customers import store as customer_store

JANE = {
    "email": "Jane.Roe@Example.com",
    "name_first": "Jane",
    "name_last": "Roe",
    "personal_id": "19800101-1234",
    "company": "Roe AB",
    "company_id": "556677-8899",
    "phone": "08-123 456 78",
    "mobile": "070-222 33 44",
    "invoice_address": {"address": "Main Street 1", "city": "Stockholm", "zip": "11122", "country_id": "SE"},
    "delivery_address": {"name": "Jane", "address": "Box 12", "address2": "c/o Roe", "state": "AB",
                         "country_id": "SE"},
    "gender": "female",
    "birthday": "1980-01-01",
    "accepts_communication": ["sms"],
    "consents": ["consent_personal_offers"],
    "additional_options": [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}],
    "store_id_home": "300",
}


def create(spi, **fields):
    body = {**JANE, **fields}
    response = spi.post("/customers", json=body)
    assert response.status_code == 201, response.json
    return response.json


def customer_count(conn):
    return conn.execute("SELECT count(*) AS n FROM customers").fetchone()["n"]


# --- search -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key_type,key", [
    ("member_number", "10012"),
    ("mobile", "+46701112233"),
    ("mobile", "0701112233"),
    ("mobile", "070-111 22 33"),
    ("mobile", "0046701112233"),
    ("email", "john.doe@example.com"),
    ("email", "  JOHN.DOE@Example.COM "),
])
def test_search_finds_the_demo_customer_by_normalised_key(spi, demo_data, key_type, key):
    response = spi.get("/customers", query_string={"key_type": key_type, "key": key})
    assert response.status_code == 200
    assert [c["customer_id"] for c in response.json] == [DEMO_CUSTOMER_ID]


def test_search_by_personal_and_company_id_ignores_separators(spi, catalogues):
    created = create(spi)
    for key_type, key in (("personal_id", "198001011234"), ("personal_id", "19800101 - 1234"),
                          ("company_id", "5566778899"), ("company_id", "556677-8899")):
        found = spi.get("/customers", query_string={"key_type": key_type, "key": key}).json
        assert [c["customer_id"] for c in found] == [created["customer_id"]], (key_type, key)


@pytest.mark.parametrize("key_type,key", [
    ("member_number", "99999"), ("mobile", "0709999999"), ("mobile", "not a number"),
    ("email", "nobody@example.com"), ("personal_id", "000000-0000"), ("company_id", "---"), ("email", ""),
])
def test_search_without_a_match_is_an_empty_list(spi, demo_data, key_type, key):
    response = spi.get("/customers", query_string={"key_type": key_type, "key": key})
    assert response.status_code == 200
    assert response.json == []


@pytest.mark.parametrize("query", [
    {"key": "10012"}, {"key_type": "member_number"}, {"key": "10012", "key_type": "membernumber"},
    {"key": "10012", "key_type": ""},
])
def test_search_with_missing_or_unknown_key_type_or_key_is_400(spi, demo_data, query):
    response = spi.get("/customers", query_string=query)
    assert response.status_code == 400
    assert response.json["statuscode"] == 400
    assert "key" in response.json["errortext"]


def test_company_id_search_returns_the_most_recently_updated_of_a_shared_company(spi, catalogues):
    first = create(spi)
    second = create(spi, email="other@example.com", mobile="0703334455", personal_id="19900101-0000",
                    name_first="Other")

    def found() -> list[str]:
        return [c["customer_id"] for c in
                spi.get("/customers", query_string={"key_type": "company_id", "key": "556677-8899"}).json]

    assert found() == [second["customer_id"]]  # created last
    assert spi.put(f"/customers/{first['customer_id']}", json={"name_first": "First"}).status_code == 200
    assert found() == [first["customer_id"]]  # updated since


def test_search_uses_the_configured_default_region(app, spi, catalogues):
    created = create(spi, mobile="+4791234567")  # a Norwegian mobile, stored in E.164
    settings = app.config["CRM_SETTINGS"]
    try:
        app.config["CRM_SETTINGS"] = type(settings)(**{**settings.__dict__, "default_region": "NO"})
        found = spi.get("/customers", query_string={"key_type": "mobile", "key": "912 34 567"}).json
    finally:
        app.config["CRM_SETTINGS"] = settings
    assert [c["customer_id"] for c in found] == [created["customer_id"]]


# --- create -------------------------------------------------------------------------------------------------

def test_create_stores_every_field_normalised(spi, catalogues):
    body = create(spi)
    uuid.UUID(body["customer_id"])
    assert body["mobile"] == "+46702223344"
    assert body["phone"] == "+46812345678"
    assert body["email"] == "Jane.Roe@Example.com"  # stored as given, searched case-insensitively
    for field in ("name_first", "name_last", "personal_id", "company", "company_id", "invoice_address",
                  "delivery_address", "gender", "birthday", "accepts_communication", "consents",
                  "additional_options", "store_id_home"):
        assert body[field] == JANE[field], field
    assert spi.get(f"/customers/{body['customer_id']}").json == body


def test_create_assigns_distinct_member_numbers(spi, catalogues):
    first = create(spi)
    second = create(spi, email="b@example.com", mobile="0703334455", personal_id="19900101-0000")
    assert first["member_number"] and second["member_number"]
    assert first["member_number"] != second["member_number"]


def test_new_member_numbers_are_random_digits_with_a_check_digit(spi, catalogues):
    numbers = [create(spi, email=f"m{n}@example.com", mobile=f"070333445{n}", personal_id=None)["member_number"]
               for n in range(5)]
    assert all(len(number) == 10 and number.isdigit() and number[0] != "0" for number in numbers)
    assert all(keys.luhn_digit(number[:-1]) == number[-1] for number in numbers)
    steps = {int(b) - int(a) for a, b in zip(numbers, numbers[1:])}
    assert not steps & {1, -1}, "not consecutive: the next customer's number cannot be guessed from this one"


def test_luhn_check_digit():
    assert keys.luhn_digit("7992739871") == "3"  # the textbook example
    number = keys.random_member_numbers(12, 1)[0]
    assert len(number) == 12 and keys.luhn_digit(number[:-1]) == number[-1]
    mistyped = number[:3] + str((int(number[3]) + 1) % 10) + number[4:]
    assert keys.luhn_digit(mistyped[:-1]) != mistyped[-1]


def test_a_random_member_number_already_taken_is_not_given_again(spi, catalogues, conn):
    taken = create(spi)["member_number"]
    assert customer_store.free_member_number(conn, [taken, "1234567897"]) == "1234567897"
    assert customer_store.free_member_number(conn, [taken]) is None


def test_assigned_member_number_skips_numbers_already_taken(make_app, catalogues, conn):
    sequential = Client(make_app(member_number_digits=None), SPI_USER, SPI_PASSWORD)
    upcoming = conn.execute("SELECT last_value + 1 AS n FROM member_number_seq").fetchone()["n"]
    create(sequential, member_number=str(upcoming))
    second = create(sequential, email="b@example.com", mobile="0703334455", personal_id="19900101-0000")
    assert second["member_number"] not in (str(upcoming), None)


def test_create_with_only_a_name(spi, catalogues):
    response = spi.post("/customers", json={"name_first": "Solo",
                                            "additional_options": JANE["additional_options"]})
    assert response.status_code == 201
    assert response.json["consents"] == [] and response.json["accepts_communication"] == []


def test_read_only_fields_in_a_post_are_ignored(spi, catalogues):
    request = EXAMPLES["Add Customer"]["request"]
    body = spi.post("/customers", json={**request, "customer_id": DEMO_CUSTOMER_ID}).json
    assert body["customer_id"] != DEMO_CUSTOMER_ID
    assert "status" not in body and body["promotions"] == [] and body["sections"] == []
    assert body["voucher_passwords"] == [] and body["bonus_checks"] == []


@pytest.mark.parametrize("field,value", [
    ("member_number", "10012"),
    ("email", "JOHN.DOE@example.com"),
    ("mobile", "070 111 22 33"),
])
def test_duplicate_unique_key_is_400_naming_the_field(spi, demo_data, conn, field, value):
    before = customer_count(conn)
    response = spi.post("/customers", json={**JANE, field: value})
    assert response.status_code == 400
    assert field in response.json["errortext"]
    assert customer_count(conn) == before


def test_duplicate_personal_id_is_400(spi, catalogues, conn):
    create(spi)
    response = spi.post("/customers", json={**JANE, "email": None, "mobile": None, "personal_id": "198001011234"})
    assert response.status_code == 400 and "personal_id" in response.json["errortext"]
    assert customer_count(conn) == 1


INVALID = [
    ({"email": "not-an-email"}, "email"),
    ({"email": "a" * 250 + "@example.com"}, "email"),
    ({"mobile": "12"}, "mobile"),
    ({"phone": "abc"}, "phone"),
    ({"gender": "other"}, "gender"),
    ({"birthday": "1975-08-04T10:00:00"}, "birthday"),
    ({"birthday": "1975-13-04"}, "birthday"),
    ({"invoice_address": {"address": "x", "country_id": "se"}}, "invoice_address.country_id"),
    ({"invoice_address": {"city": "no address line"}}, "invoice_address.address"),
    ({"accepts_communication": ["fax"]}, "accepts_communication"),
    ({"name_first": 5}, "name_first"),
    ({"name_last": ["Doe"]}, "name_last"),
    ({"consents": "consent_personal_offers"}, "consents"),
    ({"member_number": ""}, "member_number"),
    ({"member_number": "1" * 65}, "member_number"),
    ({"personal_id": "-- --"}, "personal_id"),
    ({"name_first": "Ja\x00ne"}, "name_first"),
    ({"consents": ["consent_unknown"]}, "consents"),
    ({"consents": ["consent_personal_offers", "consent_personal_offers"]}, "consents"),
    ({"additional_options": [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]},
                             {"id": "no-such-option", "enum_values": ["x1"]}]}, "additional_options[1].id"),
    ({"additional_options": [{"id": "fav-nhl-team", "enum_values": ["boston-bruins"]}]},
     "additional_options[0].enum_values"),
    ({"additional_options": [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers", "toronto-maple-leafs"]}]},
     "additional_options[0].enum_values"),
    ({"additional_options": [{"id": "fav-nhl-team", "text": "Rangers"}]}, "additional_options[0].text"),
    ({"additional_options": [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]},
                             {"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}]}, "additional_options"),
    ({"additional_options": [{"id": "fav-mlb-team", "enum_values": ["texas-rangers"]}]}, "fav-nhl-team"),
    ({"additional_options": []}, "fav-nhl-team"),
    ({"additional_options": [{"id": "x", "enum_values": []}]}, "additional_options[0].id"),
    ({"additional_options": [{"id": "notes", "text": "x" * 1025}]}, "additional_options[0].text"),
]


@pytest.mark.parametrize("change,field", INVALID, ids=[field for _, field in INVALID])
def test_invalid_customer_is_400_naming_the_field_and_stores_nothing(spi, catalogues, conn, change, field):
    response = spi.post("/customers", json={**JANE, **change})
    assert response.status_code == 400, response.json
    assert response.json["statuscode"] == 400
    assert field in response.json["errortext"]
    assert customer_count(conn) == 0


def test_text_option_takes_up_to_1024_characters(spi, admin):
    admin.put("/admin/additional-options", json=[{"name": "Notes", "options": [
        {"id": "notes", "name": "Notes", "type": "text"},
        {"id": "sizes", "name": "Sizes", "type": "enum-multi",
         "enum_options": [{"id": "s1", "name": "S"}, {"id": "m1", "name": "M"}]}]}])
    body = {"name_first": "T", "additional_options": [{"id": "notes", "text": "x" * 1024},
                                                      {"id": "sizes", "enum_values": ["s1", "m1"]}]}
    response = spi.post("/customers", json=body)
    assert response.status_code == 201
    assert response.json["additional_options"] == body["additional_options"]
    too_long = {"name_first": "T", "additional_options": [{"id": "notes", "text": "x" * 1025}]}
    assert spi.post("/customers", json=too_long).status_code == 400


@pytest.mark.parametrize("data,content_type", [
    (b'{"name_first": "Jane"', "application/json"),
    (b"", "application/json"),
    (b"[1, 2]", "application/json"),
    (b'"Jane"', "application/json"),
    (b'{"name_first": NaN}', "application/json"),
    (b"\xff\xfe", "application/json"),
    (b'{"name_first": "Ja\\u0000ne"}', "application/json"),
])
def test_malformed_body_is_400(spi, catalogues, conn, data, content_type):
    response = spi.post("/customers", data=data, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert set(response.json) == {"errortext", "statuscode"}
    assert customer_count(conn) == 0


def test_body_without_json_content_type_is_still_read_as_json(spi, catalogues):
    response = spi.post("/customers", data=b'{"name_first": "Jane", "additional_options": '
                                            b'[{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}]}',
                        headers={"Content-Type": "text/plain"})
    assert response.status_code == 201


def test_oversized_body_is_400(spi, catalogues, conn):
    response = spi.post("/customers", json={**JANE, "company": "x" * 300_000})
    assert response.status_code == 400
    assert response.json["statuscode"] == 400
    assert customer_count(conn) == 0


# --- get and update -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("customer_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_unknown_customer_is_404_on_get_and_put(spi, demo_data, customer_id):
    for response in (spi.get(f"/customers/{customer_id}"), spi.put(f"/customers/{customer_id}", json={})):
        assert response.status_code == 404
        assert response.json == {"errortext": "Customer not found", "statuscode": 404}


def test_put_absent_fields_keep_their_value_and_given_ones_replace(spi, catalogues):
    created = create(spi)
    response = spi.put(f"/customers/{created['customer_id']}", json={"name_first": "Janet"})
    assert response.status_code == 200
    assert response.json == {**created, "name_first": "Janet"}


def test_put_null_and_empty_string_clear(spi, catalogues):
    created = create(spi)
    body = spi.put(f"/customers/{created['customer_id']}",
                   json={"company": None, "email": "", "mobile": "", "birthday": None, "delivery_address": None,
                         "accepts_communication": [], "consents": []}).json
    for field in ("company", "email", "mobile", "birthday", "delivery_address"):
        assert field not in body, field
    assert body["accepts_communication"] == [] and body["consents"] == []
    # the cleared email and mobile no longer find the customer, and are free for others
    assert spi.get("/customers", query_string={"key_type": "email", "key": JANE["email"]}).json == []
    create(spi, personal_id="19900101-0000", member_number=None)


def test_put_normalises_and_searches_the_new_keys(spi, catalogues):
    created = create(spi)
    spi.put(f"/customers/{created['customer_id']}", json={"mobile": "0705556677", "email": "NEW@example.com"})
    for key_type, key in (("mobile", "+46705556677"), ("email", "new@EXAMPLE.com")):
        found = spi.get("/customers", query_string={"key_type": key_type, "key": key}).json
        assert [c["customer_id"] for c in found] == [created["customer_id"]]


def test_put_ignores_read_only_fields_and_store_id_home(spi, demo_data):
    before = spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json
    response = spi.put(f"/customers/{DEMO_CUSTOMER_ID}", json={
        "customer_id": str(uuid.uuid4()), "status": {"color": "red", "text": "Blocked"},
        "promotions": [], "bonus_checks": [{"bonus_check_id": "x"}], "voucher_passwords": ["vip"],
        "sections": [], "store_id_home": "999"})
    assert response.status_code == 200
    assert response.json == before


def test_put_duplicate_key_is_400_and_changes_nothing(spi, demo_data):
    created = create(spi)
    response = spi.put(f"/customers/{created['customer_id']}", json={"name_first": "X", "email": "john.doe@example.com"})
    assert response.status_code == 400 and "email" in response.json["errortext"]
    assert spi.get(f"/customers/{created['customer_id']}").json == created


def test_put_cannot_clear_the_member_number(spi, demo_data):
    response = spi.put(f"/customers/{DEMO_CUSTOMER_ID}", json={"member_number": None})
    assert response.status_code == 400 and "member_number" in response.json["errortext"]


def test_put_with_options_must_keep_required_ones(spi, demo_data):
    response = spi.put(f"/customers/{DEMO_CUSTOMER_ID}",
                       json={"additional_options": [{"id": "fav-mlb-team", "enum_values": ["texas-rangers"]}]})
    assert response.status_code == 400 and "fav-nhl-team" in response.json["errortext"]
    # without additional_options the stored values stand, required or not
    assert spi.put(f"/customers/{DEMO_CUSTOMER_ID}", json={"name_last": "Doe"}).status_code == 200


def test_put_invalid_value_changes_nothing(spi, demo_data):
    before = spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json
    response = spi.put(f"/customers/{DEMO_CUSTOMER_ID}", json={"name_first": "Jim", "consents": ["nope"]})
    assert response.status_code == 400
    assert spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json == before


def test_consents_keep_their_acceptance_time_across_updates(spi, demo_data, conn):
    def accepted_at():
        return conn.execute("SELECT accepted_at FROM customer_consents WHERE customer_id = %s",
                            (DEMO_CUSTOMER_ID,)).fetchone()["accepted_at"]

    first = accepted_at()
    spi.put(f"/customers/{DEMO_CUSTOMER_ID}", json={"consents": ["consent_personal_offers"]})
    assert accepted_at() == first
