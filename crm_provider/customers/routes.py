"""Customer routes: search, add, get and update (SPI), and the fields only the back office sets (admin)."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from .. import ratelimit
from ..api import ADMIN_ERRORS, SPI_ERRORS, Blueprint, json_list, json_text
from ..keys import customer_uuid
from ..audit.work import unit_of_work
from . import service
from .schemas import (BackOfficeSchema, CustomerSchema, ErasureSchema, MergeSchema, SearchArgsSchema,
                      SubjectAccessSchema)

blp = Blueprint("customers", __name__, scope="spi", description="Find, add and edit customers.")
admin_blp = Blueprint("customers_admin", __name__, scope="admin", url_prefix="/admin",
                      description="Back office: customer status, voucher passwords, sections and home store; "
                                  "the data subject's export and erasure.")

# The customer documents come from PostgreSQL already in the contract's shape and already JSON (document.py,
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
        ratelimit.guard_search()
        with unit_of_work() as work:
            found = service.search(work.conn, args["key_type"], args["key"], _region(), read=work.read)
        ratelimit.searched(len(found))
        return json_list(found)

    @blp.arguments(CustomerSchema)
    @blp.response(201, CustomerSchema, description="Customer added OK.")
    @blp.documents(*SPI_ERRORS)
    def post(self, data):
        """Add Customer

        Read-only fields in the body are ignored. The CRM creates `customer_id`, and a `member_number`
        when none is given.
        """
        with unit_of_work(status=201) as work:
            customer_id, customer = service.create(
                work.conn, data, _region(), member_number_digits=current_app.config["CRM_SETTINGS"].member_number_digits)
            work.note(customer_id=customer_id)
        return json_text(customer, 201)


@blp.route("/customers/<customer_id>")
class Customer(MethodView):
    @blp.response(200, CustomerSchema, description="Returns a customer.")
    @blp.documents(*SPI_ERRORS)
    def get(self, customer_id):
        """Get Customer

        The id may also be one the customer had in the CRM it was imported from (an alias).
        """
        with unit_of_work() as work:
            cid = service.resolve_id(work.conn, customer_id)
            work.note(customer_id=cid)
            return json_text(service.get(work.conn, cid, read=work.read))

    @blp.arguments(CustomerSchema)
    @blp.response(200, CustomerSchema, description="Customer updated OK.")
    @blp.documents(*SPI_ERRORS)
    def put(self, data, customer_id):
        """Update Customer

        A field absent from the body keeps its stored value; a field given replaces it, and null clears it.
        Read-only fields and `store_id_home` are ignored.
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid) as work:
            return json_text(service.update(work.conn, cid, data, _region()))


@admin_blp.route("/customers/<customer_id>")
class CustomerBackOffice(MethodView):
    @admin_blp.arguments(BackOfficeSchema)
    @admin_blp.response(200, CustomerSchema)
    @admin_blp.documents(*ADMIN_ERRORS)
    def patch(self, data, customer_id):
        """Set back-office customer fields

        `status`, `voucher_passwords`, `sections` and `store_id_home`: the fields the POS reads but cannot
        write. Absent fields are unchanged; null clears.
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid) as work:
            return json_text(service.set_back_office(work.conn, cid, data))  # already the wire document

@admin_blp.route("/customers/<customer_id>/export")
class CustomerExport(MethodView):
    @admin_blp.response(200, SubjectAccessSchema)
    @admin_blp.documents(*ADMIN_ERRORS)
    def get(self, customer_id):
        """Everything held about a customer

        The subject-access export: the customer as the SPI shows it, and what every area holds about it
        (promotions and bonus checks used or not, redeems, transactions, the points ledger, the Sitoo events
        and the audit rows about it). 404 for an erased customer: nothing personal is left to export.
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid) as work:
            return service.subject_access(work.conn, cid)


@admin_blp.route("/customers/<customer_id>/erase")
class CustomerErasure(MethodView):
    @admin_blp.response(200, ErasureSchema)
    @admin_blp.documents(*ADMIN_ERRORS)
    def post(self, customer_id):
        """Erase a customer's personal data

        Names, email, mobile, phone, personal and company ids, addresses, birthday, gender, the free-text
        option values and the back office's sections and status are gone; no key finds the customer and the
        SPI answers 404 for its id. Its transactions, redeems and points ledger stay, anonymous, for the
        accounts. Idempotent: an erased customer answers when it was erased. The audit row says who and
        when, never what; the customer hooks get an `erased` event.
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid) as work:
            return service.erase(work.conn, cid)


@admin_blp.route("/customers/<customer_id>/merge")
class CustomerMerge(MethodView):
    @admin_blp.arguments(MergeSchema)
    @admin_blp.response(200, CustomerSchema, description="The customer, with the duplicate's data.")
    @admin_blp.documents(*ADMIN_ERRORS)
    def post(self, data, customer_id):
        """Merge a duplicate into this customer

        The duplicate's (`from`) transactions, promotions, bonus checks and redeems, consents, option values
        and points move to this customer, which keeps its own profile and member number. The duplicate's id
        then answers 404 on the SPI, but its member number finds this customer, and where a till or Sitoo
        still has its id (a redeem to undo, an order) it names this customer. One audit row names both; the
        customer hooks get a `merged` event. 400 for a merge into itself, or of an erased or unknown one.
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid) as work:
            work.note(merged_customer_id=data["merged"][:64])
            return json_text(service.merge(work.conn, cid, data["merged"]))

