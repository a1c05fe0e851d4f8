"""Named SQL: each area keeps its statements in `queries.sql`, parsed once at import.

    -- name: valid_now
    (item.valid_from IS NULL OR item.valid_from <= now()) AND (item.valid_to IS NULL OR item.valid_to > now())

    -- name: lock_promotions
    SELECT ... FROM promotions item WHERE ... AND {valid_now}

`load(__file__)` next to a store module returns an object whose attributes are the statements. A statement
may include another of the same file by its name in braces (`{valid_now}`), so that a rule used by several
statements is written once; braces that name no statement of the file are left as they are, for the code
that composes the statement further (customers/document.py).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from types import SimpleNamespace

import psycopg

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_INCLUDE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
# Comment lines after a statement introduce the next ones: not part of it (a fragment filled into another
# statement would otherwise comment out what follows it there).
_TRAILING_COMMENTS = re.compile(r"(\n\s*--[^\n]*)+\s*$")
_PLACEHOLDER = re.compile(r"%%|%\(([A-Za-z_][A-Za-z0-9_]*)\)s|%")


def parse(text: str) -> dict[str, str]:
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = _TRAILING_COMMENTS.sub("", body.strip()).rstrip(";")
    resolved: dict[str, str] = {}

    def resolve(name: str, using: tuple[str, ...] = ()) -> str:
        if name in using:
            raise ValueError(f"query {name!r} includes itself ({' -> '.join((*using, name))})")
        if name not in resolved:
            resolved[name] = _INCLUDE.sub(
                lambda m: resolve(m.group(1), (*using, name)) if m.group(1) in queries else m.group(0),
                queries[name])
        return resolved[name]

    return {name: resolve(name) for name in queries}


def load(module_file: str, filename: str = "queries.sql") -> SimpleNamespace:
    path = Path(module_file).with_name(filename)
    return SimpleNamespace(**parse(path.read_text(encoding="utf-8")))


def fill(query: str, parts: dict[str, str]) -> str:
    """`query` with each `{name}` of `parts` replaced by that part's SQL; a brace left unfilled is an error."""
    filled = _INCLUDE.sub(lambda m: parts.get(m.group(1), m.group(0)), query)
    left = _INCLUDE.findall(filled)
    if left:
        raise ValueError(f"no SQL for {', '.join(sorted(set(left)))}")
    return filled


@functools.cache
def native(query: str) -> tuple[bytes, tuple[str, ...]]:
    """`query`, its `%(name)s` placeholders turned into PostgreSQL's own (`$1`, a name used twice is one
    number) and `%%` into `%`, as bytes; and the names in the order of their numbers. Done once per query."""
    names: list[str] = []

    def placeholder(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None:
            raise ValueError(f"a lone % at {match.start()}: write a literal % as %%")
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(placeholder, query).encode(), tuple(names)


def execute(conn: psycopg.Connection, query: str, params: dict) -> psycopg.Cursor:
    """`conn.execute(query, params)` for the long composed statements of the hot path (a customer read is
    about 6 kB of SQL). psycopg converts its placeholders on every execution of a statement over 4 kB
    (shorter ones it caches): measured, 70 µs of a search's CPU. Here the conversion is done once (`native`)
    and the statement runs on psycopg's RawCursor, which takes PostgreSQL's placeholders as they are."""
    text, names = native(query)
    cursor = psycopg.RawCursor(conn, row_factory=conn.row_factory)
    return cursor.execute(text, [params[name] for name in names])


def read(conn: psycopg.Connection, query: str, params: dict, *, status_if_none: int = 200) -> list[dict]:
    """A read's rows, plainly: the default `read` of the stores whose reads a unit of work may audit instead
    (UnitOfWork.read takes the same arguments)."""
    return execute(conn, query, params).fetchall()
