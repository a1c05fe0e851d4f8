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
    pool_max_size: int = 8
    pool_timeout: float = 2.0
    statement_timeout_ms: int = 800
    max_body_bytes: int = 256 * 1024
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("CRM_DATA_DIR", ".crm-data")),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8000")),
            spi_users=parse_users(env.get("CRM_SPI_USERS")),
            admin_users=parse_users(env.get("CRM_ADMIN_USERS")),
            default_region=env.get("CRM_DEFAULT_REGION", "SE").upper(),
            pool_min_size=int(env.get("CRM_POOL_MIN_SIZE", "1")),
            pool_max_size=int(env.get("CRM_POOL_MAX_SIZE", "8")),
            pool_timeout=float(env.get("CRM_POOL_TIMEOUT", "2")),
            statement_timeout_ms=int(env.get("CRM_STATEMENT_TIMEOUT_MS", "800")),
            max_body_bytes=int(env.get("CRM_MAX_BODY_BYTES", str(256 * 1024))),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
        )
