"""The Shopmonkey webhook's body, which is ours (Shopmonkey's own webhook format is not the CRM's contract:
the retailer's Shopmonkey automation or a small relay sends this, docs/workshop.md), and the back office's
view of the workshop's syncs."""

from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from ..fields import SHORT_CHARS, DateTime, Nested, Schema, StrictInt, StrictStr, Text

KEY_CHARS = 255
WORK_ORDER_ID = validate.Regexp(r"^[A-Za-z0-9_-]{1,100}$", error="Must be a Shopmonkey id (letters, digits, _ or -).")


class ShopmonkeyCustomerSchema(Schema):
    external_id = Text(KEY_CHARS, allow_none=True, metadata={
        "description": "Shopmonkey's `externalId` of the customer: our member number or customer id."})
    mobile = Text(SHORT_CHARS, allow_none=True, metadata={"description": "Matched as the till's search matches it."})
    email = Text(KEY_CHARS, allow_none=True, metadata={"description": "Matched when no customer has the mobile."})


class ShopmonkeyEventSchema(Schema):
    event_id = StrictStr(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.:-]{1,100}$"), metadata={
        "description": "Unique per event: a resent event is acknowledged again and handled once."})
    order_id = StrictStr(required=True, validate=WORK_ORDER_ID, metadata={"description": "The work order's id."})
    status = StrictStr(load_default="open", validate=validate.OneOf(["open", "closed", "deleted"]), metadata={
        "description": "`open`: read the order's services; `closed`, `deleted`: take it off the card."})
    customer = Nested(ShopmonkeyCustomerSchema, allow_none=True, metadata={
        "description": "Whose order it is; may be left out for an order the CRM knows."})

    @validates_schema
    def _open_names_someone(self, event, **kwargs):
        if event.get("status", "open") == "open" and event.get("customer") is not None \
                and not any(event["customer"].get(key) for key in ("external_id", "mobile", "email")):
            raise ValidationError("A customer names an external_id, a mobile or an email.", "customer")


class ShopmonkeyAckSchema(Schema):
    received = StrictInt(required=True, metadata={"description": "1 when the event is new, stored."})
    duplicates = StrictInt(required=True, metadata={"description": "1 when it was received before."})


class RereadSchema(Schema):
    customer = Nested(ShopmonkeyCustomerSchema, allow_none=True)


class RereadAnswerSchema(Schema):
    event_id = StrictStr(required=True, metadata={"description": "The event the worker handles it as."})


class SyncSchema(Schema):
    source = StrictStr(required=True)
    sweep = StrictInt(required=True, metadata={"description": "The sweep under way (each reads every open order)."})
    seen = StrictInt(required=True, metadata={"description": "Orders read so far in it."})
    last_success = DateTime(format="iso", allow_none=True)
    failures = StrictInt(required=True, metadata={"description": "Failed sweeps in a row."})
    last_error = StrictStr(allow_none=True)
    retry_at = DateTime(format="iso", allow_none=True, metadata={"description": "Backing off until then."})
