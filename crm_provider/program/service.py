"""The loyalty program: points from every purchase, bonus checks that issue themselves, tiers, expiry.

**The ledger is the truth** (points_ledger, append-only): every change of a balance is a row naming its cause.
`points_accounts` keeps each balance for the customer card, written with every ledger row in the same
statement, and `verify` checks it against the ledger.

**Exactly once, whatever arrives.** `book_order` makes the ledger agree with an order as it is now: the
points it earns now (`earning.points`, under the program version in force at its order date, and for a
refund at its original purchase's date), less what it has booked so far (`points_orders`), is booked as one
earned or reversed row; a replay books nothing, an update the difference, a cancellation (no transaction)
everything back. A refund takes back at most what its purchase earned, over all its refunds. An order that
moves to another customer is reversed on the first and earned on the second.

**Never below zero.** A reversal larger than the balance (its points were converted into a bonus check
already) takes the balance to zero and records the rest as the account's shortfall, which the next earnings
pay off first (a reversed row each time), before anything converts.

**Locks.** Everything here first locks the customers concerned (loyalty.lock_customers: the order every
writer of a customer's loyalty state follows), so concurrent purchases of one customer book one after
another and give the balance and the bonus checks of the same purchases in a row.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from psycopg import Connection

from .. import customer_columns, personal_data, plugins
from ..customers import service as customers
from ..errors import BadRequest, NotFound
from ..loyalty import service as loyalty
from ..transactions import service as transactions
from . import earning, store

CREDITS = ("earned", "opening", "adjusted")


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


# --- the document ---------------------------------------------------------------------------------------------

def program(conn: Connection) -> dict | None:
    """The program in force now: {version, document, valid_from}, or None when there is none."""
    return store.current_version(conn)


def set_program(conn: Connection, document: dict, set_by: str) -> dict:
    """A new version of the program (validated by ProgramSchema), in force from now. Earlier versions stay:
    a purchase is judged by the version in force at its order date."""
    return store.add_version(conn, document, set_by)


def versions(conn: Connection, limit: int) -> list[dict]:
    return store.versions(conn, limit)


# --- booking --------------------------------------------------------------------------------------------------

def _book(conn: Connection, customer_id, kind: str, points: int, account: dict | None = None, **cause) -> dict:
    """Book `points` (signed) on the customer's account, never taking it below zero: what a debit cannot take
    becomes shortfall, and a credit pays shortfall off first. `account`: the account as the caller last saw it
    under the customer's lock (read when not given). Returns the account after."""
    account = account or store.account(conn, customer_id)
    balance, shortfall = account["balance"], account["shortfall"]
    if points < 0 and balance + points < 0:
        taken = -balance
        shortfall += -points - balance
        if taken:
            balance = store.book(conn, customer_id, kind, taken, shortfall, **cause)["balance"]
        else:
            store.set_shortfall(conn, customer_id, shortfall)
        return {**account, "balance": balance, "shortfall": shortfall}
    if points:
        balance = store.book(conn, customer_id, kind, points, shortfall, **cause)["balance"]
    if points > 0 and shortfall:
        paid = min(shortfall, balance)
        shortfall -= paid
        balance = store.book(conn, customer_id, "reversed", -paid, shortfall,
                             reason="shortfall of an earlier reversal", order_id=cause.get("order_id"))["balance"]
    return {**account, "balance": balance, "shortfall": shortfall}


def _earn_rules(purchase: dict, points: int, customer: dict | None) -> int:
    active = plugins.active()
    for rule in active.earn_rules:
        points = int(rule.earn(purchase, points, customer=customer, settings=active.settings))
    return points


def book_order(conn: Connection, order_id: int, customer_id: uuid.UUID | None, transaction: dict | None,
               original_order_ids: list[int] = (), *, convert: bool = True, locked=frozenset()) -> int:
    """Make the ledger agree with order `order_id` as it is now: `transaction` stored for `customer_id`, or
    (None) no longer a purchase of anyone's. Returns the points the order holds now. Run inside the caller's
    transaction (the order feed's), `locked`: the customers it has locked already (loyalty.set_consumed's).
    Nothing happens while no program exists."""
    booked = store.booked_order(conn, order_id)
    current = store.current_version(conn)
    if current is None and booked is None:
        return 0
    holders = {c for c in (customer_id, booked and booked["customer_id"]) if c is not None}
    if not holders:
        return 0
    if not holders <= locked:
        loyalty.lock_customers(conn, holders)
        booked = store.booked_order(conn, order_id)  # again, under the locks
    # (Else the order was read under them: whoever holds its points is locked, and so is `customer_id`.)
    # Read once under the locks, then carried through every booking below (each returns the account after).
    accounts = {holder: store.account(conn, holder) for holder in holders}
    target, version, earned_at, original, multiplier = 0, None, None, None, Decimal("1")
    if transaction is not None and customer_id is not None:
        earned_at = _utc(transaction["date_created"])
        originals = [o for o in (store.booked_order(conn, oid) for oid in original_order_ids) if o]
        original = originals[0] if originals else None
        judged = _judging_version(conn, current, original, earned_at)
        version = judged["version"]
        # The tier's multiplier as it was when the order was first judged: a replay or an update of the order
        # later (when the tier may have changed) books the same points.
        multiplier = (booked["multiplier"] if booked and booked["customer_id"] == customer_id
                      else _tier_multiplier(accounts[customer_id]["tier"], judged["document"]))
        target = earning.points(judged["document"], transaction, tier_multiplier=multiplier)
        if plugins.active().earn_rules:
            target = _earn_rules(transaction, target, customers.customer_document(conn, customer_id))
        if original is not None:  # a refund: never more back than its purchase earned, over all its refunds
            room = original["points"] + store.refunded_so_far(conn, original["order_id"], order_id)
            target = max(min(target, 0), -max(room, 0))
    before_customer = booked["customer_id"] if booked else None
    before = booked["points"] if booked else 0
    if before_customer is not None and before_customer != customer_id and before:
        accounts[before_customer] = _book(
            conn, before_customer, "reversed" if before > 0 else "earned", -before, accounts[before_customer],
            order_id=order_id, version=booked["version"], earned_at=booked["earned_at"],
            reason="the order left the customer")
        before = 0
    delta = target - before
    if delta:
        accounts[customer_id] = _book(conn, customer_id, "earned" if delta > 0 else "reversed", delta,
                                      accounts[customer_id], order_id=order_id, version=version,
                                      earned_at=earned_at if delta > 0 else None)
    if customer_id is not None and (booked is not None or target):
        store.save_order(conn, {"order_id": order_id, "customer_id": customer_id, "points": target,
                                "version": version or booked["version"], "earned_at": earned_at or booked["earned_at"],
                                "original_order_id": original["order_id"] if original else None,
                                "multiplier": multiplier})
    elif booked is not None:  # no one's purchase any more: it holds nothing (should it come back, it earns again)
        store.save_order(conn, {**booked, "points": 0})
    for holder in holders:
        refresh(conn, holder, convert=convert and holder == customer_id and transaction is not None,
                current=current, account=accounts[holder])
    return target


def _judging_version(conn: Connection, current: dict | None, original: dict | None, earned_at: datetime) -> dict:
    """The program version that judges a purchase: for a refund its purchase's, else the one in force at its
    order date (mostly the current one, which takes no statement)."""
    if original is not None:
        if current is not None and original["version"] == current["version"]:
            return current
        return store.version(conn, original["version"])
    if current is not None and current["valid_from"] <= earned_at:
        return current
    return store.version_at(conn, earned_at)


def rebuild(conn: Connection, customer_id: uuid.UUID | None = None, on_order=None) -> int:
    """Book every stored Sitoo order again under the program (after a program change, or to adopt the program
    over history): each order's earned and reversed rows come to what it earns now. Idempotent; an issued
    bonus check is never withdrawn, and what the rebuild adds converts with the customer's next purchase.
    Refunds stay linked to their purchase as the order feed linked them. One transaction per customer, read
    a page of customers at a time. `conn` in autocommit; `on_order()` after each order (a progress bar).
    Returns the orders booked."""
    booked = 0
    for cid in transactions.customers_with_orders(conn, customer_id):
        with conn.transaction():
            for transaction in transactions.orders(conn, cid):
                known = store.booked_order(conn, transaction["order_id"])
                original = [known["original_order_id"]] if known and known["original_order_id"] else []
                book_order(conn, transaction["order_id"], cid, transaction, original, convert=False)
                booked += 1
                if on_order:
                    on_order()
    return booked


def refresh(conn: Connection, customer_id, *, convert: bool, now: datetime | None = None,
            current: dict | None = None, account: dict | None = None) -> None:
    """After a booking: convert points into bonus checks (with a purchase only: an opening balance waits
    for the next one), and set the tier. The customer is locked; `current` (the program in force) and
    `account` are read when not given."""
    current = current or store.current_version(conn)
    if current is None:
        return
    document = current["document"]
    now = now or datetime.now(timezone.utc)
    reward = document["reward"]
    account = account or store.account(conn, customer_id)
    while convert and account["balance"] >= reward["points"]:
        bonus_check_id = f"points-{uuid.uuid4().hex[:20]}"
        account = _book(conn, customer_id, "converted", -reward["points"], account, bonus_check_id=bonus_check_id,
                        version=current["version"])
        loyalty.grant(conn, "bonus_check", customer_id, {
            "bonus_check_id": bonus_check_id, "name": reward.get("name", "Bonus check"),
            "description": f"{reward['points']} points", "cart_amount": reward["amount"],
            "valid_from": now, "valid_to": now + timedelta(days=reward["valid_days"])}, locked=True)
    _set_standing(conn, customer_id, current, now)


def _tier_multiplier(tier: str | None, document: dict) -> Decimal:
    """The earn multiplier of the customer's tier (1 without one)."""
    found = next((t for t in document.get("tiers", []) if t["name"] == tier), None)
    return Decimal(str(found.get("multiplier", 1))) if found else Decimal("1")


EXPIRING_DAYS = 30  # the card's "Expiring within 30 days"


def _set_standing(conn: Connection, customer_id, current: dict, now: datetime) -> None:
    """The tier (by points earned in the window) and the card's figures: the next tier and the points missing
    for it, the points expiring within EXPIRING_DAYS (oldest first, as the daily job will book them, and no
    more than the balance). Then the customer's status and voucher passwords, as the tier sets them."""
    document = current["document"]
    tiers = document.get("tiers") or []
    name = store.set_standing(
        conn, customer_id, current["version"],
        since=now - relativedelta(months=document.get("tier_window_months", 12)),
        cutoff=now + timedelta(days=EXPIRING_DAYS) - relativedelta(months=document["points_valid_months"]),
        tiers=tiers)
    if tiers:
        tier = next((t for t in tiers if t["name"] == name), None)
        customers.set_tier(conn, customer_id, {"color": tier["color"], "text": tier["name"]} if tier else None,
                           tier.get("voucher_passwords", []) if tier else [])


# --- by hand, and the opening balance ---------------------------------------------------------------------------

def adjust(conn: Connection, customer_id: uuid.UUID, points: int, reason: str, actor: str) -> dict:
    """A manual adjustment (audited by its request); refused when it would take the balance below zero."""
    loyalty.lock_customers(conn, [customer_id])
    if not customers.exists(conn, customer_id):
        raise NotFound("Customer not found")
    account = store.account(conn, customer_id)
    if account["balance"] + points < 0:
        raise BadRequest(f"points: The balance is {account['balance']}: an adjustment cannot take it below zero.")
    account = _book(conn, customer_id, "adjusted", points, account, reason=reason, actor=actor)
    refresh(conn, customer_id, convert=False, account=account)
    return {"customer_id": str(customer_id), "balance": account["balance"]}


def open_balance(conn: Connection, customer_id: uuid.UUID, points: int, reason: str = "opening balance") -> None:
    """An opening balance (an import, the demo): the customer's balance becomes `points`, booked as one
    'opening' row of the difference. No earnings: tiers do not count it, and it converts with the next purchase."""
    loyalty.lock_customers(conn, [customer_id])
    account = store.account(conn, customer_id)
    delta = points - account["balance"]
    if delta:
        _book(conn, customer_id, "opening", delta, account, reason=reason)
    current = store.current_version(conn)
    if current is not None:
        _set_standing(conn, customer_id, current, datetime.now(timezone.utc))


MAX_POINTS = 2**31 - 1


def _points_cell(cell: str) -> int:
    if not (cell.isascii() and cell.isdigit()) or int(cell) > MAX_POINTS:
        raise ValueError(f"Must be a whole number of points from 0 to {MAX_POINTS}.")
    return int(cell)


def import_opening_balances(conn: Connection) -> None:
    """The `bonus_points` column of `crm-provider customers import` (customer_columns.py): each imported
    customer's balance becomes the cell's, booked as one 'opening' row of the difference, set-based. A
    customer who owes a shortfall takes open_balance's way, one by one (the credit pays the shortfall off
    first). The tier and the card's figures follow at the customer's next points change or the daily job
    (the account's standing is not computed yet)."""
    owing = store.import_owing(conn)
    store.import_opening_balances(conn)
    for row in owing:
        open_balance(conn, row["customer_id"], row["points"], reason="opening balance (import)")


def ledger(conn: Connection, customer_id: uuid.UUID, limit: int, before: int | None) -> dict:
    if not customers.exists(conn, customer_id):
        raise NotFound("Customer not found")
    account = store.account(conn, customer_id)
    return {"balance": account["balance"], "shortfall": account["shortfall"], "tier": account["tier"],
            "entries": store.ledger(conn, customer_id, limit, before)}


# --- the daily job --------------------------------------------------------------------------------------------

def expire(conn: Connection, now: datetime | None = None) -> int:
    """Book the points that expired by `now` (earned more than the program's validity ago, oldest first), and
    re-evaluate the tiers of the customers with earnings older than the tier window. Each customer in a
    transaction of its own, locked: two jobs at once expire nothing twice (the second finds nothing due).
    Returns the points expired."""
    current = store.current_version(conn)
    if current is None:
        return 0
    now = now or datetime.now(timezone.utc)
    document = current["document"]
    cutoff = now - relativedelta(months=document["points_valid_months"])
    # Whoever has points that left the tier window, expired or expire within 30 days: their tier and card
    # change too; and every account whose figures an older program version computed.
    window = now - relativedelta(months=document.get("tier_window_months", 12))
    soon = cutoff + timedelta(days=EXPIRING_DAYS)
    expired = 0
    for customer_id in store.customers_to_refresh(conn, max(soon, window), current["version"]):
        with conn.transaction():
            loyalty.lock_customers(conn, [customer_id])
            account = store.account(conn, customer_id)
            due = min(store.expiry_due(conn, customer_id, cutoff), account["balance"])
            if due > 0:
                _book(conn, customer_id, "expired", -due, account, earned_at=now,
                      reason="points older than their validity")
                expired += due
            _set_standing(conn, customer_id, current, now)
    return expired


def verify(conn: Connection) -> list[dict]:
    """Accounts whose stored balance is not the ledger's sum (none, in a healthy database)."""
    return store.unbalanced_accounts(conn)


def liability(conn: Connection, at: datetime) -> dict:
    return store.liability(conn, at)


class ProgramSections:
    """The built-in sections provider `program`: "Customer Info" with the customer's points (and tier, when the
    program's card shows it), built by PostgreSQL in the customer's own read. None while no program exists."""

    sections_sql = store.Q.card_sections

def _merge(conn: Connection, into: uuid.UUID, merged: uuid.UUID) -> None:
    """A merge: the duplicate's ledger and balance become the customer's, and the tier and card's figures
    are computed again over the whole ledger (no conversion: that waits for the next purchase)."""
    store.merge(conn, into, merged)
    current = store.current_version(conn)
    if current is not None:
        _set_standing(conn, into, current, datetime.now(timezone.utc))


personal_data.register("points", export=store.personal_data, merge=_merge)
customer_columns.register("bonus_points", parse=_points_cell, load=import_opening_balances,
                          export=store.Q.export_balance)
