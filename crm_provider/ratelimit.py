"""Rate limiting per credential (flask-limiter): one budget per user of each scope, over all its routes.

CRM_RATE_LIMIT is a limit string (`6000/minute`, `100/second;5000/hour`) or `off`. The counters live in
CRM_RATE_LIMIT_STORAGE: `memory://` (the default) counts in each worker process, so N workers and M
instances allow up to N x M times the limit; a shared store (`redis://host:6379`) makes the limit exact
across all of them. Requests without a valid credential are not counted (they are refused before).
Over the limit the answer is the contract's 429 with its Error body and a `Retry-After` in seconds. If the
store cannot be reached the request is let through (and logged): a broken counter never closes the tills.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, g
from flask_limiter import Limiter, RateLimitExceeded
from limits.storage import MemoryStorage

from .config import Settings
from .errors import error_response

TEXT = "Too Many Requests. A request limit has been reached."


class WorkerMemoryStorage(MemoryStorage):
    """`memory://`, minus a cost on every hit: limits' MemoryStorage starts a new timer thread (10 ms) to
    sweep expired counters whenever the last one has finished, which under steady traffic is a thread
    start every few requests (measured: 0.3 ms a request). Expired counters are already ignored when read;
    here the sweep that frees their memory runs inline, at most once a second."""

    STORAGE_SCHEME = ["crm-memory"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the private per-hit timer start
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + 1.0
            self._MemoryStorage__expire_events()


def _storage_uri(uri: str) -> str:
    return "crm-memory://" if uri.startswith("memory://") else uri


def _credential_key() -> str:
    return f"{g.scope}:{g.credential}"


def _too_many(error: RateLimitExceeded):
    limiter: Limiter = current_app.extensions["crm_limiter"]
    current = limiter.current_limit
    wait = int(current.reset_at - time.time()) if current is not None else 1  # reset_at is rounded up already
    return error_response(429, TEXT, {"Retry-After": str(max(wait, 1))})


def init_app(app: Flask, settings: Settings) -> None:
    """Call after auth.init_app: the limit is checked once the credential is known."""
    if not settings.rate_limit:
        return
    limiter = Limiter(
        _credential_key,
        application_limits=[settings.rate_limit],
        storage_uri=_storage_uri(settings.rate_limit_storage),
        strategy="fixed-window",
        headers_enabled=False,
        swallow_errors=True,
        key_prefix="crm",
    )
    limiter.request_filter(lambda: g.get("credential") is None)
    limiter.init_app(app)
    app.extensions["crm_limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many)
