"""The loyalty program on the wire (back office): the program document, its versions, a customer's points
ledger, a manual adjustment, and finance's liability report."""

from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from ..customers.schemas import STATUS_COLORS
from ..fields import (BIGINT_MAX, AdminQuerySchema, AwareDateTime, DateTime, Dict, JsonNumber, List, Nested, QueryInt, Schema, StrictInt,
                      StrictStr)
from ..loyalty.schemas import Amount

CARD_VALUES = ("balance", "tier", "to_next_tier", "expiring")


class SkuMultiplierSchema(Schema):
    prefix = StrictStr(required=True, validate=validate.Length(1, 64))
    multiplier = JsonNumber(required=True, validate=validate.Range(0, 100))


class RewardSchema(Schema):
    points = StrictInt(required=True, validate=validate.Range(1, 10_000_000),
                       metadata={"description": "Points a bonus check costs: 500"})
    amount = Amount(required=True, metadata={"description": "The bonus check's amount: 50.00"})
    valid_days = StrictInt(required=True, validate=validate.Range(1, 3650), metadata={"description": "90"})
    name = StrictStr(load_default="Bonus check", validate=validate.Length(1, 64))


class TierSchema(Schema):
    name = StrictStr(required=True, validate=validate.Length(1, 64), metadata={"description": "Shown as the status text"})
    points = StrictInt(required=True, validate=validate.Range(0, 100_000_000),
                       metadata={"description": "Points earned in the window that reach the tier"})
    color = StrictStr(required=True, validate=validate.OneOf(STATUS_COLORS))
    voucher_passwords = List(StrictStr(validate=validate.Length(1, 64)), load_default=list,
                             metadata={"description": "Added to the customer's own (a member price list)"})
    multiplier = JsonNumber(load_default=1, validate=validate.Range(0, 100),
                            metadata={"description": "Points a purchase earns are multiplied by this"})


class ProgramSchema(Schema):
    """One program per deployment. Points are whole points, rounded toward zero per purchase."""

    currency = StrictStr(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"),
                         metadata={"description": "Purchases in other currencies earn nothing."})
    points_per_unit = JsonNumber(required=True, validate=validate.Range(0, 1000, min_inclusive=False),
                                 metadata={"description": "Points per unit of the currency paid (incl. VAT, after discounts)",
                                           "exclusiveMinimum": True})  # apispec leaves out the inclusivity
    store_multipliers = Dict(keys=StrictStr(), values=JsonNumber(validate=validate.Range(0, 100)),
                             load_default=dict, metadata={"description": "store_id -> multiplier"})
    sku_multipliers = List(Nested(SkuMultiplierSchema), load_default=list,
                           metadata={"description": "The first prefix that matches a line's SKU applies"})
    non_earning_sku_prefixes = List(StrictStr(validate=validate.Length(1, 64)), load_default=list)
    non_earning_payments = List(StrictStr(validate=validate.Length(1, 64)), load_default=list,
                                metadata={"description": "Payment names whose share of an order earns nothing"})
    reward = Nested(RewardSchema, required=True)
    tiers = List(Nested(TierSchema), load_default=list, validate=validate.Length(max=20))
    tier_window_months = StrictInt(load_default=12, validate=validate.Range(1, 120))
    points_valid_months = StrictInt(required=True, validate=validate.Range(1, 240))
    card = List(StrictStr(validate=validate.OneOf(CARD_VALUES)), load_default=lambda: ["balance"],
                metadata={"description": "What the customer card shows (Customer Info): balance (always), tier, "
                                         "to_next_tier (points still to earn), expiring (within 30 days)"})

    @validates_schema
    def _tiers_increase(self, data, **kwargs):
        thresholds = [tier["points"] for tier in data.get("tiers", [])]
        if thresholds != sorted(set(thresholds)):
            raise ValidationError("Give the tiers in increasing order of points, each threshold once.", "tiers")


class ProgramVersionSchema(Schema):
    version = StrictInt()
    valid_from = DateTime(format="iso")
    set_by = StrictStr()
    document = Nested(ProgramSchema)


class LedgerQuerySchema(AdminQuerySchema):
    limit = QueryInt(load_default=100, validate=validate.Range(1, 1000))
    before = QueryInt(validate=validate.Range(1, BIGINT_MAX), metadata={"description": "Entries older than this entry_id"})


class LedgerEntrySchema(Schema):
    entry_id = StrictInt()
    kind = StrictStr(metadata={"description": "earned, reversed, converted, expired, adjusted, opening"})
    points = StrictInt()
    order_id = StrictInt()
    bonus_check_id = StrictStr()
    version = StrictInt()
    reason = StrictStr()
    actor = StrictStr()
    earned_at = DateTime(format="iso")
    booked_at = DateTime(format="iso")


class LedgerSchema(Schema):
    balance = StrictInt()
    shortfall = StrictInt(metadata={"description": "Points reversed after they were converted: taken from future earnings"})
    tier = StrictStr()
    entries = List(Nested(LedgerEntrySchema))


class AdjustmentSchema(Schema):
    points = StrictInt(required=True, validate=validate.Range(-10_000_000, 10_000_000))
    reason = StrictStr(required=True, validate=validate.Length(1, 200))

    @validates_schema
    def _not_zero(self, data, **kwargs):
        if data.get("points") == 0:
            raise ValidationError("An adjustment of 0 points changes nothing.", "points")


class BalanceSchema(Schema):
    customer_id = StrictStr()
    balance = StrictInt()


class LiabilityQuerySchema(AdminQuerySchema):
    at = AwareDateTime(format="iso", metadata={"description": "The time of the report (default now)"})


class MonthSchema(Schema):
    month = StrictStr()
    earned = StrictInt()
    converted = StrictInt()
    expired = StrictInt()
    reversed = StrictInt()


class LiabilitySchema(Schema):
    points_outstanding = StrictInt()
    bonus_checks_outstanding = StrictInt()
    bonus_checks_value = StrictStr()
    months = List(Nested(MonthSchema))
