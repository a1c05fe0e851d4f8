"""Rate limiting per credential: one budget per user of each scope, over all its routes.

CRM_RATE_LIMIT is a limit string (`6000/minute`, `100/second;5000/hour`) or `off`. The counters live in
CRM_RATE_LIMIT_STORAGE: `memory://` (the default) counts in each worker process, so N workers and M
instances allow up to N x M times the limit; a shared store (`redis://host:6379`) makes the limit exact
across all of them. Requests without a valid credential are not counted (they are refused before).
Over the limit the answer is the contract's 429 with its Error body and a `Retry-After` in seconds. If the
store cannot be reached (limits' `StorageError`: the store's own failures, wrapped) the request is let
through and logged: a broken counter never closes the tills. Any other exception is a bug and is not
swallowed: rate limiting never switches itself off in silence.

The `limits` library (the core of flask-limiter) counts, with its fixed-window strategy. flask-limiter
itself is not used: it resolves and filters its limits again on every request, which measured 0.15 ms
of CPU per request (docs/bench.md), for one application-wide limit that never changes.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, g
from limits import parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .config import Settings
from .errors import error_response

log = logging.getLogger(__name__)
TEXT = "Too Many Requests. A request limit has been reached."


class WorkerMemoryStorage(MemoryStorage):
    """`memory://`, minus a cost on every hit: limits' MemoryStorage starts a new timer thread (10 ms) to
    sweep expired counters whenever the last one has finished, which under steady traffic is a thread
    start every few requests (measured: 0.3 ms a request). Expired counters are already ignored when read;
    here the sweep that frees their memory runs inline, at most once a second.

    This overrides two private methods of limits' MemoryStorage (name-mangled); `check_memory_storage` refuses
    to start when a limits release no longer has them, and pyproject.toml keeps limits to the 5.x line this
    was written against (tests/test_production.py checks both, and that a limit bites)."""

    STORAGE_SCHEME = ["crm-memory"]
    RELIES_ON = ("_MemoryStorage__schedule_expiry", "_MemoryStorage__expire_events")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the private per-hit timer start
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + 1.0
            self._MemoryStorage__expire_events()


def check_memory_storage() -> None:
    missing = [name for name in WorkerMemoryStorage.RELIES_ON if not hasattr(MemoryStorage, name)]
    if missing:
        raise RuntimeError(f"this release of limits has no MemoryStorage.{', '.join(missing)}: "
                           "crm_provider/ratelimit.py must be updated for it")


def _storage_uri(uri: str) -> str:
    return "crm-memory://" if uri.startswith("memory://") else uri


class RateLimit:
    def __init__(self, spec: str, storage_uri: str):
        self.items = parse_many(spec)
        uri = _storage_uri(storage_uri)
        if uri.startswith("crm-memory://"):
            check_memory_storage()
        self.limiter = FixedWindowRateLimiter(storage_from_string(uri, wrap_exceptions=True))

    def check(self) -> Response | None:
        """A before-request hook, after authentication: the 429 once the credential is over a limit."""
        credential = g.get("credential")
        if credential is None:
            return None
        try:
            for item in self.items:
                if not self.limiter.hit(item, g.scope, credential):
                    reset_at = self.limiter.get_window_stats(item, g.scope, credential).reset_time
                    wait = max(1, math.ceil(reset_at - time.time()))
                    return error_response(429, TEXT, {"Retry-After": str(wait)})
        except StorageError as error:  # the store is down: let the request through
            log.warning("rate limit not checked: %s", type(error.storage_error).__name__)
        return None


def init_app(app: Flask, settings: Settings) -> None:
    """Call after auth.init_app: the limit is checked once the credential is known."""
    if settings.rate_limit:
        app.before_request(RateLimit(settings.rate_limit, settings.rate_limit_storage).check)
