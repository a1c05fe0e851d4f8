"""Admin wire schemas: the back-office customer fields and the audit log."""

from __future__ import annotations

from marshmallow import fields, validate

from ..customers.schemas import CustomerSectionSchema, CustomerStatusSchema
from ..fields import Bool, Int, Schema, Str


class BackOfficeSchema(Schema):
    """The customer fields the POS can read but not write. Absent: unchanged; null: cleared."""

    status = fields.Nested(CustomerStatusSchema, allow_none=True)
    voucher_passwords = fields.List(Str())
    sections = fields.List(fields.Nested(CustomerSectionSchema))
    store_id_home = Str(allow_none=True)


class AuditQuerySchema(Schema):
    customer_id = Str()
    store_id = Str()
    staff_id = Str()
    register_id = Str()
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))  # a query string: "10" is 10


class AuditRowSchema(Schema):
    audit_id = Int()
    at = fields.DateTime(format="iso", metadata={"description": "When, in UTC"})
    operation = Str()
    customer_id = Str()
    http_status = Int()
    request_id = Str()
    credential = Str()
    authenticated = Bool()
    store_id = Str()
    staff_id = Str()
    register_id = Str()
    detail = fields.Dict()
