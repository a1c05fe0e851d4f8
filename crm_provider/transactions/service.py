"""Purchase history: storing a customer's transactions, reading them back, and the Purchases section.

`store_transaction` is the one way in: the admin route and the Sitoo order feed both write through it, so
an order is stored once whoever sends it. A transaction's `total` (what the Purchases section adds up) is
what its payments add up to; a transaction without payments counts its items instead: item totals less
manual discounts and discounts, plus the roundoff.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from psycopg import Connection

from .. import personal_data, sql
from ..customers import service as customers
from ..errors import BadRequest, NotFound
from . import store

MAX_TOTAL = Decimal("1e12")  # transactions.total is numeric(14,2)


def _compact(value):
    """The wire shape without the nulls a request may carry for absent optional fields."""
    if isinstance(value, dict):
        return {key: _compact(v) for key, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def total(transaction: dict) -> Decimal:
    payments = transaction.get("payments") or []
    if payments:
        return sum((Decimal(p["total"]) for p in payments), Decimal("0.00"))
    amount = Decimal(transaction.get("roundoff") or "0.00")
    for item in transaction["items"]:
        amount += Decimal(item["total"]) - Decimal(item.get("manual_discount") or "0.00")
        amount -= sum((Decimal(d["total"]) for d in item.get("discounts") or []), Decimal("0.00"))
    return amount


def transactions(conn: Connection, customer_id: uuid.UUID, limit: int, *, read=sql.read) -> str:
    """The customer's transactions, newest first, as the JSON text of the answer."""
    history = store.history(conn, customer_id, limit, read)
    if history is None:
        raise NotFound("Customer not found")
    return history


def store_transaction(conn: Connection, customer_id: uuid.UUID, transaction: dict) -> dict:
    """Store `transaction` (a dict as `TransactionSchema().load` returns it) for the customer.

    A transaction with an `order_id` is stored once per order: storing it again replaces the stored one,
    and when another customer is named the order moves to that customer (a Sitoo order has one customer).
    Returns the stored transaction in its wire shape.
    """
    if not customers.exists(conn, customer_id):
        raise NotFound("Customer not found")
    transaction = _compact(transaction)
    amount = total(transaction)
    if abs(amount) >= MAX_TOTAL:
        raise BadRequest("The transaction's total must be below 1000000000000.00.")
    return store.upsert(conn, {
        "customer_id": customer_id,
        "order_id": transaction.get("order_id"),
        "order_external_id": transaction.get("order_external_id"),
        "receipt_id": transaction.get("receipt_id"),
        "date_created": transaction["date_created"],
        "store_id": transaction.get("store_id"),
        "store_name": transaction["store_name"],
        "currency_code": transaction["currency_code"],
        "roundoff": Decimal(transaction["roundoff"]) if "roundoff" in transaction else None,
        "items": transaction["items"],
        "payments": transaction.get("payments") or [],
        "total": amount,
    })


def customer_of_orders(conn: Connection, order_ids: list[int]) -> uuid.UUID | None:
    """The customer of the first of these orders that is stored (the purchase a refund returns)."""
    return store.customer_of_orders(conn, order_ids)


def customers_with_orders(conn: Connection, customer_id: uuid.UUID | None = None, page: int = 1000):
    """The customers with stored Sitoo orders (or just `customer_id`), in id order, read a page at a time."""
    after = uuid.UUID(int=0)
    while True:
        found = store.customers_with_orders(conn, customer_id, after, page)
        yield from found
        if len(found) < page:
            return
        after = found[-1]


def orders(conn: Connection, customer_id: uuid.UUID) -> list[dict]:
    """The customer's stored Sitoo orders as the contract's Transaction, oldest first."""
    return store.orders(conn, customer_id)


def count_orders(conn: Connection, customer_id: uuid.UUID | None = None) -> int:
    return store.count_orders(conn, customer_id)


def remove_by_order_id(conn: Connection, order_id: int) -> bool:
    """Forget the transaction of a Sitoo order (a cancelled order); False when none was stored."""
    return store.delete_by_order_id(conn, order_id)


class PurchasesSections:
    """The built-in sections provider `purchases`: a "Purchases" section with the number of transactions
    and their total. Totals are never added across currencies: a customer who bought in several has one
    money value per currency, the currency of the latest purchase first. No transactions, no section.

    An SQL provider (plugins.SqlSectionsProvider): PostgreSQL builds the section in the customer's own read."""

    sections_sql = store.Q.purchases_sections

personal_data.register("transactions", export=store.personal_data, merge=store.merge)
