"""Catalogue storage: thin functions over the named queries in queries.sql. No transactions here."""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb

from .. import sql

Q = sql.load(__file__)


def list_consents(conn: Connection) -> list[dict]:
    return conn.execute(Q.list_consents).fetchall()


def list_sections(conn: Connection) -> list[dict]:
    return conn.execute(Q.list_sections).fetchall()


def choices(conn: Connection) -> dict:
    return conn.execute(Q.choices).fetchone()


def replace_consents(conn: Connection, consents: list[dict]) -> None:
    conn.execute(Q.delete_consents_except, {"consent_ids": [c["consent_id"] for c in consents]})
    for position, consent in enumerate(consents):
        conn.execute(Q.upsert_consent, {"description": None, **consent, "position": position})


def replace_sections(conn: Connection, sections: list[dict]) -> None:
    option_ids = []
    for section_position, section in enumerate(sections):
        conn.execute(Q.upsert_section, {"position": section_position, "name": section["name"]})
        for position, option in enumerate(section["options"]):
            option_ids.append(option["id"])
            conn.execute(Q.upsert_option, {
                **option,
                "section": section_position,
                "position": position,
                "required": option.get("required", False),
                "enum_options": Jsonb(option.get("enum_options") or []),
            })
    conn.execute(Q.delete_options_except, {"option_ids": option_ids})
    conn.execute(Q.delete_sections_from, {"count": len(sections)})
    conn.execute(Q.prune_option_values)
    conn.execute(Q.delete_empty_option_values)


def set_consents(conn: Connection, customer_id, consent_ids: list[str], trace: dict) -> None:
    """`trace`: store_id, staff_id, register_id and credential of the change (for the consent history)."""
    params = {"customer_id": customer_id, "consent_ids": consent_ids}
    conn.execute(Q.record_consent_changes, {**params, **trace})
    conn.execute(Q.keep_only_consents, params)
    if consent_ids:
        conn.execute(Q.add_consents, params)


def set_option_values(conn: Connection, customer_id, values: list[dict]) -> None:
    conn.execute(Q.delete_option_values, {"customer_id": customer_id})
    if values:
        conn.execute(Q.insert_option_values, {"customer_id": customer_id, "option_values": Jsonb(values)})

def import_consents(conn: Connection, updates: bool) -> None:
    conn.execute(Q.import_consent_history if updates else Q.import_consent_grants)
    if updates:
        conn.execute(Q.import_keep_consents)
    conn.execute(Q.import_add_consents)


def import_option_values(conn: Connection, option_ids: list[str], updates: bool) -> None:
    if updates:
        conn.execute(Q.import_delete_option_values, {"option_ids": option_ids})
    conn.execute(Q.import_insert_option_values)


def personal_data(conn: Connection, customer_id) -> list:
    return conn.execute(Q.personal_data, {"customer_id": customer_id}).fetchone()["held"]


def erase_free_text(conn: Connection, customer_id) -> None:
    conn.execute(Q.erase_free_text, {"customer_id": customer_id})

def consent_history(conn: Connection, customer_id) -> list:
    return conn.execute(Q.consent_history, {"customer_id": customer_id}).fetchone()["held"]


def merge(conn: Connection, into, merged) -> None:
    params = {"into": into, "merged": merged}
    conn.execute(Q.merge_consent_history, params)
    conn.execute(Q.merge_consents, params)
    conn.execute(Q.merge_option_values, params)
