"""Customer hooks (plugins.CustomerHook): the outbox that tells a retailer's own systems of every customer
created, updated, merged or erased, without ever slowing the till or losing an event.

- **Recording** (`service.record_event`): the change's own transaction writes a `customer_events` row and
  queues its delivery job (procrastinate, queue `customer-hooks`), in one statement. Committed with the
  change or not at all; nothing is written when no hook is configured (`CRM_CUSTOMER_HOOKS`).
- **Delivering** (`HookDelivery`, run by `crm-provider worker`): each configured hook is called with the
  event, after the commit. A hook that raises is retried with the worker's back-off, and only the hooks that
  have not had the event yet are called again (`customer_event_deliveries`): at least once per event and
  hook, with the event id to deduplicate by. The events of one customer are delivered in order (the job
  lock `customer:<id>`). After the last attempt the delivery stays recorded as failed, with the kind of
  failure.
"""

from __future__ import annotations

import logging
import uuid

import procrastinate
from psycopg import Connection

from .. import db, plugins
from ..config import Settings
from ..errors import NotFound
from . import service, store

log = logging.getLogger(__name__)

class DeliveryFailed(Exception):
    """Some hooks failed this event; the job is retried for them."""


def deliver(conn: Connection, event_id: str, hooks: dict[str, plugins.CustomerHook], settings: Settings) -> None:
    """Give the event to every hook that has not had it. `conn` is in autocommit: a hook's success is recorded
    at once, so a retry does not call it again."""
    row = store.get_event(conn, event_id)
    if row is None:
        return  # nothing to deliver (the event is gone: retention)
    event = {"event_id": row["event_id"], "kind": row["kind"], "customer_id": row["customer_id"],
             "occurred_at": row["occurred_at"].isoformat(), **(row["detail"] or {})}
    try:
        customer = service.customer_document(conn, uuid.UUID(row["customer_id"]))
    except NotFound:
        customer = None
    delivered = store.delivered_hooks(conn, event_id)
    failed = []
    for name, hook in hooks.items():
        if name in delivered:
            continue
        try:
            hook.customer_event(dict(event), customer=customer, settings=settings)
        except Exception as error:  # the kind of failure only: a message could quote personal data
            log.warning("customer hook %s failed event %s: %s", name, event_id, type(error).__name__)
            store.record_delivery(conn, event_id, name, "failed", type(error).__name__)
            failed.append(name)
        else:
            store.record_delivery(conn, event_id, name, "delivered")
    if failed:
        raise DeliveryFailed(f"hooks {', '.join(failed)} failed")


class HookDelivery:
    """The worker's part for customer hooks: its pool, the hooks, and the task it registers."""

    queue = service.HOOK_QUEUE

    def __init__(self, url: str, settings: Settings, hooks: dict[str, plugins.CustomerHook]):
        self.settings = settings
        self.hooks = hooks
        self.pool = db.job_pool(url, "crm-hooks", size=2, statement_timeout_ms=10_000)

    def register(self, app: procrastinate.App, retry) -> None:
        @app.task(name=service.HOOK_TASK, queue=service.HOOK_QUEUE, retry=retry)
        def deliver_customer_event(event_id: str) -> None:
            with self.pool.connection() as conn:
                deliver(conn, event_id, self.hooks, self.settings)

    def close(self) -> None:
        self.pool.close()


def delivery(url: str, settings: Settings) -> HookDelivery | None:
    """The worker's hook delivery, or None when no hook is configured."""
    hooks = plugins.customer_hooks(settings)
    return HookDelivery(url, settings, hooks) if hooks else None
