"""Operations: is this instance fit for traffic, and the figures computed when /metrics is scraped.

Readiness is public (probes are), so it must cost an anonymous flood nothing: it borrows a connection from
the process's pool (never one of its own: 200 probes at once would be 200 PostgreSQL connections) and each
process answers from its last check for about a second (`READY_CACHE_SECONDS`); concurrent probes share one
check. When no pooled connection is free within `READY_WAIT_SECONDS` (every one serving a request, or the
database gone), the check opens one short connection of its own to tell which: a busy pool is no reason to
take the instance out of the load balancer. That is at most one connection per process per second.

The schema must not be behind the code; a schema ahead of it (the next release's migration ran first, as a
rolling update does) is fine, because every migration stays compatible with the release before it.
"""

from __future__ import annotations

import threading
import time
import weakref

import psycopg
from prometheus_client.core import GaugeMetricFamily
from psycopg_pool import PoolTimeout

from .. import db
from ..loyalty import service as loyalty
from ..workshop import service as workshop
from . import store

READY_CACHE_SECONDS = 1.0
READY_WAIT_SECONDS = 1.0
SCRAPE_WAIT_SECONDS = 0.5


class Readiness:
    """One process's readiness, checked at most once per `READY_CACHE_SECONDS`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._answer: str | None = "Not checked yet"

    def __call__(self, database: db.Database) -> str | None:
        """None when ready, otherwise the reason."""
        if time.monotonic() - self._checked_at < READY_CACHE_SECONDS:
            return self._answer
        with self._lock:  # the others wait for this check and take its answer
            if time.monotonic() - self._checked_at >= READY_CACHE_SECONDS:
                self._answer = self._check(database)
                self._checked_at = time.monotonic()
            return self._answer

    @staticmethod
    def _check(database: db.Database) -> str | None:
        try:
            try:
                with database.pool.connection(timeout=READY_WAIT_SECONDS) as conn:
                    versions = store.schema_versions(conn)
            except PoolTimeout:  # busy or gone: a connection of its own tells
                with db.connect(database.url, connect_timeout=2,
                                options=f"-c statement_timeout={int(READY_WAIT_SECONDS * 1000)}") as conn:
                    versions = store.schema_versions(conn)
        except psycopg.Error as error:
            return f"Database unreachable ({type(error).__name__})"
        from .. import migrate  # here: a worker that is never probed does not load alembic

        if migrate.behind(versions):
            return "Database schema is behind the code: run `crm-provider db upgrade`"
        return None


_readiness: weakref.WeakKeyDictionary[db.Database, Readiness] = weakref.WeakKeyDictionary()
_readiness_lock = threading.Lock()


def readiness(database: db.Database) -> str | None:
    """None when ready, otherwise the reason: the answer of the database's (the app's) own Readiness."""
    check = _readiness.get(database)
    if check is None:
        with _readiness_lock:
            check = _readiness.setdefault(database, Readiness())
    return check(database)


def scrape_families(database: db.Database) -> list:
    """Gauges read from the database at scrape time; none when it cannot answer quickly."""
    try:
        with database.pool.connection(timeout=SCRAPE_WAIT_SECONDS) as conn:
            backlog = store.events_backlog(conn)
            conflicts = loyalty.conflict_counts(conn) if store.has_table(conn, "item_conflicts") else None
            ages = workshop.sync_ages(conn) if store.has_table(conn, "workshop_sync") else {}
    except (psycopg.Error, PoolTimeout):
        return []
    families = []
    if backlog is not None:
        families.append(GaugeMetricFamily("crm_events_backlog", "Events received and not yet processed.",
                                          value=backlog))
    if conflicts is not None:
        gauge = GaugeMetricFamily("crm_item_conflicts", "Orders naming a bonus check or promotion they could not "
                                  "consume, by reason (GET /admin/item-conflicts).", labels=["reason"])
        for reason, count in conflicts.items():
            gauge.add_metric([reason], count)
        families.append(gauge)
    if ages:
        gauge = GaugeMetricFamily("crm_workshop_sync_age_seconds", "Seconds since the last successful sync of "
                                  "each workshop source (NaN: never).", labels=["source"])
        for source, age in sorted(ages.items()):
            gauge.add_metric([source], float("nan") if age is None else float(age))
        families.append(gauge)
    return families
