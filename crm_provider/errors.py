"""Domain exceptions, and the one place where any failure becomes the SPI's `Error` body.

Every answer that is not a success is `{"errortext": ..., "statuscode": N}` with a status code that the
contract lists for the route: Flask's own 405 and 413, webargs' validation errors, a lost database and an
unexpected exception all pass through `error_response`.
"""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool
from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class CrmError(Exception):
    status = 500
    default_text = "Internal Server Error"

    def __init__(self, text: str | None = None, *, headers: dict | None = None):
        super().__init__(text or self.default_text)
        self.text = text or self.default_text
        self.headers = headers or {}


class BadRequest(CrmError):
    status = 400
    default_text = "Bad Request"


class Unauthorized(CrmError):
    status = 401
    default_text = "Authentication is required"


class Forbidden(CrmError):
    status = 403
    default_text = "The credential has no access to this route"


class NotFound(CrmError):
    status = 404
    default_text = "Not Found"


class Conflict(CrmError):
    status = 409


class TooManyRequests(CrmError):
    status = 429
    default_text = "Too Many Requests. A request limit has been reached."


class NotImplementedByProvider(CrmError):
    status = 501
    default_text = "Not implemented"


class BadGateway(CrmError):
    status = 502
    default_text = "Bad Gateway"


class Unavailable(CrmError):
    status = 503
    default_text = "Service Unavailable"


class GatewayTimeout(CrmError):
    status = 504
    default_text = "Gateway Timeout"


# Statuses Flask or werkzeug may raise on their own that the contract does not list, and what we answer instead.
_UNDOCUMENTED = {
    405: (400, "Method not allowed on this route"),
    413: (400, "Request body too large"),
    415: (400, "Unsupported media type"),
}

RETRY_AFTER_SECONDS = "1"


def error_response(status: int, text: str, headers: dict | None = None):
    # A text may quote what the client sent (an unknown field's name): never a NUL, which no string of the
    # document holds.
    response = jsonify(errortext=text.replace("\x00", "\ufffd"), statuscode=status)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def unavailable_response():
    return error_response(503, "Database unavailable, try again", {"Retry-After": RETRY_AFTER_SECONDS})


def is_database_unavailable(error: BaseException) -> bool:
    """The database cannot be reached (or the pool has no connection to lend): a 503, and no audit row. A
    statement or lock timeout is no outage (psycopg counts both as OperationalError): the database is there
    to take the request's audit row."""
    return (isinstance(error, (psycopg.OperationalError, psycopg_pool.PoolTimeout))
            and not isinstance(error, (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable)))


def status_of(error: BaseException) -> int:
    """The status `error` is answered with, by the handlers init_app registers (for the audit row of a unit of
    work that ends with it, audit/work.py)."""
    if isinstance(error, CrmError):
        return error.status
    if isinstance(error, HTTPException):
        return _UNDOCUMENTED.get(error.code, (error.code,))[0]
    if isinstance(error, (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable)):
        return 503
    if is_database_unavailable(error):
        return 503
    return 500


def _crm_error(error: CrmError):
    return error_response(error.status, error.text, error.headers)


def http_exception_response(error: HTTPException):
    status, text = _UNDOCUMENTED.get(error.code, (error.code, error.description or error.name))
    if error.code == 404:
        text = "Not Found"
    return error_response(status, text)


def _database_unavailable(error: Exception):
    log.warning("database unavailable: %s", type(error).__name__)
    g.database_unavailable = True  # no audit row then: waiting for the pool a second time helps nobody
    return unavailable_response()


def _statement_timeout(error: Exception):
    log.warning("statement timed out")
    return error_response(503, "The database did not answer in time, try again", {"Retry-After": RETRY_AFTER_SECONDS})


def _lock_timeout(error: Exception):
    log.warning("lock not granted in time")
    return error_response(503, "The customer is being changed by another request, try again",
                          {"Retry-After": RETRY_AFTER_SECONDS})


def _unexpected(error: Exception):
    # The traceback is logged with the exception type only in the message: argument values (which may hold
    # personal data) are never formatted into the log line.
    log.error("unexpected %s", type(error).__name__, exc_info=error)
    return error_response(500, "Internal Server Error")


def init_app(app: Flask) -> None:
    app.register_error_handler(CrmError, _crm_error)
    app.register_error_handler(HTTPException, http_exception_response)
    app.register_error_handler(psycopg.errors.QueryCanceled, _statement_timeout)
    app.register_error_handler(psycopg.errors.LockNotAvailable, _lock_timeout)
    app.register_error_handler(psycopg.OperationalError, _database_unavailable)
    app.register_error_handler(psycopg_pool.PoolTimeout, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
