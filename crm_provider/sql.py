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

import re
from pathlib import Path
from types import SimpleNamespace

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_INCLUDE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def parse(text: str) -> dict[str, str]:
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = body.strip().rstrip(";")
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
