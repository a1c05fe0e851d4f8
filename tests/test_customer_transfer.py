"""The customers file (customers/transfer.py): `crm-provider customers import` and `customers export`, through
the command as an operator runs it, on real PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from conftest import EXAMPLES
from crm_provider.cli import main
from crm_provider.demo import PROGRAM

HEADER = ("customer_id,member_number,created,email,name_first,name_last,personal_id,mobile,invoice_address.address,"
          "invoice_address.city,gender,birthday,accepts_communication,consents,option:fav-nhl-team,status.color,"
          "status.text,voucher_passwords,store_id_home,bonus_points")
ROWS = [
    "old-17,9001,2019-03-01T10:00:00+00:00,ada@example.com,Ada,Lovelace,18151210-1234,070-111 22 33,"
    "Main Street 1,London,female,1815-12-10,email|sms,consent_personal_offers,new-york-rangers,green,VIP,"
    "STAFF,store-1,2451",
    ",9002,,bob@example.com,Bob,Builder,,0702223344,,,,,,,toronto-maple-leafs,,,,,",
    "6d7c8b9a-0000-4000-8000-00000000a003,9003,,,Cid,,,,,,,,,,new-york-rangers,,,,,0",
]


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def run(database_url, *args, env=None):
    return CliRunner().invoke(main, ["customers", *args], env={"DATABASE_URL": database_url, **(env or {})})


def run_import(database_url, tmp_path, text: str, *args, env=None):
    path = tmp_path / "customers.csv"
    path.write_text(text, encoding="utf-8")
    return run(database_url, "import", str(path), *args, env=env)


def count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]


def test_import_creates_customers_as_a_post_would_and_the_till_finds_them(database_url, tmp_path, catalogues, spi,
                                                                         admin, conn):
    assert admin.put("/admin/program", json=PROGRAM).status_code == 200
    ran = run_import(database_url, tmp_path, csv_text(*ROWS))
    assert ran.exit_code == 0, ran.output
    assert "3 rows: imported 3 (3 new, 0 updated), rejected 0" in ran.output
    [ada] = spi.get("/customers", query_string={"key": "0701112233", "key_type": "mobile"}).json
    assert ada["mobile"] == "+46701112233" and ada["personal_id"] == "18151210-1234"
    assert ada["invoice_address"] == {"address": "Main Street 1", "city": "London"}
    assert ada["consents"] == ["consent_personal_offers"] and ada["accepts_communication"] == ["email", "sms"]
    assert ada["additional_options"] == [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}]
    assert ada["status"] == {"color": "green", "text": "VIP"} and ada["voucher_passwords"] == ["STAFF"]
    assert ada["store_id_home"] == "store-1"
    # the old CRM's id is an alias the SPI resolves; the opening balance is on the card, and in the ledger
    assert spi.get("/customers/old-17").json["customer_id"] == ada["customer_id"]
    aliases = admin.get(f"/admin/customers/{ada['customer_id']}/export").json["held"]["aliases"]
    assert [(a["alias"], a["kind"]) for a in aliases] == [("old-17", "import")]
    assert {"type": "text", "title": "Bonus Points", "text": "2451"} in ada["sections"][0]["values"]
    ledger = conn.execute("SELECT kind, points FROM points_ledger WHERE customer_id = %s", [ada["customer_id"]])
    assert [(r["kind"], r["points"]) for r in ledger] == [("opening", 2451)]
    created = conn.execute("SELECT created_at FROM customers WHERE member_number = '9001'").fetchone()["created_at"]
    assert created.isoformat().startswith("2019-03-01T10:00:00")
    # a UUID is kept as the id; the personal id is sealed at rest as a POST's is
    assert spi.get("/customers/6d7c8b9a-0000-4000-8000-00000000a003").json["name_first"] == "Cid"
    assert conn.execute("SELECT personal_id FROM customers WHERE member_number = '9001'").fetchone() == {
        "personal_id": None}
    history = conn.execute("SELECT consent_id, granted, credential FROM consent_history").fetchall()
    assert history == [{"consent_id": "consent_personal_offers", "granted": True, "credential": "import"}]


def test_a_file_with_one_bad_row_among_a_thousand_changes_nothing_and_names_the_line_not_the_value(
        database_url, tmp_path, catalogues, conn):
    rows = [f",{10000 + n},,person{n}@example.com,Name{n},,,,,,,,,,new-york-rangers,,,,," for n in range(1000)]
    rows[636] = ",10636,,secret-not-an-email,Hidden,,,,,,,,,,new-york-rangers,,,,,"
    text = csv_text(*rows)
    ran = run_import(database_url, tmp_path, text, "--report", str(tmp_path / "report.csv"))
    assert ran.exit_code == 1
    assert "1 rejected: email: Not a valid email address. (lines 638)" in ran.output
    assert "secret" not in ran.output and "Hidden" not in ran.output
    assert count(conn, "customers") == 0
    assert (tmp_path / "report.csv").read_text() == "line,reason\n638,email: Not a valid email address.\n"
    ran = run_import(database_url, tmp_path, text, "--skip-invalid")
    assert ran.exit_code == 0, ran.output
    assert "1000 rows: imported 999 (999 new, 0 updated), rejected 1" in ran.output
    assert count(conn, "customers") == 999


def test_every_kind_of_bad_row_is_reported_by_line_and_reason(database_url, tmp_path, catalogues, conn, spi):
    spi.post("/customers", json={"member_number": "7000", "email": "taken@example.com",
                                 "additional_options": [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}]})
    rows = [
        ",8001,,a@example.com,,,,,,,,,,,new-york-rangers,,,,,",        # 2: good
        ",8002,,a@example.com,,,,,,,,,,,new-york-rangers,,,,,",        # 3: the email of line 2
        ",8003,,taken@example.com,,,,,,,,,,,new-york-rangers,,,,,",    # 4: a customer's email
        ",8004,,,,,,12345,,,,,,,new-york-rangers,,,,,",                # 5: no phone number
        ",8005,,,,,,,,,,,,,,,,,,",                                     # 6: the required option
        ",8006,,,,,,,,,,,,ann@example.com,new-york-rangers,,,,,",      # 7: a consent nobody offers
        ",8007,,,,,,,,,,,,,new-york-rangers,purple,x,,,",              # 8: a status colour
        ",8008,yesterday,,,,,,,,,,,,new-york-rangers,,,,,",            # 9: created
        ",8009,,,,,,,,,,,,,new-york-rangers,,,,,-5",                   # 10: points
        ",8010,too,few,cells",                                          # 11
        ",8001,,b@example.com,,,,,,,,,,,new-york-rangers,,,,,",        # 12: the member number of line 2
    ]
    ran = run_import(database_url, tmp_path, csv_text(*rows), "--report", str(tmp_path / "report.csv"))
    assert ran.exit_code == 1
    report = dict(csv.reader(io.StringIO((tmp_path / "report.csv").read_text())))
    assert report.pop("line") == "reason"
    assert report == {
        "3": "email: an earlier row of the file has this email",
        "4": "email: another customer has this email",
        "5": "mobile: Not a valid phone number.",
        "6": "additional_options: required option fav-nhl-team has no value.",
        "7": "consents: a consent id the catalogue does not offer.",
        "8": "status.color: Must be one of: red, orange, green.",
        "9": "created: Not a valid date and time (ISO 8601).",
        "10": "bonus_points: Must be a whole number of points from 0 to 2147483647.",
        "11": "5 cells, and the header has 20 columns",
        "12": "member_number: an earlier row of the file has this member number",
    }
    assert "ann@example.com" not in ran.output and "ann@example.com" not in (tmp_path / "report.csv").read_text()
    assert count(conn, "customers") == 1


def test_a_row_with_a_customers_member_number_updates_only_the_files_columns(database_url, tmp_path, catalogues,
                                                                             spi):
    cid = spi.post("/customers", json={
        "member_number": "9002", "email": "bob@example.com", "name_last": "Kept",
        "additional_options": [{"id": "fav-nhl-team", "enum_values": ["new-york-rangers"]}]}).json["customer_id"]
    ran = run_import(database_url, tmp_path, csv_text("9002,Robert,", header="member_number,name_first,email"))
    assert ran.exit_code == 0, ran.output
    assert "imported 1 (0 new, 1 updated)" in ran.output
    bob = spi.get(f"/customers/{cid}").json
    assert bob["name_first"] == "Robert" and bob["name_last"] == "Kept" and "email" not in bob
    ran = run_import(database_url, tmp_path, csv_text("9002,Rob", header="member_number,name_first"), "--no-update")
    assert ran.exit_code == 1 and "member_number: a customer has this member number or id (and --no-update)" in ran.output
    assert spi.get(f"/customers/{cid}").json["name_first"] == "Robert"


def test_dry_run_reports_and_writes_nothing(database_url, tmp_path, catalogues, conn):
    ran = run_import(database_url, tmp_path, csv_text(*ROWS), "--dry-run")
    assert ran.exit_code == 0, ran.output
    assert "3 rows: would import 3 (3 new, 0 updated), rejected 0" in ran.output
    assert count(conn, "customers") == count(conn, "customer_aliases") == count(conn, "points_ledger") == 0


def test_an_erasure_holds_against_a_reimport_of_the_erased_customers_row(database_url, tmp_path, catalogues, admin,
                                                                        spi):
    assert run_import(database_url, tmp_path, csv_text(*ROWS)).exit_code == 0
    cid = spi.get("/customers/old-17").json["customer_id"]
    assert admin.post(f"/admin/customers/{cid}/erase").status_code == 200
    ran = run_import(database_url, tmp_path, csv_text(ROWS[0]))
    assert ran.exit_code == 1
    assert "customer_id: this customer was erased, and an erasure holds against a re-import (lines 2)" in ran.output
    assert spi.get("/customers", query_string={"key": "9001", "key_type": "member_number"}).json == []


def test_a_header_with_an_unknown_column_is_refused_before_any_row(database_url, tmp_path, catalogues, conn):
    ran = run_import(database_url, tmp_path, csv_text("x,y", header="member_number,nmae_first"))
    assert ran.exit_code == 1 and "unknown columns 'nmae_first'" in ran.output
    ran = run_import(database_url, tmp_path, csv_text("x", header="option:no-such-option"))
    assert ran.exit_code == 1 and "unknown columns 'option:no-such-option'" in ran.output
    assert count(conn, "customers") == 0


def test_an_old_crm_id_resolves_for_the_events_area(database_url, tmp_path, catalogues, conn):
    from crm_provider.events import service as events

    assert run_import(database_url, tmp_path, csv_text(*ROWS)).exit_code == 0
    cid = conn.execute("SELECT customer_id FROM customers WHERE member_number = '9001'").fetchone()["customer_id"]
    order = {"orderid": 1, "additionaldata": {"crm-customerid": "old-17"}}
    assert events.resolve_customer(conn, order) == (cid, None)


def test_export_then_import_into_an_empty_database_then_export_gives_the_same_file(
        database_url, tmp_path, catalogues, spi, admin, conn, data_tables):
    assert run_import(database_url, tmp_path, csv_text(*ROWS)).exit_code == 0
    posted = spi.post("/customers", json={"name_first": "Posted", "phone": "08-123 45 67", "delivery_address": {
        "address": "Box 1", "country_id": "SE"}, "additional_options": [{"id": "fav-nhl-team", "enum_values": [
            "toronto-maple-leafs"]}], "company": "Åke's, \"quoted\" | piped \\ back", "company_id": "556677-8899",
        "name_last": "Two\nlines", "accepts_communication": ["mail"]})
    assert posted.status_code == 201, posted.json
    first = run(database_url, "export", "--output", str(tmp_path / "first.csv"))
    assert first.exit_code == 0, first.output
    assert "customers exported: 4" in first.output
    exported = (tmp_path / "first.csv").read_text(encoding="utf-8")
    assert exported.splitlines()[0].startswith("customer_id,aliases,member_number,created,")
    conn.execute(f"TRUNCATE {', '.join(data_tables)} RESTART IDENTITY CASCADE")
    assert admin.put("/admin/consents", json=EXAMPLES["Get Consents"]["response"]).status_code == 200
    assert admin.put("/admin/additional-options", json=EXAMPLES["Get Additional Options"]["response"]).status_code == 200
    ran = run_import(database_url, tmp_path, exported)
    assert ran.exit_code == 0, ran.output
    assert run(database_url, "export", "--output", str(tmp_path / "second.csv")).exit_code == 0
    assert (tmp_path / "second.csv").read_text(encoding="utf-8") == exported
    # JSON lines: the same columns, lists as arrays, points as numbers
    lines = run(database_url, "export", "--format", "jsonl").stdout.splitlines()
    ada = next(json.loads(line) for line in lines if '"9001"' in line)
    assert ada["aliases"] == ["old-17"] and ada["bonus_points"] == 2451 and ada["consents"] == ["consent_personal_offers"]
    assert ada["option:fav-nhl-team"] == "new-york-rangers" and ada["invoice_address.city"] == "London"



def test_batches_checked_by_worker_processes_find_what_one_batch_finds(database_url, catalogues, app):
    """The file in batches of three rows, checked by two processes: a key an earlier batch's row has is
    refused on the later row as within one batch, and the good rows are the same."""
    from crm_provider import db
    from crm_provider.customers import transfer

    rows = [f",{9100 + n},,p{n}@example.com,,,,,,,,,,,new-york-rangers,,,,," for n in range(8)]
    rows.append(",9101,,other@example.com,,,,,,,,,,,new-york-rangers,,,,,")   # 10: line 3's member number
    rows.append(",9200,,p2@example.com,,,,,,,,,,,new-york-rangers,,,,,")      # 11: line 4's email
    rows.append(f"{ROWS[2].split(',')[0]},9300,,,,,,,,,,,,,new-york-rangers,,,,,")
    rows.append(f"{ROWS[2].split(',')[0]},9301,,,,,,,,,,,,,new-york-rangers,,,,,")  # 13: line 12's id
    text = csv_text(*rows)

    def imported(**options):
        reported = []
        with app.app_context(), db.connect(database_url) as conn:
            result = transfer.import_file(conn, io.StringIO(text), "SE", member_number_digits=10, skip_invalid=True,
                                          dry_run=True, report=lambda found: reported.extend(found), **options)
        return (result.created, result.rejected), reported

    alone = imported()
    assert alone == ((9, 3), [(10, "member_number: an earlier row of the file has this member number"),
                              (11, "email: an earlier row of the file has this email"),
                              (13, "customer_id: an earlier row of the file has this id")])
    assert imported(batch_rows=3, workers=2) == alone


def test_a_personal_id_a_customer_holds_in_plain_is_refused_to_a_sealed_row(database_url, tmp_path, catalogues,
                                                                               conn):
    """The release in between: a customer stored before personal ids were sealed holds one in plain until
    `keys rotate` seals it. An import, which seals its rows, must still find it taken."""
    conn.execute("INSERT INTO customers (member_number, name_first, personal_id, personal_id_norm) "
                 "VALUES ('7777', 'Plain', '181512101234', '181512101234')")
    ran = run_import(database_url, tmp_path, csv_text(
        ",8001,,,,,18151210-1234,,,,,,,,new-york-rangers,,,,,"), "--report", str(tmp_path / "report.csv"))
    assert ran.exit_code == 1, ran.output
    assert "personal_id: another customer has this personal id" in (tmp_path / "report.csv").read_text()
    assert count(conn, "customers") == 1
