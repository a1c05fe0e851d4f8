"""Admin wire schemas: the back-office customer fields and the audit log."""

from __future__ import annotations

from marshmallow import validate

from ..customers.schemas import CustomerSectionSchema, CustomerStatusSchema
from ..fields import DateTime, Dict, List, Nested, QueryInt, Schema, StrictBool, StrictInt, StrictStr


class BackOfficeSchema(Schema):
    """The customer fields the POS can read but not write. Absent: unchanged; null: cleared."""

    status = Nested(CustomerStatusSchema, allow_none=True)
    voucher_passwords = List(StrictStr())
    sections = List(Nested(CustomerSectionSchema))
    store_id_home = StrictStr(allow_none=True)


class AuditQuerySchema(Schema):
    customer_id = StrictStr()
    store_id = StrictStr()
    staff_id = StrictStr()
    register_id = StrictStr()
    limit = QueryInt(load_default=100, validate=validate.Range(1, 1000))  # a query string: "10" is 10


class AuditRowSchema(Schema):
    audit_id = StrictInt()
    at = DateTime(format="iso", metadata={"description": "When, in UTC"})
    operation = StrictStr()
    customer_id = StrictStr()
    http_status = StrictInt()
    request_id = StrictStr()
    credential = StrictStr()
    authenticated = StrictBool()
    store_id = StrictStr()
    staff_id = StrictStr()
    register_id = StrictStr()
    detail = Dict()
