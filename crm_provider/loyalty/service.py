"""Loyalty rules: granting and withdrawing promotions and bonus checks, all-or-nothing redeem and undo, and
what purchases consume. This area alone writes promotions, bonus_checks, redeems and redeem_items: the order
feed (events/) marks items consumed through `set_consumed`.

The caller's transaction makes each operation all-or-nothing (for HTTP requests: the request's unit of work,
db.py): a refusal raises before anything is written, or rolls back what was.

Concurrency: every operation first locks the customer row, so the loyalty changes of one customer run
one after another, then locks the items it touches in a fixed order (queries.sql). A redeem that waited
for another one re-reads the items after the lock is granted (READ COMMITTED), so it sees the other's
redeem and is refused: no lost update, and no deadlock because none of these operations locks in another
order. `set_consumed`, the one other writer, takes the customer locks first too.

Error texts name items by id and say why; ids are not personal data.
"""

from __future__ import annotations

import uuid

from psycopg import Connection

from .. import personal_data, plugins
from ..errors import BadRequest, Conflict, NotFound
from . import store

LABEL = {"bonus_check": "bonus check", "promotion": "promotion"}
ID_FIELD = {"bonus_check": "bonus_check_id", "promotion": "promotion_id"}
MAX_REASONS = 5  # a refusal names this many problems at most

# Members of the customer document (customers/document.py), over the customer's row `c`: the items valid now.
DOCUMENT_PARTS = {"promotions": store.Q.customer_promotions, "bonus_checks": store.Q.customer_bonus_checks}


def _lock_customer(conn: Connection, customer_id: uuid.UUID) -> None:
    if not store.lock_customer(conn, customer_id):
        raise NotFound("Customer not found")


# --- the back office ------------------------------------------------------------------------------------------

def _granted(kind: str, row: dict) -> dict:
    item = {**row, "redeemed": False}  # a grant is never of a redeemed item (the grant queries refuse those)
    if kind == "promotion":  # absent values are dropped when dumped
        item["promotion_type"] = {"type": row["promotion_type"], **{
            name: row[name] for name in ("value_money", "value_int", "value_string")}}
    return item


def grant(conn: Connection, kind: str, customer_id: uuid.UUID, data: dict, *, locked: bool = False) -> dict:
    """Give the customer a promotion or bonus check. An id the customer holds already is replaced, as long
    as the item is unused; an id of another customer's item, or of a redeemed or consumed one, is refused.
    `locked`: the caller has locked the customer (lock_customers) in this transaction, and knows it exists."""
    if not locked:
        _lock_customer(conn, customer_id)
    id_field = ID_FIELD[kind]
    item = {**data, id_field: data.get(id_field) or str(uuid.uuid4())}
    grant_item = store.grant_promotion if kind == "promotion" else store.grant_bonus_check
    row = grant_item(conn, customer_id, item)
    if row is None:
        holder = store.holder(conn, kind, item[id_field])
        if holder is not None and holder["customer_id"] != customer_id:
            raise BadRequest(f"{id_field}: This {LABEL[kind]} id belongs to another customer.")
        raise BadRequest(f"{id_field}: The customer's {LABEL[kind]} with this id has been redeemed or used: "
                         f"grant a new id (or undo its redeem first).")
    return _granted(kind, row)


def withdraw(conn: Connection, kind: str, customer_id: uuid.UUID, item_id: str) -> None:
    """Remove an unused promotion or bonus check. A redeemed one stays while its redeem can be undone (the
    undo gives it back), a consumed one stays for good (it is part of a purchase)."""
    _lock_customer(conn, customer_id)
    if store.delete(conn, kind, customer_id, item_id):
        return
    holder = store.holder(conn, kind, item_id)
    if holder is None or holder["customer_id"] != customer_id:
        raise NotFound(f"The customer has no {LABEL[kind]} with this id")
    raise BadRequest(f"This {LABEL[kind]} has been redeemed or used by a purchase: a redeemed one can be "
                     f"withdrawn once its redeem is undone.")


# --- the till -------------------------------------------------------------------------------------------------

def _redeem_object(redeem_id: str, item_ids: dict[str, list[str]]) -> dict:
    return {"redeem_id": redeem_id, "bonus_checks": item_ids["bonus_check"], "promotions": item_ids["promotion"]}


def _refuse(prefix: str, reasons: list[str]):
    shown = reasons[:MAX_REASONS] + ([f"and {len(reasons) - MAX_REASONS} more"] if len(reasons) > MAX_REASONS else [])
    raise Conflict(f"{prefix}: {'; '.join(shown)}")


def redeem(conn: Connection, customer_id: uuid.UUID, bonus_checks: list[str], promotions: list[str], *,
           context: dict | None = None) -> dict:
    """Redeem every listed item, or none (409 naming the reasons). The configured redeem policies
    (plugins.RedeemPolicy) may add reasons of their own; `context` is what they are told of the till (the
    request's `store_id`, `staff_id`, `register_id`)."""
    _lock_customer(conn, customer_id)
    item_ids = {"bonus_check": bonus_checks, "promotion": promotions}
    locked = store.lock_items(conn, customer_id, item_ids)
    others = None
    reasons = []
    for kind, ids in item_ids.items():
        seen = set()
        for item_id in ids:
            label = f"{LABEL[kind]} {item_id}"
            row = locked.get((kind, item_id))
            if item_id in seen:
                reasons.append(f"{label} is listed twice")
                continue
            seen.add(item_id)
            if row is None:
                others = store.held_by_others(conn, customer_id, item_ids) if others is None else others
                reasons.append(f"{label} belongs to another customer" if (kind, item_id) in others
                               else f"{label} is unknown")
            elif row["consumed"]:
                reasons.append(f"{label} has been used by a purchase")
            elif row["redeemed"]:
                reasons.append(f"{label} is already redeemed")
            elif not row["valid"]:
                reasons.append(f"{label} is outside its validity window")
    if not reasons:
        reasons = plugins.redeem_refusals(conn, customer_id=customer_id, bonus_checks=bonus_checks,
                                          promotions=promotions, **(context or {}))
    if reasons:
        _refuse("Can't redeem items", reasons)
    redeem_id = uuid.uuid4().hex.upper()
    store.redeem(conn, redeem_id, customer_id, item_ids)
    return _redeem_object(redeem_id, item_ids)


def undo(conn: Connection, customer_id: uuid.UUID, redeem_id: str) -> dict:
    """Give back every item of a redeem. Refused (409) when it was undone already or when a purchase has
    consumed one of its items since; then nothing changes. A redeem made by a customer since merged into
    another (customers.service.merge) is undone under the customer it became: the till still has the old id."""
    customer_id = store.merged_into(conn, customer_id) or customer_id
    _lock_customer(conn, customer_id)
    found = store.lock_redeem(conn, customer_id, redeem_id.upper())
    if found is None:
        raise NotFound("Redeem not found")
    redeem_row, item_ids = found
    redeem_id = redeem_row["redeem_id"]
    if redeem_row["undone_at"] is not None:
        raise Conflict("Can't undo redeem: it has been undone already")
    locked = store.lock_items(conn, customer_id, item_ids)
    consumed = [f"{LABEL[kind]} {item_id} has been used by a purchase"
                for (kind, item_id), row in locked.items() if row["consumed"]]
    if consumed:
        _refuse("Can't undo redeem", consumed)
    store.undo(conn, redeem_id, customer_id, item_ids)
    return _redeem_object(redeem_id, item_ids)


def lock_customers(conn: Connection, customer_ids) -> None:
    """Lock these customers' rows, in id order: the first lock of every change to their items, taken by other
    areas that change a customer's loyalty state too (the points program) before they touch anything."""
    store.lock_customers(conn, set(customer_ids))


# --- purchases ------------------------------------------------------------------------------------------------

def set_consumed(conn: Connection, order_id: int, customer_id: uuid.UUID | None, bonus_checks: list[str],
                 promotions: list[str]) -> set:
    """Make these items of `customer_id` exactly the ones order `order_id` consumes (a purchase names them on
    its items); no customer: the order consumes nothing. Items the order no longer names are given back. An
    item another purchase consumed already stays with that one; another customer's item is not touched.
    Either is recorded as a conflict of the order (`conflicts`), never dropped in silence: the same bonus
    check redeemed, undone and redeemed again for a second purchase gave both purchases the discount.

    Locks, as redeem and undo take theirs: the customers concerned (this one and any whose items the order
    consumed so far) in id order, then the items. Returns the customers it locked (held until the caller's
    transaction ends)."""
    holders = store.order_consumers(conn, order_id)
    if customer_id is not None:
        holders.add(customer_id)
    if holders:
        store.lock_customers(conn, holders)
        store.set_consumed(conn, customer_id, order_id, bonus_checks if customer_id else [],
                           promotions if customer_id else [])
    store.record_conflicts(conn, customer_id, order_id, bonus_checks, promotions)
    return holders


CONFLICT_REASONS = ("used_by_another_order", "another_customers_item", "unknown_item")


def conflicts(conn: Connection, reason: str | None = None, before=None, limit: int = 100) -> list[dict]:
    """The orders' item conflicts, newest first."""
    return store.conflicts(conn, reason, before, limit)


def conflict_counts(conn: Connection) -> dict[str, int]:
    """Conflicts by reason, every reason included (for the gauge)."""
    return {reason: 0 for reason in CONFLICT_REASONS} | store.conflict_counts(conn)

personal_data.register("loyalty", export=store.personal_data,  # kept at an erasure: redeems are accounting
                       merge=store.merge)
