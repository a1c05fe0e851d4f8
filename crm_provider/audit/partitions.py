"""The audit log's months (migration 0018): partitions made ahead, retention, and the move of a log from before
partitioning. The one way rows ever leave the log is a month's partition dropped here.

- `ensure` makes this month's partition and the next MONTHS_AHEAD, and one for any month whose rows the default
  partition took (audit_log_add_month moves them in). The worker runs it daily, as the application role: the
  function has the owner's rights.
- `drop_expired` drops each month that ended more than CRM_AUDIT_RETENTION_MONTHS months ago, oldest first, a
  transaction each, as the owner. The hash chain (chain.py) is cut first, in the same transaction: it goes on
  from the month's last seal below every kept row, which becomes an anchor; the seals up to it go, and a sealed
  row of the month above the cut gets an anchor that says it was removed on purpose, so that `audit verify`
  still passes. The drop comes last, so that the log's writes wait on its lock for the commit only.
- `move` copies an unpartitioned log (a database migrated with rows in it) into `audit_log_partitioned` in
  batches of id ranges while the service writes on, then swaps the two in one short transaction
  (audit_log_swap). A batch copies ids up to a ceiling only once every transaction that could still commit a
  row below it has ended, so that no row is passed by; the resume point is the highest id copied, so that
  an interrupted move goes on where it stopped.

Each is safe when two run at once (an advisory lock; the chain's lock for a cut, which the seal takes too).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Callable

from psycopg import Connection, errors, sql

from .store import Q

log = logging.getLogger(__name__)

MONTHS_AHEAD = 3  # as audit_log_swap's
MOVE_BATCH = 20_000
LOCK_TIMEOUT = "2s"  # a DDL lock waited for longer holds up every request's audit row behind it
LOCK_TRIES = 5
SETTLE_POLL_SECONDS = 0.2


def _with_lock_timeout(conn: Connection, work: Callable[[], object]):
    """`work()` in a transaction whose DDL waits LOCK_TIMEOUT at most for its lock, tried LOCK_TRIES times."""
    for attempt in range(LOCK_TRIES):
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                return work()
        except errors.LockNotAvailable:
            if attempt == LOCK_TRIES - 1:
                raise
            time.sleep(1 + attempt)


def partitioned(conn: Connection) -> bool:
    return conn.execute(Q.partitioned).fetchone()["partitioned"]


def ensure(conn: Connection, since: datetime | None = None) -> list:
    """Add the months' partitions that are missing (from `since` on, if given); the months added."""
    parent = "audit_log" if partitioned(conn) else "audit_log_partitioned"

    def add() -> list:
        conn.execute(Q.lock_partitions)
        months = [row["month"] for row in conn.execute(Q.months_to_add, {"since": since, "ahead": MONTHS_AHEAD})]
        return [month for month in months
                if conn.execute(Q.add_month, {"parent": parent, "month": month}).fetchone()["added"]]

    return _with_lock_timeout(conn, add)


def drop_expired(conn: Connection, months: int, now: datetime | None = None) -> list[str]:
    """Drop the months that ended more than `months` months before `now`; their names. The owner's to do."""
    if not partitioned(conn):
        return []
    now = now or datetime.now(timezone.utc)
    dropped = []
    for month in conn.execute(Q.expired_partitions, {"now": now, "months": months}).fetchall():
        partition = sql.Identifier(month["name"])

        def drop() -> bool:
            conn.execute(Q.lock_chain)
            if conn.execute(Q.partition_exists, {"name": month["name"]}).fetchone()["there"]:
                conn.execute(sql.SQL(Q.cut_chain).format(partition=partition),
                             {"upper": month["upper"], "reason": f"retention: {month['name']} dropped"})
                conn.execute(sql.SQL(Q.drop_partition).format(partition=partition))
                return True
            return False  # another maintenance dropped it

        if _with_lock_timeout(conn, drop):
            log.info("audit log partition dropped: %s", month["name"])
            dropped.append(month["name"])
    return dropped


def move(conn: Connection, progress: Callable[[int, int], None] = lambda copied, total: None) -> bool:
    """Move an unpartitioned audit log into partitions, online (`conn` in autocommit); False when there is
    none to move. `progress(copied, total)` after each batch."""
    if partitioned(conn):
        return False
    ensure(conn, since=conn.execute(Q.move_first_month).fetchone()["since"])
    while True:
        mark = conn.execute(Q.move_mark).fetchone()
        ceiling, after = mark["ceiling"] or 0, mark["copied"]
        if ceiling - after <= MOVE_BATCH:
            break  # the rest is copied under the swap's lock
        while not conn.execute(Q.move_settled, {"snapshot": mark["snapshot"]}).fetchone()["settled"]:
            time.sleep(SETTLE_POLL_SECONDS)
        while after < ceiling:
            upto = min(after + MOVE_BATCH, ceiling)
            with conn.transaction():
                conn.execute(Q.move_rows, {"after": after, "upto": upto})
            after = upto
            progress(after, ceiling)
    _with_lock_timeout(conn, lambda: conn.execute(Q.swap))
    log.info("audit log moved into partitions")
    return True
