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
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request

from ..errors import BadGateway, GatewayTimeout


class HttpLookupProvider:
    def __init__(self, url: str, *, timeout: float = 1.0, headers: dict | None = None, max_bytes: int = 1 << 20):
        """`timeout` (seconds) bounds the connection and each read; the POS wants its answer within 1 s."""
        self.url = url
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
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(self.max_bytes + 1)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
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
