"""Personal ids at rest (crm_provider/personal_ids.py): sealed with AES-GCM under a key id, searched through
a keyed blind index, read back in the one-statement customer read; rows of the release before (in plain)
read, searched and counted as duplicates until `crm-provider keys rotate` seals them; rotation to a new key,
resumable."""

from __future__ import annotations

import base64
import os
import uuid

import pytest
from click.testing import CliRunner

from conftest import SPI_PASSWORD, SPI_USER, Client
from crm_provider import personal_ids
from crm_provider.cli import main
from crm_provider.config import Settings, weak_secrets
from crm_provider.customers import service as customers

PERSONAL_ID = "19790101-1234"
KEYRING = personal_ids.parse(os.environ["CRM_PERSONAL_ID_KEYS"])


def stored(conn, customer_id) -> dict:
    return conn.execute("SELECT personal_id, personal_id_norm, personal_id_key, personal_id_sealed, "
                        "personal_id_index FROM customers WHERE customer_id = %s", [customer_id]).fetchone()


def legacy_customer(conn, member_number: str, personal_id: str) -> str:
    """A customer as the release before this one stored it: the personal id in plain."""
    return str(conn.execute(
        "INSERT INTO customers (member_number, personal_id, personal_id_norm) VALUES (%s, %s, %s) "
        "RETURNING customer_id", [member_number, personal_id, personal_id.replace("-", "")]).fetchone()["customer_id"])


def test_a_personal_id_is_stored_sealed_and_read_and_searched_as_before(spi, conn):
    created = spi.post("/customers", json={"member_number": "7001", "personal_id": PERSONAL_ID})
    assert created.status_code == 201 and created.json["personal_id"] == PERSONAL_ID
    cid = created.json["customer_id"]
    row = stored(conn, cid)
    assert row["personal_id"] is None and row["personal_id_norm"] is None and row["personal_id_key"] == "t1"
    assert PERSONAL_ID.encode() not in bytes(row["personal_id_sealed"])
    assert "197901011234".encode() not in bytes(row["personal_id_sealed"]) + bytes(row["personal_id_index"])
    assert spi.get(f"/customers/{cid}").json["personal_id"] == PERSONAL_ID
    found = spi.get("/customers", query_string={"key_type": "personal_id", "key": "197901011234"})
    assert [c["customer_id"] for c in found.json] == [cid]
    assert spi.get("/customers", query_string={"key_type": "personal_id", "key": "19790101-9999"}).json == []
    # one live customer per personal id, as before
    duplicate = spi.post("/customers", json={"member_number": "7002", "personal_id": "197901011234"})
    assert duplicate.status_code == 400 and set(duplicate.json) == {"errortext", "statuscode"}
    assert PERSONAL_ID not in duplicate.json["errortext"]
    # an update that does not name it keeps it (sealed again); null clears it
    assert spi.put(f"/customers/{cid}", json={"name_first": "Ada"}).json["personal_id"] == PERSONAL_ID
    assert stored(conn, cid)["personal_id_sealed"] != row["personal_id_sealed"]  # a new nonce
    cleared = spi.put(f"/customers/{cid}", json={"personal_id": None}).json
    assert "personal_id" not in cleared and stored(conn, cid)["personal_id_sealed"] is None


def test_a_sealed_personal_id_opens_only_for_its_own_customer_and_key():
    customer_id, other = uuid.uuid4(), uuid.uuid4()
    key_id, sealed = KEYRING.seal(customer_id, PERSONAL_ID)
    assert KEYRING.open(customer_id, key_id, sealed) == PERSONAL_ID
    with pytest.raises(personal_ids.KeyringError, match="does not open"):
        KEYRING.open(other, key_id, sealed)  # copied to another customer's row
    with pytest.raises(personal_ids.KeyringError, match="does not open"):
        KEYRING.open(customer_id, key_id, sealed[:-1] + bytes([sealed[-1] ^ 1]))
    assert KEYRING.index("197901011234") == KEYRING.index("197901011234") != KEYRING.index("197901011235")


def test_the_keyring_is_checked_and_its_keys_never_in_an_error():
    short, whole = base64.b64encode(b"x" * 16).decode(), base64.b64encode(b"x" * 32).decode()
    for text, says in (("", "needs the `index` key"), (f"index:{whole}", "needs the `index` key"),
                       (f"index:{short}", "<id>:<base64 of 32 bytes>"), ("index:%%%,k1:zzz", "not base64")):
        with pytest.raises(personal_ids.KeyringError, match=says) as raised:
            personal_ids.parse(text)
        assert not any(secret in str(raised.value) for secret in ("%%%", "zzz", short, whole))
    keyring = personal_ids.parse(personal_ids.generate("k7"))
    assert keyring.current == "k7" and len(keyring.index_key) == 32
    assert "t1:secret" not in repr(Settings(personal_id_keys="t1:secret"))


def test_a_deployment_without_a_keyring_is_refused():
    env = {"DATABASE_URL": "postgresql://db/crm"}
    assert any("CRM_PERSONAL_ID_KEYS" in problem for problem in weak_secrets(env))
    assert not any("CRM_PERSONAL_ID_KEYS" in p for p in weak_secrets({**env, "CRM_PERSONAL_ID_KEYS_FILE": "/k"}))
    assert not any("CRM_PERSONAL_ID_KEYS" in p for p in weak_secrets({}))  # the embedded database: a key file
    refused = CliRunner().invoke(main, ["worker", "--burst"], env={**env, "CRM_PERSONAL_ID_KEYS": ""})
    assert refused.exit_code != 0 and "CRM_PERSONAL_ID_KEYS" in refused.output


def test_rows_of_the_release_before_are_read_searched_and_sealed_by_rotate(spi, conn, database_url):
    cid = legacy_customer(conn, "7101", PERSONAL_ID)
    assert spi.get(f"/customers/{cid}").json["personal_id"] == PERSONAL_ID
    assert [c["customer_id"] for c in spi.get("/customers", query_string={
        "key_type": "personal_id", "key": PERSONAL_ID}).json] == [cid]
    # a new customer cannot take it, although the sealed ones' index does not hold it
    assert spi.post("/customers", json={"member_number": "7102", "personal_id": PERSONAL_ID}).status_code == 400
    ran = CliRunner().invoke(main, ["keys", "rotate"], env={"DATABASE_URL": database_url})
    assert ran.exit_code == 0, ran.output
    assert "sealed with t1: 1;" in ran.output and PERSONAL_ID not in ran.output
    row = stored(conn, cid)
    assert row["personal_id"] is None and row["personal_id_norm"] is None and row["personal_id_key"] == "t1"
    assert spi.get(f"/customers/{cid}").json["personal_id"] == PERSONAL_ID
    again = CliRunner().invoke(main, ["keys", "rotate"], env={"DATABASE_URL": database_url})
    assert "sealed with t1: 0;" in again.output  # nothing left to do


def test_rotation_to_a_new_key_is_resumable_and_then_the_old_key_can_go(spi, conn, make_app, monkeypatch):
    ids = [spi.post("/customers", json={"member_number": f"72{n:02d}", "personal_id": f"1980010{n}-0000"}).json[
        "customer_id"] for n in range(5)]
    rotated = CliRunner().invoke(main, ["keys", "generate", "--id", "t2", "--add-to",
                                        os.environ["CRM_PERSONAL_ID_KEYS"]])
    assert rotated.exit_code == 0
    new_text = rotated.output.strip()
    new = personal_ids.parse(new_text)
    assert new.current == "t2" and set(new.keys) == {"t2", "t1"} and new.index_key == KEYRING.index_key
    monkeypatch.setattr(customers, "ROTATION_PAGE", 2)

    def stop(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # stopped after its first page
        customers.seal_personal_ids(conn, new, on_page=stop)
    assert sorted(stored(conn, cid)["personal_id_key"] for cid in ids) == ["t1", "t1", "t1", "t2", "t2"]
    assert customers.seal_personal_ids(conn, new) == {"sealed": 3, "duplicates": 0}
    only_new = new_text.split(",t1:")[0]  # the old key dropped
    client = Client(make_app(personal_id_keys=only_new), SPI_USER, SPI_PASSWORD)
    for n, cid in enumerate(ids):
        assert client.get(f"/customers/{cid}").json["personal_id"] == f"1980010{n}-0000"
    assert [c["customer_id"] for c in client.get("/customers", query_string={
        "key_type": "personal_id", "key": "19800103-0000"}).json] == [ids[3]]
