"""The audit trail: one row per authenticated SPI or admin request, and the back office's reading of it.

A row is built from the request (`row`): operation, status, credential, and the tracing headers Store-ID /
Staff-ID / Register-ID, URL-decoded; the route adds which customer it concerns and details (ids only). The
unit of work (work.py) writes it: in the request's own transaction, or in the read's own statement. A
request refused before its route ran (bad credentials, a malformed body, an unknown id) is recorded by
`record_refusal`. No email, mobile or personal id is ever written here: only ids.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

import psycopg
from flask import Response, g, request
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout

from .. import personal_data
from ..db import get_db
from ..observability import request_id
from . import store

log = logging.getLogger(__name__)

AUDITED_SCOPES = {"spi", "admin"}
TRACE_HEADERS = {"store_id": "Store-ID", "staff_id": "Staff-ID", "register_id": "Register-ID"}
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


def trace() -> dict[str, str | None]:
    """The request's Store-ID, Staff-ID and Register-ID, decoded."""
    return {column: decode_header(request.headers.get(header)) for column, header in TRACE_HEADERS.items()}


def row(status: int, customer_id: str | None = None, detail: dict | None = None) -> dict | None:
    """This request's audit row with `status`; None when the request is not audited."""
    if g.get("scope") not in AUDITED_SCOPES or request.url_rule is None:
        return None
    credential = g.get("credential")
    if credential is None and status != 401:
        return None
    return {
        "operation": f"{request.method} {request.url_rule.rule}",
        "customer_id": customer_id,
        "http_status": status,
        "request_id": request_id(),
        "credential": (credential or g.get("attempted_user") or "")[:64],
        "authenticated": credential is not None,
        **trace(),
        "detail": detail or None,
    }


def record_refusal(response: Response) -> Response:
    """An after-request hook: the row of a request that never reached its unit of work (refused by auth,
    by argument validation or for an unknown id), written alone. A request whose unit of work ran was
    recorded by it (`g.audit_recorded`)."""
    if g.get("audit_recorded") or g.get("database_unavailable") or g.get("audit_skip"):
        return response
    refused = row(response.status_code)
    if refused is None:
        return response
    try:
        with get_db().pool.connection() as conn:
            conn.execute(store.Q.insert_row, {**refused, "detail": Jsonb(g.audit_detail) if g.get("audit_detail") else None})
    except (psycopg.Error, PoolTimeout) as error:
        log.warning("audit row of a refused request not written: %s", type(error).__name__)
    return response


def rows(conn: psycopg.Connection, filters: dict, limit: int) -> list[dict]:
    return store.list_rows(conn, filters, limit)

personal_data.register("audit", export=store.personal_data)
