"""Admin storage: reading the audit log."""

from __future__ import annotations

from psycopg import Connection

from .. import sql

Q = sql.load(__file__)
AUDIT_FILTERS = ("customer_id", "store_id", "staff_id", "register_id")


def list_audit(conn: Connection, filters: dict, limit: int) -> list[dict]:
    return conn.execute(Q.list_audit, {**{f: filters.get(f) for f in AUDIT_FILTERS}, "limit": limit}).fetchall()
