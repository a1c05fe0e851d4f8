"""The demo data: exactly the contract's examples (examples.json, taken from the spec's example requests
and responses). Loading is idempotent: it puts the examples back as they are in the spec."""

from __future__ import annotations

import json
from pathlib import Path

from psycopg import Connection

from ..catalog import service as catalog
from .. import keys
from ..customers import service as customers
from ..customers.schemas import CustomerSchema
from ..lookup import service as lookup
from ..loyalty import store as loyalty_store
from ..transactions import service as transactions
from ..transactions.schemas import TransactionSchema

EXAMPLES = json.loads((Path(__file__).with_name("examples.json")).read_text(encoding="utf-8"))


def load(conn: Connection, region: str) -> None:
    catalog.replace_consents(conn, EXAMPLES["consents"])
    catalog.replace_additional_options(conn, EXAMPLES["additional_options"])
    for example in EXAMPLES["customers"]:
        customer_id = keys.customer_uuid(example["customer_id"])
        profile = CustomerSchema().load(example)
        if not customers.exists(conn, customer_id):
            customers.create(conn, profile, region, customer_id=customer_id)
        else:
            customers.update(conn, customer_id, profile, region)
        customers.set_back_office(conn, customer_id, {field: example.get(field) for field in customers.BACK_OFFICE_FIELDS})
        for promotion in example["promotions"]:
            loyalty_store.upsert_promotion(conn, customer_id, promotion)
    for customer_id, examples in EXAMPLES["transactions"].items():
        for example in examples:
            transactions.store_transaction(conn, keys.customer_uuid(customer_id), TransactionSchema().load(example))
    for person in EXAMPLES["lookup"]:
        lookup.put_person(conn, person, region)
