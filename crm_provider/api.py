"""flask-smorest, fitted to the contract.

- Argument errors are 400s with the `Error` body and a text that names the field (flask-smorest's default is
  422 with its own `{code, status, errors}` body: the contract has neither).
- A request body is parsed as JSON whatever its Content-Type says; an empty, malformed or non-finite body
  is a 400.
- Each operation documents exactly the status codes the contract lists for it, each error with the
  `Error` schema (`Blueprint.documents`), and the HTTP Basic credential of its blueprint's scope (one
  security scheme per scope: `spi`, `admin`, `events`, `shopmonkey`).
- A `fields.OneOfSchema` is documented as `oneOf` its variants, as the contract states it.
- Swagger UI at `/docs` is served from the `swagger-ui-bundle` package: the page works with no internet.
"""

from __future__ import annotations

import functools
import json

import flask_smorest
import marshmallow as ma
from flask import Response, current_app, send_from_directory
from marshmallow import fields as ma_fields
from swagger_ui_bundle import swagger_ui_path
from webargs.flaskparser import FlaskParser

from . import errors
from .fields import ErrorSchema, variants


def json_text(body: str, status: int = 200) -> Response:
    """A response whose JSON body is already text (PostgreSQL built it): sent as it is, not parsed again."""
    return current_app.response_class(body, status=status, mimetype="application/json")


def json_list(items: list[str]) -> Response:
    return json_text(f"[{','.join(items)}]")


# The contract's text for each status code it lists.
STATUS_TEXT = {
    400: "Bad Request. Invalid input or other client request error.",
    401: "Unauthorized. Authentication is required.",
    403: "Forbidden. The client does not have sufficient access rights.",
    404: "Not Found. The specified resource was not found.",
    409: "Conflict.",
    429: "Too Many Requests. A request limit has been reached.",
    500: "Internal Server Error. An internal error has occurred on the server.",
    501: "Not implemented. This request is not implemented.",
    502: "Bad Gateway. The request can't be handled by the server.",
    503: "Service Unavailable. The service requested is unavailable.",
    504: "Gateway Timeout. The server did not respond in time.",
}
SPI_ERRORS = (400, 401, 403, 404, 429, 500, 502, 503, 504)
ADMIN_ERRORS = (400, 401, 403, 404, 503)  # the back office's routes are ours: these are all they answer
# The security scheme of each scope, as the OpenAPI document describes it. All are HTTP Basic: each kind of
# caller has a credential list of its own.
SECURITY_SCHEMES = {
    "spi": "Sitoo POS: the credentials the retailer configured in Sitoo for this CRM (CRM_SPI_USERS).",
    "admin": "The back office and its scripts (CRM_ADMIN_USERS).",
    "events": "The Sitoo Events SPI sender (CRM_EVENTS_USERS).",
    "shopmonkey": "The retailer's Shopmonkey automation or relay (CRM_SHOPMONKEY_USERS).",
}
TRACE_HEADERS = [
    {"in": "header", "name": "Store-ID", "required": False, "schema": {"type": "string"},
     "description": "ID of the store (Sitoo clients will send the externalid property of the store object in "
                    "Sitoo), URL-encoded"},
    {"in": "header", "name": "Staff-ID", "required": False, "schema": {"type": "string"},
     "description": "ID of the staff (Sitoo clients will send the externalid property of the user object in "
                    "Sitoo), URL-encoded"},
    {"in": "header", "name": "Register-ID", "required": False, "schema": {"type": "string"},
     "description": "ID of the register, URL-encoded"},
]


def describe(messages, path: str = "") -> list[str]:
    """Marshmallow's nested error dict as `field.sub[2].name: message` lines."""
    if isinstance(messages, dict):
        lines = []
        for key, value in messages.items():
            if key in ("json", "query", "headers", "view_args") and not path:
                lines += describe(value, "")
            elif key == "_schema":
                lines += describe(value, path or "body")
            elif isinstance(key, int):
                lines += describe(value, f"{path}[{key}]")
            else:
                lines += describe(value, f"{path}.{key}" if path else str(key))
        return lines
    if isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            return [f"{path}: {' '.join(messages)}" if path else " ".join(messages)]
        return [line for m in messages for line in describe(m, path)]
    return [f"{path}: {messages}" if path else str(messages)]


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400
    # Unknown parameters are the schema's call (fields.Schema ignores them, fields.AdminQuerySchema refuses
    # them), not webargs' per-location default, which would ignore them in every query string.
    DEFAULT_UNKNOWN_BY_LOCATION = {location: None for location in FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._schemas = {}

    def _get_schema(self, argmap, req):
        """One instance per schema class: webargs would build a new one (deep-copying every field) for every
        request. Loading keeps no state in the schema, so one instance serves all threads."""
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req):
        data = req.get_data(cache=True)
        if not data.strip():
            raise errors.BadRequest("A JSON request body is required")
        try:
            return json.loads(data, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as error:
            raise errors.BadRequest(f"Malformed JSON: {error}") from None
        except RecursionError:  # a body of thousands of nested brackets
            raise errors.BadRequest("Malformed JSON: nested too deeply") from None

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        raise errors.BadRequest("; ".join(describe(error.messages)) or "Invalid request")


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def __init__(self, *args, scope: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.scope = scope
        self._prepare_doc_cbks = [*self._prepare_doc_cbks, self._prepare_security_doc]

    def _prepare_security_doc(self, doc, doc_info, **kwargs):
        if self.scope:
            doc["security"] = [{self.scope: []}]
        return doc

    def route(self, rule, *, parameters=None, **options):
        """Every SPI route takes the optional tracing headers."""
        if self.scope == "spi":
            parameters = [*(parameters or []), *TRACE_HEADERS]
        return super().route(rule, parameters=parameters, **options)

    def documents(self, *statuses: int, texts: dict[int, str] | None = None):
        """Document these error statuses (the contract's list for the route) with the Error body."""
        texts = {**STATUS_TEXT, **(texts or {})}

        def decorator(view):
            documented = view
            for status in statuses:
                documented = self.alt_response(status, schema=ErrorSchema, description=texts[status])(documented)
            # Only the documentation is kept: each alt_response would also wrap the view in a layer of its own
            # that every request passes through (nine for an SPI route).
            view._apidoc = documented._apidoc
            return view

        return decorator


def _nested2properties(converter, field, ret, **kwargs):
    """apispec's rendering of a nested schema, or `oneOf` its variants for a `OneOfSchema`."""
    if not isinstance(field, ma_fields.Nested) or isinstance(field, ma_fields.Pluck) \
            or not hasattr(type(field.schema), "one_of_layout"):
        return converter.nested2properties(field, ret=ret)
    schema_class = type(field.schema)
    refs = {value: converter.resolve_nested_schema(variant) for value, variant in variants(schema_class).items()}
    return {
        "oneOf": list(refs.values()),
        "discriminator": {"propertyName": schema_class.one_of_layout[0],
                          "mapping": {value: ref["$ref"] for value, ref in refs.items()}},
    }


_ANY_OBJECT_OR_NULL = {"type": "object", "nullable": True}


def _field2nullable(converter, field, ret, **kwargs):
    """apispec's nullable, but a nullable object is its schema or null: apispec's `anyOf` offers any object
    (`{}` included) beside the schema, and generators take it up (schemathesis sent `{"status": {}}`)."""
    attributes = converter.field2nullable(field, ret=ret)
    if "anyOf" in attributes:
        attributes["anyOf"] = [{"nullable": True, "enum": [None]} if branch == _ANY_OBJECT_OR_NULL else branch
                               for branch in attributes["anyOf"]]
    return attributes


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def init_app(self, app, *args, **kwargs):
        super().init_app(app, *args, **kwargs)
        converter = self.ma_plugin.converter
        functions = converter.attribute_functions
        functions[functions.index(converter.nested2properties)] = functools.partial(_nested2properties, converter)
        functions[functions.index(converter.field2nullable)] = functools.partial(_field2nullable, converter)

    def register_blueprint(self, blp, **options):
        scope = getattr(blp, "scope", None)
        if scope and scope not in self.spec.components.security_schemes:
            self.spec.components.security_scheme(scope, {
                "type": "http", "scheme": "basic",
                "description": SECURITY_SCHEMES.get(scope, f"Credentials of the {scope} routes."),
            })
        super().register_blueprint(blp, **options)

    def _register_swagger_ui_rule(self, blueprint):
        super()._register_swagger_ui_rule(blueprint)
        assets = self.config.get("OPENAPI_SWAGGER_UI_URL") or ""
        if assets.startswith("/"):  # a local path, not a CDN: serve the bundled files there
            blueprint.add_url_rule(f"{assets}<path:filename>", endpoint="swagger_ui_assets",
                                   view_func=lambda filename: send_from_directory(str(swagger_ui_path), filename))

    def handle_http_exception(self, error):
        return errors.http_exception_response(error)

