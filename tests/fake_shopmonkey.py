"""A small fake of the Shopmonkey API's services of a work order, over real HTTP on 127.0.0.1, and the
workshop's examples (tests/data/workshop-examples.json, vendored from the two spec files).

`GET /v3/order/{orderId}/service` with the Bearer token answers the spec's envelope with the services put for
that order (`put(order_id, services)`), 404 for an order it does not know. `fail(status, times)` fails the next
requests; `reads` counts the reads per order.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter, deque
from pathlib import Path

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from fake_sitoo import _QuietHandler

EXAMPLES = json.loads((Path(__file__).parent / "data" / "workshop-examples.json").read_text())
TOKEN = "shopmonkey-token-Xb81"


def service_order(order_id: str, *, state: str = "new", revision: int = 2, created: int = 675645446,
                  mobile: str | None = "+46701112233", email: str | None = "erica@example.com", **changes) -> dict:
    """A service order as `GET /serviceorders` answers it: the spec's example, with these values."""
    [example] = copy.deepcopy(EXAMPLES["sitoo: Get Service Orders, response"])
    example.update(id=order_id, state=state, revision=revision, created=created, **changes)
    example["customer"].update(mobile=mobile, email=email)
    return example


def service(name: str, *, authorization: str = "Authorized", total_cents: int = 0, labors: tuple = (),
            hidden: bool = False) -> dict:
    """A service of a work order as Shopmonkey answers it: the spec's example, with these values; `labors`
    are the completed flags of its labor lines."""
    [example] = copy.deepcopy(EXAMPLES["shopmonkey: Get Services, response"]["data"])
    labor = example["labors"][0]
    example.update(name=name, authorizationStatus=authorization, totalCents=total_cents, hidden=hidden,
                   labors=[{**labor, "completed": done} for done in labors])
    return example


class FakeShopmonkey:
    def __init__(self):
        self.orders: dict[str, list] = {}
        self.reads: Counter = Counter()
        self._failures: deque = deque()
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def env(self) -> dict:
        return {"SHOPMONKEY_API_URL": self.url, "SHOPMONKEY_TOKEN": TOKEN}

    def put(self, order_id: str, services: list) -> None:
        with self._lock:
            self.orders[order_id] = copy.deepcopy(services)

    def remove(self, order_id: str) -> None:
        with self._lock:
            self.orders.pop(order_id, None)

    def fail(self, status: int = 500, times: int = 1) -> None:
        self._failures.extend([status] * times)

    def reset(self) -> None:
        with self._lock:
            self.orders.clear()
            self.reads.clear()
            self._failures.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    @Request.application
    def _wsgi(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["v3", "order"] or parts[3] != "service":
            return Response("not found", status=404)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Response(json.dumps({"success": False, "message": "unauthorized"}), status=401)
        order_id = parts[2]
        with self._lock:
            self.reads[order_id] += 1
            status = self._failures.popleft() if self._failures else None
            services = copy.deepcopy(self.orders.get(order_id))
        if status:
            return Response(json.dumps({"success": False, "message": "failure"}), status=status,
                            content_type="application/json")
        if services is None:
            return Response(json.dumps({"success": False, "message": "Order not found"}), status=404,
                            content_type="application/json")
        return Response(json.dumps({"success": True, "data": services}), content_type="application/json")


@pytest.fixture(scope="session")
def _fake_shopmonkey_server():
    server = FakeShopmonkey()
    yield server
    server.close()


@pytest.fixture
def shopmonkey(_fake_shopmonkey_server):
    """The fake Shopmonkey API, emptied and healthy at the start of each test."""
    _fake_shopmonkey_server.reset()
    yield _fake_shopmonkey_server
    _fake_shopmonkey_server.reset()
