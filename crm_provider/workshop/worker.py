"""The workshop's part of `crm-provider worker` (crm_provider/worker.py), for the sections providers that are
configured: the sweep of Sitoo's open service orders every minute (`sitoo-service-orders`, when the Sitoo API
is), and the handling of the Shopmonkey webhook's events (`shopmonkey`, when SHOPMONKEY_TOKEN is set).

A sweep that fails is recorded and backs off as the events' jobs do (worker.Backoff, the API's Retry-After
honoured), never giving up: the minutes' sweeps wait until its time, and the next goes on from the last page
stored. A Shopmonkey event is retried with the same back-off and given up (`failed`) after
CRM_EVENTS_MAX_ATTEMPTS tries; the handled ones are trimmed daily after CRM_EVENTS_RETENTION_DAYS.
"""

from __future__ import annotations

import logging

import procrastinate

from .. import db
from ..config import Settings
from ..events.sitoo import SitooError
from . import service
from .clients import ServiceOrdersClient, ShopmonkeyClient

log = logging.getLogger(__name__)
STATEMENT_TIMEOUT_MS = 10_000


def _failure_text(error: Exception) -> str:
    return str(error) if isinstance(error, SitooError) else type(error).__name__  # never a body or a value


class ServiceOrdersSync:
    queue = service.QUEUE

    def __init__(self, url: str, settings: Settings, client: ServiceOrdersClient):
        self.settings, self.client = settings, client
        self.pool = db.job_pool(url, "crm-workshop-sync", size=1, statement_timeout_ms=STATEMENT_TIMEOUT_MS)

    def register(self, app: procrastinate.App, retry) -> None:
        self.retry = retry

        @app.periodic(cron="* * * * *", periodic_id="sweep-service-orders")
        @app.task(name="sweep_service_orders", queue=self.queue, queueing_lock="sweep-service-orders")
        def sweep_service_orders(timestamp: int) -> None:
            self.sweep()

    def sweep(self) -> None:
        with self.pool.connection() as conn:
            if not service.sweep_due(conn):
                return
            try:
                service.sweep(conn, self.client.service_orders, self.settings.default_region)
            except Exception as error:
                text = _failure_text(error)
                delay = service.sweep_failed(conn, text, lambda failures: self._delay(failures, error))
                log.warning("service orders sweep failed (%s): next in %.0f s", text, delay)

    def _delay(self, failures: int, error: Exception) -> float:
        return self.retry.delay(min(failures, self.retry.max_attempts - 1), error) or self.retry.cap

    def close(self) -> None:
        self.pool.close()
        self.client.close()


class ShopmonkeyEvents:
    queue = service.QUEUE

    def __init__(self, url: str, settings: Settings, client: ShopmonkeyClient):
        self.settings, self.client = settings, client
        self.pool = db.job_pool(url, "crm-workshop-events", size=max(2, settings.worker_concurrency),
                                statement_timeout_ms=STATEMENT_TIMEOUT_MS)

    def register(self, app: procrastinate.App, retry) -> None:
        self.retry = retry

        @app.task(name=service.TASK, queue=self.queue, pass_context=True, retry=retry)
        def handle_shopmonkey_event(context, event_id: str) -> None:
            self.handle(event_id, context.job.attempts)

        @app.periodic(cron="10 4 * * *", periodic_id="trim-shopmonkey-events")
        @app.task(name="trim_shopmonkey_events", queue=self.queue, retry=retry)
        def trim_shopmonkey_events(timestamp: int) -> None:
            with self.pool.connection() as conn:
                log.info("handled shopmonkey events trimmed: %s",
                         service.trim(conn, self.settings.events_retention_days))

    def handle(self, event_id: str, attempts: int) -> None:
        try:
            with self.pool.connection() as conn:
                service.handle_shopmonkey_event(conn, event_id, self.client.services,
                                                self.settings.shopmonkey_currency, self.settings.default_region)
        except Exception as error:
            text = _failure_text(error)
            final = attempts + 1 >= self.retry.max_attempts
            with self.pool.connection() as conn:
                service.shopmonkey_event_failed(conn, event_id, text, final)
            log.warning("shopmonkey event %s: attempt %d failed (%s)%s", event_id, attempts + 1, text,
                        ", giving up" if final else "")
            raise SitooError(text, retry_after=getattr(error, "retry_after", None)) from None

    def close(self) -> None:
        self.pool.close()
        self.client.close()


def parts(url: str, settings: Settings) -> list:
    """The workshop's parts the configuration asks for (its sections providers, and the APIs they need)."""
    found = []
    if "sitoo-service-orders" in settings.sections_providers:
        try:
            found.append(ServiceOrdersSync(url, settings, ServiceOrdersClient.from_settings(settings)))
        except RuntimeError as error:
            log.warning("%s: Sitoo's service orders are not synced", error)
    if "shopmonkey" in settings.sections_providers:
        try:
            found.append(ShopmonkeyEvents(url, settings, ShopmonkeyClient.from_settings(settings)))
        except RuntimeError as error:
            log.warning("%s: Shopmonkey's work orders are not read", error)
    return found
