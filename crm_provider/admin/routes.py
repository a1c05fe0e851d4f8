"""Admin routes (admin credentials): catalogues, back-office customer fields, the audit log."""

from __future__ import annotations

from flask.views import MethodView

from .. import audit
from ..api import ADMIN_ERRORS, Blueprint, json_text
from ..catalog import service as catalog
from ..catalog.schemas import AdditionalOptionsSectionSchema, ConsentSchema
from ..customers import service as customers
from ..customers.schemas import CustomerSchema
from ..db import request_conn
from . import service
from .schemas import AuditQuerySchema, AuditRowSchema, BackOfficeSchema

blp = Blueprint("admin", __name__, scope="admin", url_prefix="/admin",
                description="Back office: catalogues, customer status and sections, audit log.")


@blp.route("/consents")
class Consents(MethodView):
    @blp.arguments(ConsentSchema(many=True))
    @blp.response(200, ConsentSchema(many=True))
    @blp.documents(*ADMIN_ERRORS)
    def put(self, consents):
        """Replace the consent catalogue

        Customers keep the consents that remain; consents left out are withdrawn from every customer.
        """
        return catalog.replace_consents(request_conn(), consents)


@blp.route("/additional-options")
class AdditionalOptions(MethodView):
    @blp.arguments(AdditionalOptionsSectionSchema(many=True))
    @blp.response(200, AdditionalOptionsSectionSchema(many=True))
    @blp.documents(*ADMIN_ERRORS)
    def put(self, sections):
        """Replace the additional-option catalogue

        Options are matched by id: customers keep their values for options that remain, less the enum
        values no longer offered.
        """
        return catalog.replace_additional_options(request_conn(), sections)


@blp.route("/customers/<customer_id>")
class CustomerBackOffice(MethodView):
    @blp.arguments(BackOfficeSchema)
    @blp.response(200, CustomerSchema)
    @blp.documents(*ADMIN_ERRORS)
    def patch(self, data, customer_id):
        """Set back-office customer fields

        `status`, `voucher_passwords`, `sections` and `store_id_home`: the fields the POS reads but cannot
        write. Absent fields are unchanged; null clears.
        """
        cid = customers.customer_uuid(customer_id)
        audit.note(customer_id=cid)
        return json_text(customers.set_back_office(request_conn(), cid, data))  # already the wire document


@blp.route("/audit")
class AuditLog(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditRowSchema(many=True))
    @blp.documents(*ADMIN_ERRORS)
    def get(self, args):
        """Read the audit log, newest first"""
        limit = args.pop("limit")
        return service.audit_rows(request_conn(), args, limit)
