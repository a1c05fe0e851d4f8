"""The audit log on the wire (back office): the filters and the rows."""

from __future__ import annotations

from marshmallow import validate

from ..fields import BIGINT_MAX, AdminQuerySchema, DateTime, Dict, QueryInt, Schema, StrictBool, StrictInt, StrictStr


class AuditQuerySchema(AdminQuerySchema):
    customer_id = StrictStr()
    store_id = StrictStr()
    staff_id = StrictStr()
    register_id = StrictStr()
    operation = StrictStr(metadata={"description": "The route, as the rows name it: `GET /customers/<customer_id>`"})
    before = QueryInt(validate=validate.Range(1, BIGINT_MAX), metadata={
        "description": "The next page: rows older than this audit_id (the last row of the page read)."})
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
