"""Settings: the environment, read once into a typed object.

Every knob the service has is here and in the README's table; nothing else reads os.environ.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path


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


DEFAULT_RATE_LIMIT = "6000/minute"


def _rate_limit(spec: str) -> str | None:
    """A `limits` limit string per credential (`6000/minute`, `100/second;5000/hour`), or `off`."""
    spec = spec.strip()
    return None if spec.lower() in ("", "off", "none", "0") else spec


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
    # Sitoo Events SPI (POST /events) and the order ingestion worker (crm_provider/events/)
    events_users: dict[str, bytes] = field(default_factory=dict)
    sitoo_api_url: str = "https://api.mysitoo.com/v2"
    sitoo_account_id: int | None = None
    sitoo_api_id: str | None = None
    sitoo_api_password: str | None = field(default=None, repr=False)
    sitoo_timeout: float = 10.0
    worker_concurrency: int = 4
    worker_poll_seconds: float = 5.0
    worker_heartbeat_seconds: float = 10.0
    events_retry_seconds: float = 5.0
    events_retry_max_seconds: float = 3600.0
    events_max_attempts: int = 30
    # Extension points (plugins.py). Settings built in code (tests, embedding) get no providers; the
    # environment's default adds the built-in `purchases` section (from_env).
    lookup_provider: str | None = None
    sections_providers: tuple[str, ...] = ()
    customer_hooks: tuple[str, ...] = ()
    redeem_policies: tuple[str, ...] = ()
    earn_rules: tuple[str, ...] = ()

    @property
    def pool_size(self) -> int:
        """One connection per gunicorn thread unless set: a request never waits for another's connection."""
        return max(self.pool_max_size or self.web_threads, self.pool_min_size)

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        """The defaults are the fields' own, but for two the environment sets on purpose: a rate limit, and
        the built-in Purchases section."""
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
            events_users=parse_users(env.get("CRM_EVENTS_USERS")),
            sitoo_api_url=env.get("SITOO_API_URL", d.sitoo_api_url),
            sitoo_account_id=int(env["SITOO_ACCOUNT_ID"]) if env.get("SITOO_ACCOUNT_ID") else None,
            sitoo_api_id=env.get("SITOO_API_ID") or None,
            sitoo_api_password=env.get("SITOO_API_PASSWORD") or None,
            sitoo_timeout=float(env.get("SITOO_TIMEOUT", d.sitoo_timeout)),
            worker_concurrency=int(env.get("CRM_WORKER_CONCURRENCY", d.worker_concurrency)),
            worker_poll_seconds=float(env.get("CRM_WORKER_POLL_SECONDS", d.worker_poll_seconds)),
            worker_heartbeat_seconds=float(env.get("CRM_WORKER_HEARTBEAT_SECONDS", d.worker_heartbeat_seconds)),
            events_retry_seconds=float(env.get("CRM_EVENTS_RETRY_SECONDS", d.events_retry_seconds)),
            events_retry_max_seconds=float(env.get("CRM_EVENTS_RETRY_MAX_SECONDS", d.events_retry_max_seconds)),
            events_max_attempts=int(env.get("CRM_EVENTS_MAX_ATTEMPTS", d.events_max_attempts)),
            lookup_provider=env.get("CRM_LOOKUP_PROVIDER", "").strip() or None,
            sections_providers=_names(env.get("CRM_SECTIONS_PROVIDERS", "purchases,program")),
            customer_hooks=_names(env.get("CRM_CUSTOMER_HOOKS", "")),
            redeem_policies=_names(env.get("CRM_REDEEM_POLICIES", "")),
            earn_rules=_names(env.get("CRM_EARN_RULES", "")),
        )
