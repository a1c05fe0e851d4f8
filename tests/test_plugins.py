"""Extension points (plugins.py): how providers are found, the sections they add, how a lookup provider's
failures reach the POS, and the example HTTP lookup provider against a real HTTP server."""

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import DEMO_CUSTOMER_ID, EXAMPLES, SPI_PASSWORD, SPI_USER, Client, free_port
from crm_provider import errors, plugins
from crm_provider.app import create_app
from crm_provider.config import Settings
from crm_provider.lookup.http_provider import HttpLookupProvider
from crm_provider.lookup.service import RegistryProvider
from crm_provider.transactions.service import PurchasesSections

TRANSACTION = EXAMPLES["Get Transactions"]["response"][0]
PERSON = EXAMPLES["Lookup Customer"]["response"][0]
JANE = {"name_first": "Jane", "additional_options": [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}]}


# Providers named by dotted path in the tests below.
class StaticSections:
    calls = 0

    def sections(self, conn, customer, **kwargs):
        StaticSections.calls += 1
        return [{"title": "Static", "values": [{"type": "text", "title": "Id", "text": str(customer["customer_id"])}]}]


class SqlMemberSince:
    """An SQL sections provider of a fork's own: a section for every customer, built by PostgreSQL."""
    sections_sql = ("SELECT json_build_array(json_build_object('title', 'Member', 'values', json_build_array("
                    "json_build_object('type', 'text', 'title', 'Number', 'text', c.member_number)))) "
                    "FROM customers c WHERE c.customer_id = w.customer_id")


class SqlNothing:
    """An SQL provider with nothing to show, as an empty array rather than NULL."""
    sections_sql = "SELECT '[]'::json"


class NoMethod:
    pass


class Raises:
    error: BaseException = RuntimeError("boom")

    def lookup(self, conn, key_type, key, **kwargs):
        raise Raises.error


class Answers:
    answer: object = []

    def lookup(self, conn, key_type, key, **kwargs):
        return Answers.answer


HTTP_LOOKUP = HttpLookupProvider("http://127.0.0.1:9/", timeout=0.3, allow_http=True)  # a local test service


# --- configuration and resolution ---------------------------------------------------------------------------------

def test_settings_default_to_the_purchases_section_and_no_lookup():
    assert Settings.from_env({}).sections_providers == ("purchases", "program")
    assert Settings.from_env({}).lookup_provider is None
    assert Settings.from_env({"CRM_SECTIONS_PROVIDERS": ""}).sections_providers == ()
    configured = Settings.from_env({"CRM_SECTIONS_PROVIDERS": " purchases , a.b:c ", "CRM_LOOKUP_PROVIDER": "registry"})
    assert configured.sections_providers == ("purchases", "a.b:c") and configured.lookup_provider == "registry"
    assert Settings().sections_providers == ()  # settings built in code (the tests' own) have none


def test_names_resolve_to_builtins_dotted_paths_and_classes_are_instantiated():
    assert isinstance(plugins.resolve("registry", plugins.LookupProvider), RegistryProvider)
    assert isinstance(plugins.resolve("purchases", plugins.SqlSectionsProvider), PurchasesSections)
    assert isinstance(plugins.resolve("test_plugins:StaticSections", plugins.SectionsProvider), StaticSections)
    assert isinstance(plugins.resolve("test_plugins.StaticSections", plugins.SectionsProvider), StaticSections)
    assert plugins.resolve("test_plugins:HTTP_LOOKUP", plugins.LookupProvider) is HTTP_LOOKUP


def test_names_resolve_to_entry_points(tmp_path, monkeypatch):
    dist = tmp_path / "acme_crm-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-crm\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[crm_provider.plugins]\nacme-sections = test_plugins:StaticSections\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert isinstance(plugins.resolve("acme-sections", plugins.SectionsProvider), StaticSections)


@pytest.mark.parametrize("overrides,error", [
    ({"lookup_provider": "nosuch"}, ValueError),
    ({"lookup_provider": "test_plugins:Missing"}, AttributeError),
    ({"lookup_provider": "no_such_module:provider"}, ModuleNotFoundError),
    ({"lookup_provider": "test_plugins:NoMethod"}, TypeError),
    ({"lookup_provider": "purchases"}, TypeError),
    ({"sections_providers": ("registry",)}, TypeError),
])
def test_a_provider_that_does_not_resolve_stops_the_start_up(settings, overrides, error):
    with pytest.raises(error):
        create_app(dataclasses.replace(settings, **overrides))


# --- sections -----------------------------------------------------------------------------------------------------

@pytest.fixture
def demo_data(demo_data, admin):
    """The demo, with the example's "Customer Info" section stored by the back office (as before the loyalty
    program showed it): the apps here have no program card, and the stored sections come first."""
    stored = EXAMPLES["Get Customer"]["response"]["sections"]
    assert admin.patch(f"/admin/customers/{DEMO_CUSTOMER_ID}", json={"sections": stored}).status_code == 200


def post_transaction(admin, customer_id, **fields):
    response = admin.post(f"/admin/customers/{customer_id}/transactions", json={**TRANSACTION, **fields})
    assert response.status_code == 201, response.json


def test_purchases_section_counts_transactions_and_totals_them(make_app, spi, admin, demo_data):
    client = make_app(sections_providers=("purchases",)).test_client()
    post_transaction(admin, DEMO_CUSTOMER_ID, order_id=2, payments=[{"name": "Card", "total": "10.50"}])
    customer = client.get(f"/customers/{DEMO_CUSTOMER_ID}", headers=spi.auth).json
    assert customer["sections"] == [
        *EXAMPLES["Get Customer"]["response"]["sections"],  # the stored back-office sections come first
        {"title": "Purchases", "values": [{"type": "text", "title": "Transactions", "text": "2"},
                                          {"type": "money", "title": "Total SEK", "value": "500.50"}]},
    ]


def test_purchases_in_several_currencies_are_never_added_together(make_app, spi, admin):
    client = make_app(sections_providers=("purchases",)).test_client()
    cid = spi.post("/customers", json={"name_first": "Jane"}).json["customer_id"]
    post_transaction(admin, cid, order_id=1, date_created=1600000000)
    post_transaction(admin, cid, order_id=2, date_created=1700000000, currency_code="EUR",
                     payments=[{"name": "Card", "total": "-12.00"}])
    post_transaction(admin, cid, order_id=3, date_created=1500000000)
    section = client.get(f"/customers/{cid}", headers=spi.auth).json["sections"][-1]
    assert section == {"title": "Purchases", "values": [
        {"type": "text", "title": "Transactions", "text": "3"},
        {"type": "money", "title": "Total EUR", "value": "-12.00"},  # the latest purchase's currency first
        {"type": "money", "title": "Total SEK", "value": "980.00"},
    ]}


def test_no_transactions_no_purchases_section(make_app, spi, demo_data, conn):
    client = make_app(sections_providers=("purchases",)).test_client()
    conn.execute("DELETE FROM transactions")
    assert client.get(f"/customers/{DEMO_CUSTOMER_ID}", headers=spi.auth).json == EXAMPLES["Get Customer"]["response"]
    created = client.post("/customers", json=JANE, headers=spi.auth)
    assert created.status_code == 201 and created.json["sections"] == []


def test_sections_providers_add_to_every_spi_customer_response_in_order(make_app, spi, demo_data):
    client = make_app(sections_providers=("purchases", "test_plugins:StaticSections")).test_client()
    static = {"title": "Static", "values": [{"type": "text", "title": "Id", "text": DEMO_CUSTOMER_ID}]}
    responses = [
        client.get("/customers?key_type=member_number&key=10012", headers=spi.auth).json[0],
        client.get(f"/customers/{DEMO_CUSTOMER_ID}", headers=spi.auth).json,
        client.put(f"/customers/{DEMO_CUSTOMER_ID}", json={"name_first": "John"}, headers=spi.auth).json,
    ]
    for customer in responses:
        assert [s["title"] for s in customer["sections"]] == ["Customer Info", "Purchases", "Static"]
        assert customer["sections"][-1] == static
    created = client.post("/customers", json=JANE, headers=spi.auth)
    assert created.status_code == 201 and [s["title"] for s in created.json["sections"]] == ["Static"]


def test_sql_sections_providers_come_from_the_read_before_the_python_ones(make_app, spi, admin, demo_data):
    client = make_app(sections_providers=("test_plugins:StaticSections", "purchases",
                                          "test_plugins:SqlMemberSince")).test_client()
    member = {"title": "Member", "values": [{"type": "text", "title": "Number", "text": "10012"}]}
    customer = client.get(f"/customers/{DEMO_CUSTOMER_ID}", headers=spi.auth).json
    assert [s["title"] for s in customer["sections"]] == ["Customer Info", "Purchases", "Member", "Static"]
    assert customer["sections"][2] == member
    only_sql = make_app(sections_providers=("test_plugins:SqlMemberSince",)).test_client()
    found = only_sql.get("/customers?key_type=member_number&key=10012", headers=spi.auth).json
    assert found[0]["sections"] == [*EXAMPLES["Get Customer"]["response"]["sections"], member]
    created = only_sql.post("/customers", json=JANE, headers=spi.auth)
    assert created.status_code == 201 and created.json["sections"][0]["title"] == "Member"  # none stored before it


@pytest.mark.parametrize("providers", [("test_plugins:SqlNothing",),
                                       ("test_plugins:SqlNothing", "test_plugins:SqlMemberSince")])
def test_an_sql_provider_with_an_empty_array_adds_nothing(make_app, spi, demo_data, providers):
    client = make_app(sections_providers=providers).test_client()
    stored = EXAMPLES["Get Customer"]["response"]["sections"]
    for response in (client.get(f"/customers/{DEMO_CUSTOMER_ID}", headers=spi.auth),
                     client.post("/customers", json=JANE, headers=spi.auth)):
        sections = json.loads(response.get_data())["sections"]  # valid JSON, whatever the splice
        assert [s["title"] for s in sections] == (
            [s["title"] for s in stored] if response.status_code == 200 else []) + ["Member"] * (len(providers) - 1)


def test_no_provider_work_when_none_is_configured(make_app, demo_data):
    StaticSections.calls = 0
    app = make_app(sections_providers=())
    assert Client(app, SPI_USER, SPI_PASSWORD).get(f"/customers/{DEMO_CUSTOMER_ID}").json["sections"] == \
        EXAMPLES["Get Customer"]["response"]["sections"]
    with app.app_context():
        assert plugins.extra_sections(None, {"customer_id": DEMO_CUSTOMER_ID}) == []  # None: no query was made
    assert plugins.extra_sections(None, {}) == []  # outside a request (the CLI): none either
    assert StaticSections.calls == 0


def test_a_failing_sections_provider_fails_the_response_with_its_status(make_app, spi, demo_data, monkeypatch):
    client = make_app(sections_providers=("test_plugins:StaticSections",)).test_client()

    def unavailable(self, conn, customer, **kwargs):
        raise errors.GatewayTimeout("Sections service too slow")

    monkeypatch.setattr(StaticSections, "sections", unavailable)
    response = client.get(f"/customers/{DEMO_CUSTOMER_ID}", headers=spi.auth)
    assert response.status_code == 504 and response.json["errortext"] == "Sections service too slow"


# --- lookup provider failures -------------------------------------------------------------------------------------

@pytest.fixture
def raising_client(make_app):
    return make_app(lookup_provider="test_plugins:Raises").test_client()


@pytest.mark.parametrize("error,status,text", [
    (RuntimeError("boom"), 502, "The lookup provider failed"),
    (KeyError("person"), 502, "The lookup provider failed"),
    (TimeoutError(), 504, "The lookup provider did not answer in time"),
    (errors.BadGateway("Register down"), 502, "Register down"),
    (errors.GatewayTimeout("Register slow"), 504, "Register slow"),
])
def test_lookup_provider_failures_are_502_or_504(raising_client, spi, monkeypatch, error, status, text):
    monkeypatch.setattr(Raises, "error", error)
    response = raising_client.get("/lookup_customers?key_type=mobile&key=0701112233", headers=spi.auth)
    assert response.status_code == status
    assert response.json == {"errortext": text, "statuscode": status}


@pytest.mark.parametrize("answer", [None, {"name_first": "John"}, ["John"], [{"email": "not an email"}],
                                    [{"birthday": "04/08/1975"}], [{"invoice_address": {"city": "No street"}}]])
def test_a_lookup_answer_that_is_not_a_list_of_customers_is_502(make_app, spi, monkeypatch, answer):
    client = make_app(lookup_provider="test_plugins.Answers").test_client()
    monkeypatch.setattr(Answers, "answer", answer)
    response = client.get("/lookup_customers?key_type=mobile&key=0701112233", headers=spi.auth)
    assert response.status_code == 502


def test_lookup_answers_in_json_shape_are_answered_as_they_are(make_app, spi, monkeypatch):
    client = make_app(lookup_provider="test_plugins.Answers").test_client()
    person = {**PERSON, "birthday": "1975-08-04", "gender": "male", "personal_id": "19750804-1234"}
    monkeypatch.setattr(Answers, "answer", [person])
    response = client.get("/lookup_customers?key_type=mobile&key=0701112233", headers=spi.auth)
    assert response.status_code == 200 and response.json == [person]


def test_lookup_answers_never_carry_crm_only_fields(make_app, spi, monkeypatch):
    client = make_app(lookup_provider="test_plugins.Answers").test_client()
    monkeypatch.setattr(Answers, "answer", [{**PERSON, "customer_id": "x", "sections": [], "promotions": []}])
    response = client.get("/lookup_customers?key_type=mobile&key=0701112233", headers=spi.auth)
    assert response.status_code == 200 and response.json == [PERSON]


# --- the example HTTP lookup provider, against a real HTTP server ------------------------------------------------

class PersonService(BaseHTTPRequestHandler):
    """/ok answers the example person, /missing 404, /broken 500, /slow too late, /garbage not JSON,
    /object a JSON object, /invalid a customer with a bad email, /moved a redirect to /ok."""

    requests: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        PersonService.requests.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        if self.path == "/slow":
            time.sleep(1.0)
        if self.path == "/moved":
            self.send_response(307)
            self.send_header("Location", "/ok")
            self.end_headers()
            return
        status, payload = {
            "/ok": (200, json.dumps([PERSON])),
            "/missing": (404, "{}"),
            "/broken": (500, "oops"),
            "/slow": (200, "[]"),
            "/garbage": (200, "<html>"),
            "/object": (200, json.dumps(PERSON)),
            "/invalid": (200, json.dumps([{**PERSON, "email": "not an email"}])),
        }[self.path]
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload.encode())
        except OSError:
            pass  # the client gave up (/slow)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def person_service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), PersonService)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_client(make_app):
    return make_app(lookup_provider="test_plugins:HTTP_LOOKUP").test_client()


@pytest.mark.parametrize("path,status,body", [
    ("/ok", 200, [PERSON]),
    ("/missing", 200, []),
    ("/broken", 502, {"errortext": "The lookup service answered 500", "statuscode": 502}),
    ("/slow", 504, {"errortext": "The lookup service did not answer in time", "statuscode": 504}),
    ("/garbage", 502, {"errortext": "The lookup service answered something that is not JSON", "statuscode": 502}),
    ("/object", 502, {"errortext": "The lookup provider answered something that is not a list of customers",
                      "statuscode": 502}),
    ("/invalid", 502, {"errortext": "The lookup provider answered something that is not a list of customers",
                       "statuscode": 502}),
    ("/moved", 502, {"errortext": "The lookup service redirected (307); redirects are not followed",
                     "statuscode": 502}),
])
def test_http_provider_maps_the_services_answers(http_client, spi, person_service, monkeypatch, path, status, body):
    monkeypatch.setattr(HTTP_LOOKUP, "url", person_service + path)
    monkeypatch.setattr(HTTP_LOOKUP, "headers", {"Authorization": "Bearer t0ken"})
    PersonService.requests.clear()
    response = http_client.get("/lookup_customers?key_type=mobile&key=0701112233", headers=spi.auth)
    assert response.status_code == status
    assert response.json == body
    # The key travels in the body, not in the URL.
    assert PersonService.requests == [(path, "Bearer t0ken", {"key_type": "mobile", "key": "0701112233"})]


def test_http_provider_unreachable_service_is_502(http_client, spi, monkeypatch):
    monkeypatch.setattr(HTTP_LOOKUP, "url", f"http://127.0.0.1:{free_port()}/")
    response = http_client.get("/lookup_customers?key_type=mobile&key=0701112233", headers=spi.auth)
    assert response.status_code == 502
    assert response.json == {"errortext": "The lookup service cannot be reached", "statuscode": 502}


def test_http_provider_wants_https_unless_told_the_service_is_private():
    with pytest.raises(ValueError, match="https"):
        HttpLookupProvider("http://persons.example.com/lookup")
    with pytest.raises(ValueError, match="https"):
        HttpLookupProvider("ftp://persons.example.com/lookup", allow_http=True)
    assert HttpLookupProvider("https://persons.example.com/lookup").url.startswith("https://")


def test_http_provider_refuses_an_oversized_answer(person_service, monkeypatch):
    provider = HttpLookupProvider(person_service + "/ok", max_bytes=10, allow_http=True)
    with pytest.raises(errors.BadGateway, match="too much"):
        provider.lookup(None, "mobile", "0701112233")
