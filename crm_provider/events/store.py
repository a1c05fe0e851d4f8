"""Events storage: thin functions over the named queries in queries.sql. No transactions here."""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb

from .. import sql

Q = sql.load(__file__)


def insert_events(conn: Connection, rows: list[dict]) -> set[str]:
    """Store the events; return the ids of those that were new."""
    found = conn.execute(Q.insert_events, {"events": Jsonb(rows)}).fetchall()
    return {str(row["event_id"]) for row in found}


def defer_processing(conn: Connection, queue: str, task: str, jobs: list[tuple[str, int]]) -> None:
    if jobs:
        conn.execute(Q.defer_processing, {"queue": queue, "task": task,
                                          "event_ids": [event_id for event_id, _ in jobs],
                                          "order_ids": [order_id for _, order_id in jobs]})


def get_event(conn: Connection, event_id) -> dict | None:
    return conn.execute(Q.get_event, {"event_id": event_id}).fetchone()


def lock_event(conn: Connection, event_id) -> dict | None:
    return conn.execute(Q.lock_event, {"event_id": event_id}).fetchone()


def finish_event(conn: Connection, event_id, status: str, reason: str | None, customer_id) -> None:
    conn.execute(Q.finish_event, {"event_id": event_id, "status": status, "reason": reason,
                                  "customer_id": customer_id})


def record_failure(conn: Connection, event_id, error: str, final: bool) -> None:
    conn.execute(Q.record_failure, {"event_id": event_id, "error": error[:500], "final": final})


def event_counts(conn: Connection) -> list[dict]:
    return conn.execute(Q.event_counts).fetchall()


def sync_cursor(conn: Connection, account_id: int) -> int | None:
    row = conn.execute(Q.sync_cursor, {"account_id": account_id}).fetchone()
    return row["next_order_id"] if row else None


def save_sync_cursor(conn: Connection, account_id: int, next_order_id: int) -> None:
    conn.execute(Q.save_sync_cursor, {"account_id": account_id, "next_order_id": next_order_id})

def personal_data(conn: Connection, customer_id) -> list:
    return conn.execute(Q.personal_data, {"customer_id": customer_id}).fetchone()["held"]


def trim_handled(conn: Connection, before, limit: int) -> int:
    return conn.execute(Q.trim_handled, {"before": before, "limit": limit}).rowcount


def merge(conn: Connection, into, merged) -> None:
    conn.execute(Q.merge, {"into": into, "merged": merged})
