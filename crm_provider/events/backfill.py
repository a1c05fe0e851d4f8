"""`crm-provider sync-orders`: read the orders API page by page and apply every order, as the worker does.

Pages are keyset-paged (`orderidfrom`, `num`, sorted by order id), so an order created while the backfill
runs cannot shift a page. Each page is applied in one transaction together with the cursor (the next order
id): a backfill stopped anywhere, by a failure or by Ctrl-C, goes on from the last page applied when run
again without `--from-order-id`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Callable

from psycopg import Connection

from . import service, store
from .sitoo import SitooClient, SitooError

log = logging.getLogger(__name__)


class BackfillStopped(Exception):
    def __init__(self, text: str, next_order_id: int):
        super().__init__(text)
        self.next_order_id = next_order_id


def _page(sitoo: SitooClient, order_id: int, num: int, *, attempts: int, first_wait: float,
          max_wait: float) -> tuple[list[dict], int]:
    """One page, waiting out a 429's Retry-After and retrying other failures with back-off."""
    for attempt in range(1, attempts + 1):
        try:
            return sitoo.orders_from(order_id, num)
        except SitooError as error:
            if attempt == attempts:
                raise
            wait = error.retry_after if error.retry_after is not None else first_wait * 2 ** (attempt - 1)
            log.warning("orders from %s: %s; trying again in %.1f s", order_id, error, min(wait, max_wait))
            time.sleep(min(wait, max_wait))
    raise AssertionError("unreachable")


def sync_orders(conn: Connection, sitoo: SitooClient, *, from_order_id: int | None, page_size: int = 100,
                attempts: int = 5, first_wait: float = 1.0, max_wait: float = 60.0,
                on_total: Callable[[int], None] = lambda total: None,
                on_page: Callable[[int], None] = lambda done: None) -> Counter:
    """Apply every order from `from_order_id` (or the stored cursor) on; count the outcomes.

    `conn` must be in autocommit: each page is its own transaction.
    """
    account = sitoo.account_id
    cursor = from_order_id if from_order_id is not None else store.sync_cursor(conn, account)
    if cursor is None:
        raise BackfillStopped("no earlier run to resume: give --from-order-id", 0)
    counts: Counter = Counter()
    first = True
    while True:
        try:
            orders, total = _page(sitoo, cursor, page_size, attempts=attempts, first_wait=first_wait,
                                  max_wait=max_wait)
        except SitooError as error:
            raise BackfillStopped(str(error), cursor) from None
        if first:
            on_total(total)
            first = False
        if not orders:
            break
        with conn.transaction():
            counts += service.apply_orders(conn, orders)
            cursor = max(int(order["orderid"]) for order in orders) + 1
            store.save_sync_cursor(conn, account, cursor)
        on_page(len(orders))
        if len(orders) < page_size:
            break
    return counts
