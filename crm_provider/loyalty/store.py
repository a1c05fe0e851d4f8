"""Loyalty storage: thin functions over the named queries in queries.sql."""

from __future__ import annotations

from psycopg import Connection

from .. import sql

Q = sql.load(__file__)


def upsert_promotion(conn: Connection, customer_id, promotion: dict) -> None:
    promotion_type = promotion["promotion_type"]
    conn.execute(Q.upsert_promotion, {
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
    })
