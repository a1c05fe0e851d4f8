"""What a purchase earns under a program document: pure arithmetic, no database.

A line earns on what the customer paid for it: its `total` less its manual discount and its discounts (a
redeemed bonus check or promotion is a discount: it earns nothing). Lines whose SKU starts with a
non-earning prefix (gift cards) earn nothing. When part of the order was paid with a non-earning payment
(a gift-card payment, by name), every line's earning amount shrinks by that share. Each line's amount is
multiplied by the points per unit, the store's multiplier and the first matching SKU prefix's multiplier
(and the tier's, when the caller gives one); the purchase's points are the sum, rounded toward zero to a
whole point (a refund, with negative amounts, is rounded toward zero too, so it never takes back more than
the same lines earned). Then the configured earn rules (plugins.EarnRule) have their say, in order.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal


def _money(value) -> Decimal:
    return Decimal(value) if value not in (None, "") else Decimal("0")


def line_amount(item: dict) -> Decimal:
    """What the customer paid for the line (negative for a returned line)."""
    discounts = sum((_money(d.get("total")) for d in item.get("discounts") or []), Decimal("0"))
    return _money(item.get("total")) - _money(item.get("manual_discount")) - discounts


def _sku_multiplier(program: dict, sku: str) -> Decimal | None:
    """None: the SKU earns nothing; else its multiplier."""
    if any(sku.startswith(prefix) for prefix in program.get("non_earning_sku_prefixes", [])):
        return None
    for rule in program.get("sku_multipliers", []):
        if sku.startswith(rule["prefix"]):
            return Decimal(str(rule["multiplier"]))
    return Decimal("1")


def earning_share(program: dict, transaction: dict) -> Decimal:
    """The share of the order paid with payments that earn (1 when none is excluded, or no payments)."""
    payments = transaction.get("payments") or []
    total = sum((_money(p["total"]) for p in payments), Decimal("0"))
    if not payments or not total:
        return Decimal("1")
    excluded = set(program.get("non_earning_payments", []))
    paid_excluded = sum((_money(p["total"]) for p in payments if p.get("name") in excluded), Decimal("0"))
    return max(Decimal("0"), (total - paid_excluded) / total)


def points(program: dict, transaction: dict, *, tier_multiplier: Decimal = Decimal("1")) -> int:
    """The program's own points for `transaction` (the contract's Transaction), before the earn rules."""
    if program.get("currency") and transaction.get("currency_code") != program["currency"]:
        return 0  # another currency: the program's rate is per unit of its own
    store = Decimal(str(program.get("store_multipliers", {}).get(transaction.get("store_id") or "", 1)))
    rate = Decimal(str(program["points_per_unit"])) * store * tier_multiplier * earning_share(program, transaction)
    amount = Decimal("0")
    for item in transaction["items"]:
        multiplier = _sku_multiplier(program, item.get("sku") or "")
        if multiplier is not None:
            amount += line_amount(item) * multiplier
    return int((amount * rate).to_integral_value(rounding=ROUND_DOWN))
