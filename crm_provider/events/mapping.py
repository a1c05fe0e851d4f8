"""A Sitoo order, read: who it belongs to, what it consumed, and the contract's Transaction it becomes.

Field meanings are those of `sitoo-objects.txt` (order, orderitem, orderpayment):
- An order item's `moneyitemtotal_net` + `moneyitemtotal_vat` is what the customer paid for the row, after
  its row discount. The contract's item `total` is *before* manual discount and discounts, so the row
  discount (`orderitem-moneyrowdiscount`, incl. VAT, or else `moneydiscount` per unit, net) is added back
  and reported as `manual_discount`.
- Items of type 20 (Discount) belong to the product item before them: they become its `discounts`, with
  the amount given as a positive discount (a refund's discount is negative).
- Refunds are orders too (negative quantities and amounts): mapped the same way, signs kept.
Amounts are exact decimals throughout, written as the contract's Money strings.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ORDER_TYPE_ORDER = 10
ORDER_STATE_CANCELLED = 20
ORDER_STATE_ABANDONED = -1
ITEM_TYPE_DISCOUNT = 20

# additionaldata keys naming the customer, in the order they are tried: (key, what it holds)
CUSTOMER_KEYS = (
    ("crm-customerid", "customer_id"),
    ("crm-membernumber", "member_number"),
    ("customcrm-contactid", "customer_id"),
    ("customcrm-membernumber", "member_number"),
)
BONUS_CHECK_KEYS = ("crm-bonuscheckid", "customcrm-bonuscheckid")
PROMOTION_KEYS = ("crm-promotionid", "customcrm-promotionid")

CENT = Decimal("0.01")
MILLI = Decimal("0.001")


class UnreadableOrder(ValueError):
    """The order lacks a field the mapping needs, or holds a value of the wrong kind."""


def _money(value) -> Decimal:
    if value is None or value == "":
        return Decimal("0")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise UnreadableOrder("an amount is not a number") from None
    if not amount.is_finite():
        raise UnreadableOrder("an amount is not a number")
    return amount


def _wire(amount: Decimal) -> str:
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP) + 0)  # + 0 turns -0.00 into 0.00


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _extra(row: dict) -> dict:
    data = row.get("additionaldata")
    return data if isinstance(data, dict) else {}


def is_sale(order: dict) -> bool:
    return order.get("ordertypeid", ORDER_TYPE_ORDER) == ORDER_TYPE_ORDER


def is_cancelled(order: dict) -> bool:
    return order.get("orderstateid") in (ORDER_STATE_CANCELLED, ORDER_STATE_ABANDONED)


def customer_refs(order: dict) -> list[tuple[str, str]]:
    """The customer references the order carries, most authoritative first: [(kind, value)]."""
    extra = _extra(order)
    return [(kind, extra[key].strip()) for key, kind in CUSTOMER_KEYS if _text(extra.get(key))]


def original_order_ids(order: dict) -> list[int]:
    """For a refund: the ids of the purchase it returns (`creditorderid`, `pos-originalsales-orderid`)."""
    ids = []
    for value in (order.get("creditorderid"), _extra(order).get("pos-originalsales-orderid")):
        try:
            if value not in (None, "", 0):
                ids.append(int(value))
        except (TypeError, ValueError):
            pass
    return ids


def consumed_ids(order: dict) -> tuple[list[str], list[str]]:
    """(bonus check ids, promotion ids) named on the order's items."""
    bonus_checks, promotions = [], []
    for row in order.get("orderitems") or []:
        extra = _extra(row) if isinstance(row, dict) else {}
        bonus_checks += [extra[k].strip() for k in BONUS_CHECK_KEYS if _text(extra.get(k))]
        promotions += [extra[k].strip() for k in PROMOTION_KEYS if _text(extra.get(k))]
    return list(dict.fromkeys(bonus_checks)), list(dict.fromkeys(promotions))


def _vat_value(row: dict) -> int | float:
    value = row.get("vatvalue") or 0
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UnreadableOrder("vatvalue is not a number")
    number = _money(value)
    return int(number) if number == number.to_integral_value() else float(number)


def _row_discount(row: dict, quantity: int, rate: Decimal) -> Decimal:
    """The row's discount incl. VAT, signed like its quantity (so a refund's is negative)."""
    given = _extra(row).get("orderitem-moneyrowdiscount")
    if _text(given):
        discount = abs(_money(given))
        return -discount if quantity < 0 else discount
    per_unit = _money(row.get("moneydiscount"))
    if not per_unit:
        return Decimal("0")
    units = _money(row.get("decimalquantitytotal")) if _text(row.get("decimalquantitytotal")) else Decimal(quantity)
    return per_unit * units * (1 + rate / 100)


def _vat_part(gross: Decimal, rate: Decimal) -> Decimal:
    return (gross * rate / (100 + rate)).quantize(CENT, rounding=ROUND_HALF_UP) if rate else Decimal("0")


def _item(row: dict) -> dict:
    quantity = row.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise UnreadableOrder("an item's quantity is not an integer")
    vat_value = _vat_value(row)
    rate = Decimal(str(vat_value))
    net, vat = _money(row.get("moneyitemtotal_net")), _money(row.get("moneyitemtotal_vat"))
    manual = _row_discount(row, quantity, rate).quantize(CENT, rounding=ROUND_HALF_UP)
    manual_vat = _vat_part(manual, rate)
    item = {
        "sku": row.get("sku") or "",
        "product_name": row.get("productname") or "",
        "product_name2": _text(row.get("productattributes")),
        "quantity": quantity,
        "total": _wire(net + vat + manual),
        "vat": _wire(vat + manual_vat),
        "vat_value": vat_value,
        "note": _text(row.get("externalinput")),
        "unit_label": _text(row.get("unitlabel")),
        "discounts": [],
    }
    if manual:
        item.update(manual_discount=_wire(manual), manual_discount_vat=_wire(manual_vat),
                    manual_discount_name=_text(_extra(row).get("reasoncode-manualdiscount")))
    if row.get("decimalunitquantity") not in (None, ""):
        item["unit_quantity"] = str(_money(row["decimalunitquantity"]).quantize(MILLI, rounding=ROUND_HALF_UP))
    return {key: value for key, value in item.items() if value is not None}


def _discount(row: dict) -> dict:
    net, vat = _money(row.get("moneyitemtotal_net")), _money(row.get("moneyitemtotal_vat"))
    name = _text(row.get("vouchername")) or _text(row.get("productname")) or "Discount"
    return {"name": name, "total": _wire(-(net + vat)), "vat": _wire(-vat)}


def transaction(order: dict) -> dict:
    """The contract's Transaction for a Sitoo order (raises UnreadableOrder for an order it cannot read)."""
    try:
        return _transaction(order)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        if isinstance(error, UnreadableOrder):
            raise
        raise UnreadableOrder(f"unreadable order ({type(error).__name__})") from None


def _transaction(order: dict) -> dict:
    extra = _extra(order)
    items: list[dict] = []
    for row in order.get("orderitems") or []:
        if row.get("orderitemtype") == ITEM_TYPE_DISCOUNT and items:
            items[-1]["discounts"].append(_discount(row))
        else:
            items.append(_item(row))
    roundoff = _money(order.get("moneytotal_gross_roundoff"))
    currency = order.get("currencycode")
    if not isinstance(currency, str) or len(currency) != 3:
        raise UnreadableOrder("the order has no currency code")
    date = order.get("orderdate")
    if isinstance(date, bool) or not isinstance(date, int):
        raise UnreadableOrder("the order has no date")
    found = {
        "date_created": date,
        "receipt_id": _text(extra.get("pos-receiptid")),
        "order_id": order["orderid"],
        "order_external_id": _text(order.get("externalid")),
        "store_id": _text(extra.get("store-externalid")),
        "store_name": extra.get("store-name") or "",
        "currency_code": currency.upper(),
        "roundoff": _wire(roundoff) if roundoff else None,
        "items": items,
        "payments": [{"name": p.get("name") or "", "total": _wire(_money(p.get("moneyamount")))}
                     for p in order.get("payments") or []],
    }
    return {key: value for key, value in found.items() if value is not None}
