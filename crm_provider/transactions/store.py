"""Transaction storage: thin functions over the named queries in queries.sql. No transactions here."""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb

from .. import sql

Q = sql.load(__file__)


def history(conn: Connection, customer_id, limit: int, read=sql.read) -> str | None:
    """The customer's transactions as JSON text, read through `read` (the unit of work's audits it in the same
    statement); None: no such customer."""
    rows = read(conn, Q.history, {"customer_id": customer_id, "limit": limit}, status_if_none=404)
    return rows[0]["document"] if rows else None


def customer_of_orders(conn: Connection, order_ids: list[int]):
    row = conn.execute(Q.customer_of_orders, {"order_ids": order_ids}).fetchone()
    return row["customer_id"] if row else None


def upsert(conn: Connection, row: dict) -> dict:
    params = {**row, "items": Jsonb(row["items"]), "payments": Jsonb(row["payments"])}
    return conn.execute(Q.upsert, params).fetchone()


def delete_by_order_id(conn: Connection, order_id: int) -> bool:
    return conn.execute(Q.delete_by_order_id, {"order_id": order_id}).rowcount > 0


def customers_with_orders(conn: Connection, customer_id, after, limit: int) -> list:
    return [row["customer_id"] for row in conn.execute(
        Q.customers_with_orders, {"customer_id": customer_id, "after": after, "limit": limit})]


def orders(conn: Connection, customer_id) -> list[dict]:
    return [row["transaction"] for row in conn.execute(Q.orders, {"customer_id": customer_id})]


def count_orders(conn: Connection, customer_id=None) -> int:
    return conn.execute(Q.count_orders, {"customer_id": customer_id}).fetchone()["n"]

def personal_data(conn: Connection, customer_id) -> list:
    return conn.execute(Q.personal_data, {"customer_id": customer_id}).fetchone()["held"]


def merge(conn: Connection, into, merged) -> None:
    conn.execute(Q.merge, {"into": into, "merged": merged})
