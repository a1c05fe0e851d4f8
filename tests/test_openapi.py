"""The OpenAPI document against the contract: it is current, valid, and says what the spec says.

The spec's facts (routes, status codes, parameters, objects with their required and read-only fields,
patterns, lengths, enums and ranges) are transcribed below from `crm-spi-v2.txt`; where the spec file is
beside the checkout, the routes, status codes and parameters are also read from it, so the transcription
cannot drift from it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from crm_provider.contract import openapi
from crm_provider.fields import DECIMAL_QUANTITY_PATTERN, ID_PATTERN, MONEY_PATTERN

SPEC_FILE = Path(__file__).resolve().parents[2] / "shared" / "spec" / "crm-spi-v2.txt"

ERRORS = {400, 401, 403, 404, 429, 500, 502, 503, 504}
SPI_ROUTES = {
    ("get", "/customers"): {200} | ERRORS,
    ("post", "/customers"): {201} | ERRORS,
    ("put", "/customers/{customer_id}"): {200} | ERRORS,
    ("get", "/customers/{customer_id}"): {200} | ERRORS,
    ("get", "/customers/{customer_id}/transactions"): {200} | ERRORS,
    ("post", "/customers/{customer_id}/redeem"): {200, 409} | ERRORS,
    ("delete", "/customers/{customer_id}/redeem/{redeem_id}"): {200, 409} | ERRORS,
    ("get", "/consents"): {200} | ERRORS,
    ("get", "/additional-options"): {200} | ERRORS,
    ("get", "/lookup_customers"): {200, 501} | ERRORS,
}
SEARCH_KEY_TYPES = ["personal_id", "mobile", "email", "member_number", "company_id"]
# Required query parameters and path parameters of each route (every SPI route also takes the three headers).
SPI_PARAMETERS = {
    ("get", "/customers"): {("query", "key"), ("query", "key_type")},
    ("get", "/lookup_customers"): {("query", "key"), ("query", "key_type")},
    ("put", "/customers/{customer_id}"): {("path", "customer_id")},
    ("get", "/customers/{customer_id}"): {("path", "customer_id")},
    ("get", "/customers/{customer_id}/transactions"): {("path", "customer_id")},
    ("post", "/customers/{customer_id}/redeem"): {("path", "customer_id")},
    ("delete", "/customers/{customer_id}/redeem/{redeem_id}"): {("path", "customer_id"), ("path", "redeem_id")},
}
TRACE_HEADERS = {"Store-ID", "Staff-ID", "Register-ID"}
WITH_BODY = {("post", "/customers"), ("put", "/customers/{customer_id}"), ("post", "/customers/{customer_id}/redeem")}


def p(type=None, *, req=False, ro=False, items=None, **facts):
    """One property as the spec states it."""
    return {"type": type, "required": req, "readOnly": ro, "items": items, **facts}


S, I, B, N, A = "string", "integer", "boolean", "number", "array"
MONEY = {"type": S, "pattern": MONEY_PATTERN}
ID = {"type": S, "pattern": ID_PATTERN}

OBJECTS = {
    "AdditionalOptionsSection": {"name": p(S, req=True, minLength=1, maxLength=32), "options": p(A, req=True)},
    "AdditionalOption": {
        "id": p(req=True, **ID), "name": p(S, req=True, minLength=1, maxLength=32),
        "type": p(S, req=True, enum=["enum-single", "enum-multi", "text"]),
        "required": p(B, default=False), "enum_options": p(A)},
    "AdditionalOptionEnumValue": {"id": p(req=True, **ID), "name": p(S, req=True, minLength=1, maxLength=64)},
    "Address": {"name": p(S), "address": p(S, req=True), "address2": p(S), "zip": p(S), "city": p(S),
                "state": p(S), "country_id": p(S)},
    "BonusCheck": {"bonus_check_id": p(S, req=True), "name": p(S, req=True), "description": p(S),
                   "cart_amount": p(req=True, **MONEY), "redeemed": p(B, req=True), "date_redeemed": p(I, format="int64")},
    "Consent": {"consent_id": p(S, req=True), "name": p(S, req=True), "description": p(S), "value": p(B, req=True)},
    "Customer": {
        "customer_id": p(S, ro=True), "member_number": p(S), "email": p(S, format="email"), "name_first": p(S),
        "name_last": p(S), "personal_id": p(S), "company": p(S), "company_id": p(S), "phone": p(S), "mobile": p(S),
        "invoice_address": p(), "delivery_address": p(), "gender": p(S, enum=["male", "female", "undisclosed"]),
        "birthday": p(S, format="date"), "accepts_communication": p(A, items={"enum": ["email", "sms", "mail"]}),
        "consents": p(A, items={"type": S}), "additional_options": p(A), "status": p(ro=True),
        "promotions": p(A, ro=True), "bonus_checks": p(A, ro=True), "voucher_passwords": p(A, ro=True, items={"type": S}),
        "store_id_home": p(S), "sections": p(A, ro=True)},
    "CustomerAdditionalOption": {"id": p(req=True, **ID), "enum_values": p(A, items=ID), "text": p(S, maxLength=1024)},
    "CustomerSection": {"title": p(S, req=True), "values": p(A, req=True)},
    "CustomerSectionValueMoney": {"type": p(S, req=True, enum=["money"]), "title": p(S, req=True),
                                  "value": p(req=True, **MONEY)},
    "CustomerSectionValueText": {"type": p(S, req=True, enum=["text"]), "title": p(S, req=True), "text": p(S, req=True)},
    "CustomerStatus": {"color": p(S, req=True, enum=["red", "orange", "green"]), "text": p(S, req=True)},
    "Error": {"errortext": p(S, req=True), "statuscode": p(I, req=True)},
    "Promotion": {"promotion_id": p(S, req=True), "promotion_type": p(req=True), "name": p(S, req=True),
                  "description": p(S), "redeemed": p(B, req=True), "date_redeemed": p(I, format="int64")},
    "PromotionCartAmount": {"type": p(S, req=True, enum=["cart_amount"]), "value_money": p(req=True, **MONEY)},
    "PromotionCartPercent": {"type": p(S, req=True, enum=["cart_percent"]), "value_int": p(I, req=True, minimum=1, maximum=100)},
    "PromotionManual": {"type": p(S, req=True, enum=["manual"])},
    "PromotionOffer": {"type": p(S, req=True, enum=["offer"]), "value_string": p(S, req=True)},
    "Redeem": {"redeem_id": p(S, ro=True), "bonus_checks": p(A, req=True, items={"type": S}),
               "promotions": p(A, req=True, items={"type": S})},
    "Transaction": {
        "date_created": p(I, req=True, format="int64"), "receipt_id": p(S), "order_id": p(I), "order_external_id": p(S),
        "store_id": p(S), "store_name": p(S, req=True), "currency_code": p(S, req=True), "roundoff": p(**MONEY),
        "items": p(A, req=True), "payments": p(A)},
    "TransactionItem": {
        "sku": p(S, req=True), "product_name": p(S, req=True), "product_name2": p(S), "quantity": p(I, req=True),
        "total": p(req=True, **MONEY), "vat": p(req=True, **MONEY), "manual_discount": p(**MONEY),
        "manual_discount_vat": p(**MONEY), "manual_discount_name": p(S), "vat_value": p(N, req=True), "note": p(S),
        "unit_quantity": p(S, pattern=DECIMAL_QUANTITY_PATTERN), "unit_label": p(S), "discounts": p(A)},
    "TransactionItemDiscount": {"name": p(S, req=True), "total": p(req=True, **MONEY), "vat": p(req=True, **MONEY)},
    "TransactionPayment": {"name": p(S, req=True), "total": p(req=True, **MONEY)},
}


@pytest.fixture(scope="module")
def document():
    return openapi.Document(json.loads(openapi.generated_text()))


def spi_operations(document):
    return {(op.method, op.path): op for op in document.operations if op.scope == "spi"}


def test_committed_document_is_current():
    committed = openapi.COMMITTED.read_text() if openapi.COMMITTED.exists() else ""
    assert committed == openapi.generated_text(), (
        "openapi/openapi.json differs from the document the code generates: run `make openapi` and commit it")


def test_document_is_valid_openapi_3(document):
    validate(document.data)
    assert document.data["openapi"].startswith("3.")


def test_served_document_is_the_committed_one(app):
    client = app.test_client()
    served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json == json.loads(openapi.generated_text())


def test_browsable_docs_page_works_offline(app):
    """/docs is Swagger UI with its scripts served by the service itself (Sitoo's tills have no CDN to spare)."""
    client = app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200 and b"swagger-ui" in page.data
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page.get_data(as_text=True))
    assert len(assets) == 3
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.data) > 1000, asset


def test_spi_routes_and_status_codes_are_the_contracts(document):
    operations = spi_operations(document)
    assert set(operations) == set(SPI_ROUTES)
    for key, statuses in SPI_ROUTES.items():
        assert operations[key].statuses == statuses, key


def test_every_error_is_documented_with_the_error_body(document):
    for op in document.operations:
        for status in op.statuses - set(range(200, 300)):
            schema = op.response_schema(status)
            assert schema == {"$ref": "#/components/schemas/Error"}, (op.label, status)


def test_parameters_and_headers_are_the_contracts(document):
    for key, op in spi_operations(document).items():
        params = {(param["in"], param["name"]): param for param in op.parameters}
        required = {where for where, param in params.items() if param.get("required")}
        assert required == SPI_PARAMETERS.get(key, set()), key
        headers = {name for (where, name), param in params.items() if where == "header"}
        assert headers == TRACE_HEADERS, key
        for name in TRACE_HEADERS:
            assert params[("header", name)]["schema"] == {"type": "string"}
        if ("query", "key_type") in params:
            assert params[("query", "key_type")]["schema"]["enum"] == SEARCH_KEY_TYPES
        assert ("requestBody" in op.spec) == (key in WITH_BODY), key
        if key in WITH_BODY:
            assert op.spec["requestBody"]["required"] is True


def test_security_is_http_basic_per_caller(document):
    schemes = document.data["components"]["securitySchemes"]
    assert all(s["type"] == "http" and s["scheme"] == "basic" for s in schemes.values())
    for op in document.operations:
        if op.path.startswith("/admin"):
            assert op.scope == "admin", op.label
        elif (op.method, op.path) in SPI_ROUTES:
            assert op.scope == "spi", op.label
        assert op.scope is None or op.scope in schemes, op.label
    assert document.data.get("security") is None  # no global requirement: the public routes stay public


def test_admin_and_events_routes_are_tagged_apart_from_the_spi(document):
    spi_tags = {tag for op in document.operations if op.scope == "spi" for tag in op.spec["tags"]}
    other_tags = {tag for op in document.operations if op.scope in ("admin", "events") for tag in op.spec["tags"]}
    assert spi_tags and not spi_tags & other_tags


def _objects(document) -> dict[str, list[dict]]:
    """Each contract object, found where the contract uses it: {name: [schema, ...]}."""
    resolve = document.resolve
    ops = spi_operations(document)

    def response(method, path, status):
        return resolve(ops[(method, path)].response_schema(status))

    def at(schema, *steps):
        for step in steps:
            if step == "[]":
                schema = resolve(schema["items"])
            elif isinstance(step, tuple):  # (discriminator, value): the oneOf variant
                name, value = step
                schema = next(v for v in map(resolve, schema["oneOf"]) if v["properties"][name]["enum"] == [value])
            else:
                schema = resolve(schema["properties"][step])
        return schema

    customer = response("get", "/customers/{customer_id}", 200)
    sections = response("get", "/additional-options", 200)
    transaction = response("get", "/customers/{customer_id}/transactions", 200)
    found = {
        "Customer": [customer, at(response("get", "/customers", 200), "[]"), response("post", "/customers", 201),
                     response("put", "/customers/{customer_id}", 200),
                     resolve(ops[("post", "/customers")].request_schema()),
                     resolve(ops[("put", "/customers/{customer_id}")].request_schema())],
        "Address": [at(customer, "invoice_address"), at(customer, "delivery_address")],
        "CustomerAdditionalOption": [at(customer, "additional_options", "[]")],
        "CustomerStatus": [at(customer, "status")],
        "Promotion": [at(customer, "promotions", "[]")],
        "BonusCheck": [at(customer, "bonus_checks", "[]")],
        "CustomerSection": [at(customer, "sections", "[]")],
        "CustomerSectionValueText": [at(customer, "sections", "[]", "values", "[]", ("type", "text"))],
        "CustomerSectionValueMoney": [at(customer, "sections", "[]", "values", "[]", ("type", "money"))],
        "Consent": [at(response("get", "/consents", 200), "[]")],
        "AdditionalOptionsSection": [at(sections, "[]")],
        "AdditionalOption": [at(sections, "[]", "options", "[]")],
        "AdditionalOptionEnumValue": [at(sections, "[]", "options", "[]", "enum_options", "[]")],
        "Redeem": [resolve(ops[("post", "/customers/{customer_id}/redeem")].request_schema()),
                   response("post", "/customers/{customer_id}/redeem", 200)],
        "Transaction": [at(transaction, "[]")],
        "TransactionItem": [at(transaction, "[]", "items", "[]")],
        "TransactionItemDiscount": [at(transaction, "[]", "items", "[]", "discounts", "[]")],
        "TransactionPayment": [at(transaction, "[]", "payments", "[]")],
        "Error": [resolve(op.response_schema(status)) for op in ops.values() for status in op.statuses if status >= 400],
    }
    promotion = found["Promotion"][0]
    for name, value in [("PromotionCartAmount", "cart_amount"), ("PromotionCartPercent", "cart_percent"),
                        ("PromotionManual", "manual"), ("PromotionOffer", "offer")]:
        found[name] = [at(promotion, "promotion_type", ("type", value))]
    return found


def _differences(name: str, schema: dict, facts: dict) -> list[str]:
    problems = []
    properties = schema.get("properties", {})
    if set(properties) != set(facts):
        problems.append(f"{name}: properties differ: {sorted(set(properties) ^ set(facts))}")
    required = set(schema.get("required", []))
    for prop, fact in facts.items():
        if prop not in properties:
            continue
        documented = properties[prop]
        where = f"{name}.{prop}"
        if (prop in required) != fact["required"]:
            problems.append(f"{where}: required should be {fact['required']}")
        if bool(documented.get("readOnly")) != fact["readOnly"]:
            problems.append(f"{where}: readOnly should be {fact['readOnly']}")
        for key, value in fact.items():
            if key in ("required", "readOnly") or value is None:
                continue
            if key == "items":
                for item_key, item_value in value.items():
                    if documented.get("items", {}).get(item_key) != item_value:
                        problems.append(f"{where}[]: {item_key} should be {item_value!r}")
            else:
                stated = documented.get(key)
                if key == "enum" and documented.get("nullable") and stated:
                    stated = [choice for choice in stated if choice is not None]  # null: an optional field cleared
                if stated != value:
                    problems.append(f"{where}: {key} should be {value!r}, is {stated!r}")
    return problems


def test_objects_are_the_contracts(document):
    found = _objects(document)
    assert set(found) == set(OBJECTS)
    problems = []
    for name, schemas in found.items():
        assert schemas, name
        for schema in schemas:
            problems += _differences(name, schema, OBJECTS[name])
    assert not problems, "\n".join(sorted(set(problems)))


def test_promotion_types_and_section_values_are_one_of_their_variants(document):
    """The code validates each with one schema; the document states the contract's separate objects,
    and no object with all their fields is left in it."""
    schemas = document.data["components"]["schemas"]
    assert "PromotionType" not in schemas and "CustomerSectionValue" not in schemas
    for name in ("PromotionCartAmount", "PromotionCartPercent", "PromotionManual", "PromotionOffer",
                 "CustomerSectionValueText", "CustomerSectionValueMoney"):
        assert name in schemas


def _spec_routes(text: str) -> dict:
    """Routes, status codes and parameters, read from the spec file."""
    lines = [line.strip() for line in text.splitlines()]
    routes, current = {}, None
    for i, line in enumerate(lines):
        route = re.fullmatch(r"(get|post|put|delete) (/\S+)", line)
        if route:
            current = routes.setdefault(route.groups(), {"statuses": set(), "parameters": set(), "headers": set()})
        elif current is not None and i + 2 < len(lines) and lines[i + 2] in ("query", "path", "header") \
                and lines[i + 1] == "string" and current["statuses"] == set():
            if lines[i + 2] == "header":
                current["headers"].add(line)
            elif i + 3 < len(lines) and lines[i + 3] == "REQUIRED":
                current["parameters"].add((lines[i + 2], line))
        elif current is not None and re.match(r"^\d{3}\D", line):
            current["statuses"].add(int(line[:3]))
        elif line == "Objects":
            break
    return routes


@pytest.mark.skipif(not SPEC_FILE.exists(), reason="no ../shared/spec beside this checkout")
def test_transcription_matches_the_spec_file():
    routes = _spec_routes(SPEC_FILE.read_text())
    assert {key: value["statuses"] for key, value in routes.items()} == SPI_ROUTES
    assert {key: value["parameters"] for key, value in routes.items() if value["parameters"]} == SPI_PARAMETERS
    assert all(value["headers"] == TRACE_HEADERS for value in routes.values())
    # Every pattern, length and enum value the spec's objects state is in the transcription.
    text = SPEC_FILE.read_text()
    transcribed = json.dumps(OBJECTS)
    for pattern in re.findall(r"^Pattern: (.+)$", text, re.M):
        assert json.dumps(pattern) in transcribed
    for length in re.findall(r"^M(?:ax|in) Length: (\d+)$", text, re.M):
        assert f"Length\": {length}" in transcribed
