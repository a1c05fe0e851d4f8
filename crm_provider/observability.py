"""What every request leaves behind for the operations team: one log line and its metrics.

`init_app` is called before any other subsystem registers its hooks, so that the clock starts before
authentication and the after-request hook runs last (Flask runs those in reverse order): it records the
status the client really gets.

Every request has an id (`request_id`): the client's `X-Request-ID` when it sent a sane one, else a new one;
it is returned in the response, written in the log line and in the audit row.

The log line carries the route template (`/customers`), never the URL: the query string holds search keys
(email, mobile, personal id). Request bodies are never logged.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from . import metrics
from .db import get_db

log = logging.getLogger("crm_provider.request")
POOL_SAMPLE_SECONDS = 0.5  # each process reads its pool's gauges this often, not on every request
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


def request_id() -> str:
    rid = g.get("request_id")
    if rid is None:
        given = request.headers.get("X-Request-ID", "")
        rid = g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    return rid


def _start() -> None:
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id()
    now = time.perf_counter()
    started = g.get("started")
    seconds = now - started if started is not None else 0.0
    route = request.url_rule.rule if request.url_rule is not None else None
    metrics.observe_request(request.method, route, response.status_code, seconds)
    database = get_db()
    if now >= database.next_stats_at:
        database.next_stats_at = now + POOL_SAMPLE_SECONDS
        metrics.observe_pool(database.stats())
    log.info(
        "request",
        extra={
            "request_id": request_id(),
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 2),
            "credential": g.get("credential"),
        },
    )
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
