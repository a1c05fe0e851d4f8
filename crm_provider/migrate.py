"""Schema migrations (alembic, raw SQL in migrations/versions), run from code."""

from __future__ import annotations

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


def schema_behind(url: str) -> bool:
    """The database's schema is older than this release's migrations (`crm-provider db upgrade` is due)."""
    import psycopg
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url))
    heads, known = set(script.get_heads()), {rev.revision for rev in script.walk_revisions()}
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
            return True
        versions = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
    return not versions or any(version in known and version not in heads for version in versions)


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
