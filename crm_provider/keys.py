"""A customer's keys: its id as a URL names it, and its search keys, normalised one way at write and at read.

`0701112233`, `070-111 22 33` and `+46701112233` are one mobile number (E.164, with the configured default
region for numbers typed without a country code); `John.Doe@Example.com` is `john.doe@example.com`;
`19750804-1234` and `197508041234` are one personal id.
"""

from __future__ import annotations

import re
import secrets
import uuid

import phonenumbers

from .errors import NotFound

KEY_TYPES = ("personal_id", "mobile", "email", "member_number", "company_id")
_SEPARATORS = re.compile(r"[^0-9A-Za-z]")


def customer_uuid(raw: str) -> uuid.UUID:
    """A customer id from a URL; anything that is not a UUID names no customer."""
    try:
        return uuid.UUID(raw)
    except (ValueError, TypeError):
        raise NotFound("Customer not found") from None


def luhn_digit(digits: str) -> str:
    """The Luhn check digit of `digits` (the one payment cards use): catches every mistyped digit and most
    swapped neighbours."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def random_member_numbers(length: int, count: int) -> list[str]:
    """`count` candidate member numbers of `length` digits: random digits (no leading zero, so that a
    spreadsheet keeps them) and a Luhn check digit. With 10 digits there are 900 million of them: a client
    walking the numbers finds a customer once in a hundred thousand tries at a million customers."""
    body = length - 1
    return [(b := str(10 ** (body - 1) + secrets.randbelow(9 * 10 ** (body - 1)))) + luhn_digit(b)
            for _ in range(count)]


def phone(raw: str, region: str) -> str:
    """E.164, or ValueError when `raw` is no valid phone number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError("Not a valid phone number.") from error
    if not phonenumbers.is_valid_number(number):
        raise ValueError("Not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(raw: str) -> str:
    return raw.strip().lower()


def identifier(raw: str) -> str:
    """Personal and company ids: separators and spaces dropped, letters upper case."""
    return _SEPARATORS.sub("", raw).upper()


def for_search(key_type: str, key: str, region: str) -> str | None:
    """The stored form of a search key; None when it cannot match anything."""
    key = key.strip()
    if key_type == "mobile":
        try:
            return phone(key, region)
        except ValueError:
            return None
    if key_type == "email":
        return email(key) or None
    if key_type in ("personal_id", "company_id"):
        return identifier(key) or None
    return key or None
