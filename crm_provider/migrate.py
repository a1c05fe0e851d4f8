"""Schema migrations (alembic, raw SQL in migrations/versions), run from code."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)



APP_ROLE = "crm_app"  # the group role of migration 0009


@functools.cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(heads, every revision) of this release's migrations, read from disk once per process."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    return frozenset(script.get_heads()), frozenset(rev.revision for rev in script.walk_revisions())


def behind(versions: set[str]) -> bool:
    """A database at `versions` (its alembic_version rows) is older than this release's migrations. A
    revision this release does not know is the next release's (a rolling update migrated first): not behind,
    since every migration stays compatible with the release before it."""
    heads, known = _revisions()
    return not versions or any(version in known and version not in heads for version in versions)


def schema_behind(url: str) -> bool:
    """The database's schema is older than this release (`crm-provider db upgrade` is due)."""
    import psycopg

    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
            return True
        return behind({row[0] for row in conn.execute("SELECT version_num FROM alembic_version")})


def create_app_user(url: str, name: str, password: str) -> None:
    """Create (or give a new password to) the login role the service connects as, a member of APP_ROLE.
    Run as the owner, after the migrations."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(APP_ROLE), sql.Identifier(name)))
