"""Field types shared by every area's schemas: the contract's scalar types, stated once.

Strings refuse NUL characters (PostgreSQL cannot store them), integers and booleans are strict
(`"10"` is not an integer, `1` is not a boolean), money and decimal quantities are strings matching the
contract's patterns.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, post_dump, validate

ID_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_\-]{0,30}[a-zA-Z0-9]$"
MONEY_PATTERN = r"^[-+]?[0-9]+\.[0-9]{2}$"
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


class Str(fields.String):
    default_error_messages = {"nul": "Must not contain NUL characters."}

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in value:
            raise self.make_error("nul")
        return value


class Int(fields.Integer):
    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)


class Bool(fields.Boolean):
    truthy = {True}
    falsy = {False}


def Id(**kwargs) -> Str:
    """The contract's option and enum id: 2-32 characters, letters, digits, `_` and `-`."""
    return Str(validate=validate.Regexp(ID_PATTERN, error="Must match {regex}."), **kwargs)


def Money(**kwargs) -> Str:
    metadata = {"example": "123.00", **kwargs.pop("metadata", {})}
    return Str(validate=validate.Regexp(MONEY_PATTERN, error="Must be money: a string like 123.00."),
               metadata=metadata, **kwargs)


def DecimalQuantity(**kwargs) -> Str:
    metadata = {"example": "456.789", **kwargs.pop("metadata", {})}
    return Str(validate=validate.Regexp(DECIMAL_QUANTITY_PATTERN, error="Must be a decimal like 456.789."),
               metadata=metadata, **kwargs)


class ErrorSchema(Schema):
    errortext = Str(required=True, metadata={"description": "Text describing the error."})
    statuscode = Int(required=True, metadata={"description": "A status code for the error."})
