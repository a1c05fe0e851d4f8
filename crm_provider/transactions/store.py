"""Transaction storage: thin functions over the named queries in queries.sql. No transactions here."""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb

from .. import audit, sql

Q = sql.load(__file__)


def customer_exists(conn: Connection, customer_id) -> bool:
    return conn.execute(Q.customer_exists, {"customer_id": customer_id}).fetchone() is not None


def history(conn: Connection, customer_id, limit: int) -> str | None:
    """The customer's transactions as JSON text, read with the request's audit row; None: no such customer."""
    rows = audit.read(conn, Q.history, {"customer_id": customer_id, "limit": limit}, status_if_none=404)
    return rows[0]["document"] if rows else None


def upsert(conn: Connection, row: dict) -> dict:
    params = {**row, "items": Jsonb(row["items"]), "payments": Jsonb(row["payments"])}
    return conn.execute(Q.upsert, params).fetchone()


def delete_by_order_id(conn: Connection, order_id: int) -> bool:
    return conn.execute(Q.delete_by_order_id, {"order_id": order_id}).rowcount > 0
