"""Back-office operations that are not part of another area's rules."""

from __future__ import annotations

from psycopg import Connection

from . import store


def audit_rows(conn: Connection, filters: dict, limit: int) -> list[dict]:
    return store.list_audit(conn, filters, limit)
