"""Operations: is this instance fit for traffic, and the figures computed when /metrics is scraped.

Readiness opens a short-lived connection of its own rather than borrowing one from the pool: a pool busy
with traffic is no reason to take the instance out of the load balancer. The schema must not be behind the
code; a schema ahead of it (the next release's migration ran first, as a rolling update does) is fine,
because every migration stays compatible with the release before it.
"""

from __future__ import annotations

import functools

import psycopg
from prometheus_client.core import GaugeMetricFamily
from psycopg_pool import PoolTimeout

from .. import db
from . import store

READY_TIMEOUT_SECONDS = 2
SCRAPE_WAIT_SECONDS = 0.5


@functools.cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(heads, every revision) of the code's migrations, read from disk once per process."""
    # Imported here: a worker that is never probed does not load alembic.
    from alembic.script import ScriptDirectory

    from .. import migrate

    script = ScriptDirectory(str(migrate.MIGRATIONS))
    return frozenset(script.get_heads()), frozenset(rev.revision for rev in script.walk_revisions())


def readiness(url: str) -> str | None:
    """None when ready, otherwise the reason."""
    try:
        with db.connect(url, connect_timeout=READY_TIMEOUT_SECONDS,
                        options=f"-c statement_timeout={READY_TIMEOUT_SECONDS * 1000}") as conn:
            versions = store.schema_versions(conn)
    except psycopg.Error as error:
        return f"Database unreachable ({type(error).__name__})"
    heads, known = _revisions()
    if not versions or any(version in known and version not in heads for version in versions):
        return "Database schema is behind the code: run `crm-provider db upgrade`"
    return None


def scrape_families(database: db.Database) -> list:
    """Gauges read from the database at scrape time; none when it cannot answer quickly."""
    try:
        with database.pool.connection(timeout=SCRAPE_WAIT_SECONDS) as conn:
            backlog = store.events_backlog(conn)
    except (psycopg.Error, PoolTimeout):
        return []
    if backlog is None:
        return []
    return [GaugeMetricFamily("crm_events_backlog", "Events received and not yet processed.", value=backlog)]
