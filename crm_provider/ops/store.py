"""Operations storage: the schema version and the events backlog."""

from __future__ import annotations

from psycopg import Connection

from .. import sql

Q = sql.load(__file__)


def schema_versions(conn: Connection) -> set[str]:
    if not conn.execute(Q.schema_version_table).fetchone()["present"]:
        return set()
    return {row["version_num"] for row in conn.execute(Q.schema_versions)}


def events_backlog(conn: Connection) -> int | None:
    if not conn.execute(Q.events_table).fetchone()["present"]:
        return None
    return conn.execute(Q.events_backlog).fetchone()["backlog"]
