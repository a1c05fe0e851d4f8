"""The contract's examples are the test data: each example request and response of the customer half of
the spec, against the demo data (which is those examples)."""

import copy
import json
import uuid
from pathlib import Path

import pytest

from conftest import DEMO_CUSTOMER_ID, EXAMPLES

READ_ONLY = ("customer_id", "status", "promotions", "bonus_checks", "voucher_passwords", "sections")


def test_vendored_examples_match_the_shared_spec():
    shared = Path(__file__).resolve().parents[2] / "shared" / "spec" / "crm-spi-v2-examples.json"
    if not shared.exists():
        pytest.skip("no ../shared/spec beside this checkout")
    assert json.loads(shared.read_text()) == [EXAMPLES[name] for name in EXAMPLES]


def test_search_customer_example(spi, demo_data):
    response = spi.get("/customers?key_type=member_number&key=10012")
    assert response.status_code == 200
    assert response.json == EXAMPLES["Search Customer"]["response"]


def test_get_customer_example(spi, demo_data):
    response = spi.get(f"/customers/{DEMO_CUSTOMER_ID}")
    assert response.status_code == 200
    assert response.json == EXAMPLES["Get Customer"]["response"]


def test_add_customer_example(spi, catalogues):
    example = EXAMPLES["Add Customer"]
    response = spi.post("/customers", json=example["request"])
    assert response.status_code == 201
    body = response.json
    uuid.UUID(body["customer_id"])
    # Every field the POS may write is stored as sent ...
    expected = {k: v for k, v in example["response"].items() if k not in READ_ONLY}
    assert {k: v for k, v in body.items() if k not in READ_ONLY} == expected
    # ... and the read-only ones it sent were ignored: a new customer has none of them.
    assert "status" not in body
    assert body["promotions"] == [] and body["bonus_checks"] == []
    assert body["voucher_passwords"] == [] and body["sections"] == []


def test_update_customer_example(spi, demo_data):
    example = EXAMPLES["Update Customer"]
    response = spi.put(f"/customers/{DEMO_CUSTOMER_ID}", json=example["request"])
    assert response.status_code == 200
    assert response.json == example["response"]


def test_update_example_round_trips_a_changed_field(spi, demo_data):
    request = copy.deepcopy(EXAMPLES["Update Customer"]["request"])
    request["name_first"] = "Johnny"
    request["consents"] = []
    response = spi.put(f"/customers/{DEMO_CUSTOMER_ID}", json=request)
    assert response.status_code == 200
    again = spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json
    assert again["name_first"] == "Johnny" and again["consents"] == []


def test_get_consents_example(spi, demo_data):
    response = spi.get("/consents")
    assert response.status_code == 200
    assert response.json == EXAMPLES["Get Consents"]["response"]


def test_get_additional_options_example(spi, demo_data):
    response = spi.get("/additional-options")
    assert response.status_code == 200
    assert response.json == EXAMPLES["Get Additional Options"]["response"]
