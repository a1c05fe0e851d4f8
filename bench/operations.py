"""What the bench measures: each operation once as a wrk Lua script (bench/lua/) and once as a Python step
for the Python driver, with the same requests and the same idea of a correct answer.

A step gets a `Worker` (drivers.py): `worker.pick()` draws a key, `worker.send()` makes and times a
request, `worker.expect(ok, response)` counts an answer that is not what the operation expects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from crm_provider.keys import KEY_TYPES

from .seed import ID_DAYS, personal_id_date

CREATE_MOBILE_PREFIX = "+4673"  # seeded customers have +4670
CREATE_SERIAL_BASE = 5000  # seeded personal ids have serials below this
CREATE_NUMBERS = 10_000_000  # 7 mobile digits


@dataclass(frozen=True)
class Operation:
    name: str
    script: str  # in bench/lua/
    step: Callable  # step(worker) for the Python driver
    keys: str | None = None  # keys file written by the seeder
    routes: tuple[tuple[str, str], ...] = ()  # (method, OpenAPI path) the operation needs
    args: tuple[str, ...] = ()  # more script arguments
    partition: bool = False  # threads, and runs, draw from disjoint shares of the keys (drivers.Run.share)
    numbered: bool = False  # needs fresh numbers for unique keys (create)

    def available(self, openapi_paths: dict) -> bool:
        """Whether the service has every route this operation calls (its OpenAPI document says so)."""
        paths = {_shape(path): {method.lower() for method in methods} for path, methods in openapi_paths.items()}
        return all(method in paths.get(_shape(path), ()) for method, path in self.routes)


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def search(key_type: str) -> Callable:
    def step(worker):
        response = worker.send("GET", f"/customers?key_type={key_type}&key={worker.pick()}")
        worker.expect(response.status_code == 200 and '"customer_id"' in response.text, response)
    return step


def get(worker):
    response = worker.send("GET", f"/customers/{worker.pick()}")
    worker.expect(response.status_code == 200 and '"customer_id"' in response.text, response)


def transactions(worker):
    response = worker.send("GET", f"/customers/{worker.pick()}/transactions")
    worker.expect(response.status_code == 200 and '"order_id"' in response.text, response)


def update(worker):
    worker.count += 1
    response = worker.send("PUT", f"/customers/{worker.pick()}", {
        "name_first": "Bench", "name_last": f"Edited {worker.count}", "accepts_communication": ["email", "sms"],
        "consents": ["consent_personal_offers", "consent_newsletter"]})
    worker.expect(response.status_code == 200 and '"customer_id"' in response.text, response)


def create_body(k: int) -> dict:
    """A new customer whose keys no one has (create.lua builds the same)."""
    born = personal_id_date(k)
    return {
        "name_first": "New", "name_last": "Customer", "email": f"bench.{k}@example.org",
        "mobile": f"{CREATE_MOBILE_PREFIX}{k:07d}",
        "personal_id": f"{born:%Y%m%d}-{CREATE_SERIAL_BASE + k // ID_DAYS:04d}",
        "birthday": date.isoformat(born), "gender": "female", "accepts_communication": ["email"],
        "consents": ["consent_personal_offers"],
        "additional_options": [{"id": "fav-nhl-team", "enum_values": ["toronto-maple-leafs"]}],
        "invoice_address": {"address": "Storgatan 1", "zip": "11122", "city": "Stockholm", "country_id": "SE"},
        "store_id_home": "100",
    }


def create(worker):
    k = worker.base + worker.thread_id + worker.count * worker.threads
    worker.count += 1
    response = worker.send("POST", "/customers", create_body(k))
    worker.expect(response.status_code == 201 and '"customer_id"' in response.text, response)


def redeem_and_undo(worker):
    customer, promotion, bonus_check = worker.pick().split()
    response = worker.send("POST", f"/customers/{customer}/redeem",
                           {"bonus_checks": [bonus_check], "promotions": [promotion]})
    redeem_id = response.json().get("redeem_id") if response.status_code == 200 else None
    worker.expect(redeem_id is not None, response)
    if redeem_id:
        response = worker.send("DELETE", f"/customers/{customer}/redeem/{redeem_id}")
        worker.expect(response.status_code == 200, response)


def baseline_step(worker):
    response = worker.send("GET", "/")
    worker.expect(response.status_code == 200, response)


BASELINE = Operation("baseline (bare Flask)", "baseline.lua", baseline_step)
# floor_app.py: the bare route plus a search's own statement, and nothing else.
FLOOR = Operation("floor (bare Flask + SQL)", "search.lua", search("member_number"), keys="member_number",
                  args=("member_number",))

OPERATIONS = [
    *(Operation(f"search {key_type}", "search.lua", search(key_type), keys=key_type,
                routes=(("get", "/customers"),), args=(key_type,))
      for key_type in ("member_number", "mobile", "email", "personal_id", "company_id")),
    Operation("get", "get.lua", get, keys="customer_id", routes=(("get", "/customers/{customer_id}"),)),
    Operation("transactions", "transactions.lua", transactions, keys="transactions",
              routes=(("get", "/customers/{customer_id}/transactions"),)),
    Operation("update", "update.lua", update, keys="customer_id", routes=(("put", "/customers/{customer_id}"),)),
    Operation("create", "create.lua", create, routes=(("post", "/customers"),), numbered=True),
    Operation("redeem + undo", "redeem.lua", redeem_and_undo, keys="redeem", partition=True,
              routes=(("post", "/customers/{customer_id}/redeem"),
                      ("delete", "/customers/{customer_id}/redeem/{redeem_id}"))),
]
assert {op.args[0] for op in OPERATIONS if op.script == "search.lua"} == set(KEY_TYPES)

SEARCHES = [op.name for op in OPERATIONS if op.script == "search.lua"]
