"""Loyalty storage: thin functions over the named queries in queries.sql. No transactions here.

`kind` is `bonus_check` or `promotion`, as in the `redeem_items` table; each kind has its own table.
"""

from __future__ import annotations

from psycopg import Connection

from .. import sql

Q = sql.load(__file__)
KINDS = ("bonus_check", "promotion")  # also the lock order
_LOCK = {"bonus_check": Q.lock_bonus_checks, "promotion": Q.lock_promotions}
_HOLDER = {"bonus_check": Q.bonus_check_holder, "promotion": Q.promotion_holder}
_DELETE = {"bonus_check": Q.delete_bonus_check, "promotion": Q.delete_promotion}


def _promotion_row(customer_id, promotion: dict) -> dict:
    promotion_type = promotion["promotion_type"]
    return {
        "customer_id": customer_id,
        "promotion_id": promotion["promotion_id"],
        "name": promotion["name"],
        "description": promotion.get("description"),
        "type": promotion_type["type"],
        "value_money": promotion_type.get("value_money"),
        "value_int": promotion_type.get("value_int"),
        "value_string": promotion_type.get("value_string"),
        "valid_from": promotion.get("valid_from"),
        "valid_to": promotion.get("valid_to"),
    }


def upsert_promotion(conn: Connection, customer_id, promotion: dict) -> None:
    conn.execute(Q.upsert_promotion, _promotion_row(customer_id, promotion))


def lock_customer(conn: Connection, customer_id) -> bool:
    return conn.execute(Q.lock_customer, {"customer_id": customer_id}).fetchone() is not None


def lock_customers(conn: Connection, customer_ids) -> None:
    conn.execute(Q.lock_customers, {"customer_ids": sorted(customer_ids)}).fetchall()


def order_consumers(conn: Connection, order_id: int) -> set:
    return {row["customer_id"] for row in conn.execute(Q.order_consumers, {"order_id": order_id})}


def set_consumed(conn: Connection, customer_id, order_id: int, bonus_check_ids: list[str],
                 promotion_ids: list[str]) -> None:
    """Make exactly these items (of this customer) the ones the order consumed."""
    conn.execute(Q.release_bonus_checks, {"order_id": order_id, "keep": bonus_check_ids})
    conn.execute(Q.release_promotions, {"order_id": order_id, "keep": promotion_ids})
    if bonus_check_ids:
        conn.execute(Q.consume_bonus_checks, {"order_id": order_id, "customer_id": customer_id,
                                              "ids": bonus_check_ids})
    if promotion_ids:
        conn.execute(Q.consume_promotions, {"order_id": order_id, "customer_id": customer_id,
                                            "ids": promotion_ids})


def record_conflicts(conn: Connection, customer_id, order_id: int, bonus_check_ids: list[str],
                     promotion_ids: list[str]) -> None:
    if customer_id is None or not (bonus_check_ids or promotion_ids):
        conn.execute(Q.clear_conflicts, {"order_id": order_id})
        return
    conn.execute(Q.record_conflicts, {"order_id": order_id, "customer_id": customer_id,
                                      "bonus_checks": bonus_check_ids, "promotions": promotion_ids})


def conflicts(conn: Connection, reason: str | None, before, limit: int) -> list[dict]:
    return conn.execute(Q.conflicts, {"reason": reason, "before": before, "limit": limit}).fetchall()


def conflict_counts(conn: Connection) -> dict[str, int]:
    return {row["reason"]: row["conflicts"] for row in conn.execute(Q.conflict_counts)}


def grant_promotion(conn: Connection, customer_id, promotion: dict) -> dict | None:
    """The stored promotion, or None when its id is taken (another customer's, or in use)."""
    return conn.execute(Q.grant_promotion, _promotion_row(customer_id, promotion)).fetchone()


def grant_bonus_check(conn: Connection, customer_id, bonus_check: dict) -> dict | None:
    return conn.execute(Q.grant_bonus_check, {
        "customer_id": customer_id,
        "bonus_check_id": bonus_check["bonus_check_id"],
        "name": bonus_check["name"],
        "description": bonus_check.get("description"),
        "cart_amount": bonus_check["cart_amount"],
        "valid_from": bonus_check.get("valid_from"),
        "valid_to": bonus_check.get("valid_to"),
    }).fetchone()


def holder(conn: Connection, kind: str, item_id: str) -> dict | None:
    return conn.execute(_HOLDER[kind], {"item_id": item_id}).fetchone()


def delete(conn: Connection, kind: str, customer_id, item_id: str) -> bool:
    return conn.execute(_DELETE[kind], {"customer_id": customer_id, "item_id": item_id}).fetchone() is not None


def lock_items(conn: Connection, customer_id, item_ids: dict[str, list[str]]) -> dict[tuple[str, str], dict]:
    """The customer's own items among `item_ids` ({kind: [id, ...]}), locked in the fixed order."""
    locked = {}
    for kind in KINDS:
        if item_ids.get(kind):
            for row in conn.execute(_LOCK[kind], {"customer_id": customer_id, "item_ids": item_ids[kind]}):
                locked[kind, row["item_id"]] = row
    return locked


def held_by_others(conn: Connection, customer_id, item_ids: dict[str, list[str]]) -> set[tuple[str, str]]:
    rows = conn.execute(Q.held_by_others, {"customer_id": customer_id, **_items(item_ids)})
    return {(row["kind"], row["item_id"]) for row in rows}


def _items(item_ids: dict[str, list[str]]) -> dict:
    return {"bonus_checks": item_ids["bonus_check"], "promotions": item_ids["promotion"]}


def redeem(conn: Connection, redeem_id: str, customer_id, item_ids: dict[str, list[str]]) -> None:
    conn.execute(Q.redeem, {"redeem_id": redeem_id, "customer_id": customer_id, **_items(item_ids)})


def lock_redeem(conn: Connection, customer_id, redeem_id: str) -> tuple[dict, dict[str, list[str]]] | None:
    """The redeem, locked, and its items ({kind: [id, ...]})."""
    row = conn.execute(Q.lock_redeem, {"customer_id": customer_id, "redeem_id": redeem_id}).fetchone()
    if row is None:
        return None
    return row, {"bonus_check": row["bonus_checks"], "promotion": row["promotions"]}


def undo(conn: Connection, redeem_id: str, customer_id, item_ids: dict[str, list[str]]) -> None:
    conn.execute(Q.undo, {"redeem_id": redeem_id, "customer_id": customer_id, **_items(item_ids)})

def personal_data(conn: Connection, customer_id) -> dict:
    return conn.execute(Q.personal_data, {"customer_id": customer_id}).fetchone()["held"]


def merge(conn: Connection, into, merged) -> None:
    conn.execute(Q.merge_items, {"into": into, "merged": merged})


def merged_into(conn: Connection, customer_id):
    row = conn.execute(Q.merged_into, {"customer_id": customer_id}).fetchone()
    return row["merged_into"] if row else None
