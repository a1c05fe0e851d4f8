"""Sitoo Events SPI, as documented (`../shared/spec/README.md`): a batch of 1 to 10 events, oldest first.

Unknown event types are accepted (and ignored later): refusing one with a 400 would make Sitoo drop the
whole batch, order events included. Only the fields the CRM relies on are checked strictly: an order event
without an integer `order_id` is malformed.
"""

from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from ..fields import BIGINT_MAX, MAX_UNIX_SECONDS, Dict, Schema, StrictInt, StrictStr, UUID

MAX_BATCH = 10


class OrderEventDataSchema(Schema):
    eshop_id = StrictInt(allow_none=True, validate=validate.Range(0, BIGINT_MAX))
    order_id = StrictInt(required=True, validate=validate.Range(0, BIGINT_MAX))
    warehouse_id = StrictInt(allow_none=True, validate=validate.Range(0, BIGINT_MAX))
    order_event_type = StrictStr(allow_none=True, validate=validate.Length(max=64))
    order_state_changed = StrictStr(allow_none=True, validate=validate.Length(max=64))


class EventSchema(Schema):
    event_id = UUID(required=True, metadata={"description": "Unique id of the event (UUID)."})
    event_type = StrictStr(required=True, validate=validate.Length(1, 64), metadata={
        "description": "`order`, `order-delivery`, `booking`, `shipment`, `shipment-v3`, "
                       "`warehouse-transaction`, `z-report`, `store-z-report`. Only `order` is processed."})
    event_date = StrictInt(required=True, validate=validate.Range(0, MAX_UNIX_SECONDS),
                           metadata={"description": "Unix seconds."})
    account_id = StrictInt(required=True, validate=validate.Range(0, BIGINT_MAX))
    data = Dict(required=True, keys=StrictStr(), metadata={
        "description": "For `order` events: eshop_id, order_id, warehouse_id, order_event_type, order_state_changed."})

    @validates_schema
    def _order_data(self, event, **kwargs):
        if event.get("event_type") == "order":
            problems = OrderEventDataSchema().validate(event["data"])
            if problems:
                raise ValidationError({"data": problems})

    @validates_schema(pass_collection=True)
    def _batch_size(self, data, many, **kwargs):
        if many and not 1 <= len(data) <= MAX_BATCH:
            raise ValidationError(f"A batch holds 1 to {MAX_BATCH} events.")


class AckSchema(Schema):
    received = StrictInt(required=True, metadata={"description": "Events new to the CRM, stored."})
    duplicates = StrictInt(required=True, metadata={"description": "Events received before: acknowledged again."})
    ignored = StrictInt(required=True, metadata={"description": "New events the CRM does not act on (stored, counted)."})


class EventCountSchema(Schema):
    event_type = StrictStr(required=True)
    status = StrictStr(required=True, metadata={"description": "pending, processed, skipped, ignored or failed"})
    reason = StrictStr(allow_none=True)
    count = StrictInt(required=True)
