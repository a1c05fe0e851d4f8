"""Customer storage: thin functions over the named queries in queries.sql. No transactions here."""

from __future__ import annotations

from psycopg import Connection, errors
from psycopg.types.json import Jsonb

from .. import sql
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


def find(conn: Connection, key_type: str, key: str) -> list[dict]:
    return conn.execute(_FIND[key_type], {"key": key}).fetchall()


def get(conn: Connection, customer_id) -> dict | None:
    return conn.execute(Q.get, {"customer_id": customer_id}).fetchone()


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
