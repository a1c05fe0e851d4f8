"""Person lookup on the wire: the contract's `Customer`, as a person found outside the CRM.

The search parameters are the customer search's (`SearchArgsSchema`). A person found is not a CRM customer
yet (the POS uses it to fill in a new one), so it has none of the fields only the CRM gives a customer:
no `customer_id`, status, promotions, bonus checks, voucher passwords or sections.
"""

from __future__ import annotations

from ..customers.schemas import CustomerSchema, SearchArgsSchema

__all__ = ["LookupCustomerSchema", "SearchArgsSchema", "CRM_ONLY_FIELDS"]

CRM_ONLY_FIELDS = ("customer_id", "status", "promotions", "bonus_checks", "voucher_passwords", "sections")


class LookupCustomerSchema(CustomerSchema):
    class Meta(CustomerSchema.Meta):
        exclude = CRM_ONLY_FIELDS
