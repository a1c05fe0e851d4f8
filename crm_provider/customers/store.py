"""Customer storage: thin functions over the named queries in queries.sql. No transactions here.

Reads return each customer's JSON document as text, as PostgreSQL built it (document.py composes the
statements). They run through the `read` they are given: the unit of work's (audit/work.py), which writes a
GET's audit row in the same statement, or a plain query.
"""

from __future__ import annotations

from psycopg import Connection, errors
from psycopg.types.json import Jsonb

from .. import sql
from ..errors import BadRequest, NotFound

Q = sql.load(__file__)

# unique index -> the field a duplicate is reported on
_UNIQUE_FIELDS = {
    "customers_member_number_key": "member_number",
    "customers_email_key": "email",
    "customers_mobile_key": "mobile",
    "customers_personal_id_key": "personal_id",
    "customers_personal_id_index_key": "personal_id",
}
# The reads of the customer document, by name; the search by each key type is `find_by_<key type>`.
READS = {
    "get": Q.get,
    "find_by_member_number": Q.find_by_member_number,
    "find_by_email": Q.find_by_email,
    "find_by_mobile": Q.find_by_mobile,
    "find_by_personal_id": Q.find_by_personal_id,
    "find_by_company_id": Q.find_by_company_id,
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


def find(conn: Connection, statement: str, key: str, read=sql.read, index: bytes | None = None) -> list[dict]:
    """`index`: the blind index of a personal id searched (personal_ids.py)."""
    return read(conn, statement, {"key": key, "index": index})


def personal_id_taken(conn: Connection, norm: str, customer_id) -> bool:
    return conn.execute(Q.personal_id_taken, {"norm": norm, "customer_id": customer_id}).fetchone() is not None


def personal_ids_to_seal(conn: Connection, current: str, after, limit: int) -> list[dict]:
    return conn.execute(Q.personal_ids_to_seal, {"current": current, "after": after, "limit": limit}).fetchall()


def seal_personal_id(conn: Connection, customer_id, sealed: dict) -> None:
    _write(conn, Q.seal_personal_id, {**sealed, "customer_id": customer_id})


def get(conn: Connection, statement: str, customer_id, read=sql.read) -> dict | None:
    rows = read(conn, statement, {"customer_id": customer_id}, status_if_none=404)
    return rows[0] if rows else None


def exists(conn: Connection, customer_id) -> bool:
    return conn.execute(Q.exists, {"customer_id": customer_id}).fetchone() is not None


def id_by_member_number(conn: Connection, member_number: str):
    row = conn.execute(Q.id_by_member_number, {"key": member_number}).fetchone()
    return row["customer_id"] if row else None


def id_by_alias(conn: Connection, alias: str, kinds: tuple[str, ...]):
    row = conn.execute(Q.id_by_alias, {"alias": alias, "kinds": list(kinds)}).fetchone()
    return row["customer_id"] if row else None


def merge_aliases(conn: Connection, into, merged) -> None:
    conn.execute(Q.merge_aliases, {"into": into, "merged": merged})


def current_id(conn: Connection, customer_id):
    row = conn.execute(Q.current_id, {"customer_id": customer_id}).fetchone()
    return row["customer_id"] if row else None


def search_keys(conn: Connection, customer_id) -> dict | None:
    return conn.execute(Q.search_keys, {"customer_id": customer_id}).fetchone()


def aliases_of(conn: Connection, customer_id) -> list:
    return conn.execute(Q.aliases_of, {"customer_id": customer_id}).fetchone()["held"]


def lock(conn: Connection, customer_id) -> dict | None:
    return conn.execute(Q.lock, {"customer_id": customer_id}).fetchone()


def next_member_number(conn: Connection) -> str:
    return conn.execute(Q.next_member_number).fetchone()["member_number"]


def free_member_number(conn: Connection, candidates: list[str]) -> str | None:
    row = conn.execute(Q.free_member_number, {"candidates": candidates}).fetchone()
    return row["member_number"] if row else None


def _json_columns(row: dict) -> dict:
    return {**row, **{k: Jsonb(row[k]) if row.get(k) is not None else None
                      for k in ("invoice_address", "delivery_address")}}


def insert(conn: Connection, row: dict):
    return _write(conn, Q.insert, _json_columns(row)).fetchone()["customer_id"]


def update(conn: Connection, customer_id, row: dict) -> None:
    _write(conn, Q.update, {**_json_columns(row), "customer_id": customer_id})


def set_tier(conn: Connection, customer_id, status: dict | None, passwords: list[str]) -> None:
    conn.execute(Q.set_tier, {"customer_id": customer_id, "color": status["color"] if status else None,
                              "text": status["text"] if status else None, "passwords": passwords})


def update_back_office(conn: Connection, customer_id, row: dict) -> None:
    conn.execute(Q.update_back_office, {**row, "sections": Jsonb(row["sections"]), "customer_id": customer_id})


def record_event(conn: Connection, queue: str, task: str, customer_id, kind: str, detail: dict | None) -> str:
    row = conn.execute(Q.record_event, {"queue": queue, "task": task, "customer_id": customer_id, "kind": kind,
                                        "detail": Jsonb(detail) if detail else None}).fetchone()
    return str(row["event_id"])


def get_event(conn: Connection, event_id) -> dict | None:
    return conn.execute(Q.get_event, {"event_id": event_id}).fetchone()


def delivered_hooks(conn: Connection, event_id) -> set[str]:
    return {row["hook"] for row in conn.execute(Q.delivered_hooks, {"event_id": event_id})}


def record_delivery(conn: Connection, event_id, hook: str, status: str, error: str | None = None) -> None:
    conn.execute(Q.record_delivery, {"event_id": event_id, "hook": hook, "status": status, "error": error})

def erase(conn: Connection, customer_id, merged_into=None):
    return conn.execute(Q.erase, {"customer_id": customer_id, "merged_into": merged_into}).fetchone()["erased_at"]


def erased_at(conn: Connection, customer_id):
    """When the customer was erased; None for a live one; NotFound for an id no customer ever had."""
    row = conn.execute(Q.erased_at, {"customer_id": customer_id}).fetchone()
    if row is None:
        raise NotFound("Customer not found")
    return row["erased_at"]
