"""Redeem and undo under concurrency, against the real gunicorn server (several workers and threads, each
request on its own pooled connection): no lost update, no deadlock surfacing as an error."""

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import ADMIN_PASSWORD, ADMIN_USER, SPI_PASSWORD, SPI_USER

SPI = (SPI_USER, SPI_PASSWORD)
ADMIN = (ADMIN_USER, ADMIN_PASSWORD)
TIMEOUT = 30  # seconds per request: a safety net, not an assertion


def _customer_with(live_server, promotions=(), bonus_checks=()) -> str:
    """A customer holding the given items, made through the live server's own API."""
    response = requests.post(live_server.url("/customers"), json={"name_first": "Load"}, auth=SPI, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    customer_id = response.json()["customer_id"]
    for promotion_id in promotions:
        response = requests.post(live_server.url(f"/admin/customers/{customer_id}/promotions"), auth=ADMIN,
                                 json={"promotion_id": promotion_id, "name": promotion_id,
                                       "promotion_type": {"type": "manual"}}, timeout=TIMEOUT)
        assert response.status_code == 201, response.text
    for bonus_check_id in bonus_checks:
        response = requests.post(live_server.url(f"/admin/customers/{customer_id}/bonus-checks"), auth=ADMIN,
                                 json={"bonus_check_id": bonus_check_id, "name": bonus_check_id,
                                       "cart_amount": "10.00"}, timeout=TIMEOUT)
        assert response.status_code == 201, response.text
    return customer_id


def test_fifty_concurrent_redeems_of_one_promotion_redeem_it_once(live_server, conn):
    customer_id = _customer_with(live_server, promotions=["p-hot"])
    url = live_server.url(f"/customers/{customer_id}/redeem")
    start = threading.Barrier(25)

    def attempt(i):
        if i < 25:
            start.wait(timeout=TIMEOUT)  # the first wave leaves together
        response = requests.post(url, json={"bonus_checks": [], "promotions": ["p-hot"]}, auth=SPI, timeout=TIMEOUT)
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(attempt, range(50)))

    assert Counter(status for status, _ in results) == {200: 1, 409: 49}, Counter(status for status, _ in results)
    assert {body["errortext"] for status, body in results if status == 409} == {
        "Can't redeem items: promotion p-hot is already redeemed"}
    [winner] = [body for status, body in results if status == 200]
    rows = conn.execute("SELECT redeem_id FROM redeems").fetchall()
    assert [row["redeem_id"] for row in rows] == [winner["redeem_id"]]
    customer = requests.get(live_server.url(f"/customers/{customer_id}"), auth=SPI, timeout=TIMEOUT).json()
    assert customer["promotions"][0]["redeemed"] is True


PROMOTIONS = [f"p{i}" for i in range(6)]
BONUS_CHECKS = [f"b{i}" for i in range(4)]


def test_interleaved_redeems_and_undos_of_overlapping_sets_leave_a_consistent_state(live_server, conn):
    customer_id = _customer_with(live_server, PROMOTIONS, BONUS_CHECKS)
    redeem_url = live_server.url(f"/customers/{customer_id}/redeem")
    lock = threading.Lock()
    redeemed_ids: list[str] = []  # every redeem that answered 200, for the undos to pick from
    undone = Counter()  # redeem id -> undos that answered 200
    statuses = Counter()

    def worker(seed):
        rng = random.Random(seed)
        session = requests.Session()
        session.auth = SPI
        for _ in range(20):
            with lock:
                candidates = list(redeemed_ids)
            if candidates and rng.random() < 0.4:
                redeem_id = rng.choice(candidates[-6:])  # recent ones: undos of one redeem collide
                response = session.delete(f"{redeem_url}/{redeem_id}", timeout=TIMEOUT)
                with lock:
                    statuses["undo", response.status_code] += 1
                    if response.status_code == 200:
                        undone[redeem_id] += 1
                continue
            body = {"promotions": rng.sample(PROMOTIONS, rng.randint(0, 2)),
                    "bonus_checks": rng.sample(BONUS_CHECKS, rng.randint(1, 2))}
            response = session.post(redeem_url, json=body, timeout=TIMEOUT)
            with lock:
                statuses["redeem", response.status_code] += 1
                if response.status_code == 200:
                    redeemed_ids.append(response.json()["redeem_id"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(worker, range(6)))

    # Only answers the contract lists for a lost race: no 5xx (no deadlock, no lock timeout), no 404.
    assert set(statuses) <= {("redeem", 200), ("redeem", 409), ("undo", 200), ("undo", 409)}, statuses
    assert statuses["redeem", 200] > 0 and statuses["undo", 200] > 0, statuses
    assert max(undone.values()) == 1  # a redeem is undone at most once

    redeems = {row["redeem_id"]: row["undone_at"] for row in conn.execute("SELECT redeem_id, undone_at FROM redeems")}
    assert set(redeems) == set(redeemed_ids)
    assert {redeem_id for redeem_id, undone_at in redeems.items() if undone_at} == set(undone)

    # Every item is redeemed if and only if exactly one redeem that is not undone holds it.
    holders = Counter((row["kind"], row["item_id"]) for row in conn.execute(
        "SELECT kind, item_id FROM redeem_items JOIN redeems USING (redeem_id) WHERE undone_at IS NULL"))
    assert max(holders.values(), default=0) <= 1
    customer = requests.get(live_server.url(f"/customers/{customer_id}"), auth=SPI, timeout=TIMEOUT).json()
    for kind, items, id_field in (("promotion", customer["promotions"], "promotion_id"),
                                  ("bonus_check", customer["bonus_checks"], "bonus_check_id")):
        for item in items:
            assert item["redeemed"] == (holders[kind, item[id_field]] == 1), item
