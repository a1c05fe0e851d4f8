"""Operations routes, for the platform rather than the POS: liveness, readiness and metrics.

Kept out of the OpenAPI document (app.py registers them with Flask directly) and out of the audit log.
`/healthz` and `/readyz` are public, as probes are; `/metrics` takes its own credential (CRM_METRICS_USERS)
so that the monitoring system holds a secret that can read counters and nothing else.
"""

from __future__ import annotations

from flask import Response, jsonify
from flask.views import MethodView

from .. import metrics
from ..api import Blueprint
from ..db import get_db
from ..errors import RETRY_AFTER_SECONDS, error_response
from . import service

blp = Blueprint("ops", __name__, scope=None, description="Liveness and readiness probes.")
metrics_blp = Blueprint("metrics", __name__, scope="metrics", description="Prometheus metrics.")


@blp.route("/healthz")
class Health(MethodView):
    def get(self):
        """The process is alive and answering: touches nothing else, so a database outage never restarts it."""
        return jsonify(status="ok")


@blp.route("/readyz")
class Ready(MethodView):
    def get(self):
        """The database answers and its schema is at the code's migrations: send traffic here."""
        problem = service.readiness(get_db())
        if problem:
            return error_response(503, problem, {"Retry-After": RETRY_AFTER_SECONDS})
        return jsonify(status="ready")


@metrics_blp.route("/metrics")
class Metrics(MethodView):
    def get(self):
        """Prometheus exposition of every worker's counters, plus the events backlog."""
        body, content_type = metrics.render(service.scrape_families(get_db()))
        return Response(body, content_type=content_type)
