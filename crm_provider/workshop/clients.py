"""The two workshop APIs, as far as the CRM reads them: Sitoo's service orders (`GET /serviceorders`, with
the credentials the events area uses) and Shopmonkey's services of a work order (`GET
/v3/order/:orderId/service`, a Bearer token). Failures are `SitooError`s whose text names a status or the
kind of failure, never a body (events/sitoo.py); answers are read up to its MAX_RESPONSE_BYTES."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from ..config import Settings
from ..events.sitoo import SitooClient, SitooError, get_json

OPEN_STATES = ("new", "in_progress", "service_done")


class ServiceOrdersClient(SitooClient):
    def service_orders(self, start_after_id: str | None, num: int) -> list:
        """A page of the open service orders, newest first (the API's order), after `start_after_id`."""
        params = {"state": ",".join(OPEN_STATES), "num": num}
        if start_after_id:
            params["start_after_id"] = start_after_id
        page = get_json(self.http, "/serviceorders.json", params)
        if not isinstance(page, list):
            raise SitooError("Sitoo API answered something that is not a list of service orders")
        return page


class ShopmonkeyError(SitooError):
    """The Shopmonkey API did not answer usefully; worth trying again later."""


class ShopmonkeyClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None):
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {token}",
                                                                         "Accept": "application/json"},
                                 timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings) -> "ShopmonkeyClient":
        if not settings.shopmonkey_token:
            raise RuntimeError("the Shopmonkey API is not configured: set SHOPMONKEY_TOKEN")
        return cls(settings.shopmonkey_api_url, settings.shopmonkey_token, timeout=settings.sitoo_timeout)

    def services(self, order_id: str) -> list | None:
        """The services of a work order; None when Shopmonkey does not know the order (deleted)."""
        try:
            answer = get_json(self.http, f"/v3/order/{quote(order_id, safe='')}/service", {},
                              service="Shopmonkey API", error=ShopmonkeyError)
        except ShopmonkeyError as error:
            if error.status == 404:
                return None
            raise
        if not isinstance(answer, dict) or answer.get("success") is not True or not isinstance(answer.get("data"), list):
            raise ShopmonkeyError("Shopmonkey API answered something that is not a list of services")
        return answer["data"]

    def close(self) -> None:
        self.http.close()
