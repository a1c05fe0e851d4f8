"""Customers: search, create, update, and the back-office fields the POS cannot set.

Every search key is stored normalised (keys.py) so that a search finds what a write stored. The caller's
transaction makes each operation all-or-nothing (for HTTP requests: the request's unit of work, db.py).
"""

from __future__ import annotations

import json
import uuid

from psycopg import Connection

from .. import plugins
from ..catalog import service as catalog
from ..errors import BadRequest, NotFound
from . import keys, store

# Fields the POS writes. store_id_home is "read only except for POST".
PROFILE_FIELDS = (
    "member_number", "email", "name_first", "name_last", "personal_id", "company", "company_id", "phone",
    "mobile", "invoice_address", "delivery_address", "gender", "birthday", "accepts_communication",
)
BACK_OFFICE_FIELDS = ("status", "voucher_passwords", "sections", "store_id_home")


def customer_uuid(raw: str) -> uuid.UUID:
    """A customer id from a URL; anything that is not a UUID names no customer."""
    try:
        return uuid.UUID(raw)
    except (ValueError, TypeError):
        raise NotFound("Customer not found") from None


def _normalised(profile: dict, region: str) -> dict:
    """The stored row of a profile: phones in E.164, the search columns filled."""
    row = dict(profile)
    for field in ("phone", "mobile"):
        if row.get(field):
            try:
                row[field] = keys.phone(row[field], region)
            except ValueError as error:
                raise BadRequest(f"{field}: {error}") from None
    row["email_norm"] = keys.email(row["email"]) if row.get("email") else None
    for field in ("personal_id", "company_id"):
        value = row.get(field)
        row[f"{field}_norm"] = keys.identifier(value) if value else None
        if value and not row[f"{field}_norm"]:
            raise BadRequest(f"{field}: Must contain letters or digits.")
    row["accepts_communication"] = list(dict.fromkeys(row.get("accepts_communication") or []))
    return row


def document_text(row: dict) -> str:
    """A customer read (store.find, store.get) as JSON text: the document PostgreSQL built, with the SQL
    sections providers' sections after its own.

    The document always ends with its `sections` array (migration 0005: the last member, NOT NULL), so the
    providers' sections, JSON text too, are inserted into it as text: nothing is parsed.
    """
    document: str = row["document"]
    # Each SQL provider's JSON array, without its brackets; an empty array or NULL adds nothing.
    extra = [inner for sections in row["extra_sections"] if sections and (inner := sections[1:-1].strip())]
    if not extra:
        return document
    head = document[:-2]  # the document without the `]}` that closes its sections and itself
    return f"{head}{'' if head.endswith('[') else ','}{','.join(extra)}]}}"


def to_wire(conn: Connection, row: dict) -> str:
    """A customer read as the contract's Customer, in JSON, with every sections provider's sections
    (plugins.py): the SQL providers' first (`document_text`), then the others', which need the customer
    as an object: then the document is parsed and serialised again."""
    document = document_text(row)
    if not plugins.active().sections:
        return document
    customer = json.loads(document)
    customer["sections"] += plugins.extra_sections(conn, customer)
    return json.dumps(customer, ensure_ascii=False)


def search(conn: Connection, key_type: str, key: str, region: str) -> list[str]:
    """The customers found, in JSON (one, or none)."""
    value = keys.for_search(key_type, key, region)
    if value is None:
        return []
    return [to_wire(conn, row) for row in store.find(conn, key_type, value, plugins.active().sections_sql)]


def get(conn: Connection, customer_id: uuid.UUID) -> str:
    """The customer, in JSON."""
    row = store.get(conn, customer_id, plugins.active().sections_sql)
    if row is None:
        raise NotFound("Customer not found")
    return to_wire(conn, row)


def create(conn: Connection, data: dict, region: str,
           customer_id: uuid.UUID | None = None) -> tuple[uuid.UUID, str]:
    """A new customer: its id, and it in JSON. `customer_id` is for imports that keep the ids of another
    system; the POS never sets it."""
    catalog.check_choices(conn, data.get("consents", []), data.get("additional_options", []), creating=True)
    row = _normalised({field: data.get(field) for field in PROFILE_FIELDS}, region)
    row["store_id_home"] = data.get("store_id_home")
    row["customer_id"] = customer_id
    if not row["member_number"]:
        row["member_number"] = store.next_member_number(conn)
    customer_id = store.insert(conn, row)
    store.set_consents(conn, customer_id, data.get("consents") or [])
    store.set_option_values(conn, customer_id, data.get("additional_options") or [])
    return customer_id, get(conn, customer_id)


def update(conn: Connection, customer_id: uuid.UUID, data: dict, region: str) -> str:
    """A field absent from the request keeps its stored value; a field given replaces it (null clears it)."""
    current = store.lock(conn, customer_id)
    if current is None:
        raise NotFound("Customer not found")
    if "member_number" in data and not data["member_number"]:
        raise BadRequest("member_number: A customer always has a member number; it cannot be cleared.")
    catalog.check_choices(conn, data.get("consents"), data.get("additional_options"), creating=False)
    profile = {field: data[field] if field in data else current[field] for field in PROFILE_FIELDS}
    store.update(conn, customer_id, _normalised(profile, region))
    if "consents" in data:
        store.set_consents(conn, customer_id, data["consents"] or [])
    if "additional_options" in data:
        store.set_option_values(conn, customer_id, data["additional_options"] or [])
    return get(conn, customer_id)


def set_back_office(conn: Connection, customer_id: uuid.UUID, data: dict) -> str:
    """Status, voucher passwords, sections and home store: set by the retailer, never by the POS."""
    current = store.lock(conn, customer_id)
    if current is None:
        raise NotFound("Customer not found")
    status = data["status"] if "status" in data else (
        {"color": current["status_color"], "text": current["status_text"]} if current["status_color"] else None)
    store.update_back_office(conn, customer_id, {
        "status_color": status["color"] if status else None,
        "status_text": status["text"] if status else None,
        "voucher_passwords": data.get("voucher_passwords", current["voucher_passwords"]) or [],
        "sections": data.get("sections", current["sections"]) or [],
        "store_id_home": data.get("store_id_home", current["store_id_home"]),
    })
    return get(conn, customer_id)
