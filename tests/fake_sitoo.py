"""A small fake of the Sitoo REST API orders endpoint, over real HTTP on 127.0.0.1.

`GET /v2/accounts/{account}/orders.json` with HTTP Basic, the filters the CRM uses (`orderid`,
`orderidfrom`, `orderidto`), paging (`start`, `num`), `sort` and `fields`, answering the spec's envelope.
Orders are built from the spec's own examples (`sitoo-orders-api.txt`). Failures can be switched on:
`outage(500)` / `outage(429, retry_after=2)` until `restore()`, `fail(status, times)` for the next requests,
`delay` seconds before every answer (slow answers), `order_delays` before the reads of some orders,
`first_read_delay` before the first read of each order.

It also serves `GET /v2/accounts/{account}/serviceorders.json` (the workshop's sweep): the service orders put
with `put_service_orders`, filtered by `state`, newest first (`-created`), paged by `start_after_id` and `num`;
each page read is in `service_order_pages`. `huge_service_orders` answers a body of megabytes.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter, deque

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

ACCOUNT_ID = 1500
API_ID, API_PASSWORD = "crm-reader", "sitoo-secret"

# The spec's examples (sitoo-orders-api.txt), field for field.
SPEC_SALE = {
    "orderid": 11513, "eshopid": 1, "email": "", "namefirst": "", "namelast": "", "company": "",
    "moneyfinal_net": "14.15", "moneyfinal_vat": "0.85", "moneytotal_gross_roundoff": "0.00",
    "moneytotal_gross_all": "15.00", "checkouttypename": "Sitoo POS - Card", "deliverytypename": "",
    "orderdate": 1463041119, "orderstateid": 10, "paymentstateid": 20, "ordertypeid": 10,
    "registerid": "{3CCB9848-155A-49E1-7CA8-5F7F78FC3067}", "warehouseid": 1, "datereserved": None,
    "currencycode": "USD", "additionaldata": {},
    "orderitems": [{
        "orderitemid": 0, "orderitemtype": 10, "productid": 24, "productname": "Cookbook", "sku": "121292-4",
        "productattributes": "", "externalinput": "", "externalinputtitle": "", "unitlabel": "", "quantity": 1,
        "decimalunitquantity": None, "moneynetpriceperunit": "14.15", "moneypriceorg": "0.00", "vatvalue": 6,
        "deliveryinfo": "", "moneyitemtotal_net": "14.15", "moneyitemtotal_vat": "0.85", "voucherid": 0,
        "vouchercode": "", "vouchername": "", "moneyoriginalprice": "14.15", "moneydiscountedprice": "0.00",
        "moneydiscount": "0.00", "salestaxes": [], "additionaldata": {}, "decimalquantitytotal": "1.000",
        "moneynetpriceperquantity": "14.15",
    }],
    "payments": [{"name": "Card", "moneyamount": "15.00", "externalid": "123456", "reftype": "verifonelpp",
                  "refid": "160512095647 000046160830", "cardissuer": "Mastercard", "additionaldata": {}}],
}
SPEC_REFUND = {
    "orderid": 11512, "eshopid": 1, "email": "", "namefirst": "", "namelast": "", "company": "",
    "moneyfinal_net": "-2392.00", "moneyfinal_vat": "-598.00", "moneytotal_gross_roundoff": "0.00",
    "moneytotal_gross_all": "-2990.00", "checkouttypename": "Sitoo POS - Card", "deliverytypename": "",
    "orderdate": 1463041119, "orderstateid": 10, "paymentstateid": 20, "ordertypeid": 10,
    "registerid": "{3CCB9848-155A-49E1-7CA8-5F7F78FC3067}", "warehouseid": 1, "datereserved": None,
    "currencycode": "USD",
    "additionaldata": {"refundreasoncode-reasoncode": "RC123", "refundreasoncode-comment": "Guarantee"},
    "orderitems": [{
        "orderitemid": 0, "orderitemtype": 10, "productid": 19, "productname": "Coffee Table", "sku": "44079-0",
        "productattributes": "", "externalinput": "", "externalinputtitle": "", "unitlabel": "", "quantity": -1,
        "decimalunitquantity": None, "moneynetpriceperunit": "2392.00", "moneypriceorg": "0.00", "vatvalue": 25,
        "deliveryinfo": "", "moneyitemtotal_net": "-2392.00", "moneyitemtotal_vat": "-598.00", "voucherid": 0,
        "vouchercode": "", "vouchername": "", "moneyoriginalprice": "2392.00", "moneydiscountedprice": "0.00",
        "moneydiscount": "0.00", "salestaxes": [], "additionaldata": {}, "decimalquantitytotal": "-1.000",
        "moneynetpriceperquantity": "2392.00",
    }],
    "payments": [{"name": "Card", "moneyamount": "-2900.00", "externalid": "123456", "reftype": "verifonelpp",
                  "refid": "160512094850 000046160832", "cardissuer": "Mastercard", "additionaldata": {}}],
}
_SOFA = {
    "orderitemtype": 10, "productattributes": "", "externalinput": "", "externalinputtitle": "", "unitlabel": "",
    "decimalunitquantity": None, "moneypriceorg": "0.00", "deliveryinfo": "", "voucherid": 0, "vouchercode": "",
    "vouchername": "", "salestaxes": [],
}
SPEC_ORDER = {  # Get Order 11514 (a webshop order: open, no payments, no store)
    "orderid": 11514, "eshopid": 1, "externalid": None, "creditorderid": None, "checkouttypeid": 0,
    "deliverytypeid": 0, "email": "john.smith@example.com", "namefirst": "John", "namelast": "Smith",
    "personalid": "", "company": "Company Inc", "phone": "555-1451", "moneytotal_net": "360.00",
    "moneytotal_vat": "71.00", "moneyfinal_net": "360.00", "moneyfinal_vat": "71.00",
    "moneyfinal_salestax": "0.00", "moneytotal_gross_roundoff": "0.00", "moneytotal_gross_all": "431.00",
    "checkouttypename": "", "deliverytypename": "", "orderdate": 1550669772, "orderstateid": 0,
    "paymentstateid": 0, "ordertypeid": 10, "userid_staff": None, "registerid": None, "warehouseid": None,
    "datereserved": None, "currencycode": "USD", "additionaldata": {},
    "orderitems": [
        {**_SOFA, "orderitemid": 0, "productid": 14, "productname": "Sofa Cosy", "sku": "10038-2", "quantity": 1,
         "moneynetpriceperunit": "100.00", "vatvalue": 25, "moneyitemtotal_net": "100.00",
         "moneyitemtotal_vat": "25.00", "moneyoriginalprice": "100.00", "moneydiscountedprice": "0.00",
         "moneydiscount": "0.00", "additionaldata": {}, "decimalquantitytotal": "1.000",
         "moneynetpriceperquantity": "100.00"},
        {**_SOFA, "orderitemid": 1, "productid": 16, "productname": "Sofa Cosy", "sku": "83428-0", "quantity": 2,
         "moneynetpriceperunit": "80.00", "vatvalue": 25, "moneyitemtotal_net": "160.00",
         "moneyitemtotal_vat": "40.00", "moneyoriginalprice": "100.00", "moneydiscountedprice": "80.00",
         "moneydiscount": "20.00", "additionaldata": {"orderitem-moneyrowdiscount": "50.00"},
         "decimalquantitytotal": "2.000", "moneynetpriceperquantity": "80.00"},
        {**_SOFA, "orderitemid": 2, "productid": 15, "productname": "Sofa Stressless", "sku": "83537-0",
         "quantity": 1, "moneynetpriceperunit": "100.00", "vatvalue": 6, "moneyitemtotal_net": "100.00",
         "moneyitemtotal_vat": "6.00", "moneyoriginalprice": "100.00", "moneydiscountedprice": "0.00",
         "moneydiscount": "0.00", "additionaldata": {}, "decimalquantitytotal": "1.000",
         "moneynetpriceperquantity": "100.00"},
    ],
    "payments": [],
    "orderlogitems": [{"datelog": 1550669772, "orderlogtypeid": 0, "strvalue": None, "fvalue": None}],
}


def order(order_id: int, template: dict = SPEC_SALE, *, customer_id=None, member_number=None, state=10,
          **additionaldata) -> dict:
    """A spec example as another order: its id, the customer it names, its state, more additionaldata."""
    found = copy.deepcopy(template)
    found["orderid"] = order_id
    found["orderstateid"] = state
    extra = found["additionaldata"]
    extra.setdefault("pos-receiptid", f"SII{order_id:021d}")
    extra.setdefault("store-externalid", "200")
    extra.setdefault("store-name", "Concept Store")
    if customer_id is not None:
        extra["crm-customerid"] = str(customer_id)
    if member_number is not None:
        extra["crm-membernumber"] = member_number
    extra.update(additionaldata)
    return found


def event(order_id: int, event_id, order_event_type: str = "add", *, event_type: str = "order",
          account_id: int = ACCOUNT_ID, **data) -> dict:
    """An Events SPI event as Sitoo posts it."""
    return {"event_id": str(event_id), "event_type": event_type, "event_date": int(time.time()),
            "account_id": account_id,
            "data": {"eshop_id": 1, "order_id": order_id, "warehouse_id": 1, "order_event_type": order_event_type,
                     **data}}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class FakeSitoo:
    def __init__(self):
        self.orders: dict[int, dict] = {}
        self.fetches: Counter = Counter()  # GET ?orderid= per order id
        self.pages: list[dict] = []  # the query of every page read (orderidfrom)
        self.service_orders: dict[str, dict] = {}
        self.service_order_pages: list[dict] = []
        self.huge_service_orders = False
        self.delay = 0.0
        self.waiting: Counter = Counter()  # requests being answered right now, by order id
        self.first_read_delay = 0.0  # the first read of each order is this slow (the later ones are not)
        self.order_delays: dict[str, float] = {}  # order id (as text) -> seconds its reads take
        self._slowed: set[str] = set()
        self._outage: tuple[int, str | None] | None = None
        self._failures: deque = deque()
        self._fail_after = 0
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v2"

    def env(self) -> dict:
        return {"SITOO_API_URL": self.url, "SITOO_ACCOUNT_ID": str(ACCOUNT_ID), "SITOO_API_ID": API_ID,
                "SITOO_API_PASSWORD": API_PASSWORD}

    def put(self, *orders: dict) -> None:
        with self._lock:
            for found in orders:
                self.orders[found["orderid"]] = copy.deepcopy(found)

    def put_service_orders(self, *orders: dict) -> None:
        with self._lock:
            for n, found in enumerate(orders):
                self.service_orders[found.get("id") or f"no id {len(self.service_orders) + n}"] = copy.deepcopy(found)

    def outage(self, status: int = 500, retry_after: str | None = None) -> None:
        self._outage = (status, retry_after)

    def restore(self) -> None:
        self._outage = None
        self._failures.clear()
        self._fail_after = 0

    def fail(self, status: int = 500, times: int = 1, retry_after: str | None = None, after: int = 0) -> None:
        """The next `times` requests fail, once `after` more requests have been answered."""
        self._fail_after = after
        self._failures.extend([(status, retry_after)] * times)

    def reset(self) -> None:
        with self._lock:
            self.orders.clear()
            self.fetches.clear()
            self.pages.clear()
            self._slowed.clear()
            self.service_orders.clear()
            self.service_order_pages.clear()
        self.huge_service_orders = False
        self.delay = 0.0
        self.first_read_delay = 0.0
        self.order_delays = {}
        self.restore()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _failure(self) -> tuple[int, str | None] | None:
        if self._outage:
            return self._outage
        with self._lock:
            if self._failures and self._fail_after > 0:
                self._fail_after -= 1
                return None
            return self._failures.popleft() if self._failures else None

    @Request.application
    def _wsgi(self, request: Request) -> Response:
        if request.path not in (f"/v2/accounts/{ACCOUNT_ID}/orders.json",
                                f"/v2/accounts/{ACCOUNT_ID}/serviceorders.json"):
            return Response("not found", status=404)
        auth = request.authorization
        if auth is None or auth.type != "basic" or (auth.username, auth.password) != (API_ID, API_PASSWORD):
            return Response("unauthorized", status=401, headers={"WWW-Authenticate": 'Basic realm="sitoo"'})
        failure = self._failure()
        if failure:
            status, retry_after = failure
            headers = {"Retry-After": retry_after} if retry_after else {}
            return Response(json.dumps({"error": "failure"}), status=status, headers=headers,
                            content_type="application/json")
        if request.path.endswith("/serviceorders.json"):
            return self._service_orders(request.args)
        key = request.args.get("orderid", "page")
        with self._lock:
            wait = self.delay + self.order_delays.get(key, 0.0)
            if self.first_read_delay and key != "page" and key not in self._slowed:
                self._slowed.add(key)
                wait += self.first_read_delay
            self.waiting[key] += 1
        try:
            time.sleep(wait)
        finally:
            with self._lock:
                self.waiting[key] -= 1
        return Response(json.dumps(self._answer(request.args)), content_type="application/json")

    def _service_orders(self, args) -> Response:
        if self.huge_service_orders:
            return Response(b"[" + b" " * (40 << 20) + b"]", content_type="application/json")
        states = set(args.get("state", "").split(",")) - {""}
        with self._lock:
            self.service_order_pages.append(dict(args))
            found = sorted((o for o in self.service_orders.values() if not states or o.get("state") in states),
                           key=lambda o: (o.get("created") or 0, str(o.get("id"))), reverse=True)
            if args.get("start_after_id"):
                ids = [o.get("id") for o in found]
                found = found[ids.index(args["start_after_id"]) + 1:] if args["start_after_id"] in ids else []
            page = copy.deepcopy(found[:int(args.get("num", 10))])
        return Response(json.dumps(page), content_type="application/json")

    def _answer(self, args) -> dict:
        with self._lock:
            found = list(self.orders.values())
            if args.get("orderid"):
                wanted = {int(v) for v in args["orderid"].split(",")}
                found = [o for o in found if o["orderid"] in wanted]
                self.fetches.update(wanted)
            if args.get("orderidfrom"):
                found = [o for o in found if o["orderid"] >= int(args["orderidfrom"])]
                self.pages.append({"orderidfrom": int(args["orderidfrom"])})
            if args.get("orderidto"):
                found = [o for o in found if o["orderid"] < int(args["orderidto"])]
            found = copy.deepcopy(found)
        sort = args.get("sort", "-orderid")
        found.sort(key=lambda o: o["orderid"], reverse=sort.startswith("-"))
        start, num = int(args.get("start", 0)), int(args.get("num", 10))
        page = found[start:start + num]
        if args.get("fields"):
            fields = set(args["fields"].split(","))
            page = [{k: v for k, v in o.items() if k in fields} for o in page]
        return {"totalcount": len(found), "items": page}


@pytest.fixture(scope="session")
def _fake_sitoo_server():
    server = FakeSitoo()
    yield server
    server.close()


@pytest.fixture
def sitoo(_fake_sitoo_server):
    """The fake Sitoo API, emptied and healthy at the start of each test."""
    _fake_sitoo_server.reset()
    yield _fake_sitoo_server
    _fake_sitoo_server.reset()
