"""The Shopmonkey webhook (its own credential) and the workshop's back-office routes (admin)."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import ValidationError

from ..api import ADMIN_ERRORS, Blueprint
from ..audit.work import unit_of_work
from ..errors import BadRequest
from . import service
from .schemas import (WORK_ORDER_ID, RereadAnswerSchema, RereadSchema, ShopmonkeyAckSchema, ShopmonkeyEventSchema,
                      SyncSchema)

blp = Blueprint("shopmonkey", __name__, scope="shopmonkey",
                description="Shopmonkey work orders: the webhook of the retailer's automation or relay.")
admin_blp = Blueprint("workshop_admin", __name__, scope="admin", url_prefix="/admin/workshop",
                      description="Back office: the workshop's syncs, and a Shopmonkey work order read again.")


@blp.route("/events/shopmonkey")
class ShopmonkeyEvents(MethodView):
    @blp.arguments(ShopmonkeyEventSchema)
    @blp.response(200, ShopmonkeyAckSchema, description="The event is stored: it is handled once.")
    @blp.documents(400, 401, 403, 503, texts={
        400: "Malformed event: nothing was stored.",
        503: "The database cannot take the event now: send it again later.",
    })
    def post(self, event):
        """Receive a Shopmonkey work order event

        A work order was opened or changed (`open`), closed or deleted. Stored once per `event_id` and
        answered at once; `crm-provider worker` reads the order's services from Shopmonkey.
        """
        with unit_of_work() as work:
            return service.receive_shopmonkey(work.conn, event)


@admin_blp.route("/shopmonkey/<order_id>")
class ShopmonkeyOrder(MethodView):
    @admin_blp.arguments(RereadSchema)
    @admin_blp.response(202, RereadAnswerSchema, description="Queued: the worker reads the order.")
    @admin_blp.documents(*ADMIN_ERRORS)
    def post(self, body, order_id):
        """Read a Shopmonkey work order again

        As an `open` event of its own: the order's services are read and put on the card of the customer
        the body names (or the customer it is on already).
        """
        try:
            WORK_ORDER_ID(order_id)
        except ValidationError:
            raise BadRequest("order_id: Must be a Shopmonkey id (letters, digits, _ or -).") from None
        with unit_of_work(status=202) as work:
            work.note(order_id=order_id)
            return service.reread_shopmonkey(work.conn, order_id, body.get("customer"))


@admin_blp.route("/syncs")
class Syncs(MethodView):
    @admin_blp.response(200, SyncSchema(many=True))
    @admin_blp.documents(*ADMIN_ERRORS)
    def get(self):
        """The workshop's syncs

        Where each sync stands: the sweep under way, the last success, the failures in a row and the back-off.
        """
        with unit_of_work() as work:
            return service.syncs(work.conn)
