"""The `crm-provider` command."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from . import db, logs, migrate, personal_ids
from .config import Settings, weak_secrets

log = logging.getLogger("crm_provider")

DEMO_CREDENTIAL = "demo:demo"


def _settings(*, own_keys: bool = False) -> Settings:
    """The environment's settings, and its personal ids' keyring for this process. With none configured and
    the embedded database (or the demo's own: `own_keys`), the keyring is a file in the data folder, which
    the processes this one starts are told of."""
    settings = Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    if not (settings.personal_id_keys or settings.personal_id_keys_file) and (own_keys or not settings.database_url):
        os.environ["CRM_PERSONAL_ID_KEYS_FILE"] = str(personal_ids.key_file(settings.data_dir))
        settings = Settings.from_env()
    try:
        personal_ids.use(personal_ids.load(settings))
    except personal_ids.KeyringError as error:
        raise click.ClickException(f"the personal ids' keyring: {error}") from None
    return settings


def _prepare_database(settings: Settings, *, upgrade: bool = False) -> str:
    """The database to use. With no DATABASE_URL: the embedded server, started and brought to head. A
    DATABASE_URL is the deployment's, where the service connects as a role that cannot change the schema
    (migration 0009): it is migrated only by `db upgrade` (`upgrade=True`), as the owner, and a schema behind
    this release is refused here rather than half-served."""
    url = db.database_url(settings)
    if not settings.database_url:
        log.info("embedded PostgreSQL running, data in %s", settings.data_dir.resolve())
        upgrade = True
    if upgrade:
        migrate.upgrade(url)
    elif migrate.schema_behind(url):
        raise click.ClickException("the database schema is behind this release: run `crm-provider db upgrade` "
                                   "(as the database owner) first")
    return url


def _prepare_demo_database(settings: Settings) -> str:
    """The demo's database: the embedded one in CRM_DATA_DIR, or one DATABASE_URL names that the demo creates
    (it must not exist yet) or created before. The demo replaces catalogues: any other database is refused."""
    from . import demo

    if settings.database_url:
        try:
            demo.claim_database(settings.database_url)
        except demo.NotADemoDatabase as refused:
            raise click.ClickException(str(refused)) from None
        return _prepare_database(settings, upgrade=True)  # the demo's own database
    url = _prepare_database(settings)
    demo.mark_database(url)
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
        for variable, kind in (("CRM_SPI_USERS", "SPI"), ("CRM_ADMIN_USERS", "admin"),
                               ("CRM_METRICS_USERS", "metrics")):
            if not os.environ.get(variable):
                os.environ[variable] = DEMO_CREDENTIAL
                defaulted.append(kind)
        # The demo answers the contract's examples: lookups from the person registry (which holds the lookup
        # example), the program's card (the example's "Customer Info" section) and no Purchases section (the
        # example customer has none, though it has a transaction).
        os.environ.setdefault("CRM_LOOKUP_PROVIDER", "registry")
        os.environ.setdefault("CRM_SECTIONS_PROVIDERS", "program")
    elif problems := weak_secrets():
        raise click.ClickException("refusing to start: " + "; ".join(problems))
    settings = _settings(own_keys=demo)
    for kind in defaulted:
        log.warning("demo mode: no %s credentials configured, using demo/demo", kind)
    if demo:
        url = _prepare_demo_database(settings)
        _load_demo(url, settings)
    else:
        url = _prepare_database(settings)
    if not settings.spi_users:
        log.warning("no SPI credentials configured (CRM_SPI_USERS): every SPI request will be refused")
    os.environ["DATABASE_URL"] = url  # the workers join this database instead of starting their own

    from .server import Server

    log.info("serving on http://%s:%s", settings.host, settings.port)
    Server().run()


@main.group("db")
def db_group():
    """Database administration."""


@db_group.command()
@click.option("--app-user", metavar="NAME",
              help="Also create the login role NAME the service connects as (or set its password, from "
                   "CRM_APP_DB_PASSWORD): a member of crm_app, which may read and write rows but change no "
                   "schema, truncate nothing and never update or delete audit rows.")
def upgrade(app_user: str | None):
    """Apply the schema migrations up to head (as the database owner)."""
    password = os.environ.get("CRM_APP_DB_PASSWORD") or ""
    if app_user and len(password) < 16:
        raise click.ClickException("set CRM_APP_DB_PASSWORD to the app role's password (16 characters or more)")
    url = _prepare_database(_settings(), upgrade=True)
    log.info("database schema is at head")
    if app_user:
        migrate.create_app_user(url, app_user, password)
        log.info("login role %s connects as a member of %s", app_user, migrate.APP_ROLE)


@main.group("keys")
def keys_group():
    """The personal ids' keyring (docs/security.md: key handling)."""


@keys_group.command("generate")
@click.option("--id", "key_id", help="The new sealing key's id (default: random).")
@click.option("--add-to", "keyring", metavar="KEYRING", help="Put the new key first in this keyring's text "
              "(the current CRM_PERSONAL_ID_KEYS): the next step of a rotation.")
def keys_generate(key_id: str | None, keyring: str | None):
    """Print a new keyring (an index key and a sealing key), or a keyring with a new sealing key first."""
    try:
        click.echo(personal_ids.generate(key_id) if keyring is None else personal_ids.with_new_key(keyring, key_id))
    except personal_ids.KeyringError as error:
        raise click.ClickException(str(error)) from None


@keys_group.command("rotate")
def keys_rotate():
    """Seal every personal id with the keyring's first key: those stored in plain before this release, and
    those sealed with an older key (resumable: run it again after a stop; then the old key can go)."""
    from .customers import service as customers

    settings = _settings()
    keyring = personal_ids.active()
    if keyring is None:
        raise click.ClickException("no keyring: set CRM_PERSONAL_ID_KEYS (or CRM_PERSONAL_ID_KEYS_FILE)")
    url = _prepare_database(settings)
    with db.connect(url, autocommit=True) as conn:
        done = [0]

        def page(rows: int) -> None:
            done[0] += rows
            click.echo(f"sealed {done[0]} so far", err=True)

        counts = customers.seal_personal_ids(conn, keyring, on_page=page)
    click.echo(f"sealed with {keyring.current}: {counts['sealed']}; left in plain as duplicates: "
               f"{counts['duplicates']}")


@main.group("audit")
def audit_group():
    """The audit log's tamper evidence and its months."""


@audit_group.command("seal")
def audit_seal():
    """Seal the committed audit rows into the hash chain now (the worker does it every minute)."""
    from .audit import chain

    with db.connect(_prepare_database(_settings()), autocommit=True) as conn:
        log.info("audit rows sealed: %s", chain.seal(conn))


@audit_group.command("partition")
def audit_partition():
    """Move an audit log from before partitioning (migration 0018) into monthly partitions, online, while the
    service writes on; run again, an interrupted move goes on where it stopped."""
    with db.connect(_prepare_database(_settings()), autocommit=True) as conn:
        _move_audit_log(conn)
    click.echo("the audit log is partitioned by month")


@audit_group.command("verify")
def audit_verify():
    """Recompute the audit log's hash chain; exit status 1 when a sealed row was altered or removed, or a row
    below the chain's head has no seal."""
    from .audit import chain

    with db.connect(_prepare_database(_settings()), autocommit=True) as conn:
        problems = chain.verify(conn)
    for problem in problems:
        click.echo(f"audit row {problem['audit_id']}: {problem['problem']}")
    if problems:
        raise SystemExit(1)
    click.echo("audit chain verified")


@main.command("demo")
def demo_command():
    """Load the demo data (the contract's examples) into the database."""
    settings = _settings()
    _load_demo(_prepare_demo_database(settings), settings)


def _app(settings: Settings):
    """The application, for a command that needs every area registered (personal_data.py, customer_columns.py)
    as the web has them; close its pool (`app.extensions["crm_db"]`) when done."""
    from .app import create_app

    return create_app(settings)


@main.group("customers")
def customers_group():
    """Customers' data (the data subject)."""


@customers_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the whole file and report; write nothing.")
@click.option("--skip-invalid", is_flag=True, help="Import the good rows and report the others (by default a "
              "file with any bad row changes nothing).")
@click.option("--no-update", "no_update", is_flag=True,
              help="Refuse a row whose member number (or id) is a customer's, instead of updating it.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write every rejected row's line number and reason to this CSV file.")
def customers_import(csv_file: Path, dry_run: bool, skip_invalid: bool, no_update: bool, report_file: Path | None):
    """Import customers from CSV_FILE (UTF-8, header row; the columns: docs/data-lifecycle.md), in one
    transaction. Rejected rows are reported by line number and reason, never by their values."""
    import csv

    from .customers import transfer

    settings = _settings()
    url = _prepare_database(settings)
    app = _app(settings)  # every area's registered columns, as the web has them
    with csv_file.open("rb") as raw:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 20), b""))

    def report(rows):
        with report_file.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["line", "reason"])
            writer.writerows(rows)

    try:
        with app.app_context(), db.connect(url) as conn, csv_file.open(newline="", encoding="utf-8-sig") as text:
            with click.progressbar(length=max(lines - 1, 1), label="importing", file=sys.stderr) as bar:
                try:
                    result = transfer.import_file(
                        conn, text, settings.default_region, member_number_digits=settings.member_number_digits,
                        skip_invalid=skip_invalid, update=not no_update, dry_run=dry_run,
                        workers=os.cpu_count() or 1, on_rows=bar.update, report=report if report_file else None)
                except transfer.Refused as refused:
                    result = refused.result
            conn.commit()
    except (UnicodeDecodeError, csv.Error) as error:
        raise click.ClickException(f"not a UTF-8 CSV file ({type(error).__name__})") from None
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    finally:
        app.extensions["crm_db"].close()
    for line in result.report():
        click.echo(line)
    if result.rejected and not skip_invalid:
        raise click.ClickException("the file has rows that cannot be imported: nothing was imported "
                                   "(--skip-invalid imports the others)")


@customers_group.command("export")
@click.option("--customer", "customer_id", help="One customer's subject-access export (everything held about "
              "them, as GET /admin/customers/{id}/export), as JSON.")
@click.option("--format", "file_format", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True,
              help="Every live customer in the import's columns: CSV, or one JSON object per line.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write to this file instead of the standard output.")
def customers_export(customer_id: str | None, file_format: str, output: Path | None):
    """Write every live customer in the columns `customers import` reads (export, import into an empty
    database, export again: the same file), or with --customer everything held about one customer."""
    import contextlib
    import json

    from .customers import service as customers
    from .customers import transfer
    from .errors import CrmError
    from .keys import customer_uuid

    settings = _settings()
    url = _prepare_database(settings)
    app = _app(settings)
    try:
        with app.app_context(), db.connect(url) as conn, contextlib.ExitStack() as files:
            out = files.enter_context(output.open("w", newline="", encoding="utf-8")) if output else sys.stdout
            if customer_id is not None:
                document = customers.subject_access(conn, customer_uuid(customer_id))
                out.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
                return
            count = (transfer.write_csv if file_format == "csv" else transfer.write_jsonl)(conn, out)
    except CrmError as error:
        raise click.ClickException(error.text) from None
    finally:
        app.extensions["crm_db"].close()
    click.echo(f"customers exported: {count}", err=True)


@main.group("lookup")
def lookup_group():
    """The person registry behind /lookup_customers (lookup provider `registry`)."""


@lookup_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--append", is_flag=True, help="Add to the registry instead of replacing it.")
def lookup_import(csv_file: Path, append: bool):
    """Fill the person registry from CSV_FILE (UTF-8, header row; columns: docs/plugins.md).

    The file replaces the registry in one transaction; rows that cannot be stored are skipped and counted
    by reason. A file whose every row is rejected changes nothing.
    """
    import csv

    from .lookup import service as lookup

    settings = _settings()
    url = _prepare_database(settings)
    with csv_file.open("rb") as raw:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 20), b""))
    with db.transaction(url) as conn, csv_file.open(newline="", encoding="utf-8-sig") as text:
        reader = csv.DictReader(text)
        try:
            lookup.check_columns(reader.fieldnames)
            rows = ((reader.line_num, row) for row in reader)
            with click.progressbar(rows, length=max(lines - 1, 1), label="importing", file=sys.stderr) as bar:
                result = lookup.import_persons(conn, bar, settings.default_region, replace=not append)
        except (UnicodeDecodeError, csv.Error) as error:
            raise click.ClickException(f"line {reader.line_num}: not a UTF-8 CSV file ({type(error).__name__})") from None
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        for line in result.report():
            click.echo(line)
        if result.rejected and not result.imported:
            raise click.ClickException("no row could be imported: the registry is unchanged")


@main.command("maintenance")
def maintenance():
    """Trim what the retention settings let go, as the database owner (the worker does the part the service's
    role may, daily): the handled Sitoo and Shopmonkey events older than CRM_EVENTS_RETENTION_DAYS (default
    30), in batches;
    the audit log's months that ended more than CRM_AUDIT_RETENTION_MONTHS ago (default 13), after moving a log
    from before partitioning into partitions and adding the coming months'. Safe when two run at once."""
    import psycopg

    from .audit import partitions
    from .events import service as events
    from .workshop import service as workshop

    settings = _settings()
    with db.connect(_prepare_database(settings), autocommit=True) as conn:
        trimmed = events.trim(conn, settings.events_retention_days) + workshop.trim(conn, settings.events_retention_days)
        click.echo(f"handled events older than {settings.events_retention_days} days deleted: {trimmed}")
        try:
            _move_audit_log(conn)
            added = partitions.ensure(conn)
            dropped = partitions.drop_expired(conn, settings.audit_retention_months)
        except psycopg.errors.InsufficientPrivilege:
            raise click.ClickException("the audit log's months are the database owner's to drop: run "
                                       "`crm-provider maintenance` with the owner's DATABASE_URL") from None
    click.echo(f"audit log months added: {len(added)}; dropped (older than {settings.audit_retention_months} "
               f"months): {', '.join(dropped) or 'none'}")


def _move_audit_log(conn) -> None:
    from .audit import partitions

    if partitions.partitioned(conn):
        return
    with click.progressbar(length=1, label="moving the audit log into partitions", file=sys.stderr) as bar:
        def progress(copied: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(copied - bar.pos)

        moved = partitions.move(conn, progress)
    if moved:
        click.echo("audit log moved into partitions")


@main.group("program")
def program_group():
    """The loyalty program's daily job and checks."""


@program_group.command("expire")
@click.option("--at", "at", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
              help="Expire as of this time (default now; a date is midnight UTC).")
def program_expire(at):
    """Book the points that have expired (oldest first); safe when two run at once."""
    from datetime import timezone

    from .program import service as program

    settings = _settings()
    with db.connect(_prepare_database(settings), autocommit=True) as conn:
        expired = program.expire(conn, at.replace(tzinfo=at.tzinfo or timezone.utc) if at else None)
    click.echo(f"points expired: {expired}")


@program_group.command("rebuild")
@click.option("--customer", "customer_id", type=click.UUID, help="Only this customer's orders.")
def program_rebuild(customer_id):
    """Book every stored Sitoo order again under the program (idempotent; never withdraws a bonus check)."""
    from .program import service as program
    from .transactions import service as transactions

    settings = _settings()
    with db.connect(_prepare_database(settings), autocommit=True) as conn:
        total = transactions.count_orders(conn, customer_id)
        with click.progressbar(length=max(total, 1), label="orders", file=sys.stderr) as bar:
            booked = program.rebuild(conn, customer_id, on_order=lambda: bar.update(1))
    click.echo(f"orders booked: {booked}")


@program_group.command("verify")
def program_verify():
    """Check every stored balance against the points ledger (exit status 1 on a difference)."""
    from .program import service as program

    settings = _settings()
    with db.connect(_prepare_database(settings)) as conn:
        wrong = program.verify(conn)
    for row in wrong:
        click.echo(f"customer {row['customer_id']}: stored {row['balance']}, ledger {row['ledger']}")
    click.echo(f"accounts differing from the ledger: {len(wrong)}")
    sys.exit(1 if wrong else 0)


@main.command()
@click.option("--burst", is_flag=True, help="Stop when no event is waiting, instead of waiting for more.")
def worker(burst: bool):
    """Process the background jobs: Sitoo order events, customer hook deliveries, the program's daily expiry
    (several workers may run at once)."""
    from . import worker as jobs

    if problems := personal_ids.missing():
        raise click.ClickException("refusing to start: " + "; ".join(problems))
    settings = _settings()
    url = _prepare_database(settings)
    log.info("worker started (concurrency %s)", settings.worker_concurrency)
    jobs.run(url, settings, burst=burst)


@main.command("sync-service-orders")
def sync_service_orders():
    """Sweep Sitoo's open service orders onto the customer card once (the worker does it every minute); a sweep
    that stopped goes on from its last page."""
    from .events.sitoo import SitooError
    from .workshop import service as workshop
    from .workshop.clients import ServiceOrdersClient

    settings = _settings()
    url = _prepare_database(settings)
    try:
        client = ServiceOrdersClient.from_settings(settings)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    bar = click.progressbar(length=workshop.PAGE_SIZE, label="service orders", file=sys.stderr)

    def page(seen: int) -> None:
        bar.length = bar.pos + seen + workshop.PAGE_SIZE  # the API gives no total: a page more than read
        bar.update(seen)

    try:
        with db.connect(url, autocommit=True) as conn, bar:
            try:
                result = workshop.sweep(conn, client.service_orders, settings.default_region, page)
            except SitooError as error:
                workshop.sweep_failed(conn, str(error), lambda failures: 0)
                raise click.ClickException(f"{error}: run again to go on from the last page read") from None
    finally:
        client.close()
    if result is None:
        raise click.ClickException("another sweep is running")
    click.echo(f"sweep {result['sweep']}: {result['closed']} closed, {result['skipped']} skipped")


@main.command("sync-orders")
@click.option("--from-order-id", type=click.IntRange(min=0),
              help="First Sitoo order id to read; without it, go on from where the last run stopped.")
@click.option("--page-size", type=click.IntRange(1, 1000), default=100, show_default=True)
def sync_orders(from_order_id: int | None, page_size: int):
    """Backfill transactions from the Sitoo orders API, page by page (resumable)."""
    from .events import backfill
    from .events.sitoo import SitooClient

    settings = _settings()
    url = _prepare_database(settings)
    try:
        sitoo = SitooClient.from_settings(settings)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    bar = click.progressbar(length=1, label="orders", file=sys.stderr)
    try:
        with db.connect(url, autocommit=True) as conn, bar:
            counts = backfill.sync_orders(
                conn, sitoo, from_order_id=from_order_id, page_size=page_size,
                attempts=5, first_wait=settings.events_retry_seconds,
                max_wait=min(60.0, settings.events_retry_max_seconds),
                on_total=lambda total: setattr(bar, "length", max(total, 1)), on_page=bar.update)
    except backfill.BackfillStopped as error:
        raise click.ClickException(
            f"stopped before order {error.next_order_id}: {error}; run again without --from-order-id to go on"
        ) from None
    finally:
        sitoo.close()
    for outcome, count in sorted(counts.items()):
        click.echo(f"{outcome}: {count}")
    click.echo(f"orders applied: {sum(counts.values())}")


@main.command("contract-test")
@click.argument("base_url")
@click.option("--user", required=True, envvar="CRM_CONTRACT_USER", help="SPI user (as Sitoo POS calls the CRM).")
@click.option("--password", required=True, envvar="CRM_CONTRACT_PASSWORD", help="SPI password.")
@click.option("--admin-user", envvar="CRM_CONTRACT_ADMIN_USER",
              help="Admin user: lets the checks that need promotions, bonus checks and transactions create them.")
@click.option("--admin-password", envvar="CRM_CONTRACT_ADMIN_PASSWORD", help="Admin password.")
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False), help="Also write the report as JUnit XML.")
@click.option("--fuzz", type=click.IntRange(min=0), default=0, show_default=True,
              help="Property-based run (schemathesis): examples per operation, valid and invalid each; 0: none.")
@click.option("--seed", type=int, help="Seed of the property-based run, to repeat one.")
@click.option("--openapi", "openapi_file", type=click.Path(exists=True, dir_okay=False),
              help="The OpenAPI document to judge answers by (default: the one this version generates, "
                   "as committed in openapi/openapi.json).")
@click.option("--check", "only", multiple=True, help="Run only this check (repeatable); see docs/contract.md.")
@click.option("-v", "--verbose", is_flag=True, help="Show what each passed check covered, too.")
def contract_test(base_url, user, password, admin_user, admin_password, junit_file, fuzz, seed, openapi_file, only,
                  verbose):
    """Run the CRM SPI v2 conformance suite against the CRM at BASE_URL (any implementation).

    Exit status: 0 when no check failed, 1 otherwise. Skipped checks (no admin credentials) do not fail.
    """
    try:
        from .contract import junit, openapi, report, runner
    except ImportError as error:  # the contract extra is not installed
        raise click.ClickException(f"{error}: install the suite with pip install '.[contract]'")
    if bool(admin_user) != bool(admin_password):
        raise click.UsageError("give both --admin-user and --admin-password, or neither")
    unknown = set(only) - {check.id for check in runner.CHECKS}
    if unknown:
        raise click.UsageError(f"no such check: {', '.join(sorted(unknown))}")
    document = openapi.Document(openapi.load(openapi_file))
    result = runner.run(base_url, user, password, admin_user=admin_user, admin_password=admin_password, fuzz=fuzz,
                        seed=seed, document=document, only=set(only) or None)
    click.echo(report.render(result, verbose=verbose))
    if junit_file:
        junit.write(result, junit_file)
    sys.exit(0 if result.ok else 1)
