"""Catalogue routes: the consents and additional options a customer can be given (SPI), and replacing the
catalogues (admin)."""

from __future__ import annotations

from flask.views import MethodView

from ..api import ADMIN_ERRORS, SPI_ERRORS, Blueprint
from ..audit.work import unit_of_work
from . import service
from .schemas import AdditionalOptionsSectionSchema, ConsentSchema

blp = Blueprint("catalog", __name__, scope="spi", description="Consents and additional options.")
admin_blp = Blueprint("catalog_admin", __name__, scope="admin", url_prefix="/admin",
                      description="Back office: the consent and additional-option catalogues.")


@blp.route("/consents")
class Consents(MethodView):
    @blp.response(200, ConsentSchema(many=True), description="Returns a list of consents.")
    @blp.documents(*SPI_ERRORS)
    def get(self):
        """Get Consents

        The consents a customer can agree to upon registration.
        """
        with unit_of_work() as work:
            return service.consents(work.conn)


@blp.route("/additional-options")
class AdditionalOptions(MethodView):
    @blp.response(200, AdditionalOptionsSectionSchema(many=True),
                  description="Returns a list of sections with additional options.")
    @blp.documents(*SPI_ERRORS)
    def get(self):
        """Get Additional Options

        Sections of additional options that can be configured for the customer.
        """
        with unit_of_work() as work:
            return service.additional_options(work.conn)


@admin_blp.route("/consents")
class ConsentCatalogue(MethodView):
    @admin_blp.arguments(ConsentSchema(many=True))
    @admin_blp.response(200, ConsentSchema(many=True))
    @admin_blp.documents(*ADMIN_ERRORS)
    def put(self, consents):
        """Replace the consent catalogue

        Customers keep the consents that remain; consents left out are withdrawn from every customer.
        """
        with unit_of_work() as work:
            return service.replace_consents(work.conn, consents)


@admin_blp.route("/additional-options")
class AdditionalOptionCatalogue(MethodView):
    @admin_blp.arguments(AdditionalOptionsSectionSchema(many=True))
    @admin_blp.response(200, AdditionalOptionsSectionSchema(many=True))
    @admin_blp.documents(*ADMIN_ERRORS)
    def put(self, sections):
        """Replace the additional-option catalogue

        Options are matched by id: customers keep their values for options that remain, less the enum
        values no longer offered.
        """
        with unit_of_work() as work:
            return service.replace_additional_options(work.conn, sections)
