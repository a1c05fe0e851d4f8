"""The events area's part of `crm-provider worker` (crm_provider/worker.py): processing the stored order
events.

What procrastinate gives: jobs fetched with `FOR UPDATE SKIP LOCKED` (any number of workers), the lock
`order:<id>` (the jobs of one order run one at a time, in the order they were queued, even across retries),
retries scheduled in the database, LISTEN/NOTIFY so a new event starts at once, and worker heartbeats.
What is added: the back-off (worker.Backoff) that honours the Sitoo API's `Retry-After` on a 429 and gives an
event up (`failed`) after CRM_EVENTS_MAX_ATTEMPTS tries, and exactly once: service.process_event marks the
event done in the transaction that applies it.
"""

from __future__ import annotations

import logging

import procrastinate

from .. import db
from ..config import Settings
from . import service, store
from .sitoo import SitooClient, SitooError

log = logging.getLogger(__name__)

# The worker's own queries are small; this only stops a stuck one from holding a job for ever.
STATEMENT_TIMEOUT_MS = 10_000


class AttemptFailed(Exception):
    def __init__(self, text: str, *, retry_after: float | None = None):
        super().__init__(text)
        self.retry_after = retry_after


class Ingestion:
    """What a job needs: a connection pool and the Sitoo API client, shared by the worker's threads."""

    queue = service.QUEUE

    def __init__(self, url: str, settings: Settings, sitoo: SitooClient):
        self.settings = settings
        self.sitoo = sitoo
        self.pool = db.job_pool(url, "crm-worker", size=max(2, settings.worker_concurrency),
                                statement_timeout_ms=STATEMENT_TIMEOUT_MS)

    def register(self, app: procrastinate.App, retry) -> None:
        @app.task(name=service.TASK, queue=service.QUEUE, pass_context=True, retry=retry)
        def process_sitoo_event(context, event_id: str) -> None:
            self.process(event_id, context.job.attempts)

        self.retry = retry  # process() records the last attempt as the event given up

    def process(self, event_id: str, attempts: int) -> None:
        try:
            with self.pool.connection() as conn:
                service.process_event(conn, event_id, self.sitoo.order, self.settings.sitoo_account_id, attempts)
        except Exception as error:
            # Only the kind of failure is recorded, logged and passed on to procrastinate (which logs it):
            # never a response body, nor a database message that could quote a value.
            text = str(error) if isinstance(error, SitooError) else type(error).__name__
            failure = AttemptFailed(text, retry_after=getattr(error, "retry_after", None))
            final = attempts + 1 >= self.retry.max_attempts
            with self.pool.connection() as conn:
                store.record_failure(conn, event_id, text, final)
            log.warning("event %s: attempt %d failed (%s)%s", event_id, attempts + 1, text,
                        ", giving up" if final else "")
            raise failure from None

    def close(self) -> None:
        self.pool.close()
        self.sitoo.close()


def ingestion(url: str, settings: Settings) -> Ingestion | None:
    """The worker's order ingestion, or None when the Sitoo API is not configured."""
    try:
        sitoo = SitooClient.from_settings(settings)
    except RuntimeError as error:
        log.warning("%s: order events are not processed by this worker", error)
        return None
    return Ingestion(url, settings, sitoo)


class DailyTrim:
    """The event inbox's retention, daily at 04:00 UTC (one job per schedule whatever the number of workers;
    `service.trim` is safe when two run at once): what `crm-provider maintenance` does for the events."""

    queue = "maintenance"

    def __init__(self, url: str, settings: Settings):
        self.pool = db.job_pool(url, "crm-maintenance", size=1, statement_timeout_ms=600_000)
        self.retention_days = settings.events_retention_days

    def register(self, app: procrastinate.App, retry) -> None:
        @app.periodic(cron="0 4 * * *", periodic_id="trim-events")
        @app.task(name="trim_events", queue=self.queue, retry=retry)
        def trim_events(timestamp: int) -> None:
            with self.pool.connection() as conn:  # autocommit: a transaction per batch
                deleted = service.trim(conn, self.retention_days)
            log.info("handled events trimmed: %s", deleted)

    def close(self) -> None:
        self.pool.close()
