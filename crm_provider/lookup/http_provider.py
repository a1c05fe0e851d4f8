"""A lookup provider that asks an external HTTP service: the example to copy for a real person register.

Use it from a module of your own, with your service's address:

    # acme_crm/lookup.py
    from crm_provider.lookup.http_provider import HttpLookupProvider
    provider = HttpLookupProvider("https://persons.example.com/lookup", timeout=1.0,
                                  headers={"Authorization": "Bearer ..."})

and `CRM_LOOKUP_PROVIDER=acme_crm.lookup:provider`. Only the standard library is used.

The protocol it expects: `POST url` with the JSON body `{"key_type": "mobile", "key": "0701112233"}` (the key
travels in the body, not the URL: keys are personal data, and URLs end up in access logs); the answer is 200
with a JSON list of customers in the contract's shape (no `customer_id`; the lookup service checks them
against the contract), or 404 when nobody is known by that key. Everything else is the service failing: 502
to the POS; no answer within `timeout` is a 504.

The service's address must be `https://` (the key is personal data and the headers may hold a credential);
`allow_http=True` is for a service on the same host or a private network. Redirects are refused, never
followed: a redirect would carry the key and the credential headers to wherever it points.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request

from ..errors import BadGateway, GatewayTimeout


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises the 3xx as an HTTPError


class HttpLookupProvider:
    def __init__(self, url: str, *, timeout: float = 1.0, headers: dict | None = None, max_bytes: int = 1 << 20,
                 allow_http: bool = False):
        """`timeout` (seconds) bounds the connection and each read; the POS wants its answer within 1 s."""
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme != "https" and not (scheme == "http" and allow_http):
            raise ValueError("the lookup service's address must be https:// (allow_http=True for a private one)")
        self.url = url
        self.opener = urllib.request.build_opener(_RefuseRedirects)
        self.timeout = timeout
        self.headers = headers or {}
        self.max_bytes = max_bytes

    def lookup(self, conn, key_type: str, key: str, **kwargs) -> list[dict]:
        request = urllib.request.Request(
            self.url,
            data=json.dumps({"key_type": key_type, "key": key}).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json", **self.headers},
            method="POST",
        )
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                body = response.read(self.max_bytes + 1)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
            if 300 <= error.code < 400:
                raise BadGateway(f"The lookup service redirected ({error.code}); redirects are not followed") from None
            raise BadGateway(f"The lookup service answered {error.code}") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise GatewayTimeout("The lookup service did not answer in time") from None
            raise BadGateway("The lookup service cannot be reached") from None
        except TimeoutError:
            raise GatewayTimeout("The lookup service did not answer in time") from None
        except (OSError, http.client.HTTPException):
            raise BadGateway("The lookup service broke off its answer") from None
        if len(body) > self.max_bytes:
            raise BadGateway("The lookup service answered too much")
        try:
            return json.loads(body)  # checked against the contract by the caller (lookup.service)
        except ValueError:
            raise BadGateway("The lookup service answered something that is not JSON") from None
