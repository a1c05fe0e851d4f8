"""Purchase history on the wire: contract objects `Transaction`, `TransactionItem`,
`TransactionItemDiscount` and `TransactionPayment`.

Money is a string (`"490.00"`), `vat_value` a JSON number kept as sent (25 stays 25), `unit_quantity` a
decimal string with three decimals, `date_created` unix seconds. Optional fields may be null in a request
(left out when stored). Limits this implementation adds, so that sums fit their columns: money amounts
below 10 000 000 000, `vat_value` 0-100, `date_created` before the year 10000.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import ValidationError, validate

from ..fields import MAX_UNIX_SECONDS, DecimalQuantity, List, Money, NUMERIC_12_2_LIMIT, Nested, JsonNumber, QueryInt, Schema, StrictInt, StrictStr

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000  # transactions in a history answer: the newest 100 unless asked


def _fits_numeric_12_2(value: str) -> None:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return  # not money at all: the pattern reports it (marshmallow runs every validator)
    if abs(amount) >= NUMERIC_12_2_LIMIT:
        raise ValidationError("Must be below 10000000000.00.")


def Amount(**kwargs):
    """Money that fits numeric(12,2)."""
    field = Money(**kwargs)
    field.validators.append(_fits_numeric_12_2)
    return field


def _optional(field_class=StrictStr, **kwargs):
    return field_class(allow_none=True, **kwargs)


class TransactionItemDiscountSchema(Schema):
    name = StrictStr(required=True, metadata={"description": "Name of the discount"})
    total = Amount(required=True, metadata={"description": "Discount amount incl VAT"})
    vat = Amount(required=True, metadata={"description": "VAT included in discount amount"})


class TransactionItemSchema(Schema):
    sku = StrictStr(required=True, metadata={"description": "Stock Keeping Unit (SKU) for transaction item."})
    product_name = StrictStr(required=True, metadata={"description": "Title row 1 for transaction item."})
    product_name2 = _optional(metadata={"description": "Title row 2 for transaction item."})
    quantity = StrictInt(required=True, metadata={"description": "Quantity for transaction item."})
    total = Amount(required=True,
                   metadata={"description": "Total amount for item incl VAT (before applying manual discount and discounts)"})
    vat = Amount(required=True, metadata={"description": "VAT amount for total"})
    manual_discount = _optional(Amount, metadata={"description": "Manual discount for this item incl VAT"})
    manual_discount_vat = _optional(Amount, metadata={"description": "VAT amount for manual discount"})
    manual_discount_name = _optional(metadata={"description": "Name provided for manual discount"})
    vat_value = JsonNumber(required=True, validate=validate.Range(0, 100),
                           metadata={"description": "VAT percentage for transaction item."})
    note = _optional(metadata={"description": "Note for transaction item."})
    unit_quantity = _optional(DecimalQuantity,
                              metadata={"description": "Unit quantity (How much that is included in each unit)."})
    unit_label = _optional(metadata={"description": "Label for unit of transaction item. (e.g. kg)"})
    discounts = _optional(List, cls_or_instance=Nested(TransactionItemDiscountSchema),
                          metadata={"description": "Discounts for transaction item"})


class TransactionPaymentSchema(Schema):
    name = StrictStr(required=True, metadata={"description": "Name of the payment"})
    total = Amount(required=True, metadata={"description": "Amount for the payment"})


class TransactionSchema(Schema):
    date_created = StrictInt(required=True, validate=validate.Range(0, MAX_UNIX_SECONDS),
                       metadata={"description": "Timestamp (unix seconds) for when the transaction was created.",
                                 "format": "int64"})
    receipt_id = _optional(metadata={"description": "Sitoo Receipt ID for the transaction."})
    order_id = _optional(StrictInt, validate=validate.Range(1, 2**63 - 1),
                         metadata={"description": "Sitoo Order ID for the transaction. A transaction is stored "
                                                  "once per order id: posting it again replaces it.",
                                   "format": "int64"})
    order_external_id = _optional(metadata={"description": "Sitoo Order External ID for the transaction."})
    store_id = _optional(metadata={"description": "Store ID for transaction (externalid of the Sitoo store)."})
    store_name = StrictStr(required=True, metadata={"description": "Store Name for the transaction."})
    currency_code = StrictStr(required=True, validate=validate.Regexp(r"^[A-Z]{3}$", error="Must be an ISO 4217 code."),
                        metadata={"description": "Currency used for transaction (3-letter ISO 4217)."})
    roundoff = _optional(Amount, metadata={"description": "Roundoff for the transaction."})
    items = List(Nested(TransactionItemSchema), required=True,
                        metadata={"description": "Items in transaction."})
    payments = _optional(List, cls_or_instance=Nested(TransactionPaymentSchema),
                         metadata={"description": "Payments for transaction."})


class TransactionQuerySchema(Schema):
    limit = QueryInt(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT),
                           metadata={"description": "How many transactions, newest first (default 100)."})
