"""Operations storage: the schema version and the events backlog."""

from __future__ import annotations

from psycopg import Connection

from .. import sql

Q = sql.load(__file__)


def schema_versions(conn: Connection) -> set[str]:
    if not conn.execute(Q.schema_version_table).fetchone()["present"]:
        return set()
    return {row["version_num"] for row in conn.execute(Q.schema_versions)}


def has_table(conn: Connection, name: str) -> bool:
    """A schema behind the code (a rolling update) may not have the table yet: metrics still answer."""
    return conn.execute(Q.table_present, {"name": name}).fetchone()["present"]


def events_backlog(conn: Connection) -> int | None:
    if not has_table(conn, "inbound_events"):
        return None
    return conn.execute(Q.events_backlog).fetchone()["backlog"]
