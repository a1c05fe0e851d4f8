"""Old code against new: the service at another git revision and the service of this working tree, served side
by side on one seeded database and measured interleaved, so that both see the same machine at the same time.

    python -m bench.compare --rev HEAD~5 [--size 100000] [--rounds 5] [--duration 5] [--connections 16]
                            [--in-process 3000]

Both run exactly as production does (gunicorn, crm_provider/gunicorn_conf.py of their own revision, the
environment's defaults: the Purchases section on). The database is migrated by this tree; the other revision
must read this schema, as every release reads the schema of the next (migrations stay backward compatible).
Each round measures every operation on the old server, then on the new one, then the next operation, and the
order of the two flips every round. The figure is, per operation, the median over the rounds of new ÷ old
requests/s. Results go to bench/results-compare.md.

The same revision twice with different settings compares configurations: `--rev HEAD --new-rev HEAD
--old-env CRM_SECTIONS_PROVIDERS=purchases --new-env CRM_SECTIONS_PROVIDERS=purchases,program --program` is
the customer read with the loyalty program's card against the read without it (`--program` sets the demo
program and gives every seeded customer a points balance).

On a shared machine one round of wrk can move by a fifth either way. Two steadier measures go with it:

- the CPU per request of each round: the server's processes and PostgreSQL's (the postmaster and its
  backends) while its load ran, over the requests answered. On a machine where the load is CPU-bound, req/s
  is the cores over this, less whatever else the machine does at that moment;
- `--in-process N`: each round, a process of each revision (in flipped order) makes N requests of each
  operation one after another through Flask's test client against the same database, and reports its own CPU
  time, PostgreSQL's, and the wall time per request: the service's Python work, the database's, and both with
  the round trips, without HTTP, the driver or the other server competing for the cores.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from psycopg.types.json import Jsonb

from crm_provider import db, migrate
from crm_provider.demo import PROGRAM

from . import drivers, seed, servers
from .operations import OPERATIONS
from .run import ADMIN_USERS, ROOT, SPI_PASSWORD, SPI_USER, commit, machine

DEFAULT_OPERATIONS = "search member_number,search mobile,search email,search personal_id,search company_id,get"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", required=True, help="the git revision to compare this working tree with")
    parser.add_argument("--new-rev", help="compare with this revision instead of the working tree (so that the "
                                          "tree can change while the bench runs)")
    parser.add_argument("--size", type=int, default=100_000, help="customers to seed (default 100000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds before each (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--operations", default=DEFAULT_OPERATIONS, help=f"comma-separated (default {DEFAULT_OPERATIONS})")
    parser.add_argument("--driver", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--old-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable of the old side's processes (repeatable)")
    parser.add_argument("--new-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable of the new side's processes (repeatable)")
    parser.add_argument("--program", action="store_true",
                        help="set the demo loyalty program and give every customer a points balance")
    parser.add_argument("--workshop", action="store_true",
                        help="give every 10th customer an open Sitoo service order and every 20th a Shopmonkey "
                             "work order (the workshop's sections, docs/workshop.md)")
    parser.add_argument("--plain-personal-ids", action="store_true",
                        help="seed the personal ids in plain, for an old revision from before migration 0012")
    parser.add_argument("--in-process", type=int, default=0, metavar="N",
                        help="also N requests per operation and round through the test client (default: none)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results-compare.md")
    return parser.parse_args(argv)


def export(rev: str, into: Path) -> str:
    """The package `crm_provider` as it is at `rev`, written into `into`; the revision's short hash."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "crm_provider"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def _env(pairs: list[str]) -> dict:
    found = dict(pair.split("=", 1) for pair in pairs)
    if any(not name for name in found):
        raise SystemExit("an --old-env/--new-env is NAME=VALUE")
    return found


def service(source: Path, url: str, log: Path, extra: dict) -> servers.Server:
    """gunicorn serving crm_provider from `source` (a checkout's root): its code, its gunicorn settings."""
    env = {"DATABASE_URL": url, "CRM_SPI_USERS": f"{SPI_USER}:{SPI_PASSWORD}", "CRM_ADMIN_USERS": ADMIN_USERS,
           "CRM_RATE_LIMIT": servers.RATE_LIMIT, "PYTHONPATH": str(source), **extra}
    command = [sys.executable, "-m", "gunicorn", "-c", "python:crm_provider.gunicorn_conf", "crm_provider.wsgi:app"]
    return servers.Server(command, env, "/openapi.json", log, cwd=source)


# Run by `python -c` in a process of either revision: N requests of each operation through the test client.
IN_PROCESS = """
import base64, json, os, sys, time
import psutil
from crm_provider.app import create_app
from crm_provider.config import Settings
app = create_app(Settings.from_env())
client = app.test_client()
headers = {"Authorization": "Basic " + base64.b64encode(os.environ["BENCH_CREDENTIAL"].encode()).decode()}
n, out = int(os.environ["BENCH_N"]), {}
postmaster = psutil.Process(int(os.environ["BENCH_POSTMASTER"]))
def database_cpu():
    total = 0.0
    for process in [postmaster, *postmaster.children()]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total
for name, path, keys_file in json.loads(os.environ["BENCH_OPERATIONS"]):
    keys = [line.strip() for line in open(keys_file) if line.strip()]
    for i in range(200):
        client.get(path.format(key=keys[-1 - i % len(keys)]), headers=headers)
    wall, cpu, database = time.perf_counter(), time.process_time(), database_cpu()
    for i in range(n):
        response = client.get(path.format(key=keys[i % len(keys)]), headers=headers)
        assert response.status_code == 200, response.status_code
    out[name] = {"wall_us": (time.perf_counter() - wall) / n * 1e6, "cpu_us": (time.process_time() - cpu) / n * 1e6,
                 "db_us": (database_cpu() - database) / n * 1e6}
print(json.dumps(out))
"""
PATHS = {"get": "/customers/{key}", **{f"search {k}": f"/customers?key_type={k}&key={{key}}" for k in
                                         ("member_number", "mobile", "email", "personal_id", "company_id")}}


def in_process(source: Path, url: str, operations, keys_dir: Path, n: int, extra: dict, postmaster: int) -> dict:
    env = {**os.environ, **extra, "DATABASE_URL": url, "BENCH_POSTMASTER": str(postmaster), "CRM_SPI_USERS": f"{SPI_USER}:{SPI_PASSWORD}", "CRM_RATE_LIMIT":
           servers.RATE_LIMIT, "PYTHONPATH": str(source), "LOG_LEVEL": "WARNING", "BENCH_N": str(n),
           "BENCH_CREDENTIAL": f"{SPI_USER}:{SPI_PASSWORD}", "BENCH_OPERATIONS": json.dumps(
               [(op.name, PATHS[op.name], str(keys_dir / f"{op.keys}.txt")) for op in operations])}
    done = subprocess.run([sys.executable, "-c", IN_PROCESS], cwd=source, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"in-process run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    args = parse_args(argv)
    wanted = [name.strip() for name in args.operations.split(",") if name.strip()]
    operations = [op for op in OPERATIONS if op.name in wanted]
    if len(operations) != len(wanted):
        raise SystemExit(f"unknown operation in --operations; they are: {', '.join(op.name for op in OPERATIONS)}")
    driver = drivers.choose(args.driver, install=True)
    load_at_start = machine()["load_average"]
    work_dir = Path(tempfile.mkdtemp(prefix="crm-compare-"))
    atexit.register(shutil.rmtree, work_dir, True)
    old_hash = export(args.rev, work_dir / "old")
    new_source, new_label = ROOT, f"the working tree at {commit()}"
    if args.new_rev:
        new_source = work_dir / "new"
        new_label = f"{args.new_rev} ({export(args.new_rev, new_source)})"
    url = db.start_embedded(work_dir / "postgres")
    postmaster = servers.postmaster_pid(work_dir / "postgres" / "pgdata")
    migrate.upgrade(url)
    print(f"seeding {args.size:,} customers ...", flush=True)
    seeded = seed.seed(url, args.size, work_dir / "keys", plain=args.plain_personal_ids)
    if args.program:
        with db.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO program_versions (document, set_by) VALUES (%s, 'bench')", [Jsonb(PROGRAM)])
            conn.execute("INSERT INTO points_accounts (customer_id, balance) "
                         "SELECT customer_id, (random() * 3000)::int FROM customers")
            conn.execute("VACUUM ANALYZE points_accounts")
    if args.workshop:
        with db.connect(url, autocommit=True) as conn:
            conn.execute(WORKSHOP_SEED)
            conn.execute("VACUUM ANALYZE sitoo_service_orders, shopmonkey_orders")
    old_env, new_env = _env(args.old_env), _env(args.new_env)
    authorization = "Basic " + base64.b64encode(f"{SPI_USER}:{SPI_PASSWORD}".encode()).decode()
    ratios: dict[str, list[float]] = {op.name: [] for op in operations}
    cpu_ratios: dict[str, list[float]] = {op.name: [] for op in operations}
    rows = []
    with service(work_dir / "old", url, work_dir / "old.log", old_env) as old, \
            service(new_source, url, work_dir / "new.log", new_env) as new:
        for round_number in range(args.rounds):
            order = [("old", old), ("new", new)] if round_number % 2 == 0 else [("new", new), ("old", old)]
            for operation in operations:
                rps, cpu = {}, {}
                for label, server in order:
                    run = drivers.Run(operation, server.base_url, args.connections, args.duration, seeded.keys_dir,
                                      authorization)
                    if args.warmup:
                        driver.run(drivers.Run(operation, server.base_url, args.connections, args.warmup,
                                               seeded.keys_dir, authorization))
                    before = server.cpu_seconds() + servers.process_tree_cpu(postmaster)
                    result = driver.run(run)
                    if result.flagged:
                        raise SystemExit(f"{label} {operation.name}: {result.errors} errors, e.g. {result.sample}")
                    rps[label] = result.rps
                    cpu[label] = (server.cpu_seconds() + servers.process_tree_cpu(postmaster) - before) \
                        / max(result.requests, 1) * 1e6
                ratio = rps["new"] / rps["old"]
                ratios[operation.name].append(ratio)
                cpu_ratios[operation.name].append(cpu["old"] / cpu["new"])
                rows.append((round_number + 1, operation.name, rps["old"], rps["new"], ratio, cpu["old"], cpu["new"]))
                print(f"  round {round_number + 1} {operation.name:<22} old {rps['old']:7.1f}  new {rps['new']:7.1f}"
                      f"  new/old {ratio:.3f}  CPU µs/request old {cpu['old']:.0f} new {cpu['new']:.0f}", flush=True)
    steady = []
    for round_number in range(args.rounds if args.in_process else 0):
        sources = [("old", work_dir / "old", old_env), ("new", new_source, new_env)]
        measured = {label: in_process(source, url, operations, seeded.keys_dir, args.in_process, extra, postmaster)
                    for label, source, extra in (sources if round_number % 2 == 0 else sources[::-1])}
        steady.append(measured)
        for name in ratios:
            old_run, new_run = measured["old"][name], measured["new"][name]
            print(f"  in process, round {round_number + 1} {name:<22} cpu µs old {old_run['cpu_us']:6.0f} new "
                  f"{new_run['cpu_us']:6.0f}  database µs old {old_run['db_us']:6.0f} new {new_run['db_us']:6.0f}  wall µs old {old_run['wall_us']:6.0f} new {new_run['wall_us']:6.0f}",
                  flush=True)
    report = render(args, driver, old_hash, new_label, seeded, ratios, cpu_ratios, rows, steady, load_at_start)
    args.output.write_text(report, encoding="utf-8")
    print("\n" + report + f"\n(written to {args.output})")
    return 0


# The workshop's sections as the sweep and the Shopmonkey events store them (workshop/service.py).
WORKSHOP_SEED = """
WITH numbered AS (SELECT customer_id, row_number() OVER (ORDER BY customer_id) AS n FROM customers),
sitoo AS (
    INSERT INTO sitoo_service_orders (service_order_id, revision, state, customer_id, store_id, created,
                                      card_value, last_sweep)
    SELECT 'SO' || n, 1, 'service_done', customer_id, 'STORE111', now(),
           '{"type": "text", "title": "Barlay Shoe: Replace heel, Polish Shoes", "text": "Service done"}', 1
    FROM numbered WHERE n % 10 = 0
)
INSERT INTO shopmonkey_orders (order_id, customer_id, section)
SELECT 'WO' || n, customer_id,
       '{"title": "Workshop", "values": [{"type": "text", "title": "Replace brakes", "text": "Authorized · Completed"},
         {"type": "money", "title": "Total SEK", "value": "1250.50"}]}'
FROM numbered WHERE n % 20 = 0
"""


def render(args, driver, old_hash: str, new_label: str, seeded, ratios: dict[str, list[float]],
           cpu_ratios: dict[str, list[float]], rows: list[tuple], steady: list[dict], load_at_start: list[float]) -> str:
    host = machine()
    lines = [
        "# crm-provider: old code against new, interleaved",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} · old: {args.rev} ({old_hash}) "
        f"{' '.join(args.old_env)} · new: {new_label} {' '.join(args.new_env)}"
        + (" · the demo program, every customer with a points balance" if args.program else "")
        + (" · every 10th customer with a service order, every 20th with a work order" if args.workshop else ""),
        f"- machine: {host['nproc']} CPUs ({host['cpu']}), load average at start {' / '.join(map(str, load_at_start))}",
        f"- {args.size:,} customers (seeded in {seeded.seconds:.1f} s); {args.connections} connections; "
        f"{args.rounds} rounds of {args.duration} s per operation and server after {args.warmup} s of warm-up; "
        f"driver: {driver.version}",
        "",
        "Requests/s new ÷ old, and CPU per request (server and PostgreSQL) old ÷ new, so that above 1 is new "
        "faster for both:",
        "",
        "| operation | req/s: median new ÷ old | min | max | CPU/request: median old ÷ new | min | max |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, values in ratios.items():
        cpu = cpu_ratios[name]
        lines.append(f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} "
                     f"| {statistics.median(cpu):.3f} | {min(cpu):.3f} | {max(cpu):.3f} |")
    if steady:
        lines += ["", f"In process ({args.in_process} requests per operation and round, one after another, through the "
                  "test client; medians over the rounds; old ÷ new of the time per request, so that above 1 is new "
                  "faster, as for req/s):", "",
                  "| operation | service CPU µs/request old · new | database CPU µs/request old · new "
                  "| old ÷ new (both CPUs) | wall µs/request old · new | old ÷ new (wall) |",
                  "|---|--:|--:|--:|--:|--:|"]
        for name in ratios:
            def median(side, measure):
                return statistics.median(r[side][name][measure] for r in steady)
            both = statistics.median((r["old"][name]["cpu_us"] + r["old"][name]["db_us"])
                                     / (r["new"][name]["cpu_us"] + r["new"][name]["db_us"]) for r in steady)
            wall = statistics.median(r["old"][name]["wall_us"] / r["new"][name]["wall_us"] for r in steady)
            lines.append(
                f"| {name} | {median('old', 'cpu_us'):.0f} · {median('new', 'cpu_us'):.0f} "
                f"| {median('old', 'db_us'):.0f} · {median('new', 'db_us'):.0f} | {both:.3f} "
                f"| {median('old', 'wall_us'):.0f} · {median('new', 'wall_us'):.0f} | {wall:.3f} |")
    lines += ["", "| round | operation | old req/s | new req/s | new ÷ old | CPU µs/request old · new |",
              "|--:|---|--:|--:|--:|--:|"]
    lines += [f"| {n} | {name} | {o:.1f} | {w:.1f} | {r:.3f} | {co:.0f} · {cn:.0f} |"
              for n, name, o, w, r, co, cn in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
