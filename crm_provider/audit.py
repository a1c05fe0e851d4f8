"""The audit trail: one row per authenticated SPI or admin request, in the request's own transaction.

Routes say which customer a request concerns (`note(customer_id=...)`); everything else (operation,
status, credential, the tracing headers Store-ID / Staff-ID / Register-ID, URL-decoded) is taken from
the request here. `finish_request` is the end of the unit of work: on success the row joins the
request's transaction and both commit together; on an error the request's changes are rolled back and
the row is written alone. A read writes its row in its own statement instead (`read`): one round trip.
No email, mobile or personal id is ever written here: only ids.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from urllib.parse import unquote

import psycopg
from flask import Flask, Response, g, has_request_context, request
from psycopg.types.json import Jsonb

from . import sql
from .db import READ_METHODS, request_conn
from .errors import unavailable_response

log = logging.getLogger(__name__)
Q = sql.load(__file__, "audit.sql")

AUDITED_SCOPES = {"spi", "admin"}
TRACE_HEADERS = {"store_id": "Store-ID", "staff_id": "Staff-ID", "register_id": "Register-ID"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
_MAX_HEADER_CHARS = 255


def decode_header(raw: str | None) -> str | None:
    """A tracing header as the POS meant it: URL-decoded UTF-8 (`St%C3%B6re%201` -> `Störe 1`).

    WSGI hands headers over as latin-1; a client that sent raw UTF-8 instead of percent-encoding is
    understood too. NUL bytes cannot be stored and are replaced.
    """
    if raw is None:
        return None
    if raw.isascii() and "%" not in raw and "\x00" not in raw:  # most headers: nothing to decode
        return raw[:_MAX_HEADER_CHARS]
    try:
        raw = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    value = unquote(raw, encoding="utf-8", errors="replace").replace("\x00", "\ufffd")
    return value[:_MAX_HEADER_CHARS]


def request_id() -> str:
    rid = g.get("request_id")
    if rid is None:
        given = request.headers.get("X-Request-ID", "")
        rid = g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    return rid


def note(*, customer_id=None, **detail) -> None:
    """Say what this request concerns, for its audit row."""
    if customer_id is not None:
        g.audit_customer_id = str(customer_id)
    if detail:
        g.setdefault("audit_detail", {}).update(detail)


def _row(status: int) -> dict | None:
    if g.get("scope") not in AUDITED_SCOPES or request.url_rule is None:
        return None
    credential = g.get("credential")
    if credential is None and status != 401:
        return None
    return {
        "operation": f"{request.method} {request.url_rule.rule}",
        "customer_id": g.get("audit_customer_id"),
        "http_status": status,
        "request_id": request_id(),
        "credential": (credential or g.get("attempted_user") or "")[:64],
        "authenticated": credential is not None,
        **{column: decode_header(request.headers.get(header)) for column, header in TRACE_HEADERS.items()},
        "detail": Jsonb(g.get("audit_detail")) if g.get("audit_detail") else None,
    }


@functools.cache
def audited_query(query: str) -> str:
    """The statement `read` runs for `query`: the read and its audit row (audit.sql: audited_read)."""
    return Q.audited_read.replace("{read}", query)


def read(conn: psycopg.Connection, query: str, params: dict, *, status_if_none: int = 200) -> list[dict]:
    """The rows of `query` (which have a `customer_id`), read by a GET request together with its audit row,
    in one statement: one round trip instead of two. It commits with the read (reads run in autocommit).

    The row records 200 when the read found rows and `status_if_none` when it did not (404 for a get by
    id); its customer is the one noted, else the one found. finish_request writes no second row when the
    answer has that status. What the route notes after the read (`note`) is not in the row: note first.
    Anywhere else (a write, the CLI, a request already audited) a plain query.
    """
    if not has_request_context() or request.method not in READ_METHODS or g.get("audit_status") is not None:
        return conn.execute(query, params).fetchall()
    row = _row(200)
    if row is None:
        return conn.execute(query, params).fetchall()
    audit = {f"audit_{column}": value for column, value in row.items()}
    rows = conn.execute(audited_query(query), {**params, **audit, "audit_status_if_none": status_if_none}).fetchall()
    g.audit_status = 200 if rows else status_if_none
    return rows


def finish_request(response: Response) -> Response:
    """The end of the unit of work, in one round trip: the audit row, with the request's changes (COMMIT) or
    after them (ROLLBACK). The row's values are bound client-side (psycopg's ClientCursor quoting), since
    several statements go in one simple query."""
    response.headers["X-Request-ID"] = request_id()
    row = None if g.get("audit_status") == response.status_code else _row(response.status_code)
    if row is None and (g.get("db_conn") is None or request.method in READ_METHODS):
        return response  # nothing to write, and a read has no transaction to end
    if g.get("database_unavailable"):
        return response
    try:
        conn = request_conn(begin=False)
        in_transaction = conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        statements = ["ROLLBACK"] if in_transaction and response.status_code >= 400 else []
        if row is not None:
            statements.append(psycopg.ClientCursor(conn).mogrify(Q.insert_audit_row, row))
        if in_transaction and response.status_code < 400:
            statements.append("COMMIT")
        if statements:
            conn.execute(";\n".join(statements))  # a line each: a statement's trailing comment ends with it
    except Exception as error:  # the commit is the acknowledgement: a success that did not commit is no success
        log.warning("request not committed: %s", type(error).__name__)
        try:
            g.db_conn.rollback()
        except (psycopg.Error, AttributeError):
            pass
        if response.status_code < 400:
            return unavailable_response()
    return response


def init_app(app: Flask) -> None:
    app.after_request(finish_request)
