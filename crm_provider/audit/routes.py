"""Audit routes: the back office reads the audit log (admin)."""

from __future__ import annotations

from flask.views import MethodView

from ..api import ADMIN_ERRORS, Blueprint
from .work import unit_of_work
from . import service
from .schemas import AuditQuerySchema, AuditRowSchema

blp = Blueprint("audit", __name__, scope="admin", url_prefix="/admin", description="Back office: the audit log.")


@blp.route("/audit")
class AuditLog(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditRowSchema(many=True))
    @blp.documents(*ADMIN_ERRORS)
    def get(self, args):
        """Read the audit log, newest first"""
        limit = args.pop("limit")
        with unit_of_work() as work:
            return service.rows(work.conn, args, limit)
