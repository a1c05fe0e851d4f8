"""Deliberately broken CRMs, to prove that the conformance suite catches faults.

Each variant is the real service (the real app, the real database) behind a WSGI middleware that adds
one fault, served over real HTTP on 127.0.0.1 by a thread. The middleware works at the HTTP level only,
so the variants do not depend on how the service is built inside.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from conftest import ADMIN_PASSWORD, ADMIN_USER, SPI_PASSWORD, SPI_USER, basic
from crm_provider.contract.checks import KEY_TYPES

CUSTOMER = re.compile(r"^/customers/([^/]+)$")
REDEEM = re.compile(r"^/customers/([^/]+)/redeem$")
UNDO = re.compile(r"^/customers/([^/]+)/redeem/([^/]+)$")


class Variant:
    """The real service, unchanged: subclasses override `handle` to add their fault."""

    fault = "none"
    catches = None  # the id of the check that must fail
    exercised_by = None  # the checks whose requests show the fault (default: `catches` itself)

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        return self.forward(request)

    def forward(self, request: Request, *, method=None, path=None, query=None, body=None, headers=None) -> Response:
        """Send the request (or a changed copy) to the real service."""
        sent = dict(headers if headers is not None else request.headers)
        sent.pop("Content-Length", None)
        environ = EnvironBuilder(
            method=method or request.method, path=path or request.path,
            query_string=request.query_string.decode() if query is None else urlencode(query),
            headers=sent, data=request.get_data() if body is None else json.dumps(body),
        ).get_environ()
        return Response.from_app(self.app, environ, buffered=True)


def _json(response: Response):
    try:
        return json.loads(response.get_data())
    except ValueError:
        return None


def _answer(body, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class PartialRedeem(Variant):
    fault = "a refused redeem applies the items it could"
    catches = "redeem-all-or-nothing"

    def handle(self, request):
        response = self.forward(request)
        if REDEEM.match(request.path) and request.method == "POST" and response.status_code == 409:
            wanted = request.get_json(silent=True) or {}
            for kind in ("promotions", "bonus_checks"):
                for item in wanted.get(kind) or []:
                    self.forward(request, body={"promotions": [], "bonus_checks": [], kind: [item]})
        return response


class SearchIgnoresKeyType(Variant):
    fault = "search looks the key up as every key type"
    catches = "search-by-key-type"

    def handle(self, request):
        args = dict(parse_qsl(request.query_string.decode()))
        if request.path != "/customers" or request.method != "GET" or args.get("key_type") not in KEY_TYPES:
            return self.forward(request)
        for key_type in KEY_TYPES:
            response = self.forward(request, query={**args, "key_type": key_type})
            if response.status_code != 200 or _json(response):
                return response
        return response


class ErrorInAnotherShape(Variant):
    fault = "errors answer {\"error\": {\"code\", \"message\"}}"
    catches = "error-body"
    exercised_by = {"search-bad-key-type", "unknown-customer-404"}

    def handle(self, request):
        response = self.forward(request)
        body = _json(response)
        if response.status_code >= 400 and isinstance(body, dict) and "errortext" in body:
            return _answer({"error": {"code": body["statuscode"], "message": body["errortext"]}}, response.status_code)
        return response


class UndocumentedStatus(Variant):
    fault = "invalid input answers 422 (flask-smorest's default) instead of 400"
    catches = "documented-status"
    exercised_by = {"search-bad-key-type"}

    def handle(self, request):
        response = self.forward(request)
        if response.status_code == 400:
            return _answer({"errortext": _json(response)["errortext"], "statuscode": 422}, 422)
        return response


class ReadOnlyTaken(Variant):
    fault = "POST /customers stores the status sent by the POS"
    catches = "read-only-ignored"

    def handle(self, request):
        response = self.forward(request)
        sent = request.get_json(silent=True) if request.method == "POST" and request.path == "/customers" else None
        if response.status_code == 201 and isinstance(sent, dict) and "status" in sent:
            customer_id = _json(response)["customer_id"]
            patched = self.forward(request, method="PATCH", path=f"/admin/customers/{customer_id}",
                                   body={"status": sent["status"]},
                                   headers={"Content-Type": "application/json", **basic(ADMIN_USER, ADMIN_PASSWORD)})
            return _answer(_json(patched), 201)
        return response


class NoAuthentication(Variant):
    fault = "requests without credentials are served"
    catches = "auth-required"

    def handle(self, request):
        if "Authorization" in request.headers:
            return self.forward(request)
        return self.forward(request, headers={**request.headers, **basic(SPI_USER, SPI_PASSWORD)})


class UpdateNotStored(Variant):
    fault = "PUT answers the updated customer but stores nothing"
    catches = "update-customer"

    def handle(self, request):
        if request.method != "PUT" or not CUSTOMER.match(request.path):
            return self.forward(request)
        current = self.forward(request, method="GET", body={})
        if current.status_code != 200:
            return current
        return _answer({**_json(current), **(request.get_json(silent=True) or {})}, 200)


class UndoKeepsItems(Variant):
    fault = "undo answers 200 and gives nothing back"
    catches = "undo-redeem"

    def handle(self, request):
        match = UNDO.match(request.path)
        if request.method != "DELETE" or not match:
            return self.forward(request)
        return _answer({"redeem_id": match.group(2), "bonus_checks": [], "promotions": []}, 200)


class UnknownConsentAccepted(Variant):
    fault = "consents the catalogue does not have are dropped instead of refused"
    catches = "unknown-consent-refused"

    def handle(self, request):
        sent = request.get_json(silent=True)
        if request.method not in ("POST", "PUT") or not isinstance(sent, dict) or "consents" not in sent:
            return self.forward(request)
        known = {c["consent_id"] for c in _json(self.forward(request, method="GET", path="/consents", body={}))}
        return self.forward(request, body={**sent, "consents": [c for c in sent["consents"] if c in known]})


class ConsentValueAsString(Variant):
    fault = "GET /consents answers value as a string (\"false\")"
    catches = "response-schema"
    exercised_by = {"consents-and-options"}

    def handle(self, request):
        response = self.forward(request)
        if request.path == "/consents" and response.status_code == 200:
            return _answer([{**c, "value": str(c["value"]).lower()} for c in _json(response)], 200)
        return response


class UnknownCustomerIsBadRequest(Variant):
    fault = "an unknown customer answers 400 instead of 404"
    catches = "unknown-customer-404"

    def handle(self, request):
        response = self.forward(request)
        if response.status_code == 404 and request.path.startswith("/customers/"):
            return _answer({"errortext": "No such customer", "statuscode": 400}, 400)
        return response


class LookupNotFound(Variant):
    fault = "GET /lookup_customers answers 404 when nobody is found"
    catches = "lookup"

    def handle(self, request):
        if request.path == "/lookup_customers" and "Authorization" in request.headers:
            return _answer({"errortext": "Not Found", "statuscode": 404}, 404)
        return self.forward(request)


VARIANTS = [PartialRedeem, SearchIgnoresKeyType, ErrorInAnotherShape, UndocumentedStatus, ReadOnlyTaken,
            NoAuthentication, UpdateNotStored, UndoKeepsItems, UnknownConsentAccepted, ConsentValueAsString,
            UnknownCustomerIsBadRequest, LookupNotFound]


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@contextmanager
def serve(wsgi_app):
    """`wsgi_app` over real HTTP on 127.0.0.1 (a free port), in a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
