"""Field types shared by every area's schemas: the contract's scalar types, stated once.

Strings refuse NUL characters (PostgreSQL cannot store them), integers and booleans are strict
(`"10"` is not an integer, `1` is not a boolean), money and decimal quantities are strings matching the
contract's patterns.

Schemas take every field type from this module, never from `marshmallow.fields`: marshmallow's own `Str`,
`Int` and `Bool` are lax (`"10"` loads as 10), so the strict ones here have names marshmallow does not use
(`StrictStr`, `StrictInt`, `StrictBool`), and the container and date types the schemas need are re-exported.
`tests/test_architecture.py` refuses a schema module that imports `marshmallow.fields`.
"""

from __future__ import annotations

import copy
import functools
from decimal import Decimal

import marshmallow as ma
from marshmallow import ValidationError, fields, post_dump, validate, validates_schema

ID_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_\-]{0,30}[a-zA-Z0-9]$"
MONEY_PATTERN = r"^[-+]?[0-9]+\.[0-9]{2}$"
# Money is numeric(12,2) in PostgreSQL: an amount must stay below this to be stored.
NUMERIC_12_2_LIMIT = Decimal("10000000000")
DECIMAL_QUANTITY_PATTERN = r"^[-+]?[0-9]+\.[0-9]{3}$"


class Schema(ma.Schema):
    """Base of every wire schema.

    Unknown fields in a request are ignored (a newer POS may send more than this contract knows), and
    absent values are left out of a response rather than sent as null, as in the contract's examples.
    """

    class Meta:
        unknown = ma.EXCLUDE

    @post_dump
    def _drop_none(self, data, **kwargs):
        return {key: value for key, value in data.items() if value is not None}


class AdminQuerySchema(Schema):
    """The query string of a back-office read: a parameter it does not know is refused (400), so that a
    mistyped filter (`?custmer_id=`) is an error rather than every row. The SPI's own queries keep the rule
    of `Schema`: a newer POS may send more than this contract knows."""

    class Meta:
        unknown = ma.RAISE


BIGINT_MAX = 2**63 - 1  # ids a client sends are stored as bigint: a larger one is a 400, not an overflow
MAX_UNIX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last second PostgreSQL's timestamps hold here

NO_NUL_PATTERN = "^[^\\u0000]*$"


class StrictStr(fields.String):
    """A string without NUL characters (PostgreSQL cannot store them): refused with a 400, and stated in the
    OpenAPI document as a pattern where the field has no pattern of its own."""

    default_error_messages = {"nul": "Must not contain NUL characters."}

    def __init__(self, **kwargs):
        validators = kwargs.get("validate") or []
        validators = validators if isinstance(validators, (list, tuple)) else [validators]
        metadata = kwargs.get("metadata") or {}
        if "pattern" not in metadata and not any(isinstance(v, validate.Regexp) for v in validators):
            kwargs["metadata"] = {**metadata, "pattern": NO_NUL_PATTERN}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in value:
            raise self.make_error("nul")
        return value


class StrictInt(fields.Integer):
    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)


class StrictBool(fields.Boolean):
    """true or false, nothing else: marshmallow's Boolean would take 1 and 0 (they equal True and False)."""

    truthy = {True}
    falsy = {False}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


# marshmallow's types the schemas use, taken from here so that `marshmallow.fields` is never imported there.
List = fields.List
Nested = fields.Nested
Dict = fields.Dict
Date = fields.Date
DateTime = fields.DateTime
AwareDateTime = fields.AwareDateTime
Email = fields.Email
UUID = fields.UUID
Raw = fields.Raw  # documents held as they are stored (the subject-access export)


class QueryInt(fields.Integer):
    """An integer in a query string, where every value is text: `?limit=10` is 10. Never for a JSON body."""


class JsonNumber(fields.Number):
    """A JSON number kept as sent: an integer stays an integer (never a string, never a boolean)."""

    num_type = float

    def _format_num(self, value):
        if not isinstance(value, (int, float)):
            raise TypeError("not a number")
        return value


# Maximum lengths of free text and of lists a client writes, stated once (docs/security.md, "Lengths"): what a
# till or the back office sends is bounded field by field, beyond the body limit, and answered with a 400.
NAME_CHARS = 100        # a first or last name, a status or section title
TITLE_CHARS = 200       # a company, an address line, a consent's or an item's name
TEXT_CHARS = 1024       # a description, a note, a section's text
SHORT_CHARS = 64        # ids a client chooses (store ids, voucher passwords), zip codes, phone numbers as typed
LIST_ITEMS = 100        # consents, option values, enum options, voucher passwords


def Text(max_chars: int, **kwargs) -> StrictStr:
    """Free text of at most `max_chars` characters."""
    return StrictStr(validate=validate.Length(max=max_chars), **kwargs)


def Id(**kwargs) -> StrictStr:
    """The contract's option and enum id: 2-32 characters, letters, digits, `_` and `-`."""
    return StrictStr(validate=validate.Regexp(ID_PATTERN, error="Must match {regex}."), **kwargs)


def Money(**kwargs) -> StrictStr:
    metadata = {"example": "123.00", **kwargs.pop("metadata", {})}
    return StrictStr(validate=validate.Regexp(MONEY_PATTERN, error="Must be money: a string like 123.00."),
               metadata=metadata, **kwargs)


def DecimalQuantity(**kwargs) -> StrictStr:
    metadata = {"example": "456.789", **kwargs.pop("metadata", {})}
    return StrictStr(validate=validate.Regexp(DECIMAL_QUANTITY_PATTERN, error="Must be a decimal like 456.789."),
               metadata=metadata, **kwargs)


class ErrorSchema(Schema):
    errortext = StrictStr(required=True, metadata={"description": "Text describing the error."})
    statuscode = StrictInt(required=True, metadata={"description": "A status code for the error."})


def _names(fields: str | tuple[str, ...]) -> tuple[str, ...]:
    return (fields,) if isinstance(fields, str) else tuple(fields)


class OneOfSchema(Schema):
    """A contract object with variants told apart by a discriminator (`PromotionCartAmount`, `PromotionManual`,
    ...): one schema at run time, `oneOf` its variants in the OpenAPI document (api.py, `variants`).

    A subclass sets `one_of_layout = (discriminator, {value: the field(s) that value carries})`; values absent
    from the mapping carry none. That one statement drives both the validation below (each value's fields
    required, the other variants' fields refused) and the document. Subclasses inherit the layout.
    """

    one_of_layout: tuple[str, dict[str, str | tuple[str, ...]]]

    @validates_schema
    def _fields_match_variant(self, data, **kwargs):
        discriminator, fields_by_value = self.one_of_layout
        value = data.get(discriminator)
        wanted = _names(fields_by_value.get(value, ()))
        for name in dict.fromkeys(n for names in fields_by_value.values() for n in _names(names)):
            if name in wanted and data.get(name) is None:
                raise ValidationError(f"Required when {discriminator} is {value}.", name)
            if name not in wanted and name in data:
                raise ValidationError(f"Not allowed when {discriminator} is {value}.", name)


@functools.cache
def variants(cls: type[ma.Schema]) -> dict[str, type[ma.Schema]]:
    """The documented variants of a `OneOfSchema`: {discriminator value: schema class}.

    Each variant has the discriminator (required, that one value), the fields every variant shares, and its
    own fields (required). Named after the schema: `PromotionTypeSchema` gives `PromotionCartAmountSchema`
    (component `PromotionCartAmount`), `CustomerSectionValueSchema` gives `CustomerSectionValueText`.
    """
    discriminator, fields_by_value = cls.one_of_layout
    declared = cls._declared_fields
    choices = next(v.choices for v in declared[discriminator].validators if isinstance(v, validate.OneOf))
    own = {value: _names(names) for value, names in fields_by_value.items()}
    specific = {name for names in own.values() for name in names}
    shared = [name for name in declared if name != discriminator and name not in specific]
    prefix = cls.__name__.removesuffix("Schema").removesuffix("Type")
    result = {}
    for value in choices:
        tag = copy.deepcopy(declared[discriminator])
        tag.validators = [validate.OneOf([value])]
        members = {discriminator: tag, **{name: copy.deepcopy(declared[name]) for name in shared}}
        for name in own.get(value, ()):
            members[name] = copy.deepcopy(declared[name])
            members[name].required = True
        camel = "".join(part.capitalize() for part in value.replace("-", "_").split("_"))
        result[value] = Schema.from_dict(members, name=f"{prefix}{camel}Schema")
    return result
