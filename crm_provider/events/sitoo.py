"""The Sitoo REST API, as far as the events area reads it: orders (`GET /accounts/{id}/orders.json`); `get_json`
is the read of an answer that the workshop's clients share.

Every failure is a `SitooError` whose text is safe to log and store (a status code or the kind of
transport failure, never a response body); callers retry it. A 429 carries the server's `Retry-After`.
Only the order fields the mapping needs are requested (`fields=`): names, email and phone of the buyer
are never fetched. An answer is read up to MAX_RESPONSE_BYTES: a larger one is a failure, not a worker's
memory filled.
"""

from __future__ import annotations

import email.utils
import json
import time

import httpx

from ..config import Settings

ORDER_FIELDS = (
    "orderid", "externalid", "creditorderid", "orderdate", "orderstateid", "ordertypeid", "currencycode",
    "moneytotal_gross_roundoff", "additionaldata", "orderitems", "payments",
)


MAX_RESPONSE_BYTES = 32 << 20  # a page of 100 orders of 100 rows is about 3 MB


class SitooError(Exception):
    """The orders API did not answer usefully; worth trying again later."""

    def __init__(self, text: str, *, retry_after: float | None = None, status: int | None = None):
        super().__init__(text)
        self.retry_after = retry_after
        self.status = status  # the HTTP status of the answer, when there was one


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def get_json(http: httpx.Client, path: str, params: dict, *, service: str = "Sitoo API",
             error: type[SitooError] = SitooError) -> object:
    """The JSON of a 200 answer to GET `path`, read up to MAX_RESPONSE_BYTES; else `error`, whose text names
    the status or the kind of failure (never the body)."""
    try:
        with http.stream("GET", path, params=params) as response:
            if response.status_code == 429:
                raise error(f"{service} rate limit (429)",
                            retry_after=retry_after_seconds(response.headers.get("Retry-After")))
            if response.status_code != 200:
                raise error(f"{service} answered {response.status_code}", status=response.status_code)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise error(f"{service} answered more than {MAX_RESPONSE_BYTES >> 20} MiB")
    except httpx.TimeoutException:
        raise error(f"{service} timed out") from None
    except httpx.TransportError as failure:
        raise error(f"{service} unreachable ({type(failure).__name__})") from None
    try:
        return json.loads(body)
    except ValueError:
        raise error(f"{service} answered something that is not JSON") from None


class SitooClient:
    def __init__(self, base_url: str, account_id: int, api_id: str, password: str, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None):
        self.account_id = account_id
        self.http = httpx.Client(
            base_url=f"{base_url.rstrip('/')}/accounts/{account_id}",
            auth=httpx.BasicAuth(api_id, password),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"Accept": "application/json"},
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "SitooClient":
        missing = [name for name, value in (("SITOO_ACCOUNT_ID", settings.sitoo_account_id),
                                            ("SITOO_API_ID", settings.sitoo_api_id),
                                            ("SITOO_API_PASSWORD", settings.sitoo_api_password)) if not value]
        if missing:
            raise RuntimeError(f"the Sitoo API is not configured: set {', '.join(missing)}")
        return cls(settings.sitoo_api_url, settings.sitoo_account_id, settings.sitoo_api_id,
                   settings.sitoo_api_password, timeout=settings.sitoo_timeout)

    def close(self) -> None:
        self.http.close()

    def _orders(self, params: dict) -> dict:
        envelope = get_json(self.http, "/orders.json", {**params, "fields": ",".join(ORDER_FIELDS)})
        items = envelope.get("items") if isinstance(envelope, dict) else None
        if not isinstance(items, list):
            raise SitooError("Sitoo API answered something that is not an order envelope")
        return envelope

    def order(self, order_id: int) -> dict | None:
        """One order, or None when the API does not know it."""
        items = self._orders({"orderid": order_id})["items"]
        return next((o for o in items if isinstance(o, dict) and o.get("orderid") == order_id), None)

    def orders_from(self, order_id: int, num: int) -> tuple[list[dict], int]:
        """Up to `num` orders with ids from `order_id` up, oldest first, and how many there are in all."""
        envelope = self._orders({"orderidfrom": order_id, "num": num, "sort": "orderid"})
        return envelope["items"], int(envelope.get("totalcount") or 0)
