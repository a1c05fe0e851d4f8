"""Authentication, the Error body on every failure, and the audit trail."""

import json
import logging
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from conftest import ADMIN_PASSWORD, ADMIN_USER, DEMO_CUSTOMER_ID, SPI_PASSWORD, SPI_USER, basic
from crm_provider import errors

ORIGINAL_EXECUTE = psycopg.Cursor.execute  # every statement, whichever cursor runs it

SEARCH = "/customers?key_type=member_number&key=10012"


def audit_rows(conn, **where):
    clause = " AND ".join(f"{k} = %({k})s" for k in where) or "true"
    return conn.execute(f"SELECT * FROM audit_log WHERE {clause} ORDER BY audit_id", where).fetchall()


# --- authentication -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {},
    basic(SPI_USER, "wrong"),
    basic("nobody", SPI_PASSWORD),
    {"Authorization": "Basic not-base64!"},
    {"Authorization": "Bearer abc"},
    {"Authorization": "Basic " + "dXNlcm5vY29sb24="},  # "usernocolon"
])
def test_missing_or_wrong_credentials_are_401_with_a_challenge(spi, demo_data, headers):
    response = spi.get(SEARCH, headers=headers, auth=False)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="crm-provider"')
    assert set(response.json) == {"errortext", "statuscode"} and response.json["statuscode"] == 401


def test_admin_credential_on_spi_route_and_spi_credential_on_admin_route_are_403(spi, admin, demo_data):
    response = spi.get(SEARCH, headers=basic(ADMIN_USER, ADMIN_PASSWORD), auth=False)
    assert response.status_code == 403 and response.json["statuscode"] == 403
    response = admin.get("/admin/audit", headers=basic(SPI_USER, SPI_PASSWORD), auth=False)
    assert response.status_code == 403


def test_every_spi_route_requires_credentials(spi, demo_data):
    for method, path in (("GET", SEARCH), ("POST", "/customers"), ("GET", f"/customers/{DEMO_CUSTOMER_ID}"),
                         ("PUT", f"/customers/{DEMO_CUSTOMER_ID}"), ("GET", "/consents"),
                         ("GET", "/additional-options")):
        response = spi.request(method, path, auth=False, json={} if method in ("POST", "PUT") else None)
        assert response.status_code == 401, (method, path)


# --- the Error body -----------------------------------------------------------------------------------------

def test_unknown_route_is_404_with_the_error_body(spi):
    response = spi.get("/no/such/route")
    assert response.status_code == 404
    assert response.json == {"errortext": "Not Found", "statuscode": 404}


def test_unknown_method_is_400_with_the_error_body(spi, demo_data):
    response = spi.delete(f"/customers/{DEMO_CUSTOMER_ID}")
    assert response.status_code == 400
    assert response.json["statuscode"] == 400 and "Method" in response.json["errortext"]


# --- audit --------------------------------------------------------------------------------------------------

def test_each_spi_request_writes_one_audit_row_with_decoded_headers(spi, demo_data, conn):
    response = spi.get(f"/customers/{DEMO_CUSTOMER_ID}", headers={
        "Store-ID": "St%C3%B6re%201", "Staff-ID": "anna%40store", "Register-ID": "Kassa%202",
        "X-Request-ID": "req-123"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-123"
    [row] = audit_rows(conn, request_id="req-123")
    assert row["operation"] == "GET /customers/<customer_id>"
    assert row["customer_id"] == DEMO_CUSTOMER_ID
    assert row["http_status"] == 200
    assert row["credential"] == SPI_USER and row["authenticated"] is True
    assert (row["store_id"], row["staff_id"], row["register_id"]) == ("Störe 1", "anna@store", "Kassa 2")
    assert row["at"].utcoffset().total_seconds() == 0


def test_a_read_writes_its_one_row_in_its_own_statement(app, spi, demo_data, conn, monkeypatch):
    statements = []
    monkeypatch.setattr(psycopg.Cursor, "execute", lambda self, query, *args, **kwargs: (
        statements.append(query if isinstance(query, str) else bytes(query).decode()),
        ORIGINAL_EXECUTE(self, query, *args, **kwargs))[1])
    nobody = str(uuid.uuid4())
    answers = {
        "req-found": spi.get(SEARCH, headers={"X-Request-ID": "req-found"}),
        "req-none": spi.get("/customers?key_type=member_number&key=404404", headers={"X-Request-ID": "req-none"}),
        "req-404": spi.get(f"/customers/{nobody}", headers={"X-Request-ID": "req-404"}),
        "req-history": spi.get(f"/customers/{DEMO_CUSTOMER_ID}/transactions", headers={"X-Request-ID": "req-history"}),
        "req-history-404": spi.get(f"/customers/{nobody}/transactions", headers={"X-Request-ID": "req-history-404"}),
    }
    assert [a.status_code for a in answers.values()] == [200, 200, 404, 200, 404]
    statements = [q for q in statements if q.strip()]  # not the pool's liveness ping of an idle connection
    assert len(statements) == 5 and all("INSERT INTO audit_log" in q for q in statements), "one statement: read and row"
    expected = {"req-found": (DEMO_CUSTOMER_ID, 200), "req-none": (None, 200), "req-404": (None, 404),
                "req-history": (DEMO_CUSTOMER_ID, 200), "req-history-404": (nobody, 404)}
    for request_id, (customer_id, status) in expected.items():
        [row] = audit_rows(conn, request_id=request_id)
        assert row["http_status"] == status and row["credential"] == SPI_USER and row["operation"].startswith("GET ")
        assert row["customer_id"] == customer_id or request_id == "req-404"


def test_a_read_whose_answer_changes_after_it_gets_a_row_with_the_final_status(app, spi, demo_data, conn,
                                                                               monkeypatch):
    from crm_provider.customers import service

    def unavailable(conn, row):
        raise errors.GatewayTimeout("Sections service too slow")

    monkeypatch.setattr(service, "to_wire", unavailable)
    assert spi.get(SEARCH, headers={"X-Request-ID": "req-late"}).status_code == 504
    assert [row["http_status"] for row in audit_rows(conn, request_id="req-late")] == [200, 504]


def test_raw_utf8_and_undecodable_headers_are_stored_safely(spi, demo_data, conn):
    response = spi.get(SEARCH, headers={"Store-ID": "Störe 1".encode().decode("latin-1"),
                                        "Staff-ID": "%ZZ%00x", "X-Request-ID": "req-raw"})
    assert response.status_code == 200
    [row] = audit_rows(conn, request_id="req-raw")
    assert row["store_id"] == "Störe 1"
    assert "\x00" not in row["staff_id"]


def test_request_ids_are_generated_when_absent_or_unsafe(spi, demo_data):
    generated = spi.get(SEARCH).headers["X-Request-ID"]
    assert len(generated) == 32
    unsafe = "<script>" + "x" * 100
    assert len(spi.get(SEARCH, headers={"X-Request-ID": unsafe}).headers["X-Request-ID"]) == 32


def test_failed_authentication_is_audited(spi, demo_data, conn):
    spi.get(SEARCH, headers={**basic("intruder", "guess"), "X-Request-ID": "req-401"}, auth=False)
    [row] = audit_rows(conn, request_id="req-401")
    assert row["http_status"] == 401 and row["authenticated"] is False and row["credential"] == "intruder"


def test_a_failed_change_is_audited_and_rolled_back(spi, demo_data, conn):
    response = spi.put(f"/customers/{DEMO_CUSTOMER_ID}", json={"name_first": "Jim", "consents": ["nope"]},
                       headers={"X-Request-ID": "req-400"})
    assert response.status_code == 400
    [row] = audit_rows(conn, request_id="req-400")
    assert row["http_status"] == 400 and row["customer_id"] == DEMO_CUSTOMER_ID
    assert conn.execute("SELECT name_first FROM customers").fetchone()["name_first"] == "John"


def test_a_created_customer_is_audited_in_the_same_transaction(spi, catalogues, conn):
    response = spi.post("/customers", json={"name_first": "A", "additional_options": [
        {"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}]}, headers={"X-Request-ID": "req-201"})
    [row] = audit_rows(conn, request_id="req-201")
    assert row["customer_id"] == response.json["customer_id"] and row["http_status"] == 201


def test_personal_data_stays_out_of_the_audit_log_and_the_logs(spi, catalogues, conn, caplog):
    secrets = {"email": "secret.person@example.com", "mobile": "+46709876543", "personal_id": "19751231-9876"}
    caplog.set_level(logging.DEBUG)
    body = {**secrets, "additional_options": [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}]}
    spi.post("/customers", json=body)
    spi.post("/customers", json=body)  # duplicate: an error path
    spi.post("/customers", json={**body, "email": "secret.person@", "mobile": "+46709876543"})
    for key_type, key in secrets.items():
        spi.get("/customers", query_string={"key_type": key_type, "key": key})
    everything = " ".join(str(row) for row in audit_rows(conn)) + caplog.text
    for value in (*secrets.values(), "19751231", "709876543"):
        assert value not in everything


def test_audit_log_is_append_only(spi, demo_data, conn):
    spi.get(SEARCH)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE audit_log SET http_status = 500")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM audit_log")


def test_admin_audit_reads_newest_first_with_filters(spi, admin, demo_data):
    spi.get(SEARCH, headers={"Store-ID": "100", "Staff-ID": "s1", "Register-ID": "r1"})
    spi.get(f"/customers/{DEMO_CUSTOMER_ID}", headers={"Store-ID": "200", "Staff-ID": "s2", "Register-ID": "r2"})
    spi.get(f"/customers/{uuid.uuid4()}", headers={"Store-ID": "200"})

    rows = admin.get("/admin/audit").json
    assert [r["http_status"] for r in rows[:3]] == [404, 200, 200]
    assert rows == sorted(rows, key=lambda r: -r["audit_id"])
    assert {r["operation"] for r in admin.get("/admin/audit?store_id=200").json} == {"GET /customers/<customer_id>"}
    assert [r["register_id"] for r in admin.get("/admin/audit?register_id=r1").json] == ["r1"]
    assert [r["staff_id"] for r in admin.get("/admin/audit?staff_id=s2").json] == ["s2"]
    by_customer = admin.get(f"/admin/audit?customer_id={DEMO_CUSTOMER_ID}").json
    assert len(by_customer) == 2 and all(r["customer_id"] == DEMO_CUSTOMER_ID for r in by_customer)
    assert len(admin.get("/admin/audit?limit=1").json) == 1
    operation = admin.get("/admin/audit?operation=GET /customers/<customer_id>&store_id=200").json
    assert [r["http_status"] for r in operation] == [404, 200]
    [page] = admin.get("/admin/audit?store_id=200&limit=1").json  # paging: the rows older than a page's last
    assert [r["http_status"] for r in admin.get(f"/admin/audit?store_id=200&before={page['audit_id']}").json] == [200]
    assert admin.get("/admin/audit?limit=0").status_code == 400
    assert admin.get("/admin/audit?limit=abc").status_code == 400


def test_each_audit_filter_reads_by_an_index_on_a_million_rows(conn, audit_months):
    """A year of a chain's audit log, in its proportions and its monthly partitions: each filter of GET
    /admin/audit, alone and with the others, is answered through an index of each month, never by scanning one
    (but an empty month's, which costs nothing)."""
    from crm_provider.audit import store

    audit_months(datetime.now(timezone.utc) - timedelta(days=350))
    conn.execute("""
        INSERT INTO audit_log (at, operation, customer_id, http_status, request_id, credential, authenticated,
                               store_id, staff_id, register_id)
        SELECT now() - make_interval(secs => n * 30), (ARRAY['GET /customers', 'GET /customers/<customer_id>',
               'POST /customers/<customer_id>/redeem', 'PUT /customers/<customer_id>'])[1 + n % 4],
               CASE WHEN n % 4 <> 0 THEN md5((n % 100000)::text) END, 200, md5(n::text), 'pos', true,
               (n % 200)::text, 's' || n % 3000, 'r' || n % 800
        FROM generate_series(1, 1000000) AS n""")
    conn.execute("ANALYZE audit_log")
    scan = conn.execute("EXPLAIN (FORMAT JSON) SELECT * FROM audit_log").fetchone()["QUERY PLAN"][0]["Plan"]
    common = {"customer_id": md5("4242"), "store_id": "17", "staff_id": "s123", "register_id": "r42",
              "operation": "PUT /customers/<customer_id>", "before": 500000}
    rare = {**common, "store_id": "closed-store", "staff_id": "left-in-2025", "register_id": "r-none",
            "operation": "DELETE /nothing", "customer_id": md5("no one")}
    for values in (common, rare):
        for given in [(name,) for name in store.FILTERS] + [
                ("store_id", "staff_id"), ("customer_id", "operation"), ("store_id", "register_id", "before"),
                ("operation", "before")]:
            query = store._list_query(tuple(name for name in store.FILTERS if name in given))
            [plan] = conn.execute("EXPLAIN (FORMAT JSON) " + query,
                                  {**{name: values[name] for name in given}, "limit": 100}).fetchone()["QUERY PLAN"]
            text = json.dumps(plan)
            assert "Index" in text and all(node["Total Cost"] == 0 for node in nodes(plan["Plan"])
                                           if node["Node Type"] == "Seq Scan"), (given, text)
            # a page is never a walk through the log: the rows a filter names are found by its index (two
            # filters' together), or near the newest end of the log when the filter names many
            assert plan["Plan"]["Total Cost"] < scan["Total Cost"] / 10, (given, text)


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()
