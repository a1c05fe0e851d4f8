"""Person lookup: GET /lookup_customers, the built-in `registry` provider and `crm-provider lookup import`."""


import pytest
import requests
from click.testing import CliRunner

from conftest import EXAMPLES, free_port, start_server, stop_server
from crm_provider.cli import main
from crm_provider.lookup import service

LOOKUP_EXAMPLE = EXAMPLES["Lookup Customer"]
ANNA = {"personal_id": "19800101-1234", "name_first": "Anna", "name_last": "Berg", "email": "Anna.Berg@Example.com",
        "mobile": "070-222 33 44", "company_id": "556677-8899", "birthday": "1980-01-01", "gender": "female"}


@pytest.fixture
def registry_app(make_app):
    return make_app(lookup_provider="registry")


@pytest.fixture
def lookup(registry_app, spi):
    client = registry_app.test_client()

    def get(key_type, key):
        return client.get("/lookup_customers", query_string={"key_type": key_type, "key": key}, headers=spi.auth)

    return get


def test_no_provider_configured_is_501_with_the_error_body(spi):
    response = spi.get("/lookup_customers?key_type=mobile&key=0701112233")
    assert response.status_code == 501
    assert response.json == {"errortext": "Person lookup is not configured (CRM_LOOKUP_PROVIDER)", "statuscode": 501}


def test_lookup_example(lookup, demo_data):
    response = lookup("mobile", "0701112233")
    assert response.status_code == 200
    assert response.json == LOOKUP_EXAMPLE["response"]
    assert LOOKUP_EXAMPLE["example_url"].endswith("/lookup_customers?key_type=mobile&key=0701112233")


def test_demo_load_is_idempotent_for_the_registry(conn, demo_data, database_url, settings):
    from crm_provider import db, demo

    with db.connect(database_url) as again:
        demo.load(again, settings.default_region)
    assert conn.execute("SELECT count(*) AS n FROM person_registry").fetchone()["n"] == 1


@pytest.fixture
def anna(conn):
    with conn.transaction():
        service.put_person(conn, ANNA, "SE")


@pytest.mark.parametrize("key_type,key", [
    ("mobile", "0702223344"),
    ("mobile", "+46 70-222 33 44"),
    ("mobile", "0046702223344"),
    ("email", "  ANNA.berg@example.COM "),
    ("personal_id", "198001011234"),
    ("personal_id", "19800101 - 1234"),
    ("company_id", "5566778899"),
])
def test_keys_are_normalised_as_for_customers(lookup, anna, key_type, key):
    response = lookup(key_type, key)
    assert response.status_code == 200
    assert response.json == [{**ANNA, "mobile": "+46702223344"}]


@pytest.mark.parametrize("key_type,key", [
    ("mobile", "0709999999"), ("mobile", "not a number"), ("email", "nobody@example.com"),
    ("personal_id", "---"), ("member_number", "10012"),
])
def test_nobody_found_is_an_empty_list(lookup, anna, key_type, key):
    response = lookup(key_type, key)
    assert response.status_code == 200 and response.json == []


def test_invalid_arguments_are_400(registry_app, spi):
    client = registry_app.test_client()
    for query in ("key_type=phone&key=1", "key_type=mobile", "key=0701112233"):
        response = client.get(f"/lookup_customers?{query}", headers=spi.auth)
        assert response.status_code == 400 and response.json["statuscode"] == 400


def test_the_newest_record_answers_when_a_key_matches_several(lookup, conn):
    with conn.transaction():
        service.import_persons(conn, [(2, {"mobile": "0702223344", "name_first": "Old"}),
                                      (3, {"mobile": "0702223344", "name_first": "New"})], "SE", replace=True)
    assert lookup("mobile", "0702223344").json == [{"mobile": "+46702223344", "name_first": "New"}]


def test_lookups_are_audited_without_personal_data(registry_app, spi, conn, anna):
    registry_app.test_client().get("/lookup_customers?key_type=mobile&key=0702223344", headers=spi.auth)
    row = conn.execute("SELECT operation, customer_id, detail FROM audit_log").fetchone()
    assert row == {"operation": "GET /lookup_customers", "customer_id": None, "detail": {"found": 1}}


# --- crm-provider lookup import -------------------------------------------------------------------------------

CSV = """personal_id,name_first,name_last,email,mobile,address,zip,city,country_id
19750804-1234,John,Doe,john.doe@example.com,070-111 22 33,Street,12345,City,SE
,Anna,Berg,ANNA@example.com,,,,,
,Bad,Phone,,12345,,,,
,No,Key,,,,,,
,Bad,Mail,not-an-email,,,,,
,Bad,Country,x@example.com,,Street,,,se
1,2,3,4,5,6,7,8,9,10
,Bad,Phone,,999,,,,
"""


def run_import(database_url, tmp_path, text, *args, encoding="utf-8"):
    path = tmp_path / "persons.csv"
    path.write_bytes(text.encode(encoding))
    return CliRunner().invoke(main, ["lookup", "import", str(path), *args], env={"DATABASE_URL": database_url})


def registry_names(conn):
    return sorted(r["name"] for r in conn.execute("SELECT person->>'name_first' AS name FROM person_registry"))


def test_import_stores_valid_rows_and_counts_rejected_ones_by_reason(database_url, tmp_path, conn, lookup):
    result = run_import(database_url, tmp_path, CSV)
    assert result.exit_code == 0, result.output
    assert "imported 2 persons, rejected 6" in result.output
    assert "2 rejected: mobile: Not a valid phone number. (lines 4, 9)" in result.output
    assert "1 rejected: no search key: a personal_id, mobile, email or company_id is needed (lines 5)" in result.output
    assert "1 rejected: email: Not a valid email address. (lines 6)" in result.output
    assert "1 rejected: invoice_address.country_id:" in result.output
    assert "1 rejected: more cells than columns (lines 8)" in result.output
    for personal in ("not-an-email", "x@example.com", "John", "19750804"):
        assert personal not in result.output
    assert registry_names(conn) == ["Anna", "John"]
    assert lookup("personal_id", "197508041234").json == [{
        "personal_id": "19750804-1234", "name_first": "John", "name_last": "Doe", "email": "john.doe@example.com",
        "mobile": "+46701112233", "invoice_address": {"address": "Street", "zip": "12345", "city": "City",
                                                      "country_id": "SE"}}]
    assert lookup("email", "anna@example.com").json == [{"name_first": "Anna", "name_last": "Berg",
                                                         "email": "ANNA@example.com"}]


def test_import_replaces_the_registry_unless_appending(database_url, tmp_path, conn):
    assert run_import(database_url, tmp_path, CSV).exit_code == 0
    only_eva = "name_first,email\nEva,eva@example.com\n"
    assert run_import(database_url, tmp_path, only_eva).exit_code == 0
    assert registry_names(conn) == ["Eva"]
    assert run_import(database_url, tmp_path, "name_first,mobile\nOla,0703334455\n", "--append").exit_code == 0
    assert registry_names(conn) == ["Eva", "Ola"]


@pytest.mark.parametrize("text,encoding,message", [
    ("personal_id,nmae_first\n1,Anna\n", "utf-8", "unknown columns 'nmae_first'"),
    ("", "utf-8", "no header row"),
    ("name_first,mobile\nNo,1\nKey,2\n", "utf-8", "no row could be imported"),
    ("name_first,email\nÅsa,asa@example.com\n", "latin-1", "not a UTF-8 CSV file"),
])
def test_a_file_that_cannot_be_imported_changes_nothing(database_url, tmp_path, conn, anna, text, encoding, message):
    result = run_import(database_url, tmp_path, text, encoding=encoding)
    assert result.exit_code == 1
    assert message in result.output
    assert registry_names(conn) == ["Anna"]


# --- the demo ---------------------------------------------------------------------------------------------------

def test_serve_demo_enables_the_registry_with_the_lookup_example(database_url, monkeypatch):
    """`crm-provider serve --demo` answers the lookup example, and still the customer examples exactly
    (the demo customer has a transaction, but the demo shows no Purchases section)."""
    for variable in ("CRM_LOOKUP_PROVIDER", "CRM_SECTIONS_PROVIDERS"):
        monkeypatch.delenv(variable, raising=False)
    port = free_port()
    env = {"DATABASE_URL": database_url, "CRM_SPI_USERS": "", "CRM_ADMIN_USERS": "", "WEB_CONCURRENCY": "1"}
    process = start_server(["serve", "--demo"], env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        for name in ("Lookup Customer", "Search Customer", "Get Transactions"):
            response = requests.get(base + EXAMPLES[name]["example_url"].split(".com", 1)[1], auth=("demo", "demo"),
                                    timeout=10)
            assert response.status_code == 200, name
            assert response.json() == EXAMPLES[name]["response"], name
    finally:
        stop_server(process)


def test_after_an_import_lookups_go_through_the_keys_index(conn):
    """An import refreshes the registry's statistics: with the old ones (here: one mobile number everywhere)
    the planner would walk the whole table along the primary key looking for that number."""
    from crm_provider.lookup import store

    with conn.transaction(), store.writer(conn) as write:
        for n in range(1000):
            write({"personal_id_norm": None, "mobile": "+46700000001", "email_norm": None, "company_id_norm": None,
                   "person": {}})
    conn.execute("ANALYZE person_registry")
    with conn.transaction():
        service.import_persons(conn, ((n, {"mobile": f"070{n:07d}"}) for n in range(1000)), "SE", replace=True)
    plan = str(conn.execute("EXPLAIN (FORMAT JSON) " + store.Q.find_by_mobile, {"key": "+46700000001"}).fetchone())
    assert "person_registry_mobile_idx" in plan and "person_registry_pkey" not in plan
