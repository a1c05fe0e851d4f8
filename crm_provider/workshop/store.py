"""Workshop storage: thin functions over the named queries in queries.sql. No transactions here."""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb

from .. import sql
from ..customers.service import CONTACT_HOLDER

Q = sql.load(__file__)
# The statements that find a customer by a contact, with the customers area's rule filled in.
SAVE_PAGE = sql.fill(Q.save_page, {"contact_holder": CONTACT_HOLDER})
CUSTOMER_BY_CONTACT = sql.fill(Q.customer_by_contact, {"contact_holder": CONTACT_HOLDER})


def sync_state(conn: Connection, source: str) -> dict:
    conn.execute(Q.ensure_sync, {"source": source})
    return conn.execute(Q.sync_state, {"source": source}).fetchone()


def try_lock_sync(conn: Connection, source: str) -> bool:
    return conn.execute(Q.try_lock_sync, {"source": source}).fetchone()["locked"]


def unlock_sync(conn: Connection, source: str) -> None:
    conn.execute(Q.unlock_sync, {"source": source})


def save_page(conn: Connection, sweep: int, orders: list[dict], touched: list[str]) -> None:
    conn.execute(SAVE_PAGE, {"sweep": sweep, "orders": Jsonb(orders), "touched": touched})


def page_done(conn: Connection, source: str, after: str | None, seen: int) -> None:
    conn.execute(Q.page_done, {"source": source, "after": after, "seen": seen})


def finish_sweep(conn: Connection, source: str, sweep: int) -> int:
    closed = conn.execute(Q.drop_closed, {"sweep": sweep}).rowcount
    conn.execute(Q.sweep_done, {"source": source})
    return closed


def sweep_failed(conn: Connection, source: str, error: str, delay: float) -> int:
    return conn.execute(Q.sweep_failed, {"source": source, "error": error, "delay": delay}).fetchone()["failures"]


def syncs(conn: Connection) -> list[dict]:
    return conn.execute(Q.syncs).fetchall()


def sync_ages(conn: Connection) -> dict[str, float | None]:
    return {row["source"]: row["age"] for row in conn.execute(Q.sync_ages)}


def insert_shopmonkey_event(conn: Connection, event: dict) -> bool:
    """Store the event; False when it was received before."""
    row = conn.execute(Q.insert_shopmonkey_event, {**event, "customer_key": Jsonb(event["customer_key"])
                                                   if event.get("customer_key") else None}).fetchone()
    return row is not None


def defer_shopmonkey_event(conn: Connection, queue: str, task: str, event_id: str, order_id: str) -> None:
    conn.execute(Q.defer_shopmonkey_event, {"queue": queue, "task": task, "event_id": event_id, "order_id": order_id})


def get_shopmonkey_event(conn: Connection, event_id: str, *, lock: bool = False) -> dict | None:
    return conn.execute(Q.lock_shopmonkey_event if lock else Q.get_shopmonkey_event,
                        {"event_id": event_id}).fetchone()


def finish_shopmonkey_event(conn: Connection, event_id: str, outcome: str, reason: str | None) -> None:
    conn.execute(Q.finish_shopmonkey_event, {"event_id": event_id, "outcome": outcome, "reason": reason})


def shopmonkey_event_failed(conn: Connection, event_id: str, error: str, final: bool) -> None:
    conn.execute(Q.shopmonkey_event_failed, {"event_id": event_id, "error": error, "final": final})


def trim_shopmonkey_events(conn: Connection, before, limit: int) -> int:
    return conn.execute(Q.trim_shopmonkey_events, {"before": before, "limit": limit}).rowcount


def customer_by_contact(conn: Connection, contact: dict):
    return conn.execute(CUSTOMER_BY_CONTACT, contact).fetchone()["customer_id"]


def shopmonkey_order_customer(conn: Connection, order_id: str):
    row = conn.execute(Q.shopmonkey_order_customer, {"order_id": order_id}).fetchone()
    return row and row["customer_id"]


def save_shopmonkey_order(conn: Connection, order_id: str, customer_id, section: dict) -> None:
    conn.execute(Q.save_shopmonkey_order, {"order_id": order_id, "customer_id": customer_id, "section": Jsonb(section)})


def drop_shopmonkey_order(conn: Connection, order_id: str) -> None:
    conn.execute(Q.drop_shopmonkey_order, {"order_id": order_id})


def personal_data(conn: Connection, customer_id) -> dict:
    return conn.execute(Q.personal_data, {"customer_id": customer_id}).fetchone()


def erase(conn: Connection, customer_id) -> None:
    conn.execute(Q.erase, {"customer_id": customer_id})


def merge(conn: Connection, into, merged) -> None:
    conn.execute(Q.merge, {"into": into, "merged": merged})
