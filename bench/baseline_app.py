"""The floors every figure is held against, served by gunicorn with the service's own settings
(crm_provider/gunicorn_conf.py):

- `GET /`, the baseline: a bare Flask route answering a fixed small JSON list. No auth, no database.
- `GET /customers?key=...`, the floor: the same bare route, plus the one statement the service runs for a
  search by member number (its read, its Purchases section and its audit row, built by the service's own
  code) on the service's own pool (crm_provider/db.py, DATABASE_URL). Nothing else: no auth, no validation,
  no rate limit, no request log, no metrics. No Python serving a search from this database on this machine
  can be faster; the service's distance from it is what its own layers cost.

    DATABASE_URL=... gunicorn -c python:crm_provider.gunicorn_conf bench.baseline_app:app
"""

import uuid

from flask import Flask, Response, request

from crm_provider import audit, db
from crm_provider.config import Settings
from crm_provider.customers import store as customers
from crm_provider.transactions import store as transactions

app = Flask(__name__)

ITEMS = [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}, {"id": 3, "name": "three"}]


@app.get("/")
def items():
    return ITEMS


_settings = Settings.from_env()
_database = db.Database(_settings.database_url or "", _settings)  # its pool opens on the first search
SEARCH = audit.audited_query(customers.documents_query(customers.Q.find_by_member_number,
                                                       (transactions.Q.purchases_sections,)))


@app.get("/customers")
def search():
    params = {
        "key": request.args["key"], "audit_operation": "GET /customers", "audit_customer_id": None,
        "audit_status_if_none": 200, "audit_request_id": str(uuid.uuid4()), "audit_credential": "floor",
        "audit_authenticated": True, "audit_store_id": request.headers.get("Store-ID"),
        "audit_staff_id": request.headers.get("Staff-ID"), "audit_register_id": request.headers.get("Register-ID"),
        "audit_detail": None,
    }
    conn = _database.getconn()
    try:
        rows = conn.execute(SEARCH, params).fetchall()
    finally:
        _database.putconn(conn)
    return Response("[" + ",".join(row["document"] for row in rows) + "]", mimetype="application/json")
