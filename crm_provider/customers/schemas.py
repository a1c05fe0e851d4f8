"""The customer on the wire: contract objects `Customer`, `Address`, `CustomerAdditionalOption`,
`CustomerStatus`, `CustomerSection` and its values, and the search parameters.

Read-only fields (`customer_id`, `status`, `promotions`, `bonus_checks`, `voucher_passwords`, `sections`)
are dump-only: a POS request that carries them is accepted and the values are ignored. `null` (or `""` for
email, phone and mobile) in a request clears an optional field.
"""

from __future__ import annotations

from marshmallow import pre_load, validate

from ..fields import (LIST_ITEMS, NAME_CHARS, SHORT_CHARS, TEXT_CHARS, TITLE_CHARS, Date, DateTime, Dict, Email, Id,
                      List, Money, Nested, OneOfSchema, Raw, Schema, StrictBool, StrictStr, Text)
from ..loyalty.schemas import BonusCheckSchema, PromotionSchema
from ..keys import KEY_TYPES

GENDERS = ("male", "female", "undisclosed")
COMMUNICATION_TYPES = ("email", "sms", "mail")
STATUS_COLORS = ("red", "orange", "green")
SECTION_VALUE_TYPES = ("text", "money")

# Indexed search keys are bounded so that no value can outgrow its index entry.
KEY_MAX_LENGTH = 64
EMAIL_MAX_LENGTH = 254


def _optional(field_class=StrictStr, **kwargs):
    return field_class(allow_none=True, **kwargs)


class AddressSchema(Schema):
    name = _optional(Text, max_chars=TITLE_CHARS,
                     metadata={"description": "Name for the address. Usually the name of the recipient."})
    address = Text(TITLE_CHARS, required=True, metadata={"description": "The address line 1."})
    address2 = _optional(Text, max_chars=TITLE_CHARS, metadata={"description": "The address line 2."})
    zip = _optional(Text, max_chars=SHORT_CHARS, metadata={"description": "Zip for the address."})
    city = _optional(Text, max_chars=NAME_CHARS, metadata={"description": "City for the address."})
    state = _optional(Text, max_chars=NAME_CHARS, metadata={"description": "State/Region for the address."})
    country_id = _optional(
        validate=validate.Regexp(r"^[A-Z]{2}$", error="Must be an ISO 3166-1 alpha-2 code in upper case."),
        metadata={"description": "Country id for the address (ISO 3166-1 Alpha2 uppercase)"},
    )


class CustomerStatusSchema(Schema):
    color = StrictStr(required=True, validate=validate.OneOf(STATUS_COLORS),
                metadata={"description": "The color to display for the status field."})
    text = Text(NAME_CHARS, required=True, metadata={"description": "Status text for the customer."})


class CustomerAdditionalOptionSchema(Schema):
    id = Id(required=True, metadata={"description": "The ID of the additional option that the value is for"})
    enum_values = List(
        Id(), validate=validate.Length(max=LIST_ITEMS),
        metadata={"description": "IDs of the selected enum values (options of type enum-single and enum-multi)"}
    )
    text = Text(TEXT_CHARS, metadata={"description": "The text stored for an additional option of type text"})


class CustomerSectionValueSchema(OneOfSchema):
    """CustomerSectionValueText (`type` text, with `text`) or CustomerSectionValueMoney (`type` money, with `value`)."""

    one_of_layout = ("type", {"text": "text", "money": "value"})

    type = StrictStr(required=True, validate=validate.OneOf(SECTION_VALUE_TYPES))
    title = Text(NAME_CHARS, required=True, metadata={"description": "Title of the field."})
    text = Text(TEXT_CHARS, metadata={"description": "Text value (type text)."})
    value = Money(metadata={"description": "The money value to display for the field (type money)."})


class CustomerSectionSchema(Schema):
    title = Text(NAME_CHARS, required=True, metadata={"description": "Title of the section"})
    values = List(Nested(CustomerSectionValueSchema), required=True, validate=validate.Length(max=LIST_ITEMS),
                  metadata={"description": "Fields that will be shown for this section."})


class CustomerSchema(Schema):
    customer_id = StrictStr(dump_only=True, metadata={"description": "ID of the customer. Created by the CRM."})
    member_number = _optional(
        validate=validate.Length(1, KEY_MAX_LENGTH),
        metadata={"description": "Member Number for the customer (shown on purchase receipts). "
                                 "Assigned by the CRM when a new customer has none."},
    )
    email = _optional(Email, validate=validate.Length(max=EMAIL_MAX_LENGTH),
                      metadata={"description": "Email for the customer."})
    name_first = _optional(Text, max_chars=NAME_CHARS, metadata={"description": "First Name of the customer."})
    name_last = _optional(Text, max_chars=NAME_CHARS, metadata={"description": "Last Name of the customer."})
    personal_id = _optional(validate=validate.Length(max=KEY_MAX_LENGTH),
                            metadata={"description": "Social Security Number (SSN) for the customer."})
    company = _optional(Text, max_chars=TITLE_CHARS, metadata={"description": "Company for the customer."})
    company_id = _optional(validate=validate.Length(max=KEY_MAX_LENGTH),
                           metadata={"description": "Company ID for the customer."})
    phone = _optional(Text, max_chars=SHORT_CHARS,
                      metadata={"description": "Phone Number for the customer. (E.164 format)"})
    mobile = _optional(Text, max_chars=SHORT_CHARS,
                       metadata={"description": "Mobile Phone number for the customer. (E.164 format)"})
    invoice_address = _optional(Nested, nested=AddressSchema, metadata={"description": "The invoice address."})
    delivery_address = _optional(Nested, nested=AddressSchema,
                                 metadata={"description": "The delivery address."})
    gender = _optional(validate=validate.OneOf(GENDERS), metadata={"description": "The gender of the customer"})
    birthday = _optional(Date, metadata={"description": "Date of birth (YYYY-MM-DD), no time.",
                                                "example": "1975-08-04"})
    accepts_communication = List(
        StrictStr(validate=validate.OneOf(COMMUNICATION_TYPES)),
        metadata={"description": "Accepted ways of communicating with customer."},
    )
    consents = List(StrictStr(validate=validate.Length(max=KEY_MAX_LENGTH)), validate=validate.Length(max=LIST_ITEMS),
                    metadata={"description": "IDs of the consents the customer has accepted"})
    additional_options = List(Nested(CustomerAdditionalOptionSchema), validate=validate.Length(max=LIST_ITEMS),
                              metadata={"description": "Additional option values for the customer"})
    status = Nested(CustomerStatusSchema, dump_only=True, metadata={"description": "Status for the customer"})
    promotions = List(Nested(PromotionSchema), dump_only=True,
                             metadata={"description": "Promotions for this customer."})
    bonus_checks = List(Nested(BonusCheckSchema), dump_only=True,
                               metadata={"description": "Bonus checks for this customer."})
    voucher_passwords = List(StrictStr(), dump_only=True,
                                    metadata={"description": "Passwords for unlocking vouchers for this customer."})
    store_id_home = _optional(Text, max_chars=SHORT_CHARS,
                              metadata={"description": "ID for the home store of the customer. "
                                                       "Read only except for POST."})
    sections = List(Nested(CustomerSectionSchema), dump_only=True,
                           metadata={"description": "Additional sections that the CRM can display for the customer."})

    @pre_load
    def _empty_contact_is_none(self, data, **kwargs):
        """A till that clears email, phone or mobile sends an empty string."""
        if isinstance(data, dict):
            data = {key: (None if key in ("email", "phone", "mobile") and value == "" else value)
                    for key, value in data.items()}
        return data


class SearchArgsSchema(Schema):
    key = Text(EMAIL_MAX_LENGTH, required=True, metadata={"description": "Key to search for"})
    key_type = StrictStr(required=True, validate=validate.OneOf(KEY_TYPES),
                   metadata={"description": "Type of field to search for (SearchKeyType)"})


class BackOfficeSchema(Schema):
    """The customer fields the POS can read but not write. Absent: unchanged; null: cleared."""

    status = Nested(CustomerStatusSchema, allow_none=True, metadata={
        "description": "Set by hand: it wins over the loyalty program's tier until `status_by_tier` is sent."})
    status_by_tier = StrictBool(metadata={
        "description": "true: the loyalty program's tier sets the status from now on (at the next points change)."})
    voucher_passwords = List(Text(SHORT_CHARS), validate=validate.Length(max=LIST_ITEMS))
    sections = List(Nested(CustomerSectionSchema), validate=validate.Length(max=LIST_ITEMS))
    store_id_home = Text(SHORT_CHARS, allow_none=True)

class SubjectAccessSchema(Schema):
    """Everything the CRM holds about a customer (GDPR article 15)."""
    customer = Raw(metadata={"description": "The customer as the SPI shows it (the contract's Customer)."})
    held = Dict(keys=StrictStr(), values=Raw(), metadata={
        "description": "What each area holds, by area (crm_provider/personal_data.py): additional_options, "
                       "consent_history (every grant and withdrawal: when, store, staff, register, credential, "
                       "the consent's text then), "
                       "loyalty (promotions, bonus checks, redeems), transactions, points (account, ledger), "
                       "sitoo_events, audit, aliases (the ids an old system knew the customer by), person_registry (the lookup registry's records filed under the "
                       "customer's personal id, mobile or email), and those a fork registers."})


class ErasureSchema(Schema):
    customer_id = StrictStr()
    erased_at = DateTime(format="iso", metadata={"description": "When it was erased (the first erasure's time)."})


class MergeSchema(Schema):
    merged = StrictStr(required=True, data_key="from", validate=validate.Length(max=KEY_MAX_LENGTH), metadata={
        "description": "The id of the duplicate to merge into the customer of the path."})

