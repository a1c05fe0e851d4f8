"""Sitoo events: receiving them, and turning the orders they name into customers' transactions.

Receiving is only storing: the webhook answers as soon as the events and their jobs are committed, whatever
the Sitoo API is doing. The worker (worker.py) then calls `process_event`, which reads the order from the
API *before* taking any lock, and applies it in one short transaction that also marks the event done, so a
job that runs twice (a worker killed after the commit, before procrastinate recorded the job as finished)
finds the event done and changes nothing: exactly once, whatever the queue does.

An order is applied from its current state in Sitoo, not from the event: an event for an order seen before,
late or repeated, re-reads it and replaces its transaction, and a cancelled order removes it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from collections import Counter
from typing import Callable, NamedTuple

from marshmallow import ValidationError
from psycopg import Connection

from .. import db, personal_data
from ..customers import service as customers
from ..loyalty import service as loyalty
from ..program import service as program
from ..transactions import service as transactions
from ..transactions.schemas import TransactionSchema
from . import mapping, store
from .sitoo import SitooError

log = logging.getLogger(__name__)
TRANSACTION = TransactionSchema()  # what the POS will be shown must pass the contract's own schema

QUEUE = "sitoo-events"
TASK = "process_sitoo_event"

# Order event types that may change what was bought; the others (ready-for-pickup, pickup-rejected,
# email-receipt) are ignored unless they also report a change of the order's state.
PURCHASE_CHANGES = {"add", "update", None}


class Outcome(NamedTuple):
    status: str  # processed | skipped
    reason: str  # stored | cancelled | no_customer | unknown_customer | not_a_sale | order_not_found | ...
    customer_id: uuid.UUID | None = None


def _triage(event: dict) -> tuple[str, str | None]:
    if event["event_type"] != "order":
        return "ignored", "not_an_order_event"
    data = event["data"]
    if data.get("order_event_type") not in PURCHASE_CHANGES and not data.get("order_state_changed"):
        return "ignored", "no_purchase_change"
    return "pending", None


def receive(conn: Connection, events: list[dict]) -> dict:
    """Store a batch (oldest first) and queue one job per new order event; answer what was new."""
    rows, seen = [], set()
    for event in events:
        event_id = str(event["event_id"])
        if event_id in seen:
            continue
        seen.add(event_id)
        status, reason = _triage(event)
        data = event["data"]
        rows.append({
            "event_id": event_id, "event_type": event["event_type"], "event_date": event["event_date"],
            "account_id": event["account_id"], "data": data, "status": status, "reason": reason,
            "order_id": data.get("order_id") if event["event_type"] == "order" else None,
            "order_event_type": data.get("order_event_type") if event["event_type"] == "order" else None,
        })
    new = store.insert_events(conn, rows)
    fresh = [row for row in rows if row["event_id"] in new]
    store.defer_processing(conn, QUEUE, TASK,
                           [(row["event_id"], row["order_id"]) for row in fresh if row["status"] == "pending"])
    return {"received": len(fresh), "duplicates": len(events) - len(fresh),
            "ignored": sum(row["status"] == "ignored" for row in fresh)}


def event_counts(conn: Connection) -> list[dict]:
    return store.event_counts(conn)


def resolve_customer(conn: Connection, order: dict) -> tuple[uuid.UUID | None, str | None]:
    """The live customer the order names, or the one whose purchase a refund returns; else (None, reason)."""
    refs = mapping.customer_refs(order)
    for kind, value in refs:
        if kind == "customer_id":
            try:
                customer_id = uuid.UUID(value)
            except ValueError:  # the id of the CRM the customer was imported from
                customer_id = customers.id_by_alias(conn, value)
                if customer_id:
                    return customer_id, None
                continue
            customer_id = customers.current_id(conn, customer_id)  # a merged duplicate's: the customer it became
            if customer_id:
                return customer_id, None
        else:
            customer_id = customers.id_by_member_number(conn, value)
            if customer_id:
                return customer_id, None
    originals = mapping.original_order_ids(order)
    if originals:
        customer_id = transactions.customer_of_orders(conn, originals)
        if customer_id:
            return customer_id, None
    return None, "unknown_customer" if refs else "no_customer"


def apply_order(conn: Connection, order: dict) -> Outcome:
    """Make the CRM agree with the order as Sitoo has it now. Run inside the caller's transaction."""
    order_id = order["orderid"]
    bonus_checks, promotions = mapping.consumed_ids(order)
    if not mapping.is_sale(order):
        outcome = Outcome("skipped", "not_a_sale")
    elif mapping.is_cancelled(order):
        outcome = Outcome("processed", "cancelled")
    else:
        customer_id, reason = resolve_customer(conn, order)
        if customer_id is None:
            outcome = Outcome("skipped", reason)
        else:
            try:  # what the POS will be shown passes the contract's own schema
                found = TRANSACTION.load(mapping.transaction(order))
            except (mapping.UnreadableOrder, ValidationError):
                outcome = Outcome("skipped", "unreadable_order")
            else:
                # The loyalty area takes its locks (the customers, then the items) first, as redeem and undo do.
                locked = loyalty.set_consumed(conn, order_id, customer_id, bonus_checks, promotions)
                stored = transactions.store_transaction(conn, customer_id, found)
                program.book_order(conn, order_id, customer_id, stored, mapping.original_order_ids(order),
                                   locked=locked)
                return Outcome("processed", "stored", customer_id)
    # Nothing (any longer) belongs to a customer: no transaction, nothing consumed, no points.
    locked = loyalty.set_consumed(conn, order_id, None, [], [])
    transactions.remove_by_order_id(conn, order_id)
    program.book_order(conn, order_id, None, None, locked=locked)
    return outcome


ORDER_NOT_FOUND_ATTEMPTS = 4  # with the worker's back-off (5 s, doubling): about 35 s for an order to appear


def process_event(conn: Connection, event_id: str, fetch_order: Callable[[int], dict | None],
                  account_id: int | None = None, attempts: int = 0) -> Outcome | None:
    """Process one stored order event; None when it was processed before. `conn` must be in autocommit.

    `fetch_order` errors (the Sitoo API down, rate limited) propagate: the event stays pending, the job
    is retried. So does an order the API does not return yet (its event can arrive before the order is
    readable), for the first ORDER_NOT_FOUND_ATTEMPTS attempts (`attempts`: the job's attempts so far);
    after those it is skipped as `order_not_found`.
    """
    event = store.get_event(conn, event_id)
    if event is None or event["status"] != "pending":
        return None
    order = None
    if account_id is None or event["account_id"] == account_id:
        order = fetch_order(event["order_id"])
        if order is None and attempts + 1 < ORDER_NOT_FOUND_ATTEMPTS:
            raise SitooError("Sitoo API does not return the order yet")
    with conn.transaction():
        event = store.lock_event(conn, event_id)
        if event["status"] != "pending":
            return None
        if account_id is not None and event["account_id"] != account_id:
            outcome = Outcome("skipped", "other_account")
        elif order is None:
            outcome = Outcome("skipped", "order_not_found")
        else:
            outcome = apply_order(conn, order)
        store.finish_event(conn, event_id, outcome.status, outcome.reason, outcome.customer_id)
    log.info("event %s (order %s): %s %s", event_id, event["order_id"], outcome.status, outcome.reason)
    return outcome


def apply_orders(conn: Connection, orders: list[dict]) -> Counter:
    """Apply a page of orders (the backfill); count the outcomes. Run inside the caller's transaction."""
    counts: Counter = Counter()
    for order in orders:
        outcome = apply_order(conn, order)
        counts[f"{outcome.status}: {outcome.reason}"] += 1
    return counts

TRIM_BATCH = 5000


def trim(conn: Connection, retention_days: int, now: datetime | None = None) -> int:
    """Delete the handled events (processed, skipped, ignored) received more than `retention_days` ago, a
    batch per transaction (`conn` in autocommit), so that the webhook and the workers never wait long on
    it; pending and failed events stay. Safe when two run at once. Returns the events deleted."""
    before = (now or datetime.now(timezone.utc)) - timedelta(days=retention_days)
    return db.in_batches(conn, lambda limit: store.trim_handled(conn, before, limit), TRIM_BATCH)


personal_data.register("sitoo_events", export=store.personal_data, merge=store.merge)
