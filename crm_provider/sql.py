"""Named SQL: each area keeps its statements in `queries.sql`, parsed once at import.

    -- name: find_by_member_number
    SELECT ... WHERE member_number = %(key)s

`load(__file__)` next to a store module returns an object whose attributes are the statements.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = body.strip().rstrip(";")
    return queries


def load(module_file: str, filename: str = "queries.sql") -> SimpleNamespace:
    path = Path(module_file).with_name(filename)
    return SimpleNamespace(**parse(path.read_text(encoding="utf-8")))
