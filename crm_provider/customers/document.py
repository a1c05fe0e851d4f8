"""The customer as the SPI shows it, composed: one statement that PostgreSQL answers with the contract's
Customer JSON, built from the members each area owns.

`customers/queries.sql: document` is the object; its braces are filled with the areas' fragments, each an
expression over the customer's row `c`:

- `consents`, `additional_options`: the catalog's (catalog.service.DOCUMENT_PARTS);
- `promotions`, `bonus_checks`: loyalty's, with its one validity rule (loyalty.service.DOCUMENT_PARTS);
- `sections`: the stored back-office sections, then the SQL sections providers' (plugins.SqlSectionsProvider),
  concatenated as JSON arrays in SQL.

A read is then one statement and one round trip, and the document is sent as PostgreSQL wrote it.
"""

from __future__ import annotations

import functools

from .. import sql
from ..catalog.service import DOCUMENT_PARTS as CATALOG_PARTS
from ..loyalty.service import DOCUMENT_PARTS as LOYALTY_PARTS
from . import store

PARTS = {**CATALOG_PARTS, **LOYALTY_PARTS}


def sections(providers_sql: tuple[str, ...]) -> str:
    """The document's `sections`: the stored ones, then each SQL provider's JSON array (NULL for none).
    Providers see the customer as `w` (`w.customer_id`), as plugins.SqlSectionsProvider states."""
    if not providers_sql:
        return "c.sections"
    merged = " || ".join(["c.sections", *(f"COALESCE((\n{provider}\n)::jsonb, '[]')" for provider in providers_sql)])
    return f"(SELECT {merged} FROM (SELECT c.customer_id) AS w)"


@functools.cache
def statements(providers_sql: tuple[str, ...] = ()) -> dict[str, str]:
    """Each read of store.READS (get, find_by_<key type>) with the whole document filled in."""
    parts = {**PARTS, "sections": sections(providers_sql)}
    return {name: sql.fill(query, parts) for name, query in store.READS.items()}
