"""Customers: search, create, update, and the back-office fields the POS cannot set; and what other areas
ask of a customer (`exists`, `id_by_member_number`).

Every search key is stored normalised (keys.py) so that a search finds what a write stored. The caller's
transaction makes each operation all-or-nothing (for HTTP requests: the request's unit of work, audit/work.py).
Reads take the `read` that runs their statement (the unit of work's, which audits it in the same statement).
"""

from __future__ import annotations

import json
import logging
import uuid

from psycopg import Connection

from .. import keys, personal_data, personal_ids, plugins, sql
from ..catalog import service as catalog
from ..errors import BadRequest, NotFound
from ..loyalty import service as loyalty
from . import document, store
from .schemas import KEY_MAX_LENGTH, BackOfficeSchema, CustomerSchema

log = logging.getLogger(__name__)

# The customer's own columns the POS writes: every field of the schema it may send but the choices among the
# catalogues (the catalog area stores those) and store_id_home ("read only except for POST").
PROFILE_FIELDS = tuple(name for name, field in CustomerSchema().fields.items()
                       if not field.dump_only and name not in ("consents", "additional_options", "store_id_home"))
BACK_OFFICE_FIELDS = tuple(name for name in BackOfficeSchema().fields if name != "status_by_tier")
# The customer hooks' outbox (hooks.py): what happens to a customer, delivered by the worker on this queue.
HOOK_QUEUE, HOOK_TASK = "customer-hooks", "deliver_customer_event"
EVENT_KINDS = ("created", "updated", "merged", "erased")


# The customer a workshop order's contact names (queries.sql: contact_holder), filled into the workshop's own
# statements over its `contact` rows, normalised by `contact` below.
CONTACT_HOLDER = store.Q.contact_holder


def contact(mobile, email, region: str) -> dict:
    """A workshop order's contact as the search normalises keys: `{"mobile", "email"}`, None for what is
    missing or cannot match (a mobile that is no phone number)."""
    return {"mobile": keys.for_search("mobile", mobile, region) if isinstance(mobile, str) else None,
            "email": keys.for_search("email", email, region) if isinstance(email, str) else None}


def normalised(profile: dict, region: str) -> dict:
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


def _sealed(conn: Connection, row: dict, customer_id: uuid.UUID) -> dict:
    """The row with its personal id sealed and indexed (personal_ids.py), the plain columns empty; as it is
    when no keyring is configured (an app built in code without one). A personal id another customer holds
    in plain, from before the release that seals them, is a duplicate too."""
    keyring = personal_ids.active()
    row = {**row, "personal_id_key": None, "personal_id_sealed": None, "personal_id_index": None}
    if keyring is None or not row.get("personal_id"):
        return row
    if store.personal_id_taken(conn, row["personal_id_norm"], customer_id):
        raise store.Duplicate("personal_id")
    return {**row, **seal(keyring, customer_id, row["personal_id"], row["personal_id_norm"])}


def seal(keyring: personal_ids.Keyring, customer_id, personal_id: str, norm: str) -> dict:
    """The sealed columns of a personal id, and its plain ones empty."""
    key_id, sealed = keyring.seal(customer_id, personal_id)
    return {"personal_id": None, "personal_id_norm": None, "personal_id_key": key_id,
            "personal_id_sealed": sealed, "personal_id_index": keyring.index(norm)}


def record_event(conn: Connection, kind: str, customer_id: uuid.UUID, **detail) -> str | None:
    """Queue `kind` of the customer for the customer hooks, in the caller's transaction (committed with the
    change, or not at all); its event id, or None when no hook is configured. `detail`: ids only (a merge
    names `merged_customer_id`)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown customer event {kind!r}")
    if not plugins.active().customer_hooks:
        return None
    return store.record_event(conn, HOOK_QUEUE, HOOK_TASK, customer_id, kind, {k: str(v) for k, v in detail.items()})


def _statements() -> dict[str, str]:
    return document.statements(plugins.active().sections_sql)


def to_wire(conn: Connection, row: dict) -> str:
    """A customer read as the contract's Customer, in JSON: the document PostgreSQL built (with the SQL
    sections providers' sections) with its sealed personal id opened in place, plus the sections of the
    providers that are Python, which need the customer as an object: then the document is parsed and
    serialised again."""
    document = row["document"]
    if row.get("personal_id_sealed") is not None:
        document = personal_ids.place(document, row["customer_id"], row["personal_id_key"], row["personal_id_sealed"])
    if not plugins.active().sections:
        return document
    customer = json.loads(document)
    customer["sections"] += plugins.extra_sections(conn, customer)
    return json.dumps(customer, ensure_ascii=False)


def search(conn: Connection, key_type: str, key: str, region: str, *, read=sql.read) -> list[str]:
    """The customers found, in JSON (one, or none)."""
    value = keys.for_search(key_type, key, region)
    if value is None:
        return []
    keyring = personal_ids.active()
    index = keyring.index(value) if key_type == "personal_id" and keyring is not None else None
    return [to_wire(conn, row) for row in store.find(conn, _statements()[f"find_by_{key_type}"], value, read, index)]


def get(conn: Connection, customer_id: uuid.UUID, *, read=sql.read) -> str:
    """The customer, in JSON."""
    row = store.get(conn, _statements()["get"], customer_id, read)
    if row is None:
        raise NotFound("Customer not found")
    return to_wire(conn, row)


def customer_document(conn: Connection, customer_id: uuid.UUID) -> dict:
    """The customer as the SPI shows it, as an object (for the worker, outside any request)."""
    return json.loads(get(conn, customer_id))


def exists(conn: Connection, customer_id: uuid.UUID) -> bool:
    """A live (not erased) customer has this id."""
    return store.exists(conn, customer_id)


def id_by_member_number(conn: Connection, member_number: str) -> uuid.UUID | None:
    return store.id_by_member_number(conn, member_number)


def id_by_alias(conn: Connection, alias: str) -> uuid.UUID | None:
    """The live customer an old system knew by `alias` (an import's `customer_id` that is not a UUID)."""
    return store.id_by_alias(conn, alias, ("import",))


def current_id(conn: Connection, customer_id: uuid.UUID) -> uuid.UUID | None:
    """The live customer an id names now: itself, or the customer it was merged into (`merge`); None for an
    erased or unknown one. For the ids a till or Sitoo still has (an order's crm-customerid)."""
    return store.current_id(conn, customer_id)


def resolve_id(conn: Connection, raw: str) -> uuid.UUID:
    """The customer a path's id names: a UUID as it is (the read finds it or answers 404), any other value
    through the aliases; NotFound when none has it."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        pass
    customer_id = store.id_by_alias(conn, raw, ("import",)) if len(raw) <= KEY_MAX_LENGTH else None
    if customer_id is None:
        raise NotFound("Customer not found")
    return customer_id


def personal_keys(conn: Connection, customer_id: uuid.UUID) -> dict:
    """The customer's normalised personal search keys (`personal_id`, `mobile`, `email`; None where it has
    none), its personal id opened: what another area that files records under these keys (the person
    registry) matches them by."""
    row = store.search_keys(conn, customer_id)
    if row is None:
        return {"personal_id": None, "mobile": None, "email": None}
    personal_id = row["personal_id_norm"]
    if row["personal_id_sealed"] is not None:
        personal_id = keys.identifier(personal_ids.open_stored(customer_id, row["personal_id_key"],
                                                               row["personal_id_sealed"]))
    return {"personal_id": personal_id, "mobile": row["mobile"], "email": row["email_norm"]}


def new_member_number(conn: Connection, digits: int | None) -> str:
    """A member number no live customer holds: `digits` random digits with a check digit (keys.py), or with
    None the next of the sequence (consecutive numbers, which a client can walk: CRM_MEMBER_NUMBER_DIGITS)."""
    if digits is None:
        return store.next_member_number(conn)
    while True:  # at a million customers of 900 million numbers, the first of ten candidates is free
        number = store.free_member_number(conn, keys.random_member_numbers(digits, 10))
        if number:
            return number


def create(conn: Connection, data: dict, region: str, customer_id: uuid.UUID | None = None,
           member_number_digits: int | None = None) -> tuple[uuid.UUID, str]:
    """A new customer: its id, and it in JSON. `customer_id` is for imports that keep the ids of another
    system; the POS never sets it. Without a `member_number` it gets a new one (`new_member_number`)."""
    catalog.check_choices(conn, data.get("consents", []), data.get("additional_options", []), creating=True)
    row = normalised({field: data.get(field) for field in PROFILE_FIELDS}, region)
    row["store_id_home"] = data.get("store_id_home")
    row["customer_id"] = customer_id = customer_id or uuid.uuid4()  # known before the insert: it seals the personal id
    if not row["member_number"]:
        row["member_number"] = new_member_number(conn, member_number_digits)
    customer_id = store.insert(conn, _sealed(conn, row, customer_id))
    catalog.set_choices(conn, customer_id, data.get("consents") or [], data.get("additional_options") or [])
    record_event(conn, "created", customer_id)
    return customer_id, get(conn, customer_id)


def update(conn: Connection, customer_id: uuid.UUID, data: dict, region: str) -> str:
    """A field absent from the request keeps its stored value; a field given replaces it (null clears it)."""
    current = store.lock(conn, customer_id)
    if current is None:
        raise NotFound("Customer not found")
    if "member_number" in data and not data["member_number"]:
        raise BadRequest("member_number: A customer always has a member number; it cannot be cleared.")
    catalog.check_choices(conn, data.get("consents"), data.get("additional_options"), creating=False)
    if current["personal_id_sealed"] is not None and "personal_id" not in data:
        current = {**current, "personal_id": personal_ids.open_stored(customer_id, current["personal_id_key"],
                                                                      current["personal_id_sealed"])}
    profile = {field: data[field] if field in data else current[field] for field in PROFILE_FIELDS}
    store.update(conn, customer_id, _sealed(conn, normalised(profile, region), customer_id))
    catalog.set_choices(conn, customer_id,
                        data["consents"] or [] if "consents" in data else None,
                        data["additional_options"] or [] if "additional_options" in data else None)
    record_event(conn, "updated", customer_id)
    return get(conn, customer_id)


def set_tier(conn: Connection, customer_id: uuid.UUID, status: dict | None, voucher_passwords: list[str]) -> None:
    """The loyalty program's tier: its status (None: no tier), unless the back office set one by hand (the
    tier sets it when the customer has none, or the back office handed it to the tier), and the voucher
    passwords it adds to the customer's own."""
    store.set_tier(conn, customer_id, status, voucher_passwords)


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
        "status_by_tier": data["status_by_tier"] if "status_by_tier" in data else (
            False if "status" in data else current["status_by_tier"]),
        "voucher_passwords": data.get("voucher_passwords", current["voucher_passwords"]) or [],
        "sections": data.get("sections", current["sections"]) or [],
        "store_id_home": data.get("store_id_home", current["store_id_home"]),
    })
    record_event(conn, "updated", customer_id)
    return get(conn, customer_id)


# --- the data subject (GDPR) ----------------------------------------------------------------------------------

def subject_access(conn: Connection, customer_id: uuid.UUID) -> dict:
    """Everything the CRM holds about a live customer: the customer as the SPI shows it, then what each area
    registered with personal_data.py holds."""
    customer = json.loads(get(conn, customer_id))
    return {"customer": customer,
            "held": {holder.name: holder.export(conn, customer_id) for holder in personal_data.holders()}}


def erase(conn: Connection, customer_id: uuid.UUID) -> dict:
    """Forget the customer's personal data: each area's (personal_data.py), then the customer's own fields.
    What accounting needs stays (transactions, redeems, the points ledger), under the customer id, which no
    read or search finds any more. Idempotent: erasing an erased customer changes nothing and answers when
    it was erased. The customer hooks hear of it."""
    if store.lock(conn, customer_id) is None:
        return {"customer_id": str(customer_id), "erased_at": store.erased_at(conn, customer_id)}
    for holder in personal_data.holders():
        if holder.erase is not None:
            holder.erase(conn, customer_id)
    erased_at = store.erase(conn, customer_id)
    record_event(conn, "erased", customer_id)
    return {"customer_id": str(customer_id), "erased_at": erased_at}


def merge(conn: Connection, customer_id: uuid.UUID, raw_merged: str) -> str:
    """Merge the duplicate `raw_merged` into the customer: what every area holds of the duplicate moves
    (personal_data.py: transactions, promotions, bonus checks and redeems, consents and option values, points,
    events), the customer keeps its own profile and member number, and the duplicate's row is emptied as an
    erasure empties it. Its member number becomes the customer's alias (a search by it finds the customer),
    and its id names the customer where a till or Sitoo still has it (an undo, an order). The customer
    hooks hear of it. A merge into itself, or of an erased or unknown duplicate, is a 400."""
    try:
        merged = uuid.UUID(raw_merged)
    except ValueError:
        raise BadRequest("from: Not a valid customer id.") from None
    if merged == customer_id:
        raise BadRequest("from: A customer cannot be merged into itself.")
    loyalty.lock_customers(conn, [customer_id, merged])
    if not store.exists(conn, customer_id):
        raise NotFound("Customer not found")
    if not store.exists(conn, merged):
        raise BadRequest("from: No live customer has this id (an erased or merged one cannot be merged).")
    for holder in personal_data.holders():
        if holder.merge is not None:
            holder.merge(conn, customer_id, merged)
    store.merge_aliases(conn, customer_id, merged)
    store.erase(conn, merged, merged_into=customer_id)
    record_event(conn, "merged", customer_id, merged_customer_id=merged)
    return get(conn, customer_id)


personal_data.register("aliases", export=store.aliases_of)  # kept at an erasure: they recognise a re-import


ROTATION_PAGE = 500


def seal_personal_ids(conn: Connection, keyring: personal_ids.Keyring, on_page=None) -> dict:
    """`crm-provider keys rotate`: every personal id stored in plain (before the release that seals them) or
    sealed with another key than the keyring's first, sealed with that one. A page of customers per
    transaction, so that it can stop anywhere and go on where it stopped (what is done no longer matches);
    rows another transaction holds are skipped and found by the next run. A plain personal id that another
    customer holds sealed is left in plain and counted as a `duplicate` (ids in the log, never values).
    `conn` in autocommit; `on_page(done)` after each page. Returns the counts."""
    counts = {"sealed": 0, "duplicates": 0}
    after = uuid.UUID(int=0)
    while True:
        with conn.transaction():
            page = store.personal_ids_to_seal(conn, keyring.current, after, ROTATION_PAGE)
            for row in page:
                plain = row["personal_id"]
                if plain is None:
                    plain = keyring.open(row["customer_id"], row["personal_id_key"], bytes(row["personal_id_sealed"]))
                norm = row["personal_id_norm"] or keys.identifier(plain)
                try:
                    with conn.transaction():
                        store.seal_personal_id(conn, row["customer_id"], seal(keyring, row["customer_id"], plain, norm))
                    counts["sealed"] += 1
                except store.Duplicate:
                    counts["duplicates"] += 1
                    log.warning("customer %s: its personal id is another customer's (sealed), left in plain",
                                row["customer_id"])
        if not page:
            return counts
        after = page[-1]["customer_id"]
        if on_page:
            on_page(len(page))
