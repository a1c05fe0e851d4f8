"""Prometheus metrics, added up over all gunicorn workers (prometheus-client's multiprocess mode).

Each worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR, and whichever worker answers
`/metrics` reads them all. gunicorn_conf.py prepares that folder before the workers fork (creating a
temporary one when it is unset) and marks exited workers dead. Without the variable (tests, a plain Flask
server) the process serves its own registry.

Every label takes its values from a bounded set, whatever a client sends: routes are templates
(`/customers/<customer_id>`, never URLs: search keys are personal data, and ids would make every customer a
time series), methods are the standard ones or `other` (gunicorn accepts any method of 3 to 20 letters, and
each new label value is a new sample in every worker's file), statuses are numbers.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import Metric

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "crm_http_requests", "HTTP requests answered, by route template and status.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "Time from the request's first hook to its answer, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
REDEEMS = Counter(
    "crm_redeem_requests", "Redeem and undo-redeem requests, by outcome.", ["operation", "outcome"]
)
AUTH_FAILURES = Counter(
    "crm_auth_failures", "Requests whose credential matched no list, by scope and outcome (refused with the 401, "
    "or limited: over the failed sign-ins of the client address, a 429).", ["scope", "outcome"]
)
SEARCH_MISSES = Counter(
    "crm_search_misses", "Searches that found nothing, by credential (a configured user: a bounded set). A rise "
    "is what walking member numbers or personal ids looks like.", ["credential"]
)
POOL = Gauge(
    "crm_db_pool_connections",
    "Connections of the workers' pools: max (configured), open (size), idle (available), waiting requests.",
    ["state"],
    multiprocess_mode="livesum",
)

# What a redeem's or an undo's status code means (the contract's statuses for these two routes).
REDEEM_OUTCOMES = {200: "success", 400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                   409: "refused", 429: "rate_limited"}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_POOL_GAUGES = {key: POOL.labels(state) for key, state in
                {"pool_max": "max", "pool_size": "open", "pool_available": "idle", "requests_waiting": "waiting"}.items()}


@functools.cache  # a handful of route templates
def redeem_operation(method: str, route: str | None) -> str | None:
    """`redeem` or `undo` for the contract's two redeem routes, whatever their variable names."""
    if route is None:
        return None
    parts = route.rstrip("/").split("/")
    if method == "POST" and parts[-1] == "redeem":
        return "redeem"
    if method == "DELETE" and len(parts) >= 2 and parts[-2] == "redeem":
        return "undo"
    return None


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    label = route or "<unmatched>"
    method_label = method if method in METHODS else "other"
    REQUESTS.labels(method_label, label, str(status)).inc()
    LATENCY.labels(method_label, label).observe(seconds)
    operation = redeem_operation(method, route)
    if operation:
        outcome = REDEEM_OUTCOMES.get(status, "unavailable" if status in (503, 504) else "error")
        REDEEMS.labels(operation, outcome).inc()


def observe_pool(stats: dict[str, int] | None) -> None:
    if stats:
        for key, gauge in _POOL_GAUGES.items():
            gauge.set(stats.get(key, 0))


class _Families:
    """Metrics computed at scrape time (by whichever worker answers), e.g. the events backlog."""

    def __init__(self, families: Iterable[Metric]):
        self.families = list(families)

    def collect(self):
        return self.families


def render(extra: Iterable[Metric] = ()) -> tuple[bytes, str]:
    """The exposition text of every worker's samples plus `extra`, and its content type."""
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scraped = CollectorRegistry()
    scraped.register(_Families(extra))
    return generate_latest(registry) + generate_latest(scraped), CONTENT_TYPE_LATEST
