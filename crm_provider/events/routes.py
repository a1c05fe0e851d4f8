"""Sitoo Events SPI webhook (events credentials), and the event counts for the back office (admin)."""

from __future__ import annotations

from flask.views import MethodView

from ..api import Blueprint
from ..audit.work import unit_of_work
from . import service
from .schemas import AckSchema, EventCountSchema, EventSchema

blp = Blueprint("events", __name__, scope="events", description="Sitoo Events SPI: order webhooks.")
admin_blp = Blueprint("events_admin", __name__, scope="admin", url_prefix="/admin/events",
                      description="Back office: what became of the events Sitoo sent.")


@blp.route("/events")
class Events(MethodView):
    @blp.arguments(EventSchema(many=True))
    @blp.response(200, AckSchema, description="The events are stored: Sitoo may forget them.")
    @blp.documents(400, 401, 403, 503, texts={
        400: "Malformed batch: nothing was stored (Sitoo drops the batch).",
        503: "The database cannot take the events now: Sitoo tries again later.",
    })
    def post(self, events):
        """Receive Sitoo events

        A JSON array of 1 to 10 events, oldest first. Each is stored durably (once per `event_id`: an event
        received before is acknowledged again and not processed twice) and answered at once; the order
        events are then processed by `crm-provider worker`. Event types other than `order` are
        acknowledged, stored as ignored and counted.
        """
        with unit_of_work() as work:
            return service.receive(work.conn, events)


@admin_blp.route("/counts")
class EventCounts(MethodView):
    @admin_blp.response(200, EventCountSchema(many=True))
    @admin_blp.documents(401, 403, 503)
    def get(self):
        """Count the received events by type, status and reason

        `skipped` order events name their reason (`unknown_customer`, `no_customer`, `not_a_sale`, ...),
        `ignored` events theirs (`not_an_order_event`, `no_purchase_change`).
        """
        with unit_of_work() as work:
            return service.event_counts(work.conn)
