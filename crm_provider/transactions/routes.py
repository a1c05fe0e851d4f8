"""Purchase history: the SPI route the POS reads it from, and the admin route that stores it."""

from __future__ import annotations

from flask.views import MethodView

from ..api import ADMIN_ERRORS, SPI_ERRORS, Blueprint, json_text
from ..keys import customer_uuid
from ..audit.work import unit_of_work
from . import service
from .schemas import TransactionQuerySchema, TransactionSchema

blp = Blueprint("transactions", __name__, scope="spi", description="A customer's purchase history.")
admin_blp = Blueprint("transactions_admin", __name__, scope="admin", url_prefix="/admin",
                      description="Back office: store a customer's transactions.")


@blp.route("/customers/<customer_id>/transactions")
class Transactions(MethodView):
    @blp.arguments(TransactionQuerySchema, location="query")
    @blp.response(200, TransactionSchema(many=True), description="Returns a list of transactions for the customer.")
    @blp.documents(*SPI_ERRORS)
    def get(self, args, customer_id):
        """Get Transactions

        The customer's transactions, newest first: the newest 100, or `limit` (1 to 1000).
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid) as work:
            return json_text(service.transactions(work.conn, cid, args["limit"], read=work.read))


@admin_blp.route("/customers/<customer_id>/transactions")
class StoreTransaction(MethodView):
    @admin_blp.arguments(TransactionSchema)
    @admin_blp.response(201, TransactionSchema, description="The stored transaction.")
    @admin_blp.documents(*ADMIN_ERRORS)
    def post(self, transaction, customer_id):
        """Store a transaction

        Stored once per `order_id`: posting an order again replaces it (and moves it to this customer when
        it was stored for another).
        """
        cid = customer_uuid(customer_id)
        with unit_of_work(customer_id=cid, status=201) as work:
            if transaction.get("order_id") is not None:
                work.note(order_id=transaction["order_id"])
            return service.store_transaction(work.conn, cid, transaction)
