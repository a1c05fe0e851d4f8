"""Test fixtures: real PostgreSQL, no mocks.

One database per test session (the embedded server in a temporary folder, or DATABASE_URL when set),
migrated to head; before each test, every table the database's catalogue lists is emptied (a table a fork adds
included). `spi` and `admin` are clients with the respective credentials; `make_app` builds apps with settings
of the test's own; `live_server` runs the real gunicorn on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from crm_provider import db, demo, migrate
from crm_provider.app import create_app
from crm_provider.config import Settings, parse_users

DATA = Path(__file__).parent / "data"
EXAMPLES = {e["operation"]: e for e in json.loads((DATA / "crm-spi-v2-examples.json").read_text())}
DEMO_CUSTOMER_ID = "a26d8975-3b86-43c0-9b12-a86401074770"

# Secrets as a deployment must have them (config.weak_secrets: 16 characters or more, one per kind).
SPI_USER, SPI_PASSWORD = "pos", "pos-till-0Jq8vX2mTz"
ADMIN_USER, ADMIN_PASSWORD = "backoffice", "backoffice-5Lr3kW9pNa"
EVENTS_USER, EVENTS_PASSWORD = "sitoo-events", "events-7Hd2sQ4yBc"
# The personal ids' keyring of every process the tests start (they inherit the environment), as a deployment
# sets it (personal_ids.missing).
os.environ.setdefault("CRM_PERSONAL_ID_KEYS", "index:" + base64.b64encode(b"i" * 32).decode()
                      + ",t1:" + base64.b64encode(b"t" * 32).decode())
KEPT_TABLES = ("alembic_version",)  # the schema's own bookkeeping: the only table a test never empties


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("DATABASE_URL") or db.start_embedded(tmp_path_factory.mktemp("crm-data"))
    migrate.upgrade(url)
    demo.mark_database(url)  # the tests empty it before each test: `demo` may load into it
    return url


@pytest.fixture(scope="session")
def settings(database_url):
    return Settings(
        database_url=database_url,
        spi_users=parse_users(f"{SPI_USER}:{SPI_PASSWORD}"),
        admin_users=parse_users(f"{ADMIN_USER}:{ADMIN_PASSWORD}"),
        events_users=parse_users(f"{EVENTS_USER}:{EVENTS_PASSWORD}"),
        default_region="SE",
        sections_providers=("program",),  # the loyalty program's card, as `serve --demo` shows it
        personal_id_keys=os.environ["CRM_PERSONAL_ID_KEYS"],
    )


@pytest.fixture(scope="session")
def app(settings):
    app = create_app(settings)
    yield app
    app.extensions["crm_db"].close()


@pytest.fixture
def make_app(settings):
    """`make_app(**changes)`: an app with the session's settings changed so; its pool is closed at the end."""
    apps = []

    def make(**changes):
        app = create_app(replace(settings, **changes))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["crm_db"].close()


@pytest.fixture
def conn(database_url):
    """A connection of the test's own, committing at the end of each `with conn.transaction()`."""
    with db.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def audit_months(conn):
    """`audit_months(since)`: the audit log's monthly partitions from `since` on (partitions.ensure); those it
    added are dropped at the end."""
    from crm_provider.audit import partitions

    added = []
    yield lambda since: added.extend(partitions.ensure(conn, since=since))
    for month in added:
        conn.execute(f"DROP TABLE IF EXISTS audit_log_{month:%Y_%m}")


@pytest.fixture(scope="session")
def data_tables(database_url) -> list[str]:
    """Every table of the application's schema, read from the catalogue once the schema is at head."""
    with db.connect(database_url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                            "AND tablename <> ALL(%s) ORDER BY tablename", [list(KEPT_TABLES)]).fetchall()
    return [row["tablename"] for row in rows]


@pytest.fixture(autouse=True)
def _empty_tables(database_url, data_tables):
    with db.connect(database_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(data_tables)} RESTART IDENTITY CASCADE")


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class Client:
    """The Flask test client with one credential, returning (status, json) pairs."""

    def __init__(self, app, user, password):
        self.client = app.test_client()
        self.auth = basic(user, password)

    def request(self, method, path, *, json=None, data=None, headers=None, auth=True, **kwargs):
        all_headers = {**(self.auth if auth else {}), **(headers or {})}
        response = self.client.open(path, method=method, json=json, data=data, headers=all_headers, **kwargs)
        return response

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.request("PUT", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def spi(app):
    return Client(app, SPI_USER, SPI_PASSWORD)


@pytest.fixture
def admin(app):
    return Client(app, ADMIN_USER, ADMIN_PASSWORD)


@pytest.fixture
def demo_data(database_url, settings):
    """The contract's examples: consents, additional options, customer 10012 with its promotion."""
    with db.connect(database_url) as conn:
        demo.load(conn, settings.default_region)


@pytest.fixture
def catalogues(database_url, settings, admin):
    """The example consent and additional-option catalogues, no customers."""
    assert admin.put("/admin/consents", json=EXAMPLES["Get Consents"]["response"]).status_code == 200
    assert admin.put("/admin/additional-options", json=EXAMPLES["Get Additional Options"]["response"]).status_code == 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, base_url, process):
        self.base_url = base_url
        self.process = process
        self.session = requests.Session()
        self.session.auth = (SPI_USER, SPI_PASSWORD)

    def url(self, path):
        return self.base_url + path


def start_server(args, env, port, timeout=60.0) -> subprocess.Popen:
    # Output goes to a file, not a pipe: nobody reads a pipe while the server runs, and a session's request
    # logs would fill it and block the server.
    output = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "crm_provider", *args],
        env={**os.environ, **env, "PORT": str(port)},
        stdout=output, stderr=subprocess.STDOUT, text=True,
    )
    process.output_file = output
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {_output(process)}")
        try:
            requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return process
        except (requests.ConnectionError, requests.Timeout):  # the socket is open before the workers answer
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def _output(process: subprocess.Popen) -> str:
    process.output_file.seek(0)
    return process.output_file.read()


def stop_server(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    output = _output(process)
    process.output_file.close()
    return output


@pytest.fixture(scope="session")
def live_server(database_url):
    """`crm-provider serve` (gunicorn, its production settings) against the test database."""
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "CRM_SPI_USERS": f"{SPI_USER}:{SPI_PASSWORD}",
        "CRM_ADMIN_USERS": f"{ADMIN_USER}:{ADMIN_PASSWORD}",
        "CRM_EVENTS_USERS": f"{EVENTS_USER}:{EVENTS_PASSWORD}",
    }
    process = start_server(["serve"], env, port)
    yield LiveServer(f"http://127.0.0.1:{port}", process)
    stop_server(process)
