"""The columns other areas add to the customers file (`crm-provider customers import` and `export`,
customers/transfer.py), so that an area's own data about a customer travels with it without any change to
the customers area: the loyalty program adds `bonus_points`, a fork's area its own, by calling `register`
when its module is imported.

A column has
- `parse`: a cell that is not empty -> its value (anything JSON can hold); a ValueError for a bad cell,
  whose text says what is wrong without quoting the cell (the import reports it with the line number);
- `load`: run once per import, after the customers are written, in the import's transaction: it stores the
  values set-based from the import's staging table, the temporary table `customer_import`, whose rows have
  the customer's `customer_id`, `existing` (true: the row updated a customer) and `extra` (jsonb: column
  name -> the parsed value, absent for an empty cell);
- `export`: an SQL expression over the customer's row `c` whose text is the cell (NULL: empty), such that
  importing it gives the same value back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from psycopg import Connection


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[str], Any]
    load: Callable[[Connection], None]
    export: str


_COLUMNS: dict[str, Column] = {}


def register(name: str, *, parse: Callable[[str], Any], load: Callable[[Connection], None], export: str) -> None:
    known = _COLUMNS.get(name)
    if known is not None and known != Column(name, parse, load, export):
        raise ValueError(f"customer column {name!r} is registered already")
    _COLUMNS[name] = Column(name, parse, load, export)


def columns() -> list[Column]:
    return list(_COLUMNS.values())
