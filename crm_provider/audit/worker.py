"""The audit area's part of `crm-provider worker` (crm_provider/worker.py): sealing the audit log into its hash
chain (chain.py) every minute. procrastinate defers one job per minute whatever the number of workers, and a
seal is safe when two run at once."""

from __future__ import annotations

import procrastinate

from .. import db
from . import chain

QUEUE = "audit"


class Sealer:
    queue = QUEUE

    def __init__(self, url: str):
        self.pool = db.job_pool(url, "crm-audit", size=1, statement_timeout_ms=600_000)

    def register(self, app: procrastinate.App, retry) -> None:
        @app.periodic(cron="* * * * *", periodic_id="seal-audit-log")
        @app.task(name="seal_audit_log", queue=QUEUE, retry=retry)
        def seal_audit_log(timestamp: int) -> None:
            with self.pool.connection() as conn:
                chain.seal(conn)

    def close(self) -> None:
        self.pool.close()
