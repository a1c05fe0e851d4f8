"""The OpenAPI document: generated from the code's schemas, and read back to judge responses.

`build_app` is the application `flask openapi write` documents (`make openapi`): built from fixed
settings, so the document depends on the code only, never on the environment, and with a database URL
that is never connected to (the pool opens on the first request, and no request is made).
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path

from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

from ..app import create_app
from ..config import Settings

# Never connected to: documenting the routes needs no database.
UNUSED_DATABASE_URL = "postgresql://openapi@127.0.0.1:9/never-connected"
COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
METHODS = ("get", "put", "post", "delete", "patch")


def build_app():
    return create_app(Settings(database_url=UNUSED_DATABASE_URL))


def generated_text() -> str:
    """What `flask openapi write` writes (the same command, run in-process)."""
    result = build_app().test_cli_runner().invoke(args=["openapi", "print"])
    if result.exit_code:
        raise RuntimeError(f"flask openapi print failed: {result.output}")
    return result.output


def load(source: str | Path | None = None) -> dict:
    """The document from a file, or generated from this package's schemas (the same as the committed one)."""
    if source is None:
        return json.loads(generated_text())
    return json.loads(Path(source).read_text())


# The null branch of a nullable object: this service's (api._field2nullable), and apispec's own.
NULL_BRANCHES = ({"nullable": True, "enum": [None]}, {"type": "object", "nullable": True})


class Operation:
    def __init__(self, document: "Document", method: str, path: str, spec: dict, path_item: dict):
        self.document = document
        self.method = method
        self.path = path
        self.spec = spec
        self.parameters = [*path_item.get("parameters", []), *spec.get("parameters", [])]
        self.pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def scope(self) -> str | None:
        """The security scheme the operation requires (`spi`, `admin`, `events`), None when public."""
        for requirement in self.spec.get("security", []):
            for name in requirement:
                return name
        return None

    @property
    def statuses(self) -> set[int]:
        return {int(code) for code in self.spec.get("responses", {}) if code.isdigit()}

    def response_schema(self, status: int) -> dict | None:
        response = self.spec.get("responses", {}).get(str(status))
        if response is None:
            return None
        return response.get("content", {}).get("application/json", {}).get("schema")

    def request_schema(self) -> dict | None:
        return self.spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")


class Document:
    """An OpenAPI 3.0 document, as the conformance suite uses it."""

    def __init__(self, data: dict):
        self.data = data

    @cached_property
    def operations(self) -> list[Operation]:
        return [Operation(self, method, path, spec, item)
                for path, item in self.data.get("paths", {}).items()
                for method, spec in item.items() if method in METHODS]

    def operation(self, method: str, url_path: str) -> Operation | None:
        """The operation a concrete request path (`/customers/abc`) belongs to; literal paths win."""
        method = method.lower()
        matches = [op for op in self.operations if op.method == method and op.pattern.match(url_path)]
        matches.sort(key=lambda op: op.path.count("{"))
        return matches[0] if matches else None

    def resolve(self, schema: dict) -> dict:
        """Follow `$ref`, a lone `allOf` and apispec's nullable `anyOf` wrappers to the schema itself."""
        while True:
            if "$ref" in schema:
                name = schema["$ref"].rsplit("/", 1)[-1]
                schema = self.data["components"]["schemas"][name]
            elif len(schema.get("allOf", [])) == 1 and "properties" not in schema:
                schema = schema["allOf"][0]
            elif len(schema.get("anyOf", [])) == 2 and any(b in schema["anyOf"] for b in NULL_BRANCHES):
                schema = next(s for s in schema["anyOf"] if s not in NULL_BRANCHES)  # a nullable object
            else:
                return schema

    def schema_errors(self, schema: dict, instance) -> list[str]:
        """Why `instance` does not validate against `schema` (a response schema: read-only fields allowed)."""
        rooted = {**schema, "components": self.data.get("components", {})}  # so that `#/components/...` resolves
        validator = OAS30ReadValidator(rooted, format_checker=oas30_format_checker)
        errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
        return [f"{error.json_path}: {error.message}" for error in errors]

    def judge(self, exchange) -> list[tuple[str, str]]:
        """What is wrong with one answer, as (rule, text) pairs; rules: `documented-status`, `error-body`,
        `response-schema`. Answers to requests outside the document are not judged."""
        op = self.operation(exchange.method, exchange.path) if exchange.status is not None else None
        if op is None:
            return []
        status, problems = exchange.status, []
        if status not in op.statuses:
            problems.append(("documented-status", f"{op.label} answered {status}, which it does not document "
                                                  f"(documented: {', '.join(map(str, sorted(op.statuses)))})"))
        is_json = exchange.response_headers.get("Content-Type", "").split(";")[0].strip() == "application/json"
        body = exchange.json_or_none()
        if status >= 400:
            error_schema = op.response_schema(status) or {"$ref": "#/components/schemas/Error"}
            why = [] if is_json and body is not None else ["the body is not JSON (Content-Type application/json)"]
            why = why or self.schema_errors(error_schema, body)
            if not why and body.get("statuscode") != status:
                why = [f"statuscode is {body.get('statuscode')!r}, the HTTP status {status}"]
            if why:
                problems.append(("error-body", f"{op.label} {status}: not the contract's Error body "
                                               f"{{\"errortext\": ..., \"statuscode\": {status}}}: " + "; ".join(why[:5])))
        elif status in op.statuses and op.response_schema(status) is not None:
            why = [] if is_json and body is not None else ["the body is not JSON (Content-Type application/json)"]
            why = why or self.schema_errors(op.response_schema(status), body)
            if why:
                problems.append(("response-schema", f"{op.label} {status}: the body does not validate against the "
                                                     f"document's schema: " + "; ".join(why[:5])))
        return problems

    def scoped(self, *scopes: str) -> dict:
        """A copy of the document with only the operations of these scopes (e.g. `spi`: the contract's routes)."""
        paths = {}
        for op in self.operations:
            if op.scope in scopes:
                item = paths.setdefault(op.path, {k: v for k, v in self.data["paths"][op.path].items()
                                                  if k not in METHODS})
                item[op.method] = op.spec
        return {**self.data, "paths": paths}
