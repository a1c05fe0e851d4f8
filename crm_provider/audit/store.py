"""Audit storage: the statements that write the audit log and the query that reads it. No request context
here: the rows come ready-made from service.row."""

from __future__ import annotations

import functools

import psycopg
from psycopg.types.json import Jsonb

from .. import sql

Q = sql.load(__file__)
FILTERS = ("customer_id", "store_id", "staff_id", "register_id", "operation", "before")


def _params(row: dict) -> dict:
    return {**row, "detail": Jsonb(row["detail"]) if row.get("detail") else None}


def insert_statement(conn: psycopg.Connection, row: dict) -> str:
    """The INSERT of `row` as text, its values bound client-side (psycopg's ClientCursor quoting), to be sent
    together with other statements in one simple query (work.py: `INSERT ...; COMMIT`)."""
    return psycopg.ClientCursor(conn).mogrify(Q.insert_row, _params(row))


@functools.cache
def audited_query(query: str) -> str:
    """`query` and the audit row of the request that reads it, as one statement (queries.sql: audited_read)."""
    return Q.audited_read.replace("{read}", query)


def audited_read(conn: psycopg.Connection, query: str, params: dict, row: dict, status_if_none: int) -> list[dict]:
    audit = {f"audit_{column}": value for column, value in _params(row).items()}
    return sql.execute(conn, audited_query(query), {**params, **audit, "audit_status_if_none": status_if_none}).fetchall()


@functools.cache
def _list_query(given: tuple[str, ...]) -> str:
    """The read of the audit log with exactly these filters' conditions (no `IS NULL OR`: each filter's
    index is used only when the statement names its column alone)."""
    return sql.fill(Q.list_rows, {"filters": " AND ".join(getattr(Q, f"filter_{name}") for name in given) or "true"})


def list_rows(conn: psycopg.Connection, filters: dict, limit: int) -> list[dict]:
    given = tuple(name for name in FILTERS if filters.get(name) is not None)
    return conn.execute(_list_query(given), {**{name: filters[name] for name in given}, "limit": limit}).fetchall()

def personal_data(conn: psycopg.Connection, customer_id) -> list:
    return conn.execute(Q.personal_data, {"customer_id": customer_id}).fetchone()["held"]
