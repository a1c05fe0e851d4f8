"""SPI route: person lookup in a database outside the CRM, through the configured lookup provider."""

from __future__ import annotations

from flask.views import MethodView

from .. import plugins, ratelimit
from ..api import SPI_ERRORS, Blueprint
from ..audit.work import unit_of_work
from . import service
from .schemas import LookupCustomerSchema, SearchArgsSchema

blp = Blueprint("lookup", __name__, scope="spi", description="Find people outside the CRM.")


@blp.route("/lookup_customers")
class LookupCustomers(MethodView):
    @blp.arguments(SearchArgsSchema, location="query")
    @blp.response(200, LookupCustomerSchema(many=True),
                  description="Returns a list of customers. Should be one customer or empty if no customer is found.")
    @blp.documents(*SPI_ERRORS, 501)
    def get(self, args):
        """Lookup Customer

        Look a person up in a database outside the CRM (the lookup provider chosen by CRM_LOOKUP_PROVIDER),
        to fill in a new customer. 501 when no provider is configured; 502 when the provider fails, 504 when
        it does not answer in time.
        """
        active = plugins.active()
        ratelimit.guard_search()
        with unit_of_work() as work:
            found = service.lookup(work.conn, active.lookup, args["key_type"], args["key"], settings=active.settings)
            work.note(found=len(found))
        ratelimit.searched(len(found))
        return found
