"""Serving in production: probes, metrics, JSON request logs without personal data, rate limiting, the
pool and gunicorn settings. The log and multiprocess-metrics checks run against a real gunicorn."""

from __future__ import annotations

import json
import os
import time
import uuid

import psycopg
import pytest
import requests
from prometheus_client import REGISTRY
from sqlalchemy.engine import make_url

from conftest import ADMIN_PASSWORD, ADMIN_USER, DEMO_CUSTOMER_ID, SPI_PASSWORD, SPI_USER, EXAMPLES, Client, basic
from conftest import free_port, start_server, stop_server
from crm_provider import db, metrics, migrate
from crm_provider.ops import service as ops_service
from crm_provider.config import DEFAULT_RATE_LIMIT, Settings, parse_users

METRICS_USER, METRICS_PASSWORD = "prometheus", "prometheus-8Vt6cR1uXe"


@pytest.fixture
def ops_app(make_app):
    return make_app(metrics_users=parse_users(f"{METRICS_USER}:{METRICS_PASSWORD}"))


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def audit_rows(conn) -> int:
    return conn.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"]


# --- probes --------------------------------------------------------------------------------------------------

def test_probes_are_public_and_not_audited(ops_app, conn):
    client = ops_app.test_client()
    health = client.get("/healthz")
    ready = client.get("/readyz")
    assert (health.status_code, health.json) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json) == (200, {"status": "ready"})
    assert health.headers["X-Request-ID"]
    assert audit_rows(conn) == 0


def test_probes_are_kept_out_of_the_openapi_document(ops_app):
    paths = ops_app.test_client().get("/openapi.json").json["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


def test_readyz_fails_when_the_database_cannot_be_reached(make_app, tmp_path):
    app = make_app(database_url=f"postgresql://postgres@/postgres?host={tmp_path}")
    health = app.test_client().get("/healthz")
    ready = app.test_client().get("/readyz")
    assert health.status_code == 200, "liveness must not depend on the database"
    assert ready.status_code == 503
    assert ready.json["statuscode"] == 503 and "unreachable" in ready.json["errortext"]
    assert ready.headers["Retry-After"]


@pytest.fixture
def behind_database(database_url):
    """A database of its own on the session's server, migrated only to the first revision."""
    name = f"crm_behind_{uuid.uuid4().hex[:8]}"
    with db.connect(database_url, autocommit=True) as admin_conn:
        admin_conn.execute(f"CREATE DATABASE {name}")
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url, "0001")
    yield url
    with db.connect(database_url, autocommit=True) as admin_conn:
        admin_conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_readyz_fails_while_the_schema_is_behind_and_not_when_it_is_ahead(behind_database, make_app, monkeypatch):
    monkeypatch.setattr(ops_service, "READY_CACHE_SECONDS", 0)  # each probe checks again
    app = make_app(database_url=behind_database, metrics_users=parse_users(f"{METRICS_USER}:{METRICS_PASSWORD}"))
    client = app.test_client()
    behind = client.get("/readyz")
    assert behind.status_code == 503 and "db upgrade" in behind.json["errortext"]
    # Metrics still answer, without the events backlog (its table comes with a later migration).
    scraped = client.get("/metrics", headers=basic(METRICS_USER, METRICS_PASSWORD))
    assert scraped.status_code == 200 and "crm_events_backlog" not in scraped.text

    # The next release migrated first (a rolling update): a revision this code does not know is no reason
    # to take the old pods out of service.
    with db.connect(behind_database, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_next_release'")
    assert client.get("/readyz").status_code == 200


# --- metrics -------------------------------------------------------------------------------------------------

def test_metrics_take_their_own_credential(ops_app):
    client = ops_app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=basic(SPI_USER, SPI_PASSWORD)).status_code == 403
    assert client.get("/metrics", headers=basic(ADMIN_USER, ADMIN_PASSWORD)).status_code == 403
    scraped = client.get("/metrics", headers=basic(METRICS_USER, METRICS_PASSWORD))
    assert scraped.status_code == 200
    assert scraped.content_type.startswith("text/plain")
    assert "crm_http_requests_total" in scraped.text


def test_requests_are_counted_by_route_template_never_by_url(ops_app, demo_data):
    spi = Client(ops_app, SPI_USER, SPI_PASSWORD)
    search = dict(method="GET", route="/customers", status="200")
    get = dict(method="GET", route="/customers/<customer_id>", status="200")
    unmatched = dict(method="GET", route="<unmatched>", status="404")
    counted = lambda: (sample("crm_http_requests_total", **search), sample("crm_http_requests_total", **get),  # noqa: E731
                       sample("crm_http_requests_total", **unmatched),
                       sample("crm_http_request_duration_seconds_count", method="GET", route="/customers"))
    before = counted()
    assert spi.get("/customers?key_type=email&key=private.person@example.com").status_code == 200
    assert spi.get(f"/customers/{DEMO_CUSTOMER_ID}").status_code == 200
    assert spi.get("/no/such/route").status_code == 404
    assert counted() == tuple(value + 1 for value in before)

    text = ops_app.test_client().get("/metrics", headers=basic(METRICS_USER, METRICS_PASSWORD)).text
    assert "private.person" not in text and DEMO_CUSTOMER_ID not in text
    assert sample("crm_db_pool_connections", state="max") == ops_app.config["CRM_SETTINGS"].pool_size


def test_redeem_outcomes_are_counted(ops_app, demo_data):
    spi = Client(ops_app, SPI_USER, SPI_PASSWORD)
    path = f"/customers/{DEMO_CUSTOMER_ID}/redeem"
    body = EXAMPLES["Redeem Items"]["request"]
    before = {(op, outcome): sample("crm_redeem_requests_total", operation=op, outcome=outcome)
              for op, outcome in (("redeem", "success"), ("redeem", "refused"), ("undo", "success"),
                                  ("redeem", "not_found"))}
    redeemed = spi.post(path, json=body)
    assert redeemed.status_code == 200
    assert spi.post(path, json=body).status_code == 409
    assert spi.delete(f"{path}/{redeemed.json['redeem_id']}").status_code == 200
    assert spi.post(f"/customers/{uuid.uuid4()}/redeem", json=body).status_code == 404
    for key, count in before.items():
        assert sample("crm_redeem_requests_total", operation=key[0], outcome=key[1]) == count + 1, key


def test_redeem_routes_are_recognised_whatever_their_variable_names():
    assert metrics.redeem_operation("POST", "/customers/<customer_id>/redeem") == "redeem"
    assert metrics.redeem_operation("DELETE", "/customers/<cid>/redeem/<rid>") == "undo"
    assert metrics.redeem_operation("GET", "/customers/<customer_id>") is None
    assert metrics.redeem_operation("POST", None) is None


def test_events_backlog_is_read_at_scrape_time(ops_app, conn):
    def scrape():
        return ops_app.test_client().get("/metrics", headers=basic(METRICS_USER, METRICS_PASSWORD)).text

    assert "crm_events_backlog 0.0" in scrape()
    for status in ("pending", "pending", "processed"):
        conn.execute(
            "INSERT INTO inbound_events (event_id, event_type, event_date, account_id, data, status)"
            " VALUES (%s, 'order', now(), 1, '{}', %s)", (uuid.uuid4(), status))
    assert "crm_events_backlog 2.0" in scrape()


# --- rate limiting -------------------------------------------------------------------------------------------

def test_rate_limit_is_per_credential_with_the_contract_error_and_retry_after(make_app):
    app = make_app(rate_limit="3/hour")
    spi, admin = Client(app, SPI_USER, SPI_PASSWORD), Client(app, ADMIN_USER, ADMIN_PASSWORD)
    for _ in range(3):
        assert spi.get("/consents").status_code == 200
    limited = spi.get(f"/customers/{uuid.uuid4()}")  # one budget for all routes of the credential
    assert limited.status_code == 429
    assert limited.json == {"errortext": "Too Many Requests. A request limit has been reached.", "statuscode": 429}
    assert 1 <= int(limited.headers["Retry-After"]) <= 3600
    assert admin.get("/admin/audit").status_code == 200, "another credential has its own budget"
    assert spi.get("/consents", auth=False).status_code == 401, "no credential, nothing to count"
    assert app.test_client().get("/healthz").status_code == 200


def test_a_rate_limit_store_that_fails_lets_requests_through(make_app, monkeypatch, caplog):
    from limits.errors import StorageError
    from limits.strategies import FixedWindowRateLimiter

    app = make_app(rate_limit="1/hour")
    spi = Client(app, SPI_USER, SPI_PASSWORD)

    def unreachable(self, *args, **kwargs):  # what limits raises for a store's own failure (wrap_exceptions)
        raise StorageError(ConnectionError("store down"))

    monkeypatch.setattr(FixedWindowRateLimiter, "hit", unreachable)
    assert [spi.get("/consents").status_code for _ in range(3)] == [200, 200, 200]
    assert "rate limit not checked: ConnectionError" in caplog.text


def test_a_broken_rate_limiter_is_an_error_not_a_limit_switched_off(make_app, monkeypatch):
    from limits.strategies import FixedWindowRateLimiter

    spi = Client(make_app(rate_limit="1/hour"), SPI_USER, SPI_PASSWORD)

    def renamed(self, *args, **kwargs):  # as if a limits release changed what the limiter calls
        raise AttributeError("no such method")

    monkeypatch.setattr(FixedWindowRateLimiter, "hit", renamed)
    assert spi.get("/consents").status_code == 500


def test_the_limits_internals_the_memory_store_relies_on_are_there_and_a_limit_bites(make_app):
    from crm_provider import ratelimit

    ratelimit.check_memory_storage()  # raises for a limits release without them (and so does the start-up)
    app = make_app(rate_limit="5/hour")  # memory://, the default: the worker's own counters
    assert isinstance(app.before_request_funcs[None][-1].__self__.limiter.storage, ratelimit.WorkerMemoryStorage)
    spi = Client(app, SPI_USER, SPI_PASSWORD)
    assert [spi.get("/consents").status_code for _ in range(7)] == [200] * 5 + [429] * 2


def test_rate_limit_settings():
    assert Settings().rate_limit is None  # settings built in code (tests, embedding): no limit
    assert Settings.from_env({}).rate_limit == DEFAULT_RATE_LIMIT
    assert Settings.from_env({"CRM_RATE_LIMIT": "off"}).rate_limit is None
    shared = Settings.from_env({"CRM_RATE_LIMIT_STORAGE": "redis://cache:6379"})
    assert shared.rate_limit_storage == "redis://cache:6379"


# --- the pool and gunicorn -----------------------------------------------------------------------------------

def test_pool_is_sized_from_the_threads_and_waits_a_bounded_time(make_app):
    assert Settings.from_env({"GUNICORN_THREADS": "6"}).pool_size == 6
    assert Settings.from_env({"GUNICORN_THREADS": "6", "CRM_POOL_MAX_SIZE": "3"}).pool_size == 3
    pool = make_app(web_threads=6, pool_timeout=1.5).extensions["crm_db"].pool
    assert (pool.max_size, pool.timeout) == (6, 1.5)
    # psycopg_pool's default keeps retrying a lost server with a back-off growing to minutes: requests would
    # go on failing for that long after PostgreSQL is back. Short rounds instead (test_faults.py).
    assert pool.reconnect_timeout <= 2 * pool.timeout


def test_a_pooled_connection_the_server_closed_is_replaced_before_a_request_gets_it(make_app, conn):
    """A backend killed while its connection sat in the pool (a restart, a failover): the next request gets
    a live connection, because the pool checks a connection the server has written to since its last use."""
    database = make_app(web_threads=1, pool_min_size=1).extensions["crm_db"]
    lent = database.getconn()
    pid = lent.info.backend_pid
    database.putconn(lent)
    conn.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.2)  # the server's goodbye reaches the socket
    again = database.getconn()
    try:
        assert again.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"] != pid
    finally:
        database.putconn(again)


def test_gunicorn_settings():
    from crm_provider import gunicorn_conf as conf

    settings = Settings.from_env()
    assert conf.worker_class == "gthread" and conf.threads == settings.web_threads
    assert conf.workers == settings.web_workers and conf.preload_app is False
    assert conf.max_requests > 0 and 0 < conf.max_requests_jitter < conf.max_requests
    assert conf.graceful_timeout < 30 <= conf.timeout, "drains within Kubernetes' 30 s grace period"
    assert conf.accesslog is None, "gunicorn's access log would carry the query string"


def test_gunicorn_prepares_a_clean_metrics_folder(tmp_path):
    from crm_provider import gunicorn_conf as conf

    saved = os.environ.pop(metrics.MULTIPROC_DIR, None)
    try:
        conf.on_starting(None)
        created = os.environ[metrics.MULTIPROC_DIR]
        assert os.path.isdir(created)
        conf.on_exit(None)
        assert not os.path.exists(created), "a folder it created is removed at exit"

        os.environ[metrics.MULTIPROC_DIR] = str(tmp_path)
        (tmp_path / "counter_1.db").write_bytes(b"stale")
        conf.on_starting(None)
        assert not (tmp_path / "counter_1.db").exists(), "a previous run's counters are cleared"
        conf.on_exit(None)
        assert tmp_path.exists(), "a folder it was given is kept"
    finally:
        os.environ.pop(metrics.MULTIPROC_DIR, None)
        conf._created_metrics_dir = None
        if saved is not None:
            os.environ[metrics.MULTIPROC_DIR] = saved


# --- a real gunicorn: JSON request logs, nothing personal, metrics of all workers ----------------------------

PERSON = {"email": "Anna.Private@Example.com", "mobile": "0701234567", "personal_id": "19800101-1234"}
SECRETS = ("anna.private", "Anna.Private", "0701234567", "46701234567", "701234567", "19800101-1234",
           "198001011234", "8001011234")


def test_request_logs_are_json_lines_without_personal_data(database_url, tmp_path):
    port = free_port()
    env = {"DATABASE_URL": database_url, "CRM_SPI_USERS": f"{SPI_USER}:{SPI_PASSWORD}", "LOG_LEVEL": "INFO",
           "CRM_METRICS_USERS": f"{METRICS_USER}:{METRICS_PASSWORD}", "LOG_FORMAT": "json"}
    process = start_server(["serve"], env, port)
    base, auth = f"http://127.0.0.1:{port}", (SPI_USER, SPI_PASSWORD)
    sent = []

    def call(method, path, **kwargs):
        # A new connection each time, so that both workers answer some of them.
        response = requests.request(method, base + path, auth=auth, timeout=15,
                                    headers={"Connection": "close", **kwargs.pop("headers", {})}, **kwargs)
        sent.append((method, path, response))
        return response

    try:
        created = call("POST", "/customers", json={"name_first": "Anna", **PERSON},
                       headers={"X-Request-ID": "till-7-receipt-42"})
        assert created.status_code == 201 and created.headers["X-Request-ID"] == "till-7-receipt-42"
        customer_id = created.json()["customer_id"]
        for key_type, key in (("email", PERSON["email"]), ("mobile", "+46701234567"),
                              ("personal_id", PERSON["personal_id"])):
            assert call("GET", "/customers", params={"key_type": key_type, "key": key}).json()[0]["customer_id"] \
                == customer_id
        assert call("PUT", f"/customers/{customer_id}", json={**PERSON, "email": "not an email"}).status_code == 400
        assert call("PUT", f"/customers/{customer_id}", json=PERSON).status_code == 200
        assert call("GET", "/customers", params={"key_type": "nonsense", "key": PERSON["email"]}).status_code == 400
        scraped = requests.get(base + "/metrics", auth=(METRICS_USER, METRICS_PASSWORD), timeout=15).text
    finally:
        output = stop_server(process)

    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(lines) == len([line for line in output.splitlines() if line.strip()]), "every line is JSON"
    answered = [line for line in lines if line["logger"] == "crm_provider.request"
                and line["route"] not in ("/metrics", "/openapi.json")]  # the scrape, start_server's polls
    # Two workers write to the same stream: the lines are matched to the requests by request id.
    by_id = {line["request_id"]: line for line in answered}
    assert len(by_id) == len(answered) == len(sent)
    for method, path, response in sent:
        line = by_id[response.headers["X-Request-ID"]]
        assert (line["method"], line["status"]) == (method, response.status_code)
        assert line["route"] == ("/customers" if path == "/customers" else "/customers/<customer_id>")
        assert isinstance(line["duration_ms"], float) and line["credential"] == SPI_USER
        assert line["level"] == "INFO" and line["message"] == "request" and line["timestamp"]
    assert "till-7-receipt-42" in by_id
    for secret in SECRETS:
        assert secret not in output, f"{secret!r} is in the log"
        assert secret not in scraped, f"{secret!r} is in the metrics"

    # Every worker's requests are in the scrape, whichever worker answered it.
    searches = sum(float(line.rsplit(" ", 1)[1]) for line in scraped.splitlines()
                   if line.startswith('crm_http_requests_total{method="GET",route="/customers",'))
    assert searches == 4
    assert 'crm_db_pool_connections{state="max"}' in scraped


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_tracebacks_are_logged_without_exception_messages(fmt):
    import logging
    import sys

    from crm_provider.logs import JsonFormatter, TextFormatter

    email = "anna.private@example.com"
    try:
        raise psycopg.errors.UniqueViolation(f"Key (email_norm)=({email}) already exists")
    except psycopg.Error:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "unexpected %s", ("UniqueViolation",),
                                   exc_info=sys.exc_info())
    line = (JsonFormatter if fmt == "json" else TextFormatter)().format(record)
    assert "unexpected UniqueViolation" in line and "test_production.py" in line, "message and frames stay"
    assert "anna.private" not in line
