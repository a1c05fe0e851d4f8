"""The contract's rules, one check each.

A check is a function of the `Context`: it makes its requests through `ctx.spi` (the POS credential),
`ctx.anonymous` (none) or `ctx.admin` (the back office, for data the SPI cannot create), and raises
`Failed` with the exchange that broke the rule, or `Skipped` when it cannot be judged. Each check makes the
customers it needs, with keys unique to the run, so that checks are independent of each other and of the
data already in the CRM. Every answer of every check is also judged against the OpenAPI document (the
three checks at the end of `CHECKS`).
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Callable

from .client import Client, Exchange
from .openapi import Document

KEY_TYPES = ("personal_id", "mobile", "email", "member_number", "company_id")
TRACE_HEADERS = {"Store-ID": "St%C3%B6re%201", "Staff-ID": "contract%20test", "Register-ID": "R%C3%A9g%201"}


class Failed(Exception):
    def __init__(self, message: str, *exchanges: Exchange):
        super().__init__(message)
        self.message = message
        self.exchanges = [e for e in exchanges if e is not None]


class Skipped(Exception):
    pass


@dataclass
class Check:
    id: str
    title: str
    rule: str  # the contract's words, or the rule as the contract implies it
    run: Callable[["Context"], None]
    needs_admin: bool = False


CHECKS: list[Check] = []


def check(id: str, title: str, rule: str, *, needs_admin: bool = False):
    def register(func):
        CHECKS.append(Check(id, title, rule, func, needs_admin))
        return func

    return register


@dataclass
class Context:
    document: Document
    spi: Client
    anonymous: Client
    admin: Client | None
    log: list[Exchange]
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    _catalogue: tuple[list, list] | None = None
    _random: random.Random = field(default_factory=random.SystemRandom)

    # -- expectations ------------------------------------------------------------------------------------

    def expect(self, exchange: Exchange, *statuses: int, doing: str) -> Exchange:
        if exchange.error:
            raise Failed(f"{doing}: no answer ({exchange.error})", exchange)
        if exchange.status not in statuses:
            wanted = " or ".join(map(str, statuses))
            raise Failed(f"{doing}: expected {wanted}, got {exchange.status}", exchange)
        return exchange

    def body(self, exchange: Exchange, doing: str, kind=(dict, list)):
        try:
            body = exchange.json
        except ValueError:
            raise Failed(f"{doing}: the answer is not JSON", exchange) from None
        if not isinstance(body, kind):
            wanted = {dict: "an object", list: "a list"}.get(kind, "an object or a list")
            raise Failed(f"{doing}: expected {wanted} in JSON", exchange)
        return body

    # -- data ----------------------------------------------------------------------------------------------

    def catalogue(self) -> tuple[list, list]:
        """The CRM's consents and additional-option sections (GET /consents, GET /additional-options)."""
        if self._catalogue is None:
            consents = self.body(self.expect(self.spi.get("/consents"), 200, doing="GET /consents"),
                                 "GET /consents", list)
            sections = self.body(self.expect(self.spi.get("/additional-options"), 200,
                                             doing="GET /additional-options"), "GET /additional-options", list)
            self._catalogue = (consents, sections)
        return self._catalogue

    def options(self) -> list[dict]:
        return [option for section in self.catalogue()[1] if isinstance(section, dict)
                for option in section.get("options") or [] if isinstance(option, dict)]

    def required_option_values(self) -> list[dict]:
        """A valid value for each required additional option: a new customer must have them."""
        values = []
        for option in self.options():
            if not option.get("required"):
                continue
            if option.get("type") == "text":
                values.append({"id": option["id"], "text": "contract test"})
            else:
                values.append({"id": option["id"], "enum_values": [option["enum_options"][0]["id"]]})
        return values

    def keys(self) -> dict[str, str]:
        """A set of search keys no other customer has: member number, email, mobile, personal id, company id."""
        digits = "".join(self._random.choice("0123456789") for _ in range(7))
        return {
            "member_number": f"CT{self.run_id}{digits}".upper(),
            "email": f"contract-{self.run_id}-{digits}@example.com",
            "mobile": f"+4670{digits}",
            "personal_id": _personnummer(self._random),
            "company_id": f"556{digits}",
        }

    def customer_body(self, **fields) -> dict:
        body = {
            **self.keys(),
            "name_first": "Contract", "name_last": f"Test {self.run_id}",
            "invoice_address": {"address": "Street 1", "zip": "12345", "city": "City", "country_id": "SE"},
            "gender": "undisclosed", "birthday": "1975-08-04", "accepts_communication": ["email", "sms"],
            "consents": [], "additional_options": self.required_option_values(),
        }
        body.update(fields)
        return body

    def create_customer(self, **fields) -> dict:
        """POST /customers with a valid new customer; the answer's customer."""
        doing = "creating a customer (POST /customers)"
        exchange = self.expect(self.spi.post("/customers", json=self.customer_body(**fields)), 201, doing=doing)
        customer = self.body(exchange, doing, dict)
        if not isinstance(customer.get("customer_id"), str) or not customer["customer_id"]:
            raise Failed(f"{doing}: the answer has no customer_id", exchange)
        return customer

    def get_customer(self, customer_id: str, doing: str) -> dict:
        exchange = self.expect(self.spi.get(f"/customers/{customer_id}"), 200, doing=doing)
        return self.body(exchange, doing, dict)

    def _admin(self) -> Client:
        if self.admin is None:
            raise Skipped("needs promotions and bonus checks, which the SPI cannot create: "
                          "give --admin-user and --admin-password")
        return self.admin

    def grant_promotion(self, customer_id: str) -> str:
        """A promotion for the customer, through the admin routes; its id."""
        doing = "granting a promotion (POST /admin/customers/{id}/promotions)"
        exchange = self.expect(self._admin().post(f"/admin/customers/{customer_id}/promotions", json={
            "name": "Contract test 10%", "promotion_type": {"type": "cart_percent", "value_int": 10}}), 201, doing=doing)
        return self.body(exchange, doing, dict).get("promotion_id")

    def grant_bonus_check(self, customer_id: str) -> str:
        doing = "granting a bonus check (POST /admin/customers/{id}/bonus-checks)"
        exchange = self.expect(self._admin().post(f"/admin/customers/{customer_id}/bonus-checks", json={
            "name": "Contract test bonus", "cart_amount": "50.00"}), 201, doing=doing)
        return self.body(exchange, doing, dict).get("bonus_check_id")

    def grant(self, customer_id: str) -> tuple[str, str]:
        """A promotion and a bonus check: (promotion_id, bonus_check_id)."""
        return self.grant_promotion(customer_id), self.grant_bonus_check(customer_id)

    def items(self, customer_id: str, doing: str) -> dict[str, dict]:
        """The customer's promotions and bonus checks by id."""
        customer = self.get_customer(customer_id, doing)
        return {**{p.get("promotion_id"): p for p in customer.get("promotions") or [] if isinstance(p, dict)},
                **{b.get("bonus_check_id"): b for b in customer.get("bonus_checks") or [] if isinstance(b, dict)}}


def _personnummer(rng: random.Random) -> str:
    """A Swedish personal id with a valid check digit (CRMs that validate them accept it)."""
    born = f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    serial = f"{rng.randint(0, 999):03d}"
    digits = [int(d) for d in born + serial]
    total = sum(sum(divmod(d * (2 - i % 2), 10)) for i, d in enumerate(digits))
    return f"19{born}{serial}{(10 - total % 10) % 10}"


def _spi_requests(customer_id: str) -> list[tuple[str, str, dict]]:
    """One request to every SPI route: (method, path, keyword arguments)."""
    return [
        ("GET", "/customers", {"params": {"key_type": "member_number", "key": "10012"}}),
        ("POST", "/customers", {"json": {"name_first": "Nobody"}}),
        ("GET", f"/customers/{customer_id}", {}),
        ("PUT", f"/customers/{customer_id}", {"json": {"name_first": "Nobody"}}),
        ("GET", f"/customers/{customer_id}/transactions", {}),
        ("POST", f"/customers/{customer_id}/redeem", {"json": {"bonus_checks": [], "promotions": [str(uuid.uuid4())]}}),
        ("DELETE", f"/customers/{customer_id}/redeem/{uuid.uuid4().hex.upper()}", {}),
        ("GET", "/consents", {}),
        ("GET", "/additional-options", {}),
        ("GET", "/lookup_customers", {"params": {"key_type": "mobile", "key": "0701112233"}}),
    ]


# -- authentication ----------------------------------------------------------------------------------------

@check("auth-required", "401 without valid credentials",
       "HTTP Basic on every call: 401 Unauthorized. Authentication is required.")
def auth_required(ctx: Context):
    for method, path, kwargs in _spi_requests(str(uuid.uuid4())):
        ctx.expect(ctx.anonymous.request(method, path, **kwargs), 401, doing=f"{method} {path} without credentials")
        wrong = (ctx.spi.auth[0], ctx.spi.auth[1] + "-wrong") if ctx.spi.auth else ("nobody", "wrong")
        ctx.expect(ctx.anonymous.request(method, path, auth=wrong, **kwargs), 401,
                   doing=f"{method} {path} with a wrong password")


# -- customers -----------------------------------------------------------------------------------------------

@check("create-customer", "POST /customers creates the customer",
       "Add Customer: 201 Customer added OK, with the customer; customer_id is created by the CRM "
       "(\"Required in GET\"). The tracing headers Store-ID, Staff-ID, Register-ID arrive URL-encoded.")
def create_customer(ctx: Context):
    body = ctx.customer_body()
    exchange = ctx.expect(ctx.spi.post("/customers", json=body, headers=TRACE_HEADERS), 201,
                          doing="POST /customers with a valid new customer")
    created = ctx.body(exchange, "POST /customers", dict)
    if not isinstance(created.get("customer_id"), str) or not created["customer_id"]:
        raise Failed("the created customer has no customer_id", exchange)
    read = ctx.spi.get(f"/customers/{created['customer_id']}")
    stored = ctx.body(ctx.expect(read, 200, doing="GET the customer just created"), "GET /customers/{id}", dict)
    if stored.get("customer_id") != created["customer_id"]:
        raise Failed("GET /customers/{id} answered another customer_id", read)
    for name in ("member_number", "email", "name_first", "name_last", "mobile", "gender", "birthday",
                 "invoice_address", "accepts_communication"):
        if stored.get(name) != body[name]:
            raise Failed(f"the customer was stored with {name} {stored.get(name)!r}, sent {body[name]!r}",
                         exchange, read)


@check("search-by-key-type", "Search finds a customer by each key type, and only by that type",
       "Search Customer: key_type is the type of field to search (personal_id, mobile, email, member_number, "
       "company_id); the answer is one customer or an empty list.")
def search_by_key_type(ctx: Context):
    customer = ctx.create_customer()
    cid = customer["customer_id"]
    keys = {key_type: customer.get(key_type) for key_type in KEY_TYPES}
    for key_type, key in keys.items():
        if not key:
            raise Failed(f"the created customer has no {key_type}; it was sent")
        exchange = ctx.spi.get("/customers", params={"key_type": key_type, "key": key})
        found = ctx.body(ctx.expect(exchange, 200, doing=f"search by {key_type}"), "search", list)
        if len(found) != 1 or not isinstance(found[0], dict) or found[0].get("customer_id") != cid:
            raise Failed(f"search by {key_type} for a customer just created should answer exactly that "
                         f"customer, answered {len(found)} customer(s)", exchange)
    for key_type in KEY_TYPES:
        for other, key in keys.items():
            if other == key_type:
                continue
            exchange = ctx.spi.get("/customers", params={"key_type": key_type, "key": key})
            found = ctx.body(ctx.expect(exchange, 200, doing=f"search by {key_type}"), "search", list)
            if any(isinstance(c, dict) and c.get("customer_id") == cid for c in found):
                raise Failed(f"search by key_type={key_type} with the customer's {other} found the customer: "
                             f"the key was not searched as a {key_type}", exchange)


@check("search-unknown-key", "Search for a key nobody has answers an empty list",
       "Search Customer: \"Should be one customer or empty list if no customer is found\" (a list, never 404).")
def search_unknown_key(ctx: Context):
    for key_type, key in ctx.keys().items():
        exchange = ctx.spi.get("/customers", params={"key_type": key_type, "key": key})
        found = ctx.body(ctx.expect(exchange, 200, doing=f"search by {key_type} for an unknown key"), "search", list)
        if found:
            raise Failed(f"search by {key_type} for a key nobody has answered {len(found)} customer(s)", exchange)


@check("search-bad-key-type", "Search with a missing or unknown key_type is a 400",
       "Search Customer: key and key_type are REQUIRED, key_type is a SearchKeyType; "
       "400 Bad Request. Invalid input or other client request error.")
def search_bad_key_type(ctx: Context):
    for params in ({"key_type": "shoe_size", "key": "42"}, {"key": "10012"}, {"key_type": "member_number"}):
        ctx.expect(ctx.spi.get("/customers", params=params), 400, doing=f"search with {params}")


@check("update-customer", "GET after PUT shows the change",
       "Update Customer: update customer with new data; 200 Customer updated OK.")
def update_customer(ctx: Context):
    customer = ctx.create_customer()
    cid = customer["customer_id"]
    change = {"name_first": "Changed", "gender": "female",
              "invoice_address": {"address": "Other street 2", "zip": "54321", "city": "Town", "country_id": "NO"}}
    body = {**ctx.customer_body(**{k: customer.get(k) for k in KEY_TYPES}), **change}
    exchange = ctx.expect(ctx.spi.put(f"/customers/{cid}", json=body), 200, doing="PUT /customers/{id}")
    answered = ctx.body(exchange, "PUT /customers/{id}", dict)
    read = ctx.spi.get(f"/customers/{cid}")
    stored = ctx.body(ctx.expect(read, 200, doing="GET after PUT"), "GET /customers/{id}", dict)
    for name, value in change.items():
        if answered.get(name) != value:
            raise Failed(f"the PUT answer shows {name} {answered.get(name)!r}, sent {value!r}", exchange)
        if stored.get(name) != value:
            raise Failed(f"GET after PUT shows {name} {stored.get(name)!r}, the PUT sent {value!r}", exchange, read)


@check("read-only-ignored", "Read-only fields in a request are ignored",
       "Customer: customer_id, status, promotions, bonus_checks, voucher_passwords and sections are READ ONLY; "
       "store_id_home is \"read only except for POST\". The POS may send them back: they are ignored, "
       "never stored from a request.")
def read_only_ignored(ctx: Context):
    marker = f"contract-{ctx.run_id}"
    sent_id = str(uuid.uuid4())
    read_only = {
        "customer_id": sent_id,
        "status": {"color": "red", "text": marker},
        "promotions": [{"promotion_id": marker, "name": marker, "promotion_type": {"type": "manual"},
                        "redeemed": False}],
        "bonus_checks": [{"bonus_check_id": marker, "name": marker, "cart_amount": "100.00", "redeemed": False}],
        "voucher_passwords": [marker],
        "sections": [{"title": marker, "values": [{"type": "text", "title": marker, "text": marker}]}],
    }

    def taken(customer: dict) -> list[str]:
        found = []
        if customer.get("customer_id") == sent_id:
            found.append("customer_id")
        if isinstance(customer.get("status"), dict) and customer["status"].get("text") == marker:
            found.append("status")
        for name, id_field in (("promotions", "promotion_id"), ("bonus_checks", "bonus_check_id")):
            if any(isinstance(i, dict) and i.get(id_field) == marker for i in customer.get(name) or []):
                found.append(name)
        if marker in (customer.get("voucher_passwords") or []):
            found.append("voucher_passwords")
        if any(isinstance(s, dict) and s.get("title") == marker for s in customer.get("sections") or []):
            found.append("sections")
        return found

    body = ctx.customer_body(store_id_home="contract-home", **read_only)
    created = ctx.spi.post("/customers", json=body)
    customer = ctx.body(ctx.expect(created, 201, doing="POST /customers with read-only fields"), "POST", dict)
    cid = customer.get("customer_id")
    if taken(customer):
        raise Failed(f"POST /customers took read-only field(s) from the request: {', '.join(taken(customer))}", created)
    read = ctx.spi.get(f"/customers/{cid}")
    stored = ctx.body(ctx.expect(read, 200, doing="GET the customer"), "GET", dict)
    if taken(stored):
        raise Failed(f"POST /customers stored read-only field(s) from the request: {', '.join(taken(stored))}",
                     created, read)
    if stored.get("store_id_home") != "contract-home":
        raise Failed("store_id_home is writable on POST, but the created customer does not have it", created, read)

    update = {**ctx.customer_body(**{k: customer.get(k) for k in KEY_TYPES}), **read_only,
              "customer_id": sent_id, "store_id_home": "contract-other-home"}
    updated = ctx.spi.put(f"/customers/{cid}", json=update)
    ctx.expect(updated, 200, doing="PUT /customers/{id} with read-only fields")
    read = ctx.spi.get(f"/customers/{cid}")
    stored = ctx.body(ctx.expect(read, 200, doing="GET after PUT"), "GET", dict)
    problems = taken(stored) + (["store_id_home"] if stored.get("store_id_home") != "contract-home" else [])
    if stored.get("customer_id") != cid:
        problems.append("customer_id")
    if problems:
        raise Failed(f"PUT /customers/{{id}} stored read-only field(s) from the request: {', '.join(problems)}",
                     updated, read)


@check("unknown-customer-404", "An unknown customer is a 404 on every customer route",
       "404 Not Found. The specified resource was not found.")
def unknown_customer(ctx: Context):
    unknown = str(uuid.uuid4())
    body = ctx.customer_body()
    for method, path, kwargs in [
        ("GET", f"/customers/{unknown}", {}),
        ("PUT", f"/customers/{unknown}", {"json": body}),
        ("GET", f"/customers/{unknown}/transactions", {}),
        ("POST", f"/customers/{unknown}/redeem", {"json": {"bonus_checks": [], "promotions": [str(uuid.uuid4())]}}),
        ("DELETE", f"/customers/{unknown}/redeem/{uuid.uuid4().hex.upper()}", {}),
    ]:
        ctx.expect(ctx.spi.request(method, path, **kwargs), 404, doing=f"{method} for an unknown customer")
    found = ctx.body(ctx.spi.get("/customers", params={"key_type": "member_number", "key": body["member_number"]}),
                     "search", list)
    if found:
        raise Failed("PUT to an unknown customer created one", ctx.log[-1])


# -- consents and additional options ----------------------------------------------------------------------------

@check("consents-and-options", "Consents and additional options are served, and a customer can use them",
       "Get Consents / Get Additional Options: the lists a customer's consents and additional_options are "
       "chosen from. Option ids are unique; enum-single and enum-multi options offer enum_options.")
def consents_and_options(ctx: Context):
    consents, _ = ctx.catalogue()
    options = ctx.options()
    ids = [option.get("id") for option in options]
    if len(ids) != len(set(ids)):
        raise Failed("additional option ids are not unique", ctx.log[-1])
    for option in options:
        if option.get("type") in ("enum-single", "enum-multi") and not option.get("enum_options"):
            raise Failed(f"option {option.get('id')} of type {option['type']} offers no enum_options", ctx.log[-1])
    chosen = [consent["consent_id"] for consent in consents[:1] if isinstance(consent, dict)]
    customer = ctx.create_customer(consents=chosen)
    stored = ctx.get_customer(customer["customer_id"], "GET the customer")
    if sorted(stored.get("consents") or []) != sorted(chosen):
        raise Failed(f"a customer created with consents {chosen} has {stored.get('consents')}", ctx.log[-1])
    values = {v["id"]: v for v in stored.get("additional_options") or [] if isinstance(v, dict)}
    for wanted in ctx.required_option_values():
        if values.get(wanted["id"]) != wanted:
            raise Failed(f"the customer's additional option {wanted['id']} is {values.get(wanted['id'])}, "
                         f"sent {wanted}", ctx.log[-1])


@check("unknown-consent-refused", "A customer with an unknown consent is refused",
       "Customer.consents: \"Array of ID:s for consents\" from Get Consents; anything else is a 400 Bad Request.")
def unknown_consent(ctx: Context):
    body = ctx.customer_body(consents=[f"contract-unknown-{ctx.run_id}"])
    ctx.expect(ctx.spi.post("/customers", json=body), 400, doing="POST /customers with an unknown consent")
    _not_created(ctx, body)
    customer = ctx.create_customer()
    ctx.expect(ctx.spi.put(f"/customers/{customer['customer_id']}", json={**body, **{
        k: customer.get(k) for k in KEY_TYPES}}), 400, doing="PUT /customers/{id} with an unknown consent")


@check("additional-options-validated", "Additional option values are checked against Get Additional Options",
       "CustomerAdditionalOption: the id of an option of Get Additional Options, enum_values among its "
       "enum_options (one for enum-single), text at most 1024 characters; required options are required "
       "when adding a customer. Anything else is a 400 Bad Request.")
def additional_options_validated(ctx: Context):
    required = ctx.required_option_values()
    cases = [("an unknown option id", required + [{"id": f"ct-unknown-{ctx.run_id}", "text": "x"}])]
    for option in ctx.options():
        others = [v for v in required if v["id"] != option.get("id")]
        enum_ids = [e.get("id") for e in option.get("enum_options") or []]
        if option.get("type") in ("enum-single", "enum-multi"):
            cases.append((f"a value option {option['id']} does not offer",
                          others + [{"id": option["id"], "enum_values": [f"ct-unknown-{ctx.run_id}"]}]))
        if option.get("type") == "enum-single" and len(enum_ids) >= 2:
            cases.append((f"two values for the enum-single option {option['id']}",
                          others + [{"id": option["id"], "enum_values": enum_ids[:2]}]))
        if option.get("type") == "text":
            cases.append((f"1025 characters of text for option {option['id']}",
                          others + [{"id": option["id"], "text": "x" * 1025}]))
        if option.get("required"):
            cases.append((f"no value for the required option {option['id']}", others))
    for what, values in cases:
        body = ctx.customer_body(additional_options=values)
        ctx.expect(ctx.spi.post("/customers", json=body), 400, doing=f"POST /customers with {what}")
        _not_created(ctx, body)
    customer = ctx.create_customer()
    body = {**ctx.customer_body(additional_options=cases[0][1]), **{k: customer.get(k) for k in KEY_TYPES}}
    ctx.expect(ctx.spi.put(f"/customers/{customer['customer_id']}", json=body), 400,
               doing="PUT /customers/{id} with an unknown additional option id")


def _not_created(ctx: Context, body: dict):
    exchange = ctx.spi.get("/customers", params={"key_type": "member_number", "key": body["member_number"]})
    if ctx.body(exchange, "search", list):
        raise Failed("a refused customer was stored all the same", exchange)


# -- purchase history and lookup ------------------------------------------------------------------------------------

@check("transactions-list", "A customer's transactions are a list",
       "Get Transactions: returns a list of transactions for the customer (none for a new customer).")
def transactions_list(ctx: Context):
    customer = ctx.create_customer()
    exchange = ctx.spi.get(f"/customers/{customer['customer_id']}/transactions")
    found = ctx.body(ctx.expect(exchange, 200, doing="GET /customers/{id}/transactions"), "transactions", list)
    if found:
        raise Failed(f"a customer created a moment ago has {len(found)} transaction(s)", exchange)


@check("transactions-shown", "A stored transaction is shown with every field", needs_admin=True,
       rule="Get Transactions: the customer's purchases with date_created, order_id, store, currency, items "
            "(money as strings) and payments.")
def transactions_shown(ctx: Context):
    if ctx.admin is None:
        raise Skipped("needs a transaction, which the SPI cannot create: give --admin-user and --admin-password")
    cid = ctx.create_customer()["customer_id"]
    transaction = {
        "date_created": 1637239675, "order_id": ctx._random.randint(10**8, 10**9), "store_id": "200",
        "store_name": "Concept Store", "currency_code": "SEK",
        "items": [{"discounts": [], "product_name": "Deco Coat B/W", "quantity": 1, "sku": "597330-S",
                   "total": "490.00", "vat": "98.00", "vat_value": 25}],
        "payments": [{"name": "Cash", "total": "490.00"}],
    }
    ctx.expect(ctx.admin.post(f"/admin/customers/{cid}/transactions", json=transaction), 200, 201,
               doing="storing a transaction (POST /admin/customers/{id}/transactions)")
    exchange = ctx.spi.get(f"/customers/{cid}/transactions")
    found = ctx.body(ctx.expect(exchange, 200, doing="GET /customers/{id}/transactions"), "transactions", list)
    if len(found) != 1:
        raise Failed(f"expected the one stored transaction, got {len(found)}", exchange)
    shown = found[0]
    for name, value in transaction.items():
        if shown.get(name) != value:
            raise Failed(f"the transaction shows {name} {shown.get(name)!r}, stored {value!r}", exchange)


@check("lookup", "Person lookup answers a list, or 501",
       "Lookup Customer: returns a list of customers (one, or empty); "
       "501 Not implemented when the CRM has no lookup.")
def lookup(ctx: Context):
    exchange = ctx.spi.get("/lookup_customers", params={"key_type": "mobile", "key": "0701112233"})
    ctx.expect(exchange, 200, 501, doing="GET /lookup_customers")
    if exchange.status == 200:
        found = ctx.body(exchange, "lookup", list)
        if len(found) > 1 or not all(isinstance(item, dict) for item in found):
            raise Failed(f"lookup should answer one customer or none, answered {len(found)}", exchange)


# -- redeem and undo ------------------------------------------------------------------------------------------------------

def _redeem(ctx: Context, cid: str, promotions=(), bonus_checks=()) -> Exchange:
    return ctx.spi.post(f"/customers/{cid}/redeem",
                        json={"bonus_checks": list(bonus_checks), "promotions": list(promotions)})


def _redeemed(ctx: Context, cid: str, item_id: str, doing: str) -> bool:
    items = ctx.items(cid, doing)
    if item_id not in items:
        raise Failed(f"{doing}: item {item_id} is not among the customer's promotions and bonus checks", ctx.log[-1])
    return items[item_id].get("redeemed") is True


@check("redeem", "Redeem redeems every item and answers a redeem_id", needs_admin=True,
       rule="Redeem Items: 200 \"A redeem object where all items in it were successfully redeemed and with the "
            "redeem_id property set with the value used to undo a redeem\"; the items show redeemed.")
def redeem(ctx: Context):
    cid = ctx.create_customer()["customer_id"]
    promotion, bonus_check = ctx.grant(cid)
    exchange = ctx.expect(_redeem(ctx, cid, [promotion], [bonus_check]), 200, doing="redeeming a promotion "
                                                                                   "and a bonus check")
    answer = ctx.body(exchange, "redeem", dict)
    if not isinstance(answer.get("redeem_id"), str) or not answer["redeem_id"]:
        raise Failed("the redeem answer has no redeem_id", exchange)
    if answer.get("promotions") != [promotion] or answer.get("bonus_checks") != [bonus_check]:
        raise Failed("the redeem answer does not list the items redeemed", exchange)
    items = ctx.items(cid, "GET the customer after the redeem")
    for item_id in (promotion, bonus_check):
        if items.get(item_id, {}).get("redeemed") is not True:
            raise Failed(f"item {item_id} does not show redeemed after a successful redeem", exchange, ctx.log[-1])
        if not isinstance(items[item_id].get("date_redeemed"), int):
            raise Failed(f"item {item_id} has no date_redeemed after a successful redeem", ctx.log[-1])


@check("redeem-all-or-nothing", "A redeem that cannot redeem every item redeems none", needs_admin=True,
       rule="Redeem Items: \"this must redeem all items to be successful otherwise no items should be redeemed "
            "and status code 409 Can't redeem should be returned\".")
def redeem_all_or_nothing(ctx: Context):
    cid = ctx.create_customer()["customer_id"]
    first, bonus_check = ctx.grant(cid)
    second = ctx.grant_promotion(cid)
    ctx.expect(_redeem(ctx, cid, [first]), 200, doing="redeeming one promotion")
    mixed = ctx.expect(_redeem(ctx, cid, [first, second], [bonus_check]), 409,
                       doing="a redeem mixing an already redeemed promotion with redeemable items")
    for item_id in (second, bonus_check):
        if _redeemed(ctx, cid, item_id, "GET the customer after the refused redeem"):
            raise Failed(f"a refused redeem (409) redeemed item {item_id} all the same", mixed, ctx.log[-1])
    unknown = ctx.expect(_redeem(ctx, cid, [second, f"contract-unknown-{ctx.run_id}"]), 409,
                         doing="a redeem mixing a redeemable promotion with an unknown one")
    if _redeemed(ctx, cid, second, "GET the customer after the refused redeem"):
        raise Failed(f"a refused redeem (409) redeemed item {second} all the same", unknown, ctx.log[-1])


@check("redeem-twice", "A second redeem of the same item is a 409", needs_admin=True,
       rule="Redeem Items: 409 Can't redeem items (an item already redeemed).")
def redeem_twice(ctx: Context):
    cid = ctx.create_customer()["customer_id"]
    promotion, bonus_check = ctx.grant(cid)
    ctx.expect(_redeem(ctx, cid, [promotion], [bonus_check]), 200, doing="the first redeem")
    ctx.expect(_redeem(ctx, cid, [promotion]), 409, doing="a second redeem of the same promotion")
    ctx.expect(_redeem(ctx, cid, [], [bonus_check]), 409, doing="a second redeem of the same bonus check")


@check("redeem-own-items-only", "A customer cannot redeem another customer's items", needs_admin=True,
       rule="Redeem Items: the items are the customer's own bonus checks and promotions (Customer.promotions, "
            "Customer.bonus_checks); any other is 409 Can't redeem items, and nothing is redeemed.")
def redeem_own_items_only(ctx: Context):
    owner = ctx.create_customer()["customer_id"]
    other = ctx.create_customer()["customer_id"]
    promotion, bonus_check = ctx.grant(owner)
    own = ctx.grant_promotion(other)
    refused = ctx.expect(_redeem(ctx, other, [own, promotion], [bonus_check]), 409,
                         doing="redeeming another customer's promotion and bonus check")
    for customer, item_id in ((owner, promotion), (owner, bonus_check), (other, own)):
        if _redeemed(ctx, customer, item_id, "GET the customers after the refused redeem"):
            raise Failed(f"a refused redeem (409) redeemed item {item_id} all the same", refused, ctx.log[-1])


@check("undo-redeem", "Undo restores every item of the redeem; a second undo is refused", needs_admin=True,
       rule="Undo Redeem Items: \"All items previously redeemed should be undone\" (200); "
            "409 Can't undo redeem (or 404) for a redeem already undone.")
def undo_redeem(ctx: Context):
    cid = ctx.create_customer()["customer_id"]
    promotion, bonus_check = ctx.grant(cid)
    done = ctx.expect(_redeem(ctx, cid, [promotion], [bonus_check]), 200, doing="redeeming")
    redeem_id = ctx.body(done, "redeem", dict).get("redeem_id")
    undo = ctx.expect(ctx.spi.delete(f"/customers/{cid}/redeem/{redeem_id}"), 200, doing="undoing the redeem")
    items = ctx.items(cid, "GET the customer after the undo")
    for item_id in (promotion, bonus_check):
        if items.get(item_id, {}).get("redeemed") is not False:
            raise Failed(f"item {item_id} still shows redeemed after its redeem was undone", undo, ctx.log[-1])
        if items[item_id].get("date_redeemed") is not None:
            raise Failed(f"item {item_id} keeps its date_redeemed after its redeem was undone", ctx.log[-1])
    ctx.expect(ctx.spi.delete(f"/customers/{cid}/redeem/{redeem_id}"), 409, 404, doing="a second undo of the same redeem")
    ctx.expect(_redeem(ctx, cid, [promotion], [bonus_check]), 200, doing="redeeming the restored items again")


# -- every answer, against the document -------------------------------------------------------------------------------
# These judge the answers the checks above received (the runner runs them last, over the whole log).

@check("documented-status", "Only documented status codes",
       "HTTP Status Code Summary: each route answers only with the status codes the contract lists for it.")
def documented_status(ctx: Context):
    _judge_log(ctx, "documented-status")


@check("error-body", "Every error carries the Error body",
       "Error: {\"errortext\": string, \"statuscode\": integer}, REQUIRED both; statuscode is the HTTP status.")
def error_body(ctx: Context):
    _judge_log(ctx, "error-body")


@check("response-schema", "Every answer validates against the OpenAPI schemas",
       "The contract's objects (Customer, Consent, Redeem, Transaction, ...): types, required fields, patterns, "
       "lengths and enums, as openapi/openapi.json states them.")
def response_schema(ctx: Context):
    _judge_log(ctx, "response-schema")


def _judge_log(ctx: Context, rule: str):
    problems = [(exchange, text) for exchange in ctx.log for kind, text in ctx.document.judge(exchange) if kind == rule]
    if problems:
        shown = problems[:5]
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise Failed(f"{len(problems)} answer(s) broke the rule{more}:\n" + "\n".join(f"- {text}" for _, text in shown),
                     *[exchange for exchange, _ in shown])


JUDGES = ("documented-status", "error-body", "response-schema")
