"""Wire schemas of promotions, bonus checks and redeems (contract objects `Promotion`,
`PromotionCartAmount`, `PromotionCartPercent`, `PromotionManual`, `PromotionOffer`, `BonusCheck`, `Redeem`),
and the back office's versions of promotions and bonus checks (with a validity window)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import ValidationError, validate, validates_schema

from ..fields import (AdminQuerySchema, SHORT_CHARS, TEXT_CHARS, TITLE_CHARS, Text, AwareDateTime, List, Money, NUMERIC_12_2_LIMIT, Nested, OneOfSchema, QueryInt, Schema, StrictBool,
                      StrictInt, StrictStr)

PROMOTION_TYPES = ("cart_amount", "cart_percent", "manual", "offer")
# The value field each promotion type carries (manual carries none).
PROMOTION_VALUE = {"cart_amount": "value_money", "cart_percent": "value_int", "offer": "value_string"}

# Limits this implementation adds: ids travel in URL paths (so: no `/`) and in primary keys; a redeem is
# bounded; amounts fit numeric(12,2).
ITEM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"
ITEM_ID_MAX_LENGTH = 128
MAX_REDEEM_ITEMS = 100
REDEEM_ID_PATTERN = r"^[0-9A-F]{32}$"


class PromotionTypeSchema(OneOfSchema):
    """One of PromotionCartAmount, PromotionCartPercent, PromotionManual, PromotionOffer, told apart by `type`."""

    one_of_layout = ("type", PROMOTION_VALUE)

    type = StrictStr(required=True, validate=validate.OneOf(PROMOTION_TYPES))
    value_money = Money(metadata={"description": "Cart amount to discount (cart_amount)."})
    value_int = StrictInt(validate=validate.Range(1, 100), metadata={"description": "Percent to discount (cart_percent)."})
    value_string = Text(SHORT_CHARS, metadata={"description": "Voucher password that can enable campaigns in Sitoo (offer)."})


class PromotionSchema(Schema):
    promotion_id = StrictStr(required=True, metadata={"description": "ID of the promotion."})
    promotion_type = Nested(PromotionTypeSchema, required=True)
    name = Text(TITLE_CHARS, required=True, metadata={"description": "Name of the promotion."})
    description = Text(TEXT_CHARS, metadata={"description": "Description of the promotion."})
    redeemed = StrictBool(required=True, metadata={"description": "Value indicating if the promotion has been redeemed."})
    date_redeemed = StrictInt(metadata={"description": "Timestamp (unix seconds) when the promotion was redeemed.",
                                  "format": "int64"})


class BonusCheckSchema(Schema):
    bonus_check_id = StrictStr(required=True, metadata={"description": "ID of the bonus check."})
    name = Text(TITLE_CHARS, required=True, metadata={"description": "Name displayed for the bonus check."})
    description = Text(TEXT_CHARS, metadata={"description": "Description of the bonus check."})
    cart_amount = Money(required=True, metadata={"description": "The amount value of the bonus check."})
    redeemed = StrictBool(required=True, metadata={"description": "Boolean value indicating if the bonus check has been redeemed."})
    date_redeemed = StrictInt(metadata={"description": "Timestamp (unix seconds) when the bonus check was redeemed.",
                                  "format": "int64"})


class RedeemSchema(Schema):
    """The contract's `Redeem`: the request names the items, the answer adds `redeem_id` (read only)."""

    redeem_id = StrictStr(dump_only=True, metadata={
        "description": "ID of the redeem. Can be used if a rollback is needed.", "pattern": REDEEM_ID_PATTERN,
        "example": "64DCDD6D716EA0F470734356665E5730"})
    bonus_checks = List(
        StrictStr(validate=validate.Length(1, ITEM_ID_MAX_LENGTH)), required=True,
        validate=validate.Length(max=MAX_REDEEM_ITEMS), metadata={"description": "Array of bonus_check_id"})
    promotions = List(
        StrictStr(validate=validate.Length(1, ITEM_ID_MAX_LENGTH)), required=True,
        validate=validate.Length(max=MAX_REDEEM_ITEMS), metadata={"description": "Array of promotion_id"})

    @validates_schema
    def _names_something(self, data, **kwargs):
        if not data.get("bonus_checks") and not data.get("promotions"):
            raise ValidationError("Name at least one bonus check or promotion to redeem.")


# --- the back office ------------------------------------------------------------------------------------------

def _amount_fits(value: str) -> None:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return  # the pattern reports it
    if not 0 < amount < NUMERIC_12_2_LIMIT:
        raise ValidationError(f"Must be greater than 0.00 and less than {NUMERIC_12_2_LIMIT}.")


def Amount(**kwargs) -> StrictStr:
    """Money that a customer is given: positive, and small enough for numeric(12,2)."""
    field = Money(metadata={"example": "100.00", **kwargs.pop("metadata", {})}, **kwargs)
    field.validators.append(_amount_fits)
    return field


def ItemId(**kwargs) -> StrictStr:
    return StrictStr(validate=validate.Regexp(ITEM_ID_PATTERN, error="Must be 1-128 letters, digits, '.', '_', ':' or '-'."),
               **kwargs)


class _Granted(Schema):
    """What the back office adds to a wire item: an optional validity window. `redeemed` and
    `date_redeemed` are answers only: a grant is never redeemed."""

    redeemed = StrictBool(dump_only=True)
    date_redeemed = StrictInt(dump_only=True, metadata={"format": "int64"})
    valid_from = AwareDateTime(format="iso", allow_none=True, metadata={
        "description": "From when the item can be seen and redeemed (ISO 8601 with a time zone). None: always."})
    valid_to = AwareDateTime(format="iso", allow_none=True, metadata={
        "description": "Until when (exclusive) the item can be seen and redeemed. None: no end."})

    @validates_schema
    def _window_is_ordered(self, data, **kwargs):
        if data.get("valid_from") and data.get("valid_to") and data["valid_from"] >= data["valid_to"]:
            raise ValidationError("Must be later than valid_from.", "valid_to")


class GrantedPromotionTypeSchema(PromotionTypeSchema):
    value_money = Amount(metadata={"description": "Cart amount to discount (cart_amount)."})


class GrantedPromotionSchema(_Granted, PromotionSchema):
    promotion_id = ItemId(metadata={"description": "ID of the promotion. Created (a UUID) when not given."})
    promotion_type = Nested(GrantedPromotionTypeSchema, required=True)


class GrantedBonusCheckSchema(_Granted, BonusCheckSchema):
    bonus_check_id = ItemId(metadata={"description": "ID of the bonus check. Created (a UUID) when not given."})
    cart_amount = Amount(required=True, metadata={"description": "The amount value of the bonus check."})


class ConflictQuerySchema(AdminQuerySchema):
    reason = StrictStr(validate=validate.OneOf(("used_by_another_order", "another_customers_item", "unknown_item")))
    before = AwareDateTime(metadata={"description": "Only conflicts first seen before this time (paging)"})
    limit = QueryInt(load_default=100, validate=validate.Range(1, 1000))


class ConflictSchema(Schema):
    order_id = StrictInt(metadata={"description": "The Sitoo order that names the item"})
    kind = StrictStr(metadata={"description": "`bonus_check` or `promotion`"})
    item_id = StrictStr()
    customer_id = StrictStr(metadata={"description": "The order's customer"})
    reason = StrictStr(metadata={"description": "`used_by_another_order` (the same item on a second purchase, "
                                                "after its redeem was undone), `another_customers_item`, "
                                                "`unknown_item`"})
    other_order_id = StrictInt(allow_none=True, metadata={"description": "The order that consumed the item"})
    holder_customer_id = StrictStr(allow_none=True, metadata={"description": "The customer who holds the item"})
    first_seen_at = AwareDateTime()
    last_seen_at = AwareDateTime()
