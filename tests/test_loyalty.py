"""Promotions and bonus checks: the back office grants and withdraws them, the POS sees them in the customer
object, redeems them all-or-nothing and undoes a redeem."""

import re
import time
import uuid

import pytest

from conftest import DEMO_CUSTOMER_ID, EXAMPLES

DEMO_PROMOTION = "d65804be-1941-4a5b-851a-abd000bfc8bc"
REDEEM_ID = re.compile(r"^[0-9A-F]{32}$")
PAST, FUTURE = "2020-01-01T00:00:00+00:00", "2099-01-01T00:00:00+00:00"


def new_customer(conn, member_number="5001", **columns) -> str:
    """A plain insert: these tests need customers, not the customer rules."""
    names = ", ".join(["member_number", *columns])
    values = ", ".join(["%s"] * (1 + len(columns)))
    return str(conn.execute(f"INSERT INTO customers ({names}) VALUES ({values}) RETURNING customer_id",
                            [member_number, *columns.values()]).fetchone()["customer_id"])


def grant_promotion(admin, customer_id, promotion_id=None, promotion_type=None, **fields):
    body = {"name": "Ten off", "promotion_type": promotion_type or {"type": "cart_amount", "value_money": "10.00"},
            **({"promotion_id": promotion_id} if promotion_id else {}), **fields}
    response = admin.post(f"/admin/customers/{customer_id}/promotions", json=body)
    assert response.status_code == 201, response.json
    return response.json


def grant_bonus_check(admin, customer_id, bonus_check_id=None, **fields):
    body = {"name": "Bonus", "cart_amount": "50.00", **({"bonus_check_id": bonus_check_id} if bonus_check_id else {}),
            **fields}
    response = admin.post(f"/admin/customers/{customer_id}/bonus-checks", json=body)
    assert response.status_code == 201, response.json
    return response.json


def redeem(spi, customer_id, bonus_checks=(), promotions=(), **kwargs):
    return spi.post(f"/customers/{customer_id}/redeem",
                    json={"bonus_checks": list(bonus_checks), "promotions": list(promotions)}, **kwargs)


def undo(spi, customer_id, redeem_id, **kwargs):
    return spi.delete(f"/customers/{customer_id}/redeem/{redeem_id}", **kwargs)


def redeemed(conn, kind, item_id) -> bool:
    """Read from the table: items outside their validity window are not in the customer object."""
    table, column = {"promotion": ("promotions", "promotion_id"), "bonus_check": ("bonus_checks", "bonus_check_id")}[kind]
    return conn.execute(f"SELECT date_redeemed IS NOT NULL AS r FROM {table} WHERE {column} = %s",
                        [item_id]).fetchone()["r"]


def consume(conn, kind, item_id):
    """What the purchase feed does when an order uses the item."""
    table, column = {"promotion": ("promotions", "promotion_id"), "bonus_check": ("bonus_checks", "bonus_check_id")}[kind]
    conn.execute(f"UPDATE {table} SET consumed_at = now(), consumed_order_id = 10051 WHERE {column} = %s", [item_id])


def redeem_count(conn) -> int:
    return conn.execute("SELECT count(*) AS n FROM redeems").fetchone()["n"]


def audit_rows(conn, operation):
    return conn.execute("SELECT * FROM audit_log WHERE operation = %s ORDER BY audit_id", [operation]).fetchall()


@pytest.fixture
def holder(conn, admin):
    """A customer with an unused promotion `p-ok` and bonus check `b-ok`."""
    customer_id = new_customer(conn)
    grant_promotion(admin, customer_id, "p-ok")
    grant_bonus_check(admin, customer_id, "b-ok")
    return customer_id


# --- the contract's examples --------------------------------------------------------------------------------

def test_redeem_example(spi, demo_data):
    example = EXAMPLES["Redeem Items"]
    response = spi.post(f"/customers/{DEMO_CUSTOMER_ID}/redeem", json=example["request"])
    assert response.status_code == 200
    body = response.json
    assert REDEEM_ID.match(body["redeem_id"]) and body["redeem_id"] != example["response"]["redeem_id"]
    assert {**body, "redeem_id": None} == {**example["response"], "redeem_id": None}
    [promotion] = spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json["promotions"]
    assert promotion["redeemed"] is True and abs(promotion["date_redeemed"] - time.time()) < 600


def test_undo_redeem_example_gives_the_items_back_and_answers_the_redeem(spi, demo_data):
    redeem_id = spi.post(f"/customers/{DEMO_CUSTOMER_ID}/redeem", json=EXAMPLES["Redeem Items"]["request"]).json["redeem_id"]
    response = undo(spi, DEMO_CUSTOMER_ID, redeem_id)
    assert response.status_code == 200
    assert response.json == {"redeem_id": redeem_id, "bonus_checks": [], "promotions": [DEMO_PROMOTION]}
    # The customer object is the contract's example again.
    assert spi.get(f"/customers/{DEMO_CUSTOMER_ID}").json == EXAMPLES["Get Customer"]["response"]


def test_redeem_id_sent_by_the_pos_is_ignored(spi, demo_data):
    response = spi.post(f"/customers/{DEMO_CUSTOMER_ID}/redeem",
                        json={**EXAMPLES["Redeem Items"]["request"], "redeem_id": "64DCDD6D716EA0F470734356665E5730"})
    assert response.status_code == 200 and response.json["redeem_id"] != "64DCDD6D716EA0F470734356665E5730"


# --- redeem ---------------------------------------------------------------------------------------------------

def test_redeem_takes_several_items_of_both_kinds_at_once(spi, admin, conn, holder):
    grant_promotion(admin, holder, "p-two")
    grant_bonus_check(admin, holder, "b-two")
    response = redeem(spi, holder, ["b-two", "b-ok"], ["p-ok", "p-two"])
    assert response.status_code == 200
    assert response.json["bonus_checks"] == ["b-two", "b-ok"] and response.json["promotions"] == ["p-ok", "p-two"]
    customer = spi.get(f"/customers/{holder}").json
    assert all(item["redeemed"] and item["date_redeemed"] for item in customer["promotions"] + customer["bonus_checks"])


def test_redeem_is_all_or_nothing(spi, conn, holder):
    assert redeem(spi, holder, promotions=["p-ok"]).status_code == 200
    response = redeem(spi, holder, ["b-ok"], ["p-ok"])
    assert response.status_code == 409
    assert not redeemed(conn, "bonus_check", "b-ok")
    assert redeem_count(conn) == 1


# Each refusal case sets itself up and names a request that mixes the refused item with redeemable ones.

def _unknown(conn, admin, holder):
    return {"bonus_checks": ["b-ok"], "promotions": ["p-ok", "no-such"]}


def _another_customers(conn, admin, holder):
    grant_promotion(admin, new_customer(conn, "5002", email="someone@example.com"), "p-other")
    return {"bonus_checks": ["b-ok"], "promotions": ["p-other", "p-ok"]}


def _not_valid_yet(conn, admin, holder):
    grant_bonus_check(admin, holder, "b-later", valid_from=FUTURE)
    return {"bonus_checks": ["b-ok", "b-later"], "promotions": ["p-ok"]}


def _expired(conn, admin, holder):
    grant_promotion(admin, holder, "p-gone", valid_from="2019-01-01T00:00:00Z", valid_to=PAST)
    return {"bonus_checks": ["b-ok"], "promotions": ["p-ok", "p-gone"]}


def _bonus_check_expired(conn, admin, holder):
    grant_bonus_check(admin, holder, "b-gone", valid_to=PAST)
    return {"bonus_checks": ["b-gone", "b-ok"], "promotions": ["p-ok"]}


def _promotion_not_valid_yet(conn, admin, holder):
    grant_promotion(admin, holder, "p-later", valid_from=FUTURE, valid_to="2100-01-01T00:00:00Z")
    return {"bonus_checks": ["b-ok"], "promotions": ["p-later", "p-ok"]}


def _listed_twice(conn, admin, holder):
    return {"bonus_checks": ["b-ok", "b-ok"], "promotions": ["p-ok"]}


def _consumed(conn, admin, holder):
    grant_bonus_check(admin, holder, "b-used")
    consume(conn, "bonus_check", "b-used")
    return {"bonus_checks": ["b-used", "b-ok"], "promotions": ["p-ok"]}


def _redeemed_already(conn, admin, holder):
    grant_promotion(admin, holder, "p-used")
    conn.execute("UPDATE promotions SET date_redeemed = now() WHERE promotion_id = 'p-used'")
    return {"bonus_checks": ["b-ok"], "promotions": ["p-ok", "p-used"]}


REFUSALS = [
    (_unknown, "promotion no-such is unknown"),
    (_another_customers, "promotion p-other belongs to another customer"),
    (_not_valid_yet, "bonus check b-later is outside its validity window"),
    (_expired, "promotion p-gone is outside its validity window"),
    (_bonus_check_expired, "bonus check b-gone is outside its validity window"),
    (_promotion_not_valid_yet, "promotion p-later is outside its validity window"),
    (_listed_twice, "bonus check b-ok is listed twice"),
    (_consumed, "bonus check b-used has been used by a purchase"),
    (_redeemed_already, "promotion p-used is already redeemed"),
]


@pytest.mark.parametrize("setup,reason", REFUSALS, ids=[setup.__name__.strip("_") for setup, _ in REFUSALS])
def test_redeem_refusals_are_409_name_the_reason_and_redeem_nothing(spi, admin, conn, holder, setup, reason):
    request = setup(conn, admin, holder)
    response = redeem(spi, holder, **request)
    assert response.status_code == 409
    assert response.json == {"errortext": f"Can't redeem items: {reason}", "statuscode": 409}
    assert not redeemed(conn, "promotion", "p-ok") and not redeemed(conn, "bonus_check", "b-ok")
    assert redeem_count(conn) == 0


def test_a_refusal_names_every_reason_but_no_personal_data(spi, admin, conn, holder):
    _another_customers(conn, admin, holder)
    response = redeem(spi, holder, ["nope", "b-ok", "b-ok"], ["p-other"])
    assert response.status_code == 409
    text = response.json["errortext"]
    assert text == ("Can't redeem items: bonus check nope is unknown; bonus check b-ok is listed twice; "
                    "promotion p-other belongs to another customer")
    assert "someone" not in text and "5002" not in text


def test_a_refusal_names_five_reasons_at_most(spi, holder):
    response = redeem(spi, holder, promotions=[f"x{i}" for i in range(8)])
    assert response.json["errortext"] == ("Can't redeem items: promotion x0 is unknown; promotion x1 is unknown; "
                                          "promotion x2 is unknown; promotion x3 is unknown; promotion x4 is unknown; "
                                          "and 3 more")


def test_the_same_id_in_both_lists_is_two_different_items(spi, admin, conn, holder):
    grant_bonus_check(admin, holder, "p-ok")
    assert redeem(spi, holder, ["p-ok"], ["p-ok"]).status_code == 200


def test_items_are_redeemable_inside_their_validity_window(spi, admin, conn, holder):
    grant_promotion(admin, holder, "p-window", valid_from=PAST, valid_to=FUTURE)
    grant_bonus_check(admin, holder, "b-window", valid_to=FUTURE)
    assert redeem(spi, holder, ["b-window"], ["p-window"]).status_code == 200


def test_only_items_valid_now_appear_in_the_customer(spi, admin, conn, holder):
    grant_promotion(admin, holder, "p-later", valid_from=FUTURE)
    grant_promotion(admin, holder, "p-expired", valid_to=PAST)
    grant_bonus_check(admin, holder, "b-expired", valid_from="2019-01-01T00:00:00Z", valid_to=PAST)
    grant_bonus_check(admin, holder, "b-window", valid_from=PAST, valid_to=FUTURE)
    customer = spi.get(f"/customers/{holder}").json
    assert [p["promotion_id"] for p in customer["promotions"]] == ["p-ok"]
    assert [b["bonus_check_id"] for b in customer["bonus_checks"]] == ["b-ok", "b-window"]


@pytest.mark.parametrize("customer_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_redeem_for_an_unknown_customer_is_404(spi, holder, customer_id):
    response = redeem(spi, customer_id, promotions=["p-ok"])
    assert response.status_code == 404 and response.json["statuscode"] == 404


def test_redeem_for_an_erased_customer_is_404(spi, conn, holder):
    conn.execute("UPDATE customers SET erased_at = now() WHERE customer_id = %s", [holder])
    assert redeem(spi, holder, promotions=["p-ok"]).status_code == 404


@pytest.mark.parametrize("body,field", [
    ({"bonus_checks": [], "promotions": []}, "at least one"),
    ({"promotions": ["p-ok"]}, "bonus_checks"),
    ({"bonus_checks": ["b-ok"]}, "promotions"),
    ({"bonus_checks": "b-ok", "promotions": []}, "bonus_checks"),
    ({"bonus_checks": [], "promotions": [7]}, "promotions[0]"),
    ({"bonus_checks": [None], "promotions": []}, "bonus_checks[0]"),
    ({"bonus_checks": [""], "promotions": []}, "bonus_checks[0]"),
    ({"bonus_checks": [], "promotions": ["x" * 129]}, "promotions[0]"),
    ({"bonus_checks": [], "promotions": [f"p{i}" for i in range(101)]}, "promotions"),
    (["p-ok"], "body"),
])
def test_malformed_redeem_is_400(spi, conn, holder, body, field):
    response = spi.post(f"/customers/{holder}/redeem", json=body)
    assert response.status_code == 400 and field in response.json["errortext"], response.json
    assert redeem_count(conn) == 0


def test_redeem_without_a_json_body_is_400(spi, holder):
    assert spi.post(f"/customers/{holder}/redeem", data="{not json").status_code == 400
    assert spi.post(f"/customers/{holder}/redeem").status_code == 400


# --- undo -----------------------------------------------------------------------------------------------------

def test_undo_gives_back_every_item_and_they_can_be_redeemed_again(spi, admin, conn, holder):
    grant_promotion(admin, holder, "p-two", promotion_type={"type": "manual"})
    redeem_id = redeem(spi, holder, ["b-ok"], ["p-two", "p-ok"]).json["redeem_id"]
    response = undo(spi, holder, redeem_id)
    assert response.status_code == 200
    assert response.json == {"redeem_id": redeem_id, "bonus_checks": ["b-ok"], "promotions": ["p-ok", "p-two"]}
    customer = spi.get(f"/customers/{holder}").json
    for item in customer["promotions"] + customer["bonus_checks"]:
        assert item["redeemed"] is False and "date_redeemed" not in item
    assert redeem(spi, holder, ["b-ok"], ["p-two", "p-ok"]).status_code == 200


def test_undo_gives_back_only_its_own_items(spi, admin, conn, holder):
    first = redeem(spi, holder, promotions=["p-ok"]).json["redeem_id"]
    assert redeem(spi, holder, bonus_checks=["b-ok"]).status_code == 200
    assert undo(spi, holder, first).status_code == 200
    assert not redeemed(conn, "promotion", "p-ok") and redeemed(conn, "bonus_check", "b-ok")


def test_a_second_undo_is_409_and_changes_nothing(spi, conn, holder):
    redeem_id = redeem(spi, holder, promotions=["p-ok"]).json["redeem_id"]
    assert undo(spi, holder, redeem_id).status_code == 200
    assert redeem(spi, holder, promotions=["p-ok"]).status_code == 200  # redeemed again, by another redeem
    response = undo(spi, holder, redeem_id)
    assert response.status_code == 409
    assert response.json == {"errortext": "Can't undo redeem: it has been undone already", "statuscode": 409}
    assert redeemed(conn, "promotion", "p-ok")


def test_undo_after_a_purchase_consumed_an_item_is_409_and_changes_nothing(spi, conn, holder):
    redeem_id = redeem(spi, holder, ["b-ok"], ["p-ok"]).json["redeem_id"]
    consume(conn, "bonus_check", "b-ok")
    response = undo(spi, holder, redeem_id)
    assert response.status_code == 409
    assert response.json["errortext"] == "Can't undo redeem: bonus check b-ok has been used by a purchase"
    assert redeemed(conn, "promotion", "p-ok") and redeemed(conn, "bonus_check", "b-ok")
    assert conn.execute("SELECT undone_at FROM redeems").fetchone()["undone_at"] is None


def test_undo_accepts_the_redeem_id_in_lower_case(spi, conn, holder):
    redeem_id = redeem(spi, holder, promotions=["p-ok"]).json["redeem_id"]
    assert undo(spi, holder, redeem_id.lower()).json["redeem_id"] == redeem_id
    assert not redeemed(conn, "promotion", "p-ok")


def test_undo_of_an_unknown_redeem_is_404(spi, holder):
    for redeem_id in ("64DCDD6D716EA0F470734356665E5730", "nonsense"):
        response = undo(spi, holder, redeem_id)
        assert response.status_code == 404 and response.json["statuscode"] == 404


def test_undo_of_another_customers_redeem_is_404_and_leaves_it(spi, admin, conn, holder):
    redeem_id = redeem(spi, holder, promotions=["p-ok"]).json["redeem_id"]
    other = new_customer(conn, "5002")
    assert undo(spi, other, redeem_id).status_code == 404
    assert redeemed(conn, "promotion", "p-ok")


@pytest.mark.parametrize("customer_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_undo_for_an_unknown_customer_is_404(spi, holder, customer_id):
    redeem_id = redeem(spi, holder, promotions=["p-ok"]).json["redeem_id"]
    assert undo(spi, customer_id, redeem_id).status_code == 404


# --- the audit trail ------------------------------------------------------------------------------------------

def test_redeem_and_undo_are_audited_with_the_redeem_id(spi, conn, holder):
    redeem_id = redeem(spi, holder, promotions=["p-ok"], headers={"Store-ID": "S1"}).json["redeem_id"]
    undo(spi, holder, redeem_id)
    undo(spi, holder, redeem_id)
    redeem(spi, holder, promotions=["no-such"])
    redeems = audit_rows(conn, "POST /customers/<customer_id>/redeem")
    assert [(r["http_status"], r["customer_id"], r["detail"]) for r in redeems] == [
        (200, holder, {"redeem_id": redeem_id}), (409, holder, None)]
    assert redeems[0]["store_id"] == "S1"
    undos = audit_rows(conn, "DELETE /customers/<customer_id>/redeem/<redeem_id>")
    assert [(r["http_status"], r["customer_id"], r["detail"]) for r in undos] == [
        (200, holder, {"redeem_id": redeem_id}), (409, holder, {"redeem_id": redeem_id})]


# --- the customer object --------------------------------------------------------------------------------------

PROMOTION_TYPES = {
    "p-amount": {"type": "cart_amount", "value_money": "25.50"},
    "p-percent": {"type": "cart_percent", "value_int": 15},
    "p-manual": {"type": "manual"},
    "p-offer": {"type": "offer", "value_string": "member_pricelist"},
}


def test_promotions_of_every_type_and_bonus_checks_appear_in_every_customer_response(spi, admin, conn):
    customer_id = new_customer(conn, "7001")
    for promotion_id, promotion_type in PROMOTION_TYPES.items():
        grant_promotion(admin, customer_id, promotion_id, promotion_type, name=promotion_id, description="d")
    grant_bonus_check(admin, customer_id, "b-1", name="Bonus", cart_amount="100.00")
    redeem(spi, customer_id, ["b-1"], ["p-percent", "p-offer"])
    customer = spi.get(f"/customers/{customer_id}").json
    date = customer["bonus_checks"][0]["date_redeemed"]
    assert isinstance(date, int) and abs(date - time.time()) < 600
    assert customer["promotions"] == [
        {"promotion_id": promotion_id, "promotion_type": promotion_type, "name": promotion_id, "description": "d",
         "redeemed": promotion_id in ("p-percent", "p-offer"),
         **({"date_redeemed": date} if promotion_id in ("p-percent", "p-offer") else {})}
        for promotion_id, promotion_type in PROMOTION_TYPES.items()]
    assert customer["bonus_checks"] == [
        {"bonus_check_id": "b-1", "name": "Bonus", "cart_amount": "100.00", "redeemed": True, "date_redeemed": date}]
    [found] = spi.get("/customers?key_type=member_number&key=7001").json
    assert found == customer
    updated = spi.put(f"/customers/{customer_id}", json={"name_first": "Ann"}).json
    assert updated["promotions"] == customer["promotions"] and updated["bonus_checks"] == customer["bonus_checks"]


# --- the back office ------------------------------------------------------------------------------------------

def test_grant_answers_the_stored_item_with_its_validity_window(admin, conn):
    customer_id = new_customer(conn)
    promotion = grant_promotion(admin, customer_id, "p-1", {"type": "cart_percent", "value_int": 10}, name="Ten",
                                description="Ten percent", valid_from="2024-06-01T12:00:00+02:00", valid_to=FUTURE)
    assert promotion == {"promotion_id": "p-1", "promotion_type": {"type": "cart_percent", "value_int": 10},
                         "name": "Ten", "description": "Ten percent", "redeemed": False,
                         "valid_from": "2024-06-01T10:00:00+00:00", "valid_to": FUTURE}
    bonus_check = grant_bonus_check(admin, customer_id, "b-1", cart_amount="99.90", valid_to=FUTURE)
    assert bonus_check == {"bonus_check_id": "b-1", "name": "Bonus", "cart_amount": "99.90", "redeemed": False,
                           "valid_to": FUTURE}


def test_grant_without_an_id_creates_one(admin, conn):
    customer_id = new_customer(conn)
    promotion_id = grant_promotion(admin, customer_id)["promotion_id"]
    bonus_check_id = grant_bonus_check(admin, customer_id)["bonus_check_id"]
    assert uuid.UUID(promotion_id) and uuid.UUID(bonus_check_id) and promotion_id != bonus_check_id


def test_grant_ignores_redeemed_and_date_redeemed_in_the_body(spi, admin, conn, holder):
    promotion = grant_promotion(admin, holder, "p-new", redeemed=True, date_redeemed=1700000000)
    bonus_check = grant_bonus_check(admin, holder, "b-new", redeemed=True, date_redeemed=1700000000)
    assert promotion["redeemed"] is False and "date_redeemed" not in promotion
    assert bonus_check["redeemed"] is False and "date_redeemed" not in bonus_check
    assert redeem(spi, holder, ["b-new"], ["p-new"]).status_code == 200


def test_granting_an_id_the_customer_holds_replaces_the_unused_item(spi, admin, holder):
    grant_promotion(admin, holder, "p-ok", {"type": "manual"}, name="Renamed")
    grant_bonus_check(admin, holder, "b-ok", cart_amount="75.00")
    customer = spi.get(f"/customers/{holder}").json
    assert [(p["promotion_id"], p["name"], p["promotion_type"]) for p in customer["promotions"]] == [
        ("p-ok", "Renamed", {"type": "manual"})]
    assert [(b["bonus_check_id"], b["cart_amount"]) for b in customer["bonus_checks"]] == [("b-ok", "75.00")]


def _use(spi, conn, holder, how):
    """Make p-ok and b-ok used: redeemed at the till, or consumed by a purchase."""
    if how == "redeemed":
        return redeem(spi, holder, ["b-ok"], ["p-ok"]).json["redeem_id"]
    consume(conn, "promotion", "p-ok")
    consume(conn, "bonus_check", "b-ok")


@pytest.mark.parametrize("how", ["redeemed", "consumed"])
@pytest.mark.parametrize("kind", ["promotions", "bonus-checks"])
def test_granting_the_id_of_a_used_item_is_400_and_leaves_it_as_it_was(spi, admin, conn, holder, kind, how):
    _use(spi, conn, holder, how)
    body = ({"promotion_id": "p-ok", "name": "Again", "promotion_type": {"type": "manual"}} if kind == "promotions"
            else {"bonus_check_id": "b-ok", "name": "Again", "cart_amount": "1.00"})
    response = admin.post(f"/admin/customers/{holder}/{kind}", json=body)
    assert response.status_code == 400 and "redeemed or used" in response.json["errortext"]
    items = spi.get(f"/customers/{holder}").json[kind.replace("-", "_")]
    assert [(item["name"], item["redeemed"]) for item in items] == [
        ("Ten off" if kind == "promotions" else "Bonus", how == "redeemed")]


@pytest.mark.parametrize("kind", ["promotions", "bonus-checks"])
def test_granting_an_id_of_another_customer_is_400_and_leaves_it(spi, admin, conn, holder, kind):
    other = new_customer(conn, "5002")
    body = ({"promotion_id": "p-ok", "name": "Mine", "promotion_type": {"type": "manual"}} if kind == "promotions"
            else {"bonus_check_id": "b-ok", "name": "Mine", "cart_amount": "1.00"})
    response = admin.post(f"/admin/customers/{other}/{kind}", json=body)
    assert response.status_code == 400 and "another customer" in response.json["errortext"]
    assert spi.get(f"/customers/{other}").json[kind.replace("-", "_")] == []
    assert len(spi.get(f"/customers/{holder}").json[kind.replace("-", "_")]) == 1


@pytest.mark.parametrize("body,field", [
    ({"promotion_type": {"type": "manual"}}, "name"),
    ({"name": "X"}, "promotion_type"),
    ({"name": "X", "promotion_type": {"type": "bogo"}}, "promotion_type.type"),
    ({"name": "X", "promotion_type": {"type": "cart_amount"}}, "value_money"),
    ({"name": "X", "promotion_type": {"type": "cart_amount", "value_money": "12.5"}}, "value_money"),
    ({"name": "X", "promotion_type": {"type": "cart_amount", "value_money": "-1.00"}}, "value_money"),
    ({"name": "X", "promotion_type": {"type": "cart_amount", "value_money": "10000000000.00"}}, "value_money"),
    ({"name": "X", "promotion_type": {"type": "cart_percent", "value_int": 0}}, "value_int"),
    ({"name": "X", "promotion_type": {"type": "cart_percent", "value_int": 101}}, "value_int"),
    ({"name": "X", "promotion_type": {"type": "cart_percent", "value_int": "10"}}, "value_int"),
    ({"name": "X", "promotion_type": {"type": "offer"}}, "value_string"),
    ({"name": "X", "promotion_type": {"type": "manual", "value_int": 5}}, "value_int"),
    ({"name": "X", "promotion_type": {"type": "manual"}, "promotion_id": "a/b"}, "promotion_id"),
    ({"name": "X", "promotion_type": {"type": "manual"}, "promotion_id": "x" * 129}, "promotion_id"),
    ({"name": "X", "promotion_type": {"type": "manual"}, "valid_from": "2030-01-01T00:00:00"}, "valid_from"),
    ({"name": "X", "promotion_type": {"type": "manual"}, "valid_from": FUTURE, "valid_to": PAST}, "valid_to"),
    ({"name": "X", "promotion_type": {"type": "manual"}, "valid_from": FUTURE, "valid_to": FUTURE}, "valid_to"),
    ({"name": "X\x00", "promotion_type": {"type": "manual"}}, "name"),
])
def test_malformed_promotion_grant_is_400(spi, admin, conn, body, field):
    customer_id = new_customer(conn)
    response = admin.post(f"/admin/customers/{customer_id}/promotions", json=body)
    assert response.status_code == 400 and field in response.json["errortext"], response.json
    assert spi.get(f"/customers/{customer_id}").json["promotions"] == []


@pytest.mark.parametrize("body,field", [
    ({"cart_amount": "1.00"}, "name"),
    ({"name": "B"}, "cart_amount"),
    ({"name": "B", "cart_amount": 10}, "cart_amount"),
    ({"name": "B", "cart_amount": "0.00"}, "cart_amount"),
    ({"name": "B", "cart_amount": "1.00", "bonus_check_id": ""}, "bonus_check_id"),
    ({"name": "B", "cart_amount": "1.00", "valid_to": "tomorrow"}, "valid_to"),
])
def test_malformed_bonus_check_grant_is_400(spi, admin, conn, body, field):
    customer_id = new_customer(conn)
    response = admin.post(f"/admin/customers/{customer_id}/bonus-checks", json=body)
    assert response.status_code == 400 and field in response.json["errortext"], response.json
    assert spi.get(f"/customers/{customer_id}").json["bonus_checks"] == []


@pytest.mark.parametrize("kind", ["promotions", "bonus-checks"])
@pytest.mark.parametrize("customer_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_grant_to_an_unknown_customer_is_404(admin, kind, customer_id):
    body = {"name": "X", "promotion_type": {"type": "manual"}, "cart_amount": "1.00"}
    assert admin.post(f"/admin/customers/{customer_id}/{kind}", json=body).status_code == 404


def test_withdraw_removes_the_item_from_the_customer(spi, admin, holder):
    assert admin.delete(f"/admin/customers/{holder}/promotions/p-ok").status_code == 204
    assert admin.delete(f"/admin/customers/{holder}/bonus-checks/b-ok").status_code == 204
    customer = spi.get(f"/customers/{holder}").json
    assert customer["promotions"] == [] and customer["bonus_checks"] == []
    assert redeem(spi, holder, promotions=["p-ok"]).status_code == 409


@pytest.mark.parametrize("kind", ["promotions", "bonus-checks"])
def test_withdraw_of_another_customers_or_an_unknown_item_is_404(spi, admin, conn, holder, kind):
    other = new_customer(conn, "5002")
    item_id = "p-ok" if kind == "promotions" else "b-ok"
    for customer_id, path_id in ((other, item_id), (holder, "no-such"), (str(uuid.uuid4()), item_id)):
        response = admin.delete(f"/admin/customers/{customer_id}/{kind}/{path_id}")
        assert response.status_code == 404 and response.json["statuscode"] == 404
    assert len(spi.get(f"/customers/{holder}").json[kind.replace("-", "_")]) == 1


@pytest.mark.parametrize("how", ["redeemed", "consumed"])
@pytest.mark.parametrize("kind", ["promotions", "bonus-checks"])
def test_withdraw_of_a_used_item_is_400(spi, admin, conn, holder, kind, how):
    _use(spi, conn, holder, how)
    item_id = "p-ok" if kind == "promotions" else "b-ok"
    response = admin.delete(f"/admin/customers/{holder}/{kind}/{item_id}")
    assert response.status_code == 400 and "redeemed or used" in response.json["errortext"]
    assert len(spi.get(f"/customers/{holder}").json[kind.replace("-", "_")]) == 1


def test_withdraw_of_a_redeemed_item_works_once_its_redeem_is_undone(spi, admin, conn, holder):
    redeem_id = _use(spi, conn, holder, "redeemed")
    assert admin.delete(f"/admin/customers/{holder}/promotions/p-ok").status_code == 400
    assert undo(spi, holder, redeem_id).status_code == 200
    assert admin.delete(f"/admin/customers/{holder}/promotions/p-ok").status_code == 204


def test_grants_and_withdrawals_are_audited(admin, conn, holder):
    admin.delete(f"/admin/customers/{holder}/promotions/p-ok")
    [granted] = audit_rows(conn, "POST /admin/customers/<customer_id>/promotions")
    [withdrawn] = audit_rows(conn, "DELETE /admin/customers/<customer_id>/promotions/<promotion_id>")
    assert (granted["customer_id"], granted["detail"], granted["http_status"]) == (holder, {"promotion_id": "p-ok"}, 201)
    assert (withdrawn["customer_id"], withdrawn["detail"], withdrawn["http_status"]) == (holder, {"promotion_id": "p-ok"}, 204)


def test_loyalty_routes_take_only_their_own_credential(spi, admin, holder):
    assert admin.post(f"/customers/{holder}/redeem", json={"bonus_checks": ["b-ok"], "promotions": []}).status_code == 403
    assert spi.post(f"/admin/customers/{holder}/bonus-checks", json={"name": "B", "cart_amount": "1.00"}).status_code == 403
    assert spi.delete(f"/admin/customers/{holder}/bonus-checks/b-ok").status_code == 403
