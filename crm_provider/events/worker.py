"""`crm-provider worker`: processes the stored order events, on procrastinate's PostgreSQL job queue.

What procrastinate gives: jobs fetched with `FOR UPDATE SKIP LOCKED` (any number of workers), the lock
`order:<id>` (the jobs of one order run one at a time, in the order they were queued, even across retries),
retries scheduled in the database, LISTEN/NOTIFY so a new event starts at once, and worker heartbeats.
What is added here:
- `Backoff`: exponential back-off with jitter, capped, that honours the Sitoo API's `Retry-After` on a 429,
  and gives an event up (`failed`) after CRM_EVENTS_MAX_ATTEMPTS tries.
- Stalled jobs (their worker was killed) are put back in the queue by every running worker, once their
  worker has missed its heartbeats for three intervals.
- Exactly once: service.process_event marks the event done in the transaction that applies it.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
from contextlib import suppress

import procrastinate
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

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


class Backoff(BaseRetryStrategy):
    def __init__(self, first: float, cap: float, max_attempts: int):
        self.first, self.cap, self.max_attempts = first, cap, max_attempts

    def delay(self, attempts: int, exception: BaseException | None = None) -> float | None:
        """Seconds before the next try, after `attempts` failed ones (1-based); None: give up."""
        if attempts >= self.max_attempts:
            return None
        retry_after = getattr(exception, "retry_after", None)
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        wait = min(self.first * 2 ** (attempts - 1), self.cap)
        return wait * random.uniform(0.8, 1.0)

    def get_retry_decision(self, *, exception: BaseException, job) -> RetryDecision | None:
        seconds = self.delay(job.attempts + 1, exception)
        if seconds is None:
            return None
        return RetryDecision(retry_at=datetime.datetime.now(datetime.timezone.utc)
                             + datetime.timedelta(seconds=seconds))


class Ingestion:
    """What a job needs: a connection pool and the Sitoo API client, shared by the worker's threads."""

    def __init__(self, url: str, settings: Settings, sitoo: SitooClient, backoff: Backoff):
        self.settings = settings
        self.sitoo = sitoo
        self.backoff = backoff
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max(2, settings.worker_concurrency), open=True, name="crm-worker",
            kwargs={"row_factory": dict_row, "autocommit": True,
                    "options": f"-c TimeZone=UTC -c statement_timeout={STATEMENT_TIMEOUT_MS}"},
        )

    def process(self, event_id: str, attempts: int) -> None:
        try:
            with self.pool.connection() as conn:
                service.process_event(conn, event_id, self.sitoo.order, self.settings.sitoo_account_id)
        except Exception as error:
            # Only the kind of failure is recorded, logged and passed on to procrastinate (which logs it):
            # never a response body, nor a database message that could quote a value.
            text = str(error) if isinstance(error, SitooError) else type(error).__name__
            failure = AttemptFailed(text, retry_after=getattr(error, "retry_after", None))
            final = attempts + 1 >= self.backoff.max_attempts
            with self.pool.connection() as conn:
                store.record_failure(conn, event_id, text, final)
            log.warning("event %s: attempt %d failed (%s)%s", event_id, attempts + 1, text,
                        ", giving up" if final else "")
            raise failure from None

    def close(self) -> None:
        self.pool.close()
        self.sitoo.close()


def make_app(url: str, backoff: Backoff, concurrency: int) -> procrastinate.App:
    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=concurrency + 2)
    app = procrastinate.App(connector=connector)

    @app.task(name=service.TASK, queue=service.QUEUE, pass_context=True, retry=backoff)
    def process_sitoo_event(context, event_id: str) -> None:
        context.additional_context["ingestion"].process(event_id, context.job.attempts)

    return app


async def _requeue_stalled(app: procrastinate.App, stalled_after: float) -> None:
    """Put back the jobs of workers that stopped beating (killed mid-job): another worker takes them."""
    while True:
        with suppress(Exception):  # a DB hiccup here must not stop the worker; the next round retries
            for job in await app.job_manager.get_stalled_jobs(queue=service.QUEUE,
                                                              seconds_since_heartbeat=stalled_after):
                with suppress(Exception):  # another worker may have requeued it first
                    await app.job_manager.retry_job(job)
                    log.warning("requeued job %s of a stalled worker", job.id)
        await asyncio.sleep(stalled_after / 2)


def run(url: str, settings: Settings, *, burst: bool = False, install_signal_handlers: bool = True) -> None:
    """Run a worker until stopped (SIGINT/SIGTERM), or with `burst` until no job is ready."""
    backoff = Backoff(settings.events_retry_seconds, settings.events_retry_max_seconds,
                      settings.events_max_attempts)
    ingestion = Ingestion(url, settings, SitooClient.from_settings(settings), backoff)
    app = make_app(url, backoff, settings.worker_concurrency)
    heartbeat = settings.worker_heartbeat_seconds

    async def main():
        async with app.open_async():
            requeue = asyncio.create_task(_requeue_stalled(app, 3 * heartbeat))
            try:
                await app.run_worker_async(
                    queues=[service.QUEUE], name="crm-worker", wait=not burst,
                    concurrency=settings.worker_concurrency,
                    fetch_job_polling_interval=settings.worker_poll_seconds,
                    update_heartbeat_interval=heartbeat, stalled_worker_timeout=3 * heartbeat,
                    shutdown_graceful_timeout=settings.sitoo_timeout + 5,
                    delete_jobs="successful", additional_context={"ingestion": ingestion},
                    install_signal_handlers=install_signal_handlers,
                )
            finally:
                requeue.cancel()
                with suppress(asyncio.CancelledError):
                    await requeue

    try:
        asyncio.run(main())
    finally:
        ingestion.close()
