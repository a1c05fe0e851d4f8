"""Rate limiting per credential and client address: one budget per user of each scope and address, over all
its routes; a smaller budget for searches that find nothing; and a limit of failed sign-ins per address.

CRM_RATE_LIMIT is a limit string (`6000/minute`, `100/second;5000/hour`) or `off`. Sitoo uses one POS
credential for the whole chain, so the budget is per credential *and* client address: a misbehaving till
(or a leaked credential used from one place) exhausts its own address's budget, not the 200 stores'.

A search that finds nothing (`GET /customers` or `/lookup_customers` answering an empty list) is what walking
member numbers or personal ids looks like: CRM_SEARCH_MISS_LIMIT (default `300/hour` per credential and
address) is the budget of those. Once it is used up, that address's searches get the 429 until the window
ends; its other requests are served. Misses are counted per credential in `crm_search_misses_total` for an
alert. The counters live in
CRM_RATE_LIMIT_STORAGE: `memory://` (the default) counts in each worker process, so N workers and M
instances allow up to N x M times the limit; a shared store (`redis://host:6379`) makes the limit exact
across all of them. Requests without a valid credential are not counted (they are refused before).
Over the limit the answer is the contract's 429 with its Error body and a `Retry-After` in seconds. If the
store cannot be reached (limits' `StorageError`: the store's own failures, wrapped) the request is let
through and logged: a broken counter never closes the tills. Any other exception is a bug and is not
swallowed: rate limiting never switches itself off in silence.

Failed sign-ins (a credential that matches no list) are counted per client address, before any database
work, against CRM_SIGNIN_FAILURE_LIMIT (default `20/minute`): over it, further *failed* attempts get the
429 with `Retry-After`, while a request with a valid credential from the same address is served as always,
so that a till that knows its password is never locked out by a guesser beside it. Each failure is counted
in `crm_auth_failures{scope, outcome}`; the audit log gets the first failure of an address in a window and
the one that reaches the limit (with the count), not a row each. The client address is the socket's peer,
or behind CRM_TRUSTED_PROXIES proxies the address they forwarded (app.py, werkzeug's ProxyFix).

The `limits` library (the core of flask-limiter) counts, with its fixed-window strategy. flask-limiter
itself is not used: it resolves and filters its limits again on every request, which measured 0.15 ms
of CPU per request (docs/bench.md), for one application-wide limit that never changes.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, current_app, g, request
from limits import parse, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .config import Settings
from .errors import TooManyRequests, error_response
from .metrics import AUTH_FAILURES, SEARCH_MISSES

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


def storage(uri: str):
    uri = _storage_uri(uri)
    if uri.startswith("crm-memory://"):
        check_memory_storage()
    return storage_from_string(uri, wrap_exceptions=True)


def client_address() -> str:
    """The client's address: the socket's peer, or behind CRM_TRUSTED_PROXIES what they forwarded (app.py)."""
    return request.remote_addr or "unknown"


def _wait(limiter, item, *identifiers) -> str:
    reset_at = limiter.get_window_stats(item, *identifiers).reset_time
    return str(max(1, math.ceil(reset_at - time.time())))


class RateLimit:
    def __init__(self, spec: str, limiter: FixedWindowRateLimiter):
        self.items = parse_many(spec)
        self.limiter = limiter

    def check(self) -> Response | None:
        """A before-request hook, after authentication: the 429 once the credential is over a limit."""
        credential = g.get("credential")
        if credential is None:
            return None
        key = (g.scope, credential, client_address())
        try:
            for item in self.items:
                if not self.limiter.hit(item, *key):
                    return error_response(429, TEXT, {"Retry-After": _wait(self.limiter, item, *key)})
        except StorageError as error:  # the store is down: let the request through
            log.warning("rate limit not checked: %s", type(error.storage_error).__name__)
        return None


class FailedSignIns:
    """auth's `on_failure`: counts a failed sign-in against the client address, refuses it over the limit,
    and decides whether it gets an audit row of its own (`g.audit_detail`) or none (`g.audit_skip`)."""

    def __init__(self, spec: str, limiter: FixedWindowRateLimiter):
        self.item = parse(spec)
        self.limiter = limiter

    def __call__(self, scope: str) -> None:
        address = client_address()
        try:
            allowed = self.limiter.hit(self.item, "sign-in", address)
            remaining = self.limiter.get_window_stats(self.item, "sign-in", address).remaining
        except StorageError as error:
            log.warning("failed sign-in not counted: %s", type(error.storage_error).__name__)
            AUTH_FAILURES.labels(scope, "refused").inc()
            return
        if not allowed:
            AUTH_FAILURES.labels(scope, "limited").inc()
            g.audit_skip = True
            raise TooManyRequests(TEXT, headers={"Retry-After": _wait(self.limiter, self.item, "sign-in", address)})
        AUTH_FAILURES.labels(scope, "refused").inc()
        failures = self.item.amount - remaining
        if failures == 1 or remaining == 0:
            g.audit_detail = {"client": address, "failed_sign_ins": failures,
                              "limit": str(self.item), "limit_reached": remaining == 0}
        else:
            g.audit_skip = True


class SearchMisses:
    """The budget of searches that find nothing, per credential and client address."""

    def __init__(self, spec: str, limiter: FixedWindowRateLimiter):
        self.item = parse(spec)
        self.limiter = limiter

    def _key(self) -> tuple[str, str, str]:
        return ("search-miss", g.get("credential") or "", client_address())

    def guard(self) -> None:
        try:
            exhausted = not self.limiter.test(self.item, *self._key())
        except StorageError as error:
            log.warning("search misses not checked: %s", type(error.storage_error).__name__)
            return
        if exhausted:
            raise TooManyRequests(TEXT, headers={"Retry-After": _wait(self.limiter, self.item, *self._key())})

    def missed(self) -> None:
        try:
            self.limiter.hit(self.item, *self._key())
        except StorageError as error:
            log.warning("search miss not counted: %s", type(error.storage_error).__name__)


def guard_search() -> None:
    """A search route calls this before it searches: the 429 once this credential and address have used up
    their budget of searches that found nothing."""
    misses = current_app.extensions["crm_limits"].misses
    if misses:
        misses.guard()


def searched(found: int) -> None:
    """A search route calls this with the number of results: an empty answer counts as a miss."""
    if not found:
        SEARCH_MISSES.labels(g.get("credential") or "").inc()
        misses = current_app.extensions["crm_limits"].misses
        if misses:
            misses.missed()


class Limits:
    """The service's limits over one counter store: the per-credential rate limit (a before-request hook,
    after authentication) and the failed sign-ins (auth's `on_failure`)."""

    def __init__(self, settings: Settings):
        self.limiter = None
        if settings.rate_limit or settings.signin_failure_limit or settings.search_miss_limit:
            self.limiter = FixedWindowRateLimiter(storage(settings.rate_limit_storage))
        self.rate = RateLimit(settings.rate_limit, self.limiter) if settings.rate_limit else None
        self.failed_sign_in = (FailedSignIns(settings.signin_failure_limit, self.limiter)
                               if settings.signin_failure_limit else None)
        self.misses = SearchMisses(settings.search_miss_limit, self.limiter) if settings.search_miss_limit else None

    def init_app(self, app: Flask) -> None:
        """Call after auth.init_app: the rate limit is checked once the credential is known."""
        app.extensions["crm_limits"] = self
        if self.rate:
            app.before_request(self.rate.check)
