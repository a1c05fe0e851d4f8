"""Wire schemas of promotions, bonus checks and redeems (contract objects `Promotion`,
`PromotionCartAmount`, `PromotionCartPercent`, `PromotionManual`, `PromotionOffer`, `BonusCheck`, `Redeem`)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from ..fields import Bool, Int, Money, Schema, Str

PROMOTION_TYPES = ("cart_amount", "cart_percent", "manual", "offer")
# The value field each promotion type carries (manual carries none).
PROMOTION_VALUE = {"cart_amount": "value_money", "cart_percent": "value_int", "offer": "value_string"}


class PromotionTypeSchema(Schema):
    """One of PromotionCartAmount, PromotionCartPercent, PromotionManual, PromotionOffer, told apart by `type`."""

    type = Str(required=True, validate=validate.OneOf(PROMOTION_TYPES))
    value_money = Money(metadata={"description": "Cart amount to discount (cart_amount)."})
    value_int = Int(validate=validate.Range(1, 100), metadata={"description": "Percent to discount (cart_percent)."})
    value_string = Str(metadata={"description": "Voucher password that can enable campaigns in Sitoo (offer)."})

    @validates_schema
    def _value_matches_type(self, data, **kwargs):
        wanted = PROMOTION_VALUE.get(data.get("type"))
        for name in PROMOTION_VALUE.values():
            if name == wanted and data.get(name) is None:
                raise ValidationError(f"Required for promotion type {data['type']}.", name)
            if name != wanted and name in data:
                raise ValidationError(f"Not allowed for promotion type {data.get('type')}.", name)


class PromotionSchema(Schema):
    promotion_id = Str(required=True, metadata={"description": "ID of the promotion."})
    promotion_type = fields.Nested(PromotionTypeSchema, required=True)
    name = Str(required=True, metadata={"description": "Name of the promotion."})
    description = Str(metadata={"description": "Description of the promotion."})
    redeemed = Bool(required=True, metadata={"description": "Value indicating if the promotion has been redeemed."})
    date_redeemed = Int(metadata={"description": "Timestamp (unix seconds) when the promotion was redeemed.",
                                  "format": "int64"})


class BonusCheckSchema(Schema):
    bonus_check_id = Str(required=True, metadata={"description": "ID of the bonus check."})
    name = Str(required=True, metadata={"description": "Name displayed for the bonus check."})
    description = Str(metadata={"description": "Description of the bonus check."})
    cart_amount = Money(required=True, metadata={"description": "The amount value of the bonus check."})
    redeemed = Bool(required=True, metadata={"description": "Boolean value indicating if the bonus check has been redeemed."})
    date_redeemed = Int(metadata={"description": "Timestamp (unix seconds) when the bonus check was redeemed.",
                                  "format": "int64"})
