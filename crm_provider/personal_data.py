"""One seam for a customer's personal data: every area that holds some about a customer registers what it
holds (its part of the subject-access export) and, where it must forget something when the customer is
erased, how. The customers area runs them (customers/service.py: `subject_access`, `erase`); an area that
comes later, or a fork's own, joins both by calling `register` when its module is imported, without any
change here or there.

An export returns JSON values (what a JSON document can hold). An erase runs in the erasure's transaction,
with the customer locked, before the customer's own row is emptied; it forgets personal data and keeps what
accounting needs (a transaction's amounts, a redeem, the points ledger). A merge (`merge(conn, into,
merged)`) moves what the area holds of the duplicate `merged` to the customer `into`, in the merge's
transaction with both locked, before the duplicate's row is emptied.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable

from psycopg import Connection


@dataclass(frozen=True)
class Holder:
    name: str  # its member in the subject-access export
    export: Callable[[Connection, uuid.UUID], Any]
    erase: Callable[[Connection, uuid.UUID], None] | None = None
    merge: Callable[[Connection, uuid.UUID, uuid.UUID], None] | None = None


_HOLDERS: dict[str, Holder] = {}


def register(name: str, *, export: Callable[[Connection, uuid.UUID], Any],
             erase: Callable[[Connection, uuid.UUID], None] | None = None,
             merge: Callable[[Connection, uuid.UUID, uuid.UUID], None] | None = None) -> None:
    """Declare what an area holds about a customer under `name` (one name, one holder)."""
    holder = Holder(name, export, erase, merge)
    known = _HOLDERS.get(name)
    if known is not None and known != holder:
        raise ValueError(f"personal data {name!r} is registered already")
    _HOLDERS[name] = holder


def holders() -> list[Holder]:
    return list(_HOLDERS.values())
