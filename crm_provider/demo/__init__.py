"""The demo data: exactly the contract's examples (examples.json, taken from the spec's example requests
and responses), and the demo loyalty program (program.json). Loading is idempotent: it puts the examples back
as they are in the spec.

The example customer's "Customer Info · Bonus Points · 2451" section is the program's own card: the customer
gets an opening balance of 2,451 points (no purchase yet, so nothing converts), and the section is not stored.
Its stored green status was set by hand: it wins over the tier.

The demo replaces the consent and option catalogues of the database it loads into, so it only loads into a
database of its own: the embedded one, or one it created, marked by a comment on the database (`MARK`).
"""

from __future__ import annotations

import json
from pathlib import Path

from psycopg import Connection, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .. import db, keys
from ..catalog import service as catalog
from ..customers import service as customers
from ..customers.schemas import CustomerSchema
from ..lookup import service as lookup
from ..loyalty import store as loyalty_store
from ..program import service as program
from ..program.schemas import ProgramSchema
from ..transactions import service as transactions
from ..transactions.schemas import TransactionSchema

EXAMPLES = json.loads((Path(__file__).with_name("examples.json")).read_text(encoding="utf-8"))
PROGRAM = json.loads((Path(__file__).with_name("program.json")).read_text(encoding="utf-8"))
MARK = "crm-provider demo database: `crm-provider demo` may replace its contents"


class NotADemoDatabase(Exception):
    pass


def _mark(conn: Connection, name: str) -> None:
    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(MARK)))


def mark_database(url: str) -> None:
    with db.connect(url, autocommit=True) as conn:
        _mark(conn, conn.info.dbname)


def claim_database(url: str) -> None:
    """Create the database `url` names, marked as the demo's; or accept it if the demo created it before."""
    name = conninfo_to_dict(url)["dbname"]
    with db.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        found = conn.execute("SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database"
                             " WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            _mark(conn, name)
        elif found["comment"] != MARK:
            raise NotADemoDatabase(
                "DATABASE_URL names a database the demo did not create, and the demo replaces its catalogues: "
                "name one that does not exist yet (the demo creates it) or unset DATABASE_URL for the embedded one")


OPENING_POINTS = {"a26d8975-3b86-43c0-9b12-a86401074770": 2451}


def load(conn: Connection, region: str) -> None:
    document = ProgramSchema().load(PROGRAM)
    current = program.program(conn)
    if current is None or current["document"] != document:
        program.set_program(conn, document, "demo")
    catalog.replace_consents(conn, EXAMPLES["consents"])
    catalog.replace_additional_options(conn, EXAMPLES["additional_options"])
    for example in EXAMPLES["customers"]:
        customer_id = keys.customer_uuid(example["customer_id"])
        profile = CustomerSchema().load(example)
        if not customers.exists(conn, customer_id):
            customers.create(conn, profile, region, customer_id=customer_id)
        else:
            customers.update(conn, customer_id, profile, region)
        back_office = {field: example.get(field) for field in customers.BACK_OFFICE_FIELDS}
        customers.set_back_office(conn, customer_id, {**back_office, "sections": []})  # the program shows its card
        program.open_balance(conn, customer_id, OPENING_POINTS.get(example["customer_id"], 0))
        for promotion in example["promotions"]:
            loyalty_store.upsert_promotion(conn, customer_id, promotion)
    for customer_id, examples in EXAMPLES["transactions"].items():
        for example in examples:
            transactions.store_transaction(conn, keys.customer_uuid(customer_id), TransactionSchema().load(example))
    for person in EXAMPLES["lookup"]:
        lookup.put_person(conn, person, region)
