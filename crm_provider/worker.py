"""`crm-provider worker`: the background jobs, on procrastinate's PostgreSQL job queue.

Each area that has work to do after a request brings its part: the events area processes Sitoo order events
(events/worker.py, when the Sitoo API is configured), the customers area delivers customer events to the
customer hooks (customers/hooks.py, when hooks are configured), the loyalty program expires points once a
day (program/worker.py), the event inbox is trimmed of old handled events once a day (events/worker.py), and
the workshop sweeps Sitoo's service orders and reads Shopmonkey's work orders (workshop/worker.py). A part has
a `queue`, a `register(app, retry)` that declares its task, and a `close()`. Shared here: the back-off of every
retried job, the requeueing of the jobs of a worker that died, and the run loop.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
from contextlib import suppress

import procrastinate
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from . import plugins
from .config import Settings
from .customers import hooks
from .events import worker as events_worker
from .audit.worker import Sealer
from .program.worker import DailyExpiry
from .workshop import worker as workshop_worker

log = logging.getLogger(__name__)


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


def make_app(url: str, concurrency: int) -> procrastinate.App:
    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=concurrency + 2)
    return procrastinate.App(connector=connector)


async def _requeue_stalled(app: procrastinate.App, queues: list[str], stalled_after: float) -> None:
    """Put back the jobs of workers that stopped beating (killed mid-job): another worker takes them."""
    while True:
        with suppress(Exception):  # a DB hiccup here must not stop the worker; the next round retries
            for queue in queues:
                for job in await app.job_manager.get_stalled_jobs(queue=queue,
                                                                  seconds_since_heartbeat=stalled_after):
                    with suppress(Exception):  # another worker may have requeued it first
                        await app.job_manager.retry_job(job)
                        log.warning("requeued job %s of a stalled worker", job.id)
        await asyncio.sleep(stalled_after / 2)


def run(url: str, settings: Settings, *, burst: bool = False, install_signal_handlers: bool = True) -> None:
    """Run a worker until stopped (SIGINT/SIGTERM), or with `burst` until no job is ready."""
    backoff = Backoff(settings.events_retry_seconds, settings.events_retry_max_seconds,
                      settings.events_max_attempts)
    plugins.use(plugins.load(settings))  # earn rules, customer hooks: as the web process has them
    parts = [part for part in (events_worker.ingestion(url, settings), hooks.delivery(url, settings),
                               DailyExpiry(url), events_worker.DailyTrim(url, settings), Sealer(url),
                               *workshop_worker.parts(url, settings)) if part]
    app = make_app(url, settings.worker_concurrency)
    for part in parts:
        part.register(app, backoff)
    queues = [part.queue for part in parts]
    heartbeat = settings.worker_heartbeat_seconds

    async def main():
        async with app.open_async():
            requeue = asyncio.create_task(_requeue_stalled(app, queues, 3 * heartbeat))
            try:
                await app.run_worker_async(
                    queues=queues, name="crm-worker", wait=not burst,
                    concurrency=settings.worker_concurrency,
                    fetch_job_polling_interval=settings.worker_poll_seconds,
                    update_heartbeat_interval=heartbeat, stalled_worker_timeout=3 * heartbeat,
                    shutdown_graceful_timeout=settings.sitoo_timeout + 5,
                    delete_jobs="successful", install_signal_handlers=install_signal_handlers,
                )
            finally:
                requeue.cancel()
                with suppress(asyncio.CancelledError):
                    await requeue

    try:
        asyncio.run(main())
    finally:
        for part in parts:
            part.close()
