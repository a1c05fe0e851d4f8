"""Person lookup: asking the configured lookup provider, and the built-in one, the person registry.

The registry holds public person records, filled from CSV files (`crm-provider lookup import`). Its keys are
normalised the way customer keys are (keys.py), so `0701112233` finds `+46701112233` in both.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from marshmallow import ValidationError
from psycopg import Connection

from .. import keys, personal_data
from ..api import describe
from ..customers import service as customers
from ..errors import BadGateway, CrmError, GatewayTimeout, NotImplementedByProvider
from ..plugins import LookupProvider
from . import store
from .schemas import LookupCustomerSchema

log = logging.getLogger(__name__)

# The CSV columns of `crm-provider lookup import` (header row required, any order, all optional).
PERSON_COLUMNS = ("personal_id", "name_first", "name_last", "email", "mobile", "phone", "company", "company_id",
                  "birthday", "gender")
ADDRESS_COLUMNS = ("address", "address2", "zip", "city", "state", "country_id")  # the invoice address
CSV_COLUMNS = PERSON_COLUMNS + ADDRESS_COLUMNS
_PERSON = LookupCustomerSchema()


def lookup(conn: Connection, provider: LookupProvider | None, key_type: str, key: str, *, settings) -> list[dict]:
    """Ask the provider; its failures become 502 (it failed, or answered what the contract does not allow)
    or 504 (it was too slow)."""
    if provider is None:
        raise NotImplementedByProvider("Person lookup is not configured (CRM_LOOKUP_PROVIDER)")
    try:
        found = provider.lookup(conn, key_type, key, region=settings.default_region, settings=settings)
    except (CrmError, psycopg.Error):
        raise  # its own answer, or the database's (503), as for any request
    except TimeoutError:
        raise GatewayTimeout("The lookup provider did not answer in time") from None
    except Exception as error:
        log.warning("lookup provider failed: %s", type(error).__name__)
        raise BadGateway("The lookup provider failed") from None
    try:  # whoever wrote the provider, the POS gets the contract's Customer objects
        if not isinstance(found, list):
            raise ValidationError("not a list")
        return _PERSON.load(found, many=True)
    except ValidationError:
        raise BadGateway("The lookup provider answered something that is not a list of customers") from None


class RegistryProvider:
    """The built-in lookup provider `registry`: the person_registry table. Member numbers are a CRM's
    own, so the registry finds nobody by one."""

    def lookup(self, conn: Connection, key_type: str, key: str, *, region: str = "SE", **kwargs) -> list[dict]:
        value = keys.for_search(key_type, key, region)
        if value is None or key_type not in store.KEY_TYPES:
            return []
        return store.find(conn, key_type, value)


class Rejected(ValueError):
    """A person record that cannot go into the registry; the reason names fields, never values."""


def registry_row(person: dict, region: str) -> dict:
    """A person (contract Customer shape) as a registry row: validated, phones in E.164, keys normalised."""
    try:
        loaded = _PERSON.load(person)
    except ValidationError as error:
        raise Rejected("; ".join(describe(error.messages))) from None
    for name in ("mobile", "phone"):
        if loaded.get(name):
            try:
                loaded[name] = keys.phone(loaded[name], region)
            except ValueError as error:
                raise Rejected(f"{name}: {error}") from None
    row = {
        "personal_id_norm": keys.identifier(loaded["personal_id"]) if loaded.get("personal_id") else None,
        "mobile": loaded.get("mobile"),
        "email_norm": keys.email(loaded["email"]) if loaded.get("email") else None,
        "company_id_norm": keys.identifier(loaded["company_id"]) if loaded.get("company_id") else None,
    }
    if not any(row.values()):
        raise Rejected("no search key: a personal_id, mobile, email or company_id is needed")
    row["person"] = _PERSON.dump(loaded)
    return row


def put_person(conn: Connection, person: dict, region: str) -> None:
    """Store one person, replacing the records that share a search key with it (the demo's way: idempotent)."""
    row = registry_row(person, region)
    store.delete_matching(conn, row)
    with store.writer(conn) as write:
        write(row)


def check_columns(columns: Iterable[str] | None) -> None:
    """Refuse a CSV header with columns this importer does not know (a typo would drop a field silently)."""
    unknown = [c for c in columns or [] if c not in CSV_COLUMNS]
    if not columns or unknown:
        raise ValueError(f"unknown columns {', '.join(map(repr, unknown))}; the columns are: {', '.join(CSV_COLUMNS)}"
                         if unknown else "the file has no header row")


def person_from_csv(row: dict) -> dict:
    """A CSV row (column -> cell) as a person; empty cells are absent fields."""
    if None in row:
        raise Rejected("more cells than columns")
    cells = {column: value.strip() for column, value in row.items() if value and value.strip()}
    person = {column: cells[column] for column in PERSON_COLUMNS if column in cells}
    address = {column: cells[column] for column in ADDRESS_COLUMNS if column in cells}
    if address:
        person["invoice_address"] = address
    return person


@dataclass
class ImportResult:
    imported: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> rows
    lines: dict = field(default_factory=dict)  # reason -> the first few line numbers

    def reject(self, line: int, reason: str) -> None:
        self.rejected[reason] += 1
        self.lines.setdefault(reason, [])
        if len(self.lines[reason]) < 5:
            self.lines[reason].append(line)

    def report(self) -> list[str]:
        lines = [f"imported {self.imported} persons, rejected {sum(self.rejected.values())}"]
        for reason, count in self.rejected.most_common():
            lines.append(f"  {count} rejected: {reason} (lines {', '.join(map(str, self.lines[reason]))}"
                         f"{', ...' if count > len(self.lines[reason]) else ''})")
        return lines


def import_persons(conn: Connection, rows: Iterable[tuple[int, dict]], region: str, *, replace: bool) -> ImportResult:
    """Fill the registry from CSV rows `(line number, row)`; `replace` empties it first.

    Rows that cannot be stored are counted by reason and skipped. The caller's transaction makes the import
    all-or-nothing: lookups see the old registry until it commits.
    """
    result = ImportResult()
    if replace:
        store.delete_all(conn)
    with store.writer(conn) as write:
        for line, row in rows:
            try:
                write(registry_row(person_from_csv(row), region))
            except Rejected as rejected:
                result.reject(line, str(rejected))
            else:
                result.imported += 1
    store.analyze(conn)
    return result


def _records_of(conn: Connection, customer_id) -> list:
    return store.records_of(conn, customers.personal_keys(conn, customer_id))


def _forget(conn: Connection, customer_id) -> None:
    """An erasure forgets the registry's records of the person too (a later `lookup import` of a public
    register may bring them back: they are that register's, not the customer's)."""
    store.delete_records_of(conn, customers.personal_keys(conn, customer_id))


personal_data.register("person_registry", export=_records_of, erase=_forget)
