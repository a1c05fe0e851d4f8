"""Program storage: thin functions over the named queries in queries.sql. No transactions here."""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb

from .. import sql

Q = sql.load(__file__)


def add_version(conn: Connection, document: dict, set_by: str) -> dict:
    return conn.execute(Q.add_version, {"document": Jsonb(document), "set_by": set_by}).fetchone()


def current_version(conn: Connection) -> dict | None:
    return conn.execute(Q.current_version).fetchone()


def version_at(conn: Connection, at) -> dict | None:
    return conn.execute(Q.version_at, {"at": at}).fetchone()


def version(conn: Connection, number: int) -> dict | None:
    return conn.execute(Q.version, {"version": number}).fetchone()


def versions(conn: Connection, limit: int) -> list[dict]:
    return conn.execute(Q.versions, {"limit": limit}).fetchall()


def booked_order(conn: Connection, order_id: int) -> dict | None:
    return conn.execute(Q.booked_order, {"order_id": order_id}).fetchone()


def refunded_so_far(conn: Connection, original_order_id: int, order_id: int) -> int:
    return conn.execute(Q.refunded_so_far, {"original_order_id": original_order_id,
                                            "order_id": order_id}).fetchone()["points"]


def save_order(conn: Connection, row: dict) -> None:
    conn.execute(Q.save_order, row)


def account(conn: Connection, customer_id) -> dict:
    """The customer's account, created at zero when it has none. Call with the customer locked."""
    return conn.execute(Q.account, {"customer_id": customer_id}).fetchone()


def book(conn: Connection, customer_id, kind: str, points: int, shortfall: int, *, order_id=None,
         bonus_check_id=None, version=None, reason=None, actor=None, earned_at=None) -> dict:
    return conn.execute(Q.book, {
        "customer_id": customer_id, "kind": kind, "points": points, "shortfall": shortfall, "order_id": order_id,
        "bonus_check_id": bonus_check_id, "version": version, "reason": reason, "actor": actor,
        "earned_at": earned_at}).fetchone()


def set_shortfall(conn: Connection, customer_id, shortfall: int) -> None:
    conn.execute(Q.set_shortfall, {"customer_id": customer_id, "shortfall": shortfall})


def set_standing(conn: Connection, customer_id, version: int, since, cutoff, tiers: list[dict]) -> str | None:
    """The account's tier, next tier and points expiring (queries.sql: set_standing); the tier's name."""
    row = conn.execute(Q.set_standing, {
        "customer_id": customer_id, "version": version, "since": since, "cutoff": cutoff,
        "tier_names": [tier["name"] for tier in tiers], "tier_points": [tier["points"] for tier in tiers]}).fetchone()
    return row["tier"] if row else None


def expiry_due(conn: Connection, customer_id, cutoff) -> int:
    return conn.execute(Q.expiry_due, {"customer_id": customer_id, "cutoff": cutoff}).fetchone()["due"]


def customers_to_refresh(conn: Connection, cutoff, version: int) -> list:
    return [row["customer_id"] for row in conn.execute(Q.customers_to_refresh, {"cutoff": cutoff,
                                                                                "version": version})]


def ledger(conn: Connection, customer_id, limit: int, before: int | None) -> list[dict]:
    return conn.execute(Q.ledger, {"customer_id": customer_id, "limit": limit, "before": before}).fetchall()


def unbalanced_accounts(conn: Connection) -> list[dict]:
    return conn.execute(Q.unbalanced_accounts).fetchall()


def liability(conn: Connection, at) -> dict:
    return {**conn.execute(Q.liability, {"at": at}).fetchone(),
            "months": conn.execute(Q.monthly, {"at": at}).fetchall()}

def personal_data(conn: Connection, customer_id) -> dict:
    return conn.execute(Q.personal_data, {"customer_id": customer_id}).fetchone()["held"]


def import_owing(conn: Connection) -> list[dict]:
    return conn.execute(Q.import_owing).fetchall()


def import_opening_balances(conn: Connection) -> None:
    conn.execute(Q.import_opening_balances)


def merge(conn: Connection, into, merged) -> None:
    params = {"into": into, "merged": merged}
    conn.execute(Q.merge_ledger, params)
    conn.execute(Q.merge_account, params)
