"""The floor: the baseline's bare Flask route (baseline_app.py) plus the one statement a search by member
number runs in the service, on the service's own pool (crm_provider/db.py, DATABASE_URL), answered as
the service answers it. The statement is built by the service's own code: the customer's read, its
Purchases section and its audit row. Nothing else: no auth, no validation, no rate limit, no request log,
no metrics. Served by gunicorn with the service's settings:

    DATABASE_URL=... gunicorn -c python:crm_provider.gunicorn_conf bench.floor_app:app

No server can answer this search with this statement faster; the service's distance from it is what its
own layers cost.
"""

import uuid

from flask import Flask, Response, request

from crm_provider import db
from crm_provider.audit import store as audit
from crm_provider.config import Settings
from crm_provider.customers import document
from crm_provider.transactions.store import Q as transactions

app = Flask(__name__)

_settings = Settings.from_env()
_database = db.Database(_settings.database_url or "", _settings)  # its pool opens on the first search
SEARCH = audit.audited_query(document.statements((transactions.purchases_sections,))["find_by_member_number"])


@app.get("/customers")
def search():
    params = {
        "key": request.args["key"], "audit_operation": "GET /customers", "audit_customer_id": None,
        "audit_status_if_none": 200, "audit_request_id": uuid.uuid4().hex, "audit_credential": "floor",
        "audit_authenticated": True, "audit_store_id": request.headers.get("Store-ID"),
        "audit_staff_id": request.headers.get("Staff-ID"), "audit_register_id": request.headers.get("Register-ID"),
        "audit_detail": None,
    }
    conn = _database.getconn()
    try:
        rows = conn.execute(SEARCH, params).fetchall()
    finally:
        _database.putconn(conn)
    return Response(f"[{','.join(row['document'] for row in rows)}]", mimetype="application/json")
