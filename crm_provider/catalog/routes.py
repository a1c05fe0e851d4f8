"""SPI routes: the consents and additional options a customer can be given."""

from __future__ import annotations

from flask.views import MethodView

from ..api import SPI_ERRORS, Blueprint
from ..db import request_conn
from . import service
from .schemas import AdditionalOptionsSectionSchema, ConsentSchema

blp = Blueprint("catalog", __name__, scope="spi", description="Consents and additional options.")


@blp.route("/consents")
class Consents(MethodView):
    @blp.response(200, ConsentSchema(many=True), description="Returns a list of consents.")
    @blp.documents(*SPI_ERRORS)
    def get(self):
        """Get Consents

        The consents a customer can agree to upon registration.
        """
        return service.consents(request_conn())


@blp.route("/additional-options")
class AdditionalOptions(MethodView):
    @blp.response(200, AdditionalOptionsSectionSchema(many=True),
                  description="Returns a list of sections with additional options.")
    @blp.documents(*SPI_ERRORS)
    def get(self):
        """Get Additional Options

        Sections of additional options that can be configured for the customer.
        """
        return service.additional_options(request_conn())
