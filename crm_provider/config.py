"""Settings: the environment, read once into a typed object.

Every knob the service has is here and in the README's table; nothing else reads os.environ.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .personal_ids import missing


def parse_users(spec: str | None) -> dict[str, bytes]:
    """`user:password,user2:password2` -> {user: sha256(password)}.

    Only the digest is kept: the plain secret is dropped as soon as it is read.
    """
    users: dict[str, bytes] = {}
    for pair in (spec or "").split(","):
        pair = pair.strip()
        if not pair:
            continue
        user, sep, password = pair.partition(":")
        if not sep or not user or not password:
            raise ValueError("credential lists are comma-separated user:password pairs")
        users[user] = hashlib.sha256(password.encode()).digest()
    return users


CREDENTIAL_VARIABLES = ("CRM_SPI_USERS", "CRM_ADMIN_USERS", "CRM_EVENTS_USERS", "CRM_METRICS_USERS",
                        "CRM_SHOPMONKEY_USERS")
MIN_PASSWORD_CHARS = 16
PLACEHOLDERS = ("change-me", "changeme", "change_me", "password", "secret", "example", "demo", "default")


def weak_secrets(env=None) -> list[str]:
    """What is wrong with the environment's credentials, a line each and never the secret itself: a password
    shorter than MIN_PASSWORD_CHARS, a known placeholder (`change-me` in deploy/env.example), or one password
    in the lists of two kinds (a leaked till credential must not also open the admin routes); and a database
    of the deployment's without the personal ids' keyring (personal_ids.missing). `serve` and the WSGI entry
    point refuse to start on any (but `serve --demo`)."""
    env = os.environ if env is None else env
    problems, kinds = missing(env), {}
    for variable in CREDENTIAL_VARIABLES:
        for pair in (env.get(variable) or "").split(","):
            user, _, password = pair.strip().partition(":")
            if not user:
                continue
            lowered = password.lower()
            if any(placeholder in lowered for placeholder in PLACEHOLDERS):
                problems.append(f"{variable}: the password of {user!r} is a placeholder; generate one")
            elif len(password) < MIN_PASSWORD_CHARS:
                problems.append(f"{variable}: the password of {user!r} is shorter than {MIN_PASSWORD_CHARS} characters")
            kinds.setdefault(password, set()).add(variable)
    for password, variables in kinds.items():
        if len(variables) > 1 and password:
            problems.append(f"{' and '.join(sorted(variables))} share a password: each kind needs its own")
    return problems


DEFAULT_RATE_LIMIT = "6000/minute"
DEFAULT_SIGNIN_FAILURE_LIMIT = "20/minute"  # per client address
DEFAULT_SEARCH_MISS_LIMIT = "300/hour"  # per credential and client address


def _rate_limit(spec: str) -> str | None:
    """A `limits` limit string per credential (`6000/minute`, `100/second;5000/hour`), or `off`."""
    spec = spec.strip()
    return None if spec.lower() in ("", "off", "none", "0") else spec


def _member_number_digits(spec: str) -> int | None:
    """`sequence` for consecutive numbers, or the length of random ones (8 to 18 digits, the last a check digit)."""
    if spec.strip().lower() == "sequence":
        return None
    digits = int(spec)
    if not 8 <= digits <= 18:
        raise ValueError("CRM_MEMBER_NUMBER_DIGITS is `sequence` or a length of 8 to 18 digits")
    return digits


def _retention_days(spec: str) -> int:
    """How long the event inbox keeps handled events: longer than Sitoo's retry window (24 hours), so that a
    retried event is still recognised and applied once."""
    days = int(spec)
    if days < 2:
        raise ValueError("CRM_EVENTS_RETENTION_DAYS is 2 or more (Sitoo retries an event for 24 hours)")
    return days


def _retention_months(spec: str) -> int:
    months = int(spec)
    if months < 1:
        raise ValueError("CRM_AUDIT_RETENTION_MONTHS is 1 or more")
    return months


def _currency(spec: str | None) -> str | None:
    if not spec:
        return None
    if not re.fullmatch(r"[A-Z]{3}", spec):
        raise ValueError("SHOPMONKEY_CURRENCY is an ISO 4217 code (SEK)")
    return spec


def _names(spec: str) -> tuple[str, ...]:
    """A comma-separated list of plugin names (plugins.py)."""
    return tuple(name.strip() for name in spec.split(",") if name.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = Path(".crm-data")
    host: str = "127.0.0.1"
    port: int = 8000
    spi_users: dict[str, bytes] = field(default_factory=dict)
    admin_users: dict[str, bytes] = field(default_factory=dict)
    default_region: str = "SE"
    member_number_digits: int | None = 10  # None: consecutive numbers from a sequence
    pool_min_size: int = 1
    pool_max_size: int | None = None  # None: one connection per gunicorn thread (pool_size)
    pool_timeout: float = 2.0
    statement_timeout_ms: int = 800
    max_body_bytes: int = 256 * 1024
    log_level: str = "INFO"
    # Serving and operations (gunicorn_conf.py, observability.py, ratelimit.py, ops/). Settings built in code
    # have no rate limit; the environment's default sets one (from_env).
    web_workers: int = 2
    web_threads: int = 4
    log_format: str = "json"
    metrics_users: dict[str, bytes] = field(default_factory=dict)
    rate_limit: str | None = None
    rate_limit_storage: str = "memory://"
    signin_failure_limit: str | None = None
    search_miss_limit: str | None = None
    trusted_proxies: int = 0  # proxies in front whose X-Forwarded-For / -Proto are believed
    # Sitoo Events SPI (POST /events) and the order ingestion worker (crm_provider/events/)
    events_users: dict[str, bytes] = field(default_factory=dict)
    sitoo_api_url: str = "https://api.mysitoo.com/v2"
    sitoo_account_id: int | None = None
    sitoo_api_id: str | None = None
    sitoo_api_password: str | None = field(default=None, repr=False)
    sitoo_timeout: float = 10.0
    shopmonkey_users: dict[str, bytes] = field(default_factory=dict)  # the Shopmonkey webhook's credentials
    shopmonkey_api_url: str = "https://api.shopmonkey.cloud"
    shopmonkey_token: str | None = None
    shopmonkey_currency: str | None = None  # the work orders' totals; default the loyalty program's
    worker_concurrency: int = 4
    worker_poll_seconds: float = 5.0
    worker_heartbeat_seconds: float = 10.0
    events_retry_seconds: float = 5.0
    events_retry_max_seconds: float = 3600.0
    events_max_attempts: int = 30
    events_retention_days: int = 30  # handled events kept in the inbox (`crm-provider maintenance`)
    audit_retention_months: int = 13  # whole months of the audit log kept (`crm-provider maintenance`)
    # Extension points (plugins.py). Settings built in code (tests, embedding) get no providers; the
    # environment's default adds the built-in `purchases` section (from_env).
    lookup_provider: str | None = None
    sections_providers: tuple[str, ...] = ()
    customer_hooks: tuple[str, ...] = ()
    redeem_policies: tuple[str, ...] = ()
    earn_rules: tuple[str, ...] = ()
    # The personal ids' keyring (personal_ids.py): its text, or a file holding it. Never in a repr.
    personal_id_keys: str | None = field(default=None, repr=False)
    personal_id_keys_file: str | None = None

    @property
    def pool_size(self) -> int:
        """One connection per gunicorn thread unless set: a request never waits for another's connection."""
        return max(self.pool_max_size or self.web_threads, self.pool_min_size)

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        """The defaults are the fields' own, but for those the environment sets on purpose: a rate limit, a
        limit of failed sign-ins and of searches that find nothing, and the built-in sections (Purchases, the program's card)."""
        env = os.environ if env is None else env
        d = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("CRM_DATA_DIR", d.data_dir)),
            host=env.get("HOST", d.host),
            port=int(env.get("PORT", d.port)),
            spi_users=parse_users(env.get("CRM_SPI_USERS")),
            admin_users=parse_users(env.get("CRM_ADMIN_USERS")),
            default_region=env.get("CRM_DEFAULT_REGION", d.default_region).upper(),
            member_number_digits=_member_number_digits(env.get("CRM_MEMBER_NUMBER_DIGITS", "10")),
            pool_min_size=int(env.get("CRM_POOL_MIN_SIZE", d.pool_min_size)),
            pool_max_size=int(env["CRM_POOL_MAX_SIZE"]) if env.get("CRM_POOL_MAX_SIZE") else None,
            pool_timeout=float(env.get("CRM_POOL_TIMEOUT", d.pool_timeout)),
            statement_timeout_ms=int(env.get("CRM_STATEMENT_TIMEOUT_MS", d.statement_timeout_ms)),
            max_body_bytes=int(env.get("CRM_MAX_BODY_BYTES", d.max_body_bytes)),
            log_level=env.get("LOG_LEVEL", d.log_level).upper(),
            web_workers=int(env.get("WEB_CONCURRENCY", d.web_workers)),
            web_threads=int(env.get("GUNICORN_THREADS", d.web_threads)),
            log_format=env.get("LOG_FORMAT", d.log_format).lower(),
            metrics_users=parse_users(env.get("CRM_METRICS_USERS")),
            rate_limit=_rate_limit(env.get("CRM_RATE_LIMIT", DEFAULT_RATE_LIMIT)),
            rate_limit_storage=env.get("CRM_RATE_LIMIT_STORAGE", d.rate_limit_storage),
            signin_failure_limit=_rate_limit(env.get("CRM_SIGNIN_FAILURE_LIMIT", DEFAULT_SIGNIN_FAILURE_LIMIT)),
            search_miss_limit=_rate_limit(env.get("CRM_SEARCH_MISS_LIMIT", DEFAULT_SEARCH_MISS_LIMIT)),
            trusted_proxies=int(env.get("CRM_TRUSTED_PROXIES", d.trusted_proxies)),
            events_users=parse_users(env.get("CRM_EVENTS_USERS")),
            sitoo_api_url=env.get("SITOO_API_URL", d.sitoo_api_url),
            sitoo_account_id=int(env["SITOO_ACCOUNT_ID"]) if env.get("SITOO_ACCOUNT_ID") else None,
            sitoo_api_id=env.get("SITOO_API_ID") or None,
            sitoo_api_password=env.get("SITOO_API_PASSWORD") or None,
            sitoo_timeout=float(env.get("SITOO_TIMEOUT", d.sitoo_timeout)),
            shopmonkey_users=parse_users(env.get("CRM_SHOPMONKEY_USERS")),
            shopmonkey_api_url=env.get("SHOPMONKEY_API_URL", d.shopmonkey_api_url),
            shopmonkey_token=env.get("SHOPMONKEY_TOKEN") or None,
            shopmonkey_currency=_currency(env.get("SHOPMONKEY_CURRENCY")),
            worker_concurrency=int(env.get("CRM_WORKER_CONCURRENCY", d.worker_concurrency)),
            worker_poll_seconds=float(env.get("CRM_WORKER_POLL_SECONDS", d.worker_poll_seconds)),
            worker_heartbeat_seconds=float(env.get("CRM_WORKER_HEARTBEAT_SECONDS", d.worker_heartbeat_seconds)),
            events_retry_seconds=float(env.get("CRM_EVENTS_RETRY_SECONDS", d.events_retry_seconds)),
            events_retry_max_seconds=float(env.get("CRM_EVENTS_RETRY_MAX_SECONDS", d.events_retry_max_seconds)),
            events_max_attempts=int(env.get("CRM_EVENTS_MAX_ATTEMPTS", d.events_max_attempts)),
            events_retention_days=_retention_days(env.get("CRM_EVENTS_RETENTION_DAYS", str(d.events_retention_days))),
            audit_retention_months=_retention_months(
                env.get("CRM_AUDIT_RETENTION_MONTHS", str(d.audit_retention_months))),
            lookup_provider=env.get("CRM_LOOKUP_PROVIDER", "").strip() or None,
            sections_providers=_names(env.get("CRM_SECTIONS_PROVIDERS", "purchases,program")),
            customer_hooks=_names(env.get("CRM_CUSTOMER_HOOKS", "")),
            redeem_policies=_names(env.get("CRM_REDEEM_POLICIES", "")),
            earn_rules=_names(env.get("CRM_EARN_RULES", "")),
            personal_id_keys=env.get("CRM_PERSONAL_ID_KEYS") or None,
            personal_id_keys_file=env.get("CRM_PERSONAL_ID_KEYS_FILE") or None,
        )
