"""SPI routes: search, add, get and update customers."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from .. import audit
from ..api import SPI_ERRORS, Blueprint, json_list, json_text
from ..db import request_conn
from . import service
from .schemas import CustomerSchema, SearchArgsSchema

blp = Blueprint("customers", __name__, scope="spi", description="Find, add and edit customers.")

# The customer documents come from PostgreSQL already in the contract's shape and already JSON (store.py,
# held to CustomerSchema by tests/test_customer_wire.py): they are sent as they are, not loaded and dumped
# again through the schema, which documents them.


def _region() -> str:
    return current_app.config["CRM_SETTINGS"].default_region


@blp.route("/customers")
class Customers(MethodView):
    @blp.arguments(SearchArgsSchema, location="query")
    @blp.response(200, CustomerSchema(many=True),
                  description="Returns a list of customers. Should be one customer or empty list if no customer is found.")
    @blp.documents(*SPI_ERRORS)
    def get(self, args):
        """Search Customer

        Find a customer in the CRM database by one of the search key types. The answer is always a list:
        one customer, or empty.
        """
        return json_list(service.search(request_conn(), args["key_type"], args["key"], _region()))

    @blp.arguments(CustomerSchema)
    @blp.response(201, CustomerSchema, description="Customer added OK.")
    @blp.documents(*SPI_ERRORS)
    def post(self, data):
        """Add Customer

        Read-only fields in the body are ignored. The CRM creates `customer_id`, and a `member_number`
        when none is given.
        """
        customer_id, customer = service.create(request_conn(), data, _region())
        audit.note(customer_id=customer_id)
        return json_text(customer, 201)


@blp.route("/customers/<customer_id>")
class Customer(MethodView):
    @blp.response(200, CustomerSchema, description="Returns a customer.")
    @blp.documents(*SPI_ERRORS)
    def get(self, customer_id):
        """Get Customer"""
        cid = service.customer_uuid(customer_id)
        audit.note(customer_id=cid)
        return json_text(service.get(request_conn(), cid))

    @blp.arguments(CustomerSchema)
    @blp.response(200, CustomerSchema, description="Customer updated OK.")
    @blp.documents(*SPI_ERRORS)
    def put(self, data, customer_id):
        """Update Customer

        A field absent from the body keeps its stored value; a field given replaces it, and null clears it.
        Read-only fields and `store_id_home` are ignored.
        """
        cid = service.customer_uuid(customer_id)
        audit.note(customer_id=cid)
        return json_text(service.update(request_conn(), cid, data, _region()))
