"""The unit of work of one HTTP request: its connection, its transaction, its audit row, its commit.

A route opens it around the service call it makes, and everything a request does to the database happens
inside, in this order:

    with unit_of_work(customer_id=cid) as work:          # a pooled connection; BEGIN unless the request reads
        result = service.update(work.conn, cid, data)    # the service's statements, in that transaction
        work.note(redeem_id=...)                         # what the audit row should name
    # leaving the block: `INSERT audit row; COMMIT` in one round trip, and the connection goes back

- **A change** (any method but GET and HEAD) is one transaction, begun when the block opens. Leaving the
  block normally, the audit row joins the transaction and both commit together, durably; the answer
  leaves only after COMMIT returned, and a COMMIT that fails is a 503 (`Unavailable`). Leaving it by an
  exception rolls back everything the request did and writes the audit row alone, with the status that
  exception is answered with (`errors.status_of`).
- **A read** runs each statement on its own (a statement is atomic; a read gains nothing from a
  transaction but a BEGIN round trip). The read that answers the request goes through `work.read`, which
  writes the audit row in that same statement (one round trip); should the answer end with another status
  after all (a sections provider failing), a second row records it. A read's audit row commits without
  waiting for the WAL flush (`synchronous_commit = off` on the pool's connections): a crash may lose the
  last fraction of a second of read audit rows, never an acknowledged change.
- A request refused before its route ran (credentials, a malformed body, an unknown id) has no unit of
  work: `audit.service.record_refusal` writes its row.

Requests of scopes the audit log does not record (the events webhook) get the same transaction and commit,
without the row.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import psycopg
from flask import g, request

from .. import errors, sql
from ..db import BEGIN_DURABLE, READ_METHODS, get_db
from . import service as audit
from . import store as audit_store

log = logging.getLogger(__name__)
IDLE = psycopg.pq.TransactionStatus.IDLE


class UnitOfWork:
    def __init__(self, conn: psycopg.Connection, *, changes: bool, status: int, customer_id=None):
        self.conn = conn
        self.changes = changes
        self.status = status  # the route's success status
        self.customer_id = None if customer_id is None else str(customer_id)
        self.detail: dict = {}
        self.read_status: int | None = None  # the status the audited read recorded, if there was one

    def note(self, *, customer_id=None, **detail) -> None:
        """What this request concerns, for its audit row (ids only, never personal data)."""
        if customer_id is not None:
            self.customer_id = str(customer_id)
        self.detail.update(detail)

    def read(self, conn: psycopg.Connection, query: str, params: dict, *, status_if_none: int = 200) -> list[dict]:
        """The rows of `query` (they have a `customer_id`): for a read request, with the request's audit row
        in the same statement. Its status is 200 when rows were found and `status_if_none` when not (404 for
        a get by id); its customer is the one noted, else the one found. Note before reading: the row is
        written here. For a change, or once the row is written, a plain query."""
        row = None
        if not self.changes and self.read_status is None:
            row = audit.row(200, self.customer_id, self.detail)
        if row is None:
            return sql.read(conn, query, params)
        rows = audit_store.audited_read(conn, query, params, row, status_if_none)
        self.read_status = 200 if rows else status_if_none
        return rows

    def finish(self, status: int) -> None:
        """End the work answered with `status`: commit with the audit row, or roll back and write it alone."""
        row = None if self.read_status == status else audit.row(status, self.customer_id, self.detail)
        in_transaction = self.conn.info.transaction_status != IDLE
        statements = ["ROLLBACK"] if in_transaction and status >= 400 else []
        if row is not None:
            statements.append(audit_store.insert_statement(self.conn, row))
        if in_transaction and status < 400:
            statements.append("COMMIT")
        if statements:
            self.conn.execute(";\n".join(statements))  # a line each: a statement's trailing comment ends with it


def _conn_is_broken(conn: psycopg.Connection) -> bool:
    return conn.closed or conn.info.transaction_status == psycopg.pq.TransactionStatus.UNKNOWN


@contextmanager
def unit_of_work(*, customer_id=None, status: int = 200) -> Iterator[UnitOfWork]:
    """The request's unit of work (module docstring). `status` is the route's success status (201 for a
    create, 204 for a delete); `customer_id` the customer the request concerns, when known already."""
    database = get_db()
    conn = database.getconn()
    g.audit_recorded = True  # whatever happens now, this block records the request (or the database is gone)
    changes = request.method not in READ_METHODS
    try:
        if changes:
            conn.execute(BEGIN_DURABLE)
        work = UnitOfWork(conn, changes=changes, status=status, customer_id=customer_id)
        try:
            yield work
        except BaseException as error:
            _finish_failed(work, errors.status_of(error), error)
            raise
        try:
            work.finish(status)
        except psycopg.Error as error:  # the commit is the acknowledgement: a success that did not commit is none
            log.warning("request not committed: %s", type(error).__name__)
            raise errors.Unavailable("Database unavailable, try again",
                                     headers={"Retry-After": errors.RETRY_AFTER_SECONDS}) from None
    finally:
        if not _conn_is_broken(conn) and conn.info.transaction_status != IDLE:
            try:
                conn.rollback()
            except psycopg.Error:
                pass
        database.putconn(conn)


def _finish_failed(work: UnitOfWork, status: int, error: BaseException) -> None:
    if errors.is_database_unavailable(error):
        return  # no audit row: the database is not there to take it
    try:
        work.finish(status)
    except psycopg.Error as failure:
        log.warning("audit row of a failed request not written: %s", type(failure).__name__)
