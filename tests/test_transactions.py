"""Purchase history: GET /customers/{id}/transactions and POST /admin/customers/{id}/transactions."""

import copy
import json
import re
import uuid

import pytest

from conftest import DEMO_CUSTOMER_ID, EXAMPLES
from crm_provider.transactions import service
from crm_provider.transactions.schemas import TransactionSchema

EXAMPLE = EXAMPLES["Get Transactions"]["response"][0]

# Every field of Transaction, TransactionItem, TransactionItemDiscount and TransactionPayment.
FULL = {
    "date_created": 1700000000,
    "receipt_id": "R-200-0001",
    "order_id": 20001,
    "order_external_id": "EXT-20001",
    "store_id": "200",
    "store_name": "Concept Store",
    "currency_code": "SEK",
    "roundoff": "-0.40",
    "items": [
        {
            "sku": "597330-S",
            "product_name": "Deco Coat B/W",
            "product_name2": "Small",
            "quantity": 2,
            "total": "980.00",
            "vat": "196.00",
            "manual_discount": "80.00",
            "manual_discount_vat": "16.00",
            "manual_discount_name": "Staff",
            "vat_value": 12.5,
            "note": "gift wrap",
            "unit_quantity": "1.250",
            "unit_label": "kg",
            "discounts": [{"name": "Spring", "total": "100.00", "vat": "20.00"}],
        }
    ],
    "payments": [{"name": "Card", "total": "700.00"}, {"name": "Cash", "total": "99.60"}],
}


def new_customer(spi):
    response = spi.post("/customers", json={"name_first": "Jane", "name_last": "Roe"})
    assert response.status_code == 201, response.json
    return response.json["customer_id"]


def post(admin, customer_id, transaction):
    return admin.post(f"/admin/customers/{customer_id}/transactions", json=transaction)


def history(spi, customer_id, query=""):
    response = spi.get(f"/customers/{customer_id}/transactions{query}")
    assert response.status_code == 200, response.json
    return response.json


def rows(conn):
    return conn.execute("SELECT customer_id::text, order_id, total::text FROM transactions ORDER BY transaction_id").fetchall()


def test_get_transactions_example(spi, demo_data):
    response = spi.get(f"/customers/{DEMO_CUSTOMER_ID}/transactions")
    assert response.status_code == 200
    assert response.json == EXAMPLES["Get Transactions"]["response"]


def test_every_field_round_trips_exactly(spi, admin):
    cid = new_customer(spi)
    response = post(admin, cid, FULL)
    assert response.status_code == 201
    assert response.json == FULL
    assert history(spi, cid) == [FULL]


def test_numbers_stay_numbers_and_money_stays_strings(spi, admin):
    cid = new_customer(spi)
    post(admin, cid, EXAMPLE)
    raw = spi.get(f"/customers/{cid}/transactions").get_data(as_text=True).replace(" ", "")
    for text in ('"vat_value":25', '"total":"490.00"', '"quantity":1', '"order_id":10051', '"date_created":1637239675'):
        assert re.search(re.escape(text) + "[,}]", raw), text


def test_null_optional_fields_are_accepted_and_left_out(spi, admin):
    cid = new_customer(spi)
    body = {**EXAMPLE, "receipt_id": None, "roundoff": None, "payments": None,
            "items": [{**EXAMPLE["items"][0], "note": None, "discounts": None}]}
    response = post(admin, cid, body)
    assert response.status_code == 201, response.json
    stored = history(spi, cid)[0]
    assert "receipt_id" not in stored and "roundoff" not in stored
    assert "note" not in stored["items"][0] and "discounts" not in stored["items"][0]


def test_the_history_postgresql_builds_is_what_the_schema_dumps(spi, admin):
    """The answer is built by PostgreSQL (queries.sql: history), not dumped by TransactionSchema: it must be
    what the schema sends for each stored transaction (the admin route's answer), to the JSON type of every
    number, with nothing more and nothing less."""
    cid = new_customer(spi)
    no_payments = {**EXAMPLE, "order_id": 3, "date_created": 1700000300, "receipt_id": None, "payments": None,
                   "items": [{**EXAMPLE["items"][0], "vat_value": 6.25, "discounts": []}]}
    stored = [post(admin, cid, transaction).json
              for transaction in (EXAMPLE, {**FULL, "order_id": 2, "date_created": 1700000200}, no_payments)]
    answer = history(spi, cid)
    assert json.dumps(answer, sort_keys=True) == json.dumps(stored[::-1], sort_keys=True)
    schema = TransactionSchema(many=True)
    assert schema.dump(schema.load(answer)) == answer


def test_unknown_customer_is_404(spi, admin):
    for cid in (str(uuid.uuid4()), "not-a-uuid"):
        for response in (spi.get(f"/customers/{cid}/transactions"), post(admin, cid, EXAMPLE)):
            assert response.status_code == 404
            assert response.json == {"errortext": "Customer not found", "statuscode": 404}


def test_erased_customer_has_no_history(spi, admin, conn):
    cid = new_customer(spi)
    assert post(admin, cid, EXAMPLE).status_code == 201
    conn.execute("UPDATE customers SET erased_at = now() WHERE customer_id = %s", (cid,))
    assert spi.get(f"/customers/{cid}/transactions").status_code == 404
    assert post(admin, cid, {**EXAMPLE, "order_id": 2}).status_code == 404


def test_newest_first(spi, admin):
    cid = new_customer(spi)
    for order_id, date in ((1, 1600000000), (2, 1700000000), (3, 1650000000)):
        assert post(admin, cid, {**EXAMPLE, "order_id": order_id, "date_created": date}).status_code == 201
    assert [t["order_id"] for t in history(spi, cid)] == [2, 3, 1]


def test_only_the_customers_own_transactions(spi, admin):
    jane, john = new_customer(spi), new_customer(spi)
    post(admin, jane, {**EXAMPLE, "order_id": 1})
    post(admin, john, {**EXAMPLE, "order_id": 2})
    assert [t["order_id"] for t in history(spi, jane)] == [1]
    assert history(spi, new_customer(spi)) == []


def test_newest_100_by_default_and_limit_up_to_1000(spi, conn, database_url):
    cid = new_customer(spi)
    loaded = TransactionSchema().load(EXAMPLE)
    with conn.transaction():
        for n in range(1, 103):
            service.store_transaction(conn, uuid.UUID(cid), {**loaded, "order_id": n, "date_created": 1600000000 + n})
    default = history(spi, cid)
    assert len(default) == 100
    assert [t["order_id"] for t in default] == list(range(102, 2, -1))
    assert len(history(spi, cid, "?limit=101")) == 101
    assert [t["order_id"] for t in history(spi, cid, "?limit=2")] == [102, 101]
    for bad in ("0", "1001", "x"):
        response = spi.get(f"/customers/{cid}/transactions?limit={bad}")
        assert response.status_code == 400 and "limit" in response.json["errortext"]


def test_one_transaction_per_order_the_second_post_replaces_it(spi, admin, conn):
    cid = new_customer(spi)
    assert post(admin, cid, EXAMPLE).status_code == 201
    changed = {**EXAMPLE, "store_name": "Outlet", "payments": [{"name": "Card", "total": "450.00"}]}
    response = post(admin, cid, changed)
    assert response.status_code == 201 and response.json == changed
    assert history(spi, cid) == [changed]
    assert rows(conn) == [{"customer_id": cid, "order_id": 10051, "total": "450.00"}]


def test_an_order_posted_for_another_customer_moves_to_it(spi, admin, conn):
    jane, john = new_customer(spi), new_customer(spi)
    post(admin, jane, EXAMPLE)
    post(admin, john, EXAMPLE)
    assert history(spi, jane) == []
    assert history(spi, john) == [EXAMPLE]
    assert len(rows(conn)) == 1


def test_transactions_without_order_id_are_each_kept(spi, admin):
    cid = new_customer(spi)
    without = {k: v for k, v in EXAMPLE.items() if k != "order_id"}
    post(admin, cid, without)
    post(admin, cid, without)
    assert history(spi, cid) == [without, without]


def test_total_is_the_payments_or_else_the_items_net(spi, admin, conn):
    cid = new_customer(spi)
    post(admin, cid, FULL)  # payments 700.00 + 99.60
    no_payments = {k: v for k, v in FULL.items() if k != "payments"} | {"order_id": 2}
    post(admin, cid, no_payments)  # 980.00 - 80.00 - 100.00 - 0.40
    assert [r["total"] for r in rows(conn)] == ["799.60", "799.60"]
    assert service.total({"items": [], "payments": []}) == 0


def test_remove_by_order_id(spi, admin, conn):
    cid = new_customer(spi)
    post(admin, cid, EXAMPLE)
    assert service.remove_by_order_id(conn, 10051) is True
    assert service.remove_by_order_id(conn, 10051) is False
    assert history(spi, cid) == []


def broken(path, value):
    body = copy.deepcopy(EXAMPLE)
    target = body
    *parents, last = path
    for part in parents:
        target = target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return body


@pytest.mark.parametrize("path,value", [
    (("date_created",), "1637239675"),
    (("date_created",), 10**13),
    (("date_created",), KeyError),
    (("order_id",), "10051"),
    (("order_id",), 0),
    (("store_name",), KeyError),
    (("currency_code",), "sek"),
    (("currency_code",), KeyError),
    (("roundoff",), 0.5),
    (("items",), KeyError),
    (("items", 0, "sku"), KeyError),
    (("items", 0, "quantity"), "1"),
    (("items", 0, "quantity"), 1.5),
    (("items", 0, "total"), 490),
    (("items", 0, "total"), "490.0"),
    (("items", 0, "total"), "10000000000.00"),
    (("items", 0, "total"), ""),  # not a number at all: the bound's check must not raise (it was a 500)
    (("items", 0, "discounts"), [{"name": "x", "total": "", "vat": "0.00"}]),
    (("items", 0, "vat"), KeyError),
    (("items", 0, "vat_value"), "25"),
    (("items", 0, "vat_value"), True),
    (("items", 0, "vat_value"), 101),
    (("items", 0, "unit_quantity"), "1.00"),
    (("items", 0, "discounts"), [{"name": "x", "total": "1.00"}]),
    (("payments", 0, "total"), "1"),
    (("payments", 0, "name"), KeyError),
])
def test_invalid_transaction_is_400_naming_the_field_and_stores_nothing(spi, admin, conn, path, value):
    cid = new_customer(spi)
    response = post(admin, cid, broken(path, value))
    assert response.status_code == 400, response.json
    assert path[-1] in response.json["errortext"]
    assert rows(conn) == []


def test_a_total_too_large_to_store_is_400_not_500(spi, admin, conn):
    cid = new_customer(spi)
    item = {**EXAMPLE["items"][0], "total": "9999999999.99"}
    response = post(admin, cid, {**EXAMPLE, "items": [item] * 101, "payments": []})
    assert response.status_code == 400 and "total" in response.json["errortext"]
    assert rows(conn) == []


def test_credentials_of_the_other_kind_are_refused(spi, admin, demo_data):
    assert spi.post(f"/admin/customers/{DEMO_CUSTOMER_ID}/transactions", json=EXAMPLE).status_code == 403
    assert admin.get(f"/customers/{DEMO_CUSTOMER_ID}/transactions").status_code == 403


def test_reads_and_writes_are_audited_with_the_customer(spi, admin, conn, demo_data):
    spi.get(f"/customers/{DEMO_CUSTOMER_ID}/transactions")
    post(admin, DEMO_CUSTOMER_ID, {**EXAMPLE, "order_id": 77})
    audit = conn.execute("SELECT operation, customer_id, detail FROM audit_log ORDER BY audit_id").fetchall()
    assert audit == [
        {"operation": "GET /customers/<customer_id>/transactions", "customer_id": DEMO_CUSTOMER_ID, "detail": None},
        {"operation": "POST /admin/customers/<customer_id>/transactions", "customer_id": DEMO_CUSTOMER_ID,
         "detail": {"order_id": 77}},
    ]


def test_the_history_reads_use_the_customer_index(conn):
    """The per-request reads stay one index range scan however large the table grows, and the history is
    read in index order: only `limit` rows, however many the customer has."""
    from crm_provider.customers import document
    from crm_provider.transactions.store import Q

    conn.execute("SET enable_seqscan = off")
    conn.execute("SET enable_sort = off")
    params = {"customer_id": uuid.uuid4(), "limit": 100}
    purchases = document.statements((Q.purchases_sections,))["get"]  # a read with the section
    for query in (Q.history, purchases):
        plan = json.dumps(conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone())
        assert "transactions_customer_idx" in plan
    plan = json.dumps(conn.execute("EXPLAIN (FORMAT JSON) " + Q.history, params).fetchone())
    assert '"Sort"' not in plan
