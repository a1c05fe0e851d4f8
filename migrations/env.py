"""Alembic environment: raw SQL migrations, no ORM models (target_metadata = None).

The database URL comes from the caller (`crm-provider db upgrade` sets `sqlalchemy.url`), or from
DATABASE_URL when alembic is run by hand. Every migration runs under a short lock_timeout so that it
fails fast instead of queueing behind live traffic.
"""

import os

from alembic import context
from sqlalchemy import create_engine, text

config = context.config
target_metadata = None


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("set DATABASE_URL, or run `crm-provider db upgrade`")
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url())
    with engine.connect() as connection:
        connection.execute(text("SET lock_timeout = '5s'"))
        # Two deployments starting at once migrate one after the other, not side by side.
        connection.execute(text("SELECT pg_advisory_lock(727274)"))
        connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
