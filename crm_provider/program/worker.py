"""The program's part of `crm-provider worker` (crm_provider/worker.py): the daily expiry of points (and the
tiers of the customers whose earnings left the window), at 03:30 UTC. procrastinate's periodic tasks defer
one job per schedule whatever the number of workers, and `service.expire` is safe when two run at once."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import procrastinate

from .. import db
from . import service

log = logging.getLogger(__name__)
QUEUE = "program"
SCHEDULE = "30 3 * * *"


class DailyExpiry:
    queue = QUEUE

    def __init__(self, url: str):
        self.pool = db.job_pool(url, "crm-program", size=1, statement_timeout_ms=600_000)

    def register(self, app: procrastinate.App, retry) -> None:
        @app.periodic(cron=SCHEDULE, periodic_id="expire-points")
        @app.task(name="expire_points", queue=QUEUE, retry=retry)
        def expire_points(timestamp: int) -> None:
            with self.pool.connection() as conn:
                expired = service.expire(conn, datetime.fromtimestamp(timestamp, timezone.utc))
            log.info("points expired: %s", expired)

    def close(self) -> None:
        self.pool.close()
