"""The audit area's part of `crm-provider worker` (crm_provider/worker.py): sealing the audit log into its hash
chain (chain.py) every minute, and adding the coming months' partitions daily (partitions.ensure; dropping the
expired ones is the owner's, `crm-provider maintenance`). procrastinate defers one job per schedule whatever
the number of workers, and both are safe when two run at once."""

from __future__ import annotations

import procrastinate

from .. import db
from . import chain, partitions

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

        @app.periodic(cron="30 3 * * *", periodic_id="add-audit-months")
        @app.task(name="add_audit_months", queue=QUEUE, retry=retry)
        def add_audit_months(timestamp: int) -> None:
            with self.pool.connection() as conn:
                partitions.ensure(conn)

    def close(self) -> None:
        self.pool.close()
