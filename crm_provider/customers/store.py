"""Customer storage: thin functions over the named queries in queries.sql. No transactions here.

Reads return each customer's JSON document as text, as PostgreSQL built it (the `customer_wire` view), with
the sections of the SQL sections providers (plugins.SqlSectionsProvider) from the same statement, and go
through audit.read, which writes a GET's audit row in that statement too: one round trip per read.
"""

from __future__ import annotations

import functools

from psycopg import Connection, errors
from psycopg.types.json import Jsonb

from .. import audit, sql
from ..errors import BadRequest

Q = sql.load(__file__)

# unique index -> the field a duplicate is reported on
_UNIQUE_FIELDS = {
    "customers_member_number_key": "member_number",
    "customers_email_key": "email",
    "customers_mobile_key": "mobile",
    "customers_personal_id_key": "personal_id",
}
_FIND = {
    "member_number": Q.find_by_member_number,
    "email": Q.find_by_email,
    "mobile": Q.find_by_mobile,
    "personal_id": Q.find_by_personal_id,
    "company_id": Q.find_by_company_id,
}


class Duplicate(BadRequest):
    """Another live customer already has this unique key (the contract lists no 409 for customers)."""

    def __init__(self, field: str):
        super().__init__(f"{field}: Another customer already has this {field.replace('_', ' ')}.")
        self.field = field


def _write(conn: Connection, query: str, params: dict):
    try:
        return conn.execute(query, params)
    except errors.UniqueViolation as error:
        field = _UNIQUE_FIELDS.get(error.diag.constraint_name or "")
        if field is None:
            raise
        raise Duplicate(field) from None


@functools.cache
def documents_query(query: str, sections_sql: tuple[str, ...]) -> str:
    """`query` (customer_wire rows) as customer_id, the document's text, and `extra_sections`: each SQL
    provider's JSON array of sections as text, NULL for none."""
    extra = ", ".join(f"(\n{provider}\n)::text" for provider in sections_sql)
    return (f"SELECT w.customer_id, w.document::text AS document, ARRAY[{extra}]::text[] AS extra_sections "
            f"FROM (\n{query}\n) w")


def find(conn: Connection, key_type: str, key: str, sections_sql: tuple[str, ...] = ()) -> list[dict]:
    return audit.read(conn, documents_query(_FIND[key_type], sections_sql), {"key": key})


def get(conn: Connection, customer_id, sections_sql: tuple[str, ...] = ()) -> dict | None:
    rows = audit.read(conn, documents_query(Q.get, sections_sql), {"customer_id": customer_id}, status_if_none=404)
    return rows[0] if rows else None


def lock(conn: Connection, customer_id) -> dict | None:
    return conn.execute(Q.lock, {"customer_id": customer_id}).fetchone()


def next_member_number(conn: Connection) -> str:
    return conn.execute(Q.next_member_number).fetchone()["member_number"]


def _json_columns(row: dict) -> dict:
    return {**row, **{k: Jsonb(row[k]) if row.get(k) is not None else None
                      for k in ("invoice_address", "delivery_address")}}


def insert(conn: Connection, row: dict):
    return _write(conn, Q.insert, _json_columns(row)).fetchone()["customer_id"]


def update(conn: Connection, customer_id, row: dict) -> None:
    _write(conn, Q.update, {**_json_columns(row), "customer_id": customer_id})


def update_back_office(conn: Connection, customer_id, row: dict) -> None:
    conn.execute(Q.update_back_office, {**row, "sections": Jsonb(row["sections"]), "customer_id": customer_id})


def set_consents(conn: Connection, customer_id, consent_ids: list[str]) -> None:
    params = {"customer_id": customer_id, "consent_ids": consent_ids}
    conn.execute(Q.keep_only_consents, params)
    if consent_ids:
        conn.execute(Q.add_consents, params)


def set_option_values(conn: Connection, customer_id, values: list[dict]) -> None:
    conn.execute(Q.delete_option_values, {"customer_id": customer_id})
    if values:
        conn.execute(Q.insert_option_values, {"customer_id": customer_id, "option_values": Jsonb(values)})
