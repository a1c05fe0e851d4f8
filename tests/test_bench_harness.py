"""The benchmark harness (bench/, issue 7) at test size, so that it cannot rot: the seeded keys are the ones
the service would store, every operation answers correctly under load with either driver, and a run
with errors is flagged. Never how fast: speed is what `make bench` reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from conftest import ADMIN_PASSWORD, ADMIN_USER, SPI_PASSWORD, SPI_USER, basic
from crm_provider import keys

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # bench/ is a folder of the repository, not part of the installed package

from bench import drivers, run, seed, servers  # noqa: E402
from bench.operations import BASELINE, FLOOR, OPERATIONS  # noqa: E402

SIZE = 2000


@pytest.fixture
def seeded(database_url, tmp_path):
    return seed.seed(database_url, SIZE, tmp_path / "keys")


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    """The service as the bench starts it (its log goes to a file: a pipe nobody reads fills up under load)."""
    log = tmp_path_factory.mktemp("bench-server") / "service.log"
    with servers.service(database_url, f"{SPI_USER}:{SPI_PASSWORD}", f"{ADMIN_USER}:{ADMIN_PASSWORD}", log) as server:
        yield server


def test_seeded_keys_are_stored_as_the_service_normalises_them(seeded, conn):
    assert seeded.rows["customers"] == SIZE
    assert all(seeded.rows.values()), seeded.rows  # every table has rows
    customers = conn.execute(
        "SELECT member_number, email, email_norm, mobile, personal_id, personal_id_norm, company_id, company_id_norm "
        "FROM customers").fetchall()
    assert len({c["member_number"] for c in customers}) == SIZE
    for c in customers:
        assert c["email_norm"] == (keys.email(c["email"]) if c["email"] else None)
        assert c["mobile"] is None or keys.phone(c["mobile"], "SE") == c["mobile"]
        assert c["personal_id_norm"] == (keys.identifier(c["personal_id"]) if c["personal_id"] else None)
        assert c["company_id_norm"] == (keys.identifier(c["company_id"]) if c["company_id"] else None)
    member_numbers = {c["member_number"] for c in customers}
    lines = (seeded.keys_dir / "member_number.txt").read_text().split()
    assert len(lines) == SIZE and set(lines) == member_numbers  # below 50,000 customers, every one is a key
    for name in seed.KEY_FILES:
        assert (seeded.keys_dir / f"{name}.txt").read_text().strip(), f"{name}.txt is empty"


def test_every_operation_answers_correctly_under_load_with_the_python_driver(seeded, server):
    paths = requests.get(server.base_url + "/openapi.json", timeout=10).json()["paths"]
    authorization = basic(SPI_USER, SPI_PASSWORD)["Authorization"]
    measured = []
    for operation in OPERATIONS:
        if not operation.available(paths):
            continue  # a route not built yet: the harness reports it as not available
        result = drivers.PythonDriver().run(
            drivers.Run(operation, server.base_url, 2, 0.5, seeded.keys_dir, authorization))
        assert result.requests > 0 and not result.flagged, (operation.name, result)
        measured.append(operation.name)
    assert "search member_number" in measured and "get" in measured


def test_a_run_with_errors_is_flagged_and_reported(server, tmp_path):
    (tmp_path / "customer_id.txt").write_text(f"{uuid.uuid4()}\n")  # nobody has this id: every answer is a 404
    get = next(op for op in OPERATIONS if op.name == "get")
    authorization = basic(SPI_USER, SPI_PASSWORD)["Authorization"]
    result = drivers.PythonDriver().run(drivers.Run(get, server.base_url, 1, 0.3, tmp_path, authorization))
    assert result.requests > 0 and result.non_2xx == result.requests == result.unexpected
    assert result.flagged and result.sample.startswith("404")

    meta = {"date": "today", "commit": "abc", "machine": run.machine(), "postgres": "18", "database": "test",
            "gunicorn": "2 workers", "rate_limit": "off", "driver": "python", "duration": 1, "warmup": 0,
            "sizes": [SIZE],
            "connections": [1], "seeding": {str(SIZE): {"seconds": 1.0}}}
    baseline = drivers.Result(BASELINE.name, 1, "python", requests=100, seconds=1.0, p50_ms=1.0, p99_ms=2.0)
    missing = drivers.Result("transactions", 1, "python", available=False)
    report = run.render(meta, [{"size": SIZE, **r.as_dict()} for r in (baseline, result, missing)])
    assert "| get | 1 |" in report and "**ERRORS**" in report and "## Errors" in report
    assert "| transactions | 1 | not available |" in report


def test_the_harness_measures_every_operation_end_to_end(database_url, tmp_path):
    """`python -m bench` as make bench runs it, at test size: wrk when installed, else the Python driver."""
    output, results = tmp_path / "results.md", tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--sizes", str(SIZE), "--connections", "4", "--duration", "1", "--warmup", "0",
         "--no-install", "--empty-database", "--work-dir", str(tmp_path / "work"), "--output", str(output),
         "--json", str(results)],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(results.read_text())["results"]
    assert {r["operation"] for r in rows} == {BASELINE.name, FLOOR.name, *(op.name for op in OPERATIONS)}
    for r in rows:
        assert not r["flagged"], r
        assert r["requests"] > 0 or not r["available"], r
        if r["available"]:  # CPU per request of the server and the driver; not of a database it cannot see
            assert r["cpu_us_server"] > 0 and r["cpu_us_driver"] > 0 and r["cpu_us_postgres"] is None, r
    report = output.read_text()
    assert f"## {SIZE:,} customers" in report and "| baseline (bare Flask) | 4 |" in report


def test_the_report_compares_searches_between_the_smallest_and_the_largest_size():
    """The 10% target is checked on the `× baseline` ratios: the baseline is measured again with each size."""
    meta = {"date": "today", "commit": "abc", "machine": run.machine(), "postgres": "18", "database": "test",
            "gunicorn": "2 workers", "rate_limit": "off", "driver": "wrk", "duration": 10, "warmup": 2,
            "sizes": [100_000, 1_000_000], "connections": [16],
            "seeding": {"100000": {"seconds": 5.0}, "1000000": {"seconds": 60.0}}}

    def row(size, name, rps):
        return {"size": size, **drivers.Result(name, 16, "wrk", requests=int(rps * 10), seconds=10.0,
                                               p50_ms=1.0, p99_ms=2.0).as_dict()}

    rows = [row(100_000, BASELINE.name, 1000), row(100_000, "search email", 500), row(100_000, "search mobile", 500),
            # the baseline itself drifted down by 20%: email held its ratio, mobile lost more than 10% of it
            row(1_000_000, BASELINE.name, 800), row(1_000_000, "search email", 400),
            row(1_000_000, "search mobile", 340)]
    report = run.render(meta, rows)
    assert "## Searches: 1,000,000 against 100,000 customers" in report
    assert "| search email | 16 | 500 | 400 | 0.80 | 0.50 | 0.50 | 1.00 | yes |" in report
    assert "| search mobile | 16 | 500 | 340 | 0.68 | 0.50 | 0.42 | 0.85 | **no** |" in report
