"""Person registry storage: thin functions over the named queries in queries.sql. No transactions here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from psycopg import Connection
from psycopg.types.json import Jsonb

from .. import sql

Q = sql.load(__file__)

_FIND = {
    "personal_id": Q.find_by_personal_id,
    "mobile": Q.find_by_mobile,
    "email": Q.find_by_email,
    "company_id": Q.find_by_company_id,
}
KEY_TYPES = tuple(_FIND)
COLUMNS = ("personal_id_norm", "mobile", "email_norm", "company_id_norm")


def find(conn: Connection, key_type: str, key: str) -> list[dict]:
    return [row["person"] for row in conn.execute(_FIND[key_type], {"key": key}).fetchall()]


def delete_all(conn: Connection) -> None:
    conn.execute(Q.delete_all)


def records_of(conn: Connection, personal_keys: dict) -> list:
    return conn.execute(Q.records_of, personal_keys).fetchone()["held"]


def delete_records_of(conn: Connection, personal_keys: dict) -> None:
    conn.execute(Q.delete_records_of, personal_keys)


def analyze(conn: Connection) -> None:
    conn.execute(Q.analyze)


def delete_matching(conn: Connection, row: dict) -> None:
    conn.execute(Q.delete_matching, {column: row[column] for column in COLUMNS})


@contextmanager
def writer(conn: Connection) -> Iterator[Callable[[dict], None]]:
    """`write(row)` for many rows: COPY, the fastest way in for a registry of millions."""
    with conn.cursor() as cur, cur.copy(Q.copy_in) as copy:
        yield lambda row: copy.write_row([*(row[column] for column in COLUMNS), Jsonb(row["person"])])
