"""Tamper evidence: the audit log sealed into a hash chain, and the check of it.

`seal` (run by the worker every minute, audit/worker.py) takes the rows after the chain's head in id order and
stores for each `digest = SHA-256(previous digest || the row's canonical text)`, starting from GENESIS (or from
an anchor, where old rows were removed on purpose: a month dropped by partitions.drop_expired). Rows are sealed once they are `SETTLE_SECONDS` old: an id
is taken at insert and a request's row commits with it, so after that no row with a smaller id can still
appear. Chaining at insert instead would serialise every request on the chain's head.

`verify` (`crm-provider audit verify`) recomputes the chain: a sealed row whose text changed is `altered`,
one that is gone is `removed` (unless an anchor at its id says that the retention removed it), one below the head without a seal is `unsealed`. Someone who can rewrite both
the rows and every digest after them (the database owner) can forge a chain; against that, `seal` logs the
head's digest each time, so the logs outside the database hold the chain's past heads to compare.
"""

from __future__ import annotations

import hashlib
import logging

from psycopg import Connection

from .store import Q

log = logging.getLogger(__name__)

GENESIS = hashlib.sha256(b"crm-provider audit chain").digest()
SETTLE_SECONDS = 60
BATCH = 5000


def _utc(conn: Connection) -> None:
    conn.execute("SET LOCAL TimeZone = 'UTC'")  # the canonical text of a timestamp


def seal(conn: Connection, settle_seconds: float = SETTLE_SECONDS, batch: int = BATCH) -> int:
    """Seal what is ready, in batches of `batch` rows; the number of rows sealed. Safe when two run at once."""
    sealed = 0
    while True:
        with conn.transaction():
            _utc(conn)
            conn.execute(Q.lock_chain)
            head = conn.execute(Q.chain_head).fetchone()
            after, digest = (head["audit_id"], bytes(head["digest"])) if head else (0, _start(conn))
            rows = conn.execute(Q.rows_to_seal, {"after": after, "settle_seconds": settle_seconds,
                                                 "limit": batch}).fetchall()
            if not rows:
                break
            ids, digests = [], []
            for row in rows:
                digest = hashlib.sha256(digest + row["canonical"].encode()).digest()
                ids.append(row["audit_id"])
                digests.append(digest)
            conn.execute(Q.insert_seals, {"audit_ids": ids, "digests": digests})
        sealed += len(rows)
        log.info("audit chain sealed up to row %s: %s", ids[-1], digests[-1].hex())
        if len(rows) < batch:
            break
    return sealed


def _start(conn: Connection) -> bytes:
    anchor = conn.execute("SELECT digest FROM audit_anchors ORDER BY audit_id DESC LIMIT 1").fetchone()
    return bytes(anchor["digest"]) if anchor else GENESIS


def verify(conn: Connection) -> list[dict]:
    """What does not match the chain: [{"audit_id", "problem": altered | removed | unsealed}], first 100 each."""
    problems: list[dict] = []
    with conn.transaction():
        _utc(conn)
        anchor = conn.execute(Q.first_anchor).fetchone()
        previous = bytes(anchor["digest"]) if anchor else GENESIS
        with conn.cursor(name="audit_chain_verify") as cursor:
            cursor.itersize = BATCH
            cursor.execute(Q.sealed_rows)
            for row in cursor:
                digest = bytes(row["digest"])
                if row["canonical"] is None:
                    if not row["anchored"]:
                        problems.append({"audit_id": row["audit_id"], "problem": "removed"})
                elif hashlib.sha256(previous + row["canonical"].encode()).digest() != digest:
                    problems.append({"audit_id": row["audit_id"], "problem": "altered"})
                previous = digest  # one altered row is one finding, not every row after it
        problems += [{"audit_id": row["audit_id"], "problem": "unsealed"}
                     for row in conn.execute(Q.unsealed_below_head)]
    return problems
