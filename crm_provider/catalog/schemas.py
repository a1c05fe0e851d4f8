"""The catalogues on the wire: contract objects `Consent`, `AdditionalOptionsSection`, `AdditionalOption`,
`AdditionalOptionEnumValue`."""

from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from ..fields import LIST_ITEMS, TEXT_CHARS, TITLE_CHARS, Id, List, Nested, Schema, StrictBool, StrictStr, Text

OPTION_TYPES = ("enum-single", "enum-multi", "text")


class ConsentSchema(Schema):
    consent_id = StrictStr(required=True, validate=validate.Length(min=1), metadata={"description": "ID of the consent."})
    name = Text(TITLE_CHARS, required=True, metadata={"description": "Name displayed for the consent."})
    description = Text(TEXT_CHARS, metadata={"description": "Description of the consent."})
    value = StrictBool(required=True, metadata={
        "description": "Value indicating if the default value when adding a new customer should be to accept "
                       "the consent or not."})


class AdditionalOptionEnumValueSchema(Schema):
    id = Id(required=True, metadata={"description": "The ID of the enum option value"})
    name = StrictStr(required=True, validate=validate.Length(1, 64), metadata={"description": "The name of the enum option value"})


class AdditionalOptionSchema(Schema):
    id = Id(required=True, metadata={"description": "The ID of the option"})
    name = StrictStr(required=True, validate=validate.Length(1, 32), metadata={"description": "The name of the option"})
    type = StrictStr(required=True, validate=validate.OneOf(OPTION_TYPES), metadata={
        "description": "enum-single: select one value; enum-multi: select several values; text: a text field"})
    required = StrictBool(metadata={"description": "Whether the option is required when adding or editing a customer",
                              "default": False})
    enum_options = List(Nested(AdditionalOptionEnumValueSchema), validate=validate.Length(max=LIST_ITEMS), metadata={
        "description": "The possible values (options of type enum-single and enum-multi)"})

    @validates_schema
    def _enum_options_match_type(self, data, **kwargs):
        enum_options = data.get("enum_options") or []
        if data["type"] == "text" and enum_options:
            raise ValidationError("Not allowed for an option of type text.", "enum_options")
        if data["type"] != "text" and not enum_options:
            raise ValidationError(f"Required for an option of type {data['type']}.", "enum_options")
        ids = [e["id"] for e in enum_options]
        if len(set(ids)) != len(ids):
            raise ValidationError("Enum option ids must be unique within the option.", "enum_options")


class AdditionalOptionsSectionSchema(Schema):
    name = StrictStr(required=True, validate=validate.Length(1, 32), metadata={"description": "The name of the section"})
    options = List(Nested(AdditionalOptionSchema), required=True, validate=validate.Length(max=LIST_ITEMS),
                          metadata={"description": "The additional options of the section"})
