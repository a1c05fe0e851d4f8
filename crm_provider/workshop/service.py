"""The workshop on the customer card (docs/workshop.md): the open service orders of Sitoo and the open work
orders of Shopmonkey, kept in tables of their own so that a customer read never waits for either API; the
sections providers `sitoo-service-orders` and `shopmonkey` read them inside the customer's own statement.

- **Sitoo** has no "modified since": a sweep reads every open service order (new, in progress, service done),
  a page at a time, and keeps those whose contact names a customer (`customers.contact_holder`: the mobile,
  else the email, normalised as the search normalises them). What a finished sweep did not see open has
  closed. Its place within the sweep is stored after each page, so that a sweep that failed goes on from
  there. An order that cannot be read (a missing field, an unknown state) is logged by its id and skipped,
  what was kept of it staying; it never stops the others.
- **Shopmonkey** tells the CRM of a work order by a webhook of ours (`POST /events/shopmonkey`, stored once
  per `event_id` and answered at once); the worker reads the order's services and keeps them while the
  order is open. The customer's key in the event is held only until it is handled.

Nothing kept names the person: the orders hold a customer id, product and service names and states.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

from psycopg import Connection

from .. import db, personal_data
from ..customers import service as customers
from ..program import service as program
from . import store

log = logging.getLogger(__name__)

SITOO = "sitoo-service-orders"
STATE_WORDS = {"new": "New", "in_progress": "In progress", "service_done": "Service done"}
PAGE_SIZE = 100
TITLE_MAX_CHARS = 200  # what the till shows of a product and its services
QUEUE, TASK = "workshop", "handle_shopmonkey_event"
TRIM_BATCH = 5000
AUTHORIZATION_WORDS = {"NotAuthorized": "Not authorized", "Authorized": "Authorized", "Declined": "Declined"}


class ServiceOrderSections:
    """The built-in sections provider `sitoo-service-orders`: "Service", one value per open service order
    ("Barlay Shoe: Replace heel, Polish Shoes" · "Service done"), as last synced."""

    sections_sql = store.Q.sitoo_sections


class ShopmonkeySections:
    """The built-in sections provider `shopmonkey`: "Workshop", a section per open work order: its services
    with their authorization and completion, and their total."""

    sections_sql = store.Q.shopmonkey_sections


class Unreadable(ValueError):
    """A service order or service the CRM cannot show; its text names a field, never a value."""


def _text(value, what: str, max_chars: int = 500) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Unreadable(f"no {what}")
    return value.strip()[:max_chars]


def _title(text: str) -> str:
    return text if len(text) <= TITLE_MAX_CHARS else text[:TITLE_MAX_CHARS - 1] + "…"


def read_service_order(raw: dict, region: str) -> dict:
    """A service order of the API as the sweep keeps it, with its contact normalised (held for the match
    only). `product` is one object in the API's answers and a list in its requests: both are read."""
    state = raw.get("state")
    if state not in STATE_WORDS:
        raise Unreadable("an unknown state" if isinstance(state, str) else "no state")
    revision = raw.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise Unreadable("no revision")
    products = raw.get("product")
    products = products if isinstance(products, list) else [products]
    parts = []
    for product in products:
        if not isinstance(product, dict):
            raise Unreadable("no product")
        services = product.get("services")
        if not isinstance(services, list):
            raise Unreadable("no services")
        names = [_text(service.get("name") if isinstance(service, dict) else None, "service name")
                 for service in services]
        parts.append(f"{_text(product.get('name'), 'product name')}: {', '.join(names)}" if names
                     else _text(product.get("name"), "product name"))
    if not parts:
        raise Unreadable("no product")
    customer = raw.get("customer") if isinstance(raw.get("customer"), dict) else {}
    store_ = raw.get("store") if isinstance(raw.get("store"), dict) else {}
    created = raw.get("created")
    return {
        "service_order_id": raw["id"], "revision": revision, "state": state,
        "store_id": store_.get("id") if isinstance(store_.get("id"), str) else None,
        "created": datetime.fromtimestamp(created, timezone.utc).isoformat()
        if isinstance(created, int) and not isinstance(created, bool) and 0 <= created < 2 ** 33 else None,
        "card_value": {"type": "text", "title": _title("; ".join(parts)), "text": STATE_WORDS[state]},
        **customers.contact(customer.get("mobile"), customer.get("email"), region),
    }


def _order_id(raw) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 100 else None


def sweep(conn: Connection, service_orders: Callable[[str | None, int], list], region: str,
          progress: Callable[[int], None] = lambda seen: None) -> dict | None:
    """Sweep Sitoo's open service orders into the card (`conn` in autocommit: a transaction per page), from
    where the last sweep stopped. None when another sweep is running. Raises what the API raises: the
    caller records the failure (`sweep_failed`), and the next sweep goes on from the last page stored."""
    if not store.try_lock_sync(conn, SITOO):
        return None
    try:
        state = store.sync_state(conn, SITOO)
        after, number, skipped = state["resume_after"], state["sweep"], 0
        while True:
            page = service_orders(after, PAGE_SIZE)
            orders, touched, ids = [], [], []
            for raw in page:
                order_id = _order_id(raw)
                if order_id in ids:
                    continue  # an order twice in a page: read once (one statement may not write it twice)
                if order_id is not None:
                    ids.append(order_id)
                try:
                    if order_id is None:
                        raise Unreadable("no id")
                    orders.append(read_service_order(raw, region))
                except Unreadable as problem:
                    skipped += 1
                    log.warning("service order %s skipped: %s", order_id or "without an id", problem)
                    if order_id is not None:
                        touched.append(order_id)
            last = next((order_id for order_id in map(_order_id, reversed(page)) if order_id), None)
            with conn.transaction():
                store.save_page(conn, number, orders, touched)
                store.page_done(conn, SITOO, last or after, len(page))
            progress(len(page))
            if len(page) < PAGE_SIZE or last is None:
                break
            after = last
        with conn.transaction():
            closed = store.finish_sweep(conn, SITOO, number)
        log.info("service orders swept (sweep %s): %s closed, %s skipped", number, closed, skipped)
        return {"sweep": number, "closed": closed, "skipped": skipped}
    finally:
        if not conn.closed and not conn.broken:  # a connection that is gone took its lock with it
            store.unlock_sync(conn, SITOO)


def sweep_failed(conn: Connection, error: str, delay_for: Callable[[int], float]) -> float:
    """Record a failed sweep; the seconds until the next may start (`delay_for(failures in a row)`)."""
    failures = store.sync_state(conn, SITOO)["failures"] + 1
    delay = delay_for(failures)
    store.sweep_failed(conn, SITOO, error, delay)
    return delay


def sweep_due(conn: Connection) -> bool:
    """Not backing off after a failure."""
    retry_at = store.sync_state(conn, SITOO)["retry_at"]
    return retry_at is None or retry_at <= datetime.now(timezone.utc)


def syncs(conn: Connection) -> list[dict]:
    return store.syncs(conn)


def sync_ages(conn: Connection) -> dict[str, float | None]:
    return store.sync_ages(conn)


# --- Shopmonkey --------------------------------------------------------------------------------------------

def receive_shopmonkey(conn: Connection, event: dict) -> dict:
    """Store a webhook's event once per `event_id` and queue its handling; what was new."""
    row = {"event_id": event["event_id"], "order_id": event["order_id"], "status": event["status"],
           "customer_key": event.get("customer") or None}
    new = store.insert_shopmonkey_event(conn, row)
    if new:
        store.defer_shopmonkey_event(conn, QUEUE, TASK, row["event_id"], row["order_id"])
    return {"received": int(new), "duplicates": int(not new)}


def reread_shopmonkey(conn: Connection, order_id: str, customer: dict | None) -> dict:
    """The admin's (re)reading of one work order: an event of its own, handled as the webhook's are."""
    event_id = f"admin-{uuid.uuid4()}"
    receive_shopmonkey(conn, {"event_id": event_id, "order_id": order_id, "status": "open", "customer": customer})
    return {"event_id": event_id}


def _customer(conn: Connection, key: dict | None, region: str):
    key = key or {}
    external = key.get("external_id")
    if external:
        try:
            found = customers.current_id(conn, uuid.UUID(external))
        except ValueError:
            found = customers.id_by_member_number(conn, external)
        if found:
            return found
    if key.get("mobile") or key.get("email"):
        return store.customer_by_contact(conn, customers.contact(key.get("mobile"), key.get("email"), region))
    return None


def money(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def work_order_section(services: list, currency: str | None) -> dict | None:
    """The card's section of a work order: a value per service ("Replace brakes" · "Authorized · Completed")
    and their total; None when it shows no service. A service's completion is its labor's: completed when
    every labor line is, in progress when some are. Hidden services are not shown; declined ones are shown
    and not added to the total."""
    values, total = [], 0
    for service in services:
        if not isinstance(service, dict) or service.get("hidden") is True:
            continue
        name = service.get("name")
        authorization = AUTHORIZATION_WORDS.get(service.get("authorizationStatus"), "Not authorized")
        if not isinstance(name, str) or not name.strip():
            log.warning("a service of a work order skipped: no name")
            continue
        labors = [labor for labor in service.get("labors") or [] if isinstance(labor, dict)]
        done = sum(labor.get("completed") is True for labor in labors)
        completion = "Completed" if labors and done == len(labors) else "In progress" if done else "Not started"
        values.append({"type": "text", "title": _title(name.strip()), "text": f"{authorization} · {completion}"})
        cents = service.get("totalCents")
        if authorization != "Declined" and isinstance(cents, int) and not isinstance(cents, bool):
            total += cents
    if not values:
        return None
    values.append({"type": "money", "title": f"Total {currency}" if currency else "Total", "value": money(total)})
    return {"title": "Workshop", "values": values}


def _currency(conn: Connection, configured: str | None) -> str | None:
    if configured:
        return configured
    current = program.program(conn)
    return current.get("currency") if current else None


def handle_shopmonkey_event(conn: Connection, event_id: str, services_of: Callable[[str], list | None],
                            currency: str | None, region: str) -> str | None:
    """Apply a stored event once (`conn` in autocommit); its outcome, None when it was handled already. The
    order's services are read before the transaction that applies them; what the API raises is retried."""
    event = store.get_shopmonkey_event(conn, event_id)
    if event is None or event["outcome"] != "pending":
        return None
    services = services_of(event["order_id"]) if event["status"] == "open" else None
    with conn.transaction():
        event = store.get_shopmonkey_event(conn, event_id, lock=True)
        if event["outcome"] != "pending":
            return None
        outcome, reason = _apply(conn, event, services, _currency(conn, currency), region)
        store.finish_shopmonkey_event(conn, event_id, outcome, reason)
    log.info("shopmonkey event %s: %s%s", event_id, outcome, f" ({reason})" if reason else "")
    return outcome


def _apply(conn: Connection, event: dict, services: list | None, currency: str | None, region: str):
    order_id = event["order_id"]
    if event["status"] != "open" or services is None:
        store.drop_shopmonkey_order(conn, order_id)
        return "processed", event["status"] if event["status"] != "open" else "deleted"
    customer_id = _customer(conn, event["customer_key"], region) or store.shopmonkey_order_customer(conn, order_id)
    if customer_id is None:
        return "skipped", "no_customer"
    section = work_order_section(services, currency)
    if section is None:
        store.drop_shopmonkey_order(conn, order_id)
        return "processed", "no_services"
    store.save_shopmonkey_order(conn, order_id, customer_id, section)
    return "processed", None


def shopmonkey_event_failed(conn: Connection, event_id: str, error: str, final: bool) -> None:
    store.shopmonkey_event_failed(conn, event_id, error, final)


def trim(conn: Connection, retention_days: int, now: datetime | None = None) -> int:
    """Delete the handled Shopmonkey events received more than `retention_days` ago (the events' retention,
    CRM_EVENTS_RETENTION_DAYS), a batch per transaction (`conn` in autocommit); the events deleted."""
    before = (now or datetime.now(timezone.utc)) - timedelta(days=retention_days)
    return db.in_batches(conn, lambda limit: store.trim_shopmonkey_events(conn, before, limit), TRIM_BATCH)


personal_data.register("workshop", export=store.personal_data, erase=store.erase, merge=store.merge)
