"""Load drivers: wrk (with the Lua scripts of bench/lua/) when it is installed, otherwise a small Python
load generator with the same requests (operations.py). Both answer a `Result`.

Both run one connection per thread, so a redeem and its undo follow each other on one connection. The
Python driver is there so the harness runs anywhere (the regression test uses it when wrk is missing);
its own CPU use on a 2-core machine makes its figures lower than wrk's, and the report names the driver.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

from .operations import Operation

LUA_DIR = Path(__file__).resolve().parent / "lua"
REQUEST_TIMEOUT = 10  # seconds; wrk's --timeout too


@dataclass
class Result:
    operation: str
    connections: int
    driver: str
    available: bool = True
    requests: int = 0
    seconds: float = 0.0
    non_2xx: int = 0  # statuses >= 400 (wrk's "Non-2xx or 3xx responses")
    socket_errors: int = 0  # connect, read, write errors and timeouts
    unexpected: int = 0  # answers that are not what the operation expects (operations.py, lua/)
    p50_ms: float | None = None
    p99_ms: float | None = None
    sample: str = ""  # the first unexpected answer
    worker_rss_mb: list[float] = field(default_factory=list)  # after the measurement
    worker_restarts: int = 0  # workers replaced during it (gunicorn's max_requests)
    # CPU microseconds per request during the measurement, of the server's processes, of PostgreSQL's (None
    # when the database is not local), and of the driver: on a CPU-bound machine these, not requests/s,
    # say where the time goes, and they drift less between runs.
    cpu_us_server: float | None = None
    cpu_us_postgres: float | None = None
    cpu_us_driver: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors + self.unexpected

    @property
    def flagged(self) -> bool:
        return self.available and (self.errors > 0 or self.requests == 0)

    def as_dict(self) -> dict:
        return {**asdict(self), "rps": self.rps, "errors": self.errors, "flagged": self.flagged}


@dataclass
class Run:
    """One measurement: what to run, against what, how long."""

    operation: Operation
    base_url: str
    connections: int
    seconds: float  # wrk takes whole seconds (at least 1)
    keys_dir: Path
    authorization: str  # the Authorization header
    seed: int = 1
    base: int = 0  # first number for unique keys (create)
    share: tuple[int, int] = (0, 1)  # (round, rounds): for partitioned keys, the runs' disjoint shares

    def keys_file(self) -> Path | None:
        return self.keys_dir / f"{self.operation.keys}.txt" if self.operation.keys else None


class WrkDriver:
    name = "wrk"

    def __init__(self, executable: str):
        self.executable = executable
        probe = subprocess.run([executable, "-v"], capture_output=True, text=True)
        found = re.search(r"wrk \S+", probe.stdout + probe.stderr)
        self.version = found.group(0) if found else "wrk"

    def run(self, run: Run) -> Result:
        op, c = run.operation, run.connections
        keys = run.keys_file()
        command = [
            self.executable, "-t", str(c), "-c", str(c), "-d", f"{max(1, round(run.seconds))}s",
            "--timeout", f"{REQUEST_TIMEOUT}s",
            "-s", str(LUA_DIR / op.script), run.base_url, "--",
            str(keys) if keys else "-", str(c), str(run.seed), *op.args,
            *([str(run.base)] if op.numbered else []), *(map(str, run.share) if op.partition else []),
        ]
        done = subprocess.run(command, cwd=LUA_DIR, capture_output=True, text=True, timeout=run.seconds + 60,
                              env={**os.environ, "BENCH_AUTHORIZATION": run.authorization})
        found = re.search(r"^BENCH-RESULT (\{.*\})$", done.stdout, re.MULTILINE)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        summary = json.loads(found.group(1))
        sample = re.search(r"^BENCH-SAMPLE ?(.*)$", done.stdout, re.MULTILINE)
        return Result(
            op.name, c, self.version, requests=summary["requests"], seconds=summary["duration_us"] / 1e6,
            non_2xx=summary["non_2xx"], socket_errors=summary["socket_errors"], unexpected=summary["unexpected"],
            p50_ms=summary["p50_us"] / 1000, p99_ms=summary["p99_us"] / 1000,
            sample=sample.group(1).strip() if sample else "",
        )


class Worker:
    """One thread of the Python driver: one connection (a requests Session), its keys, its counters."""

    def __init__(self, run: Run, keys: list[str], thread_id: int):
        self.base_url = run.base_url
        self.keys = keys
        self.thread_id = thread_id
        self.threads = run.connections
        self.base = run.base
        self.rng = random.Random(run.seed * 1000 + thread_id)
        self.session = requests.Session()
        self.session.headers.update({"Authorization": run.authorization, "Store-ID": "100", "Staff-ID": "bench",
                                     "Register-ID": f"till-{thread_id}"})
        self.count = 0
        self.latencies: list[float] = []
        self.non_2xx = self.socket_errors = self.unexpected = 0
        self.sample = ""

    def pick(self) -> str:
        return self.keys[int(self.rng.random() * len(self.keys))]

    def send(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        data = None if body is None else json.dumps(body)
        headers = None if body is None else {"Content-Type": "application/json"}
        started = time.perf_counter()
        response = self.session.request(method, self.base_url + path, data=data, headers=headers,
                                        timeout=REQUEST_TIMEOUT)
        self.latencies.append(time.perf_counter() - started)
        if response.status_code >= 400:
            self.non_2xx += 1
        return response

    def expect(self, ok: bool, response: requests.Response) -> None:
        if not ok:
            self.unexpected += 1
            if not self.sample:
                self.sample = f"{response.status_code} {response.text[:300]}".replace("\n", " ")


class PythonDriver:
    name = "python"
    version = "python (threads + requests)"

    def run(self, run: Run) -> Result:
        op = run.operation
        keys_file = run.keys_file()
        keys = keys_file.read_text(encoding="utf-8").splitlines() if keys_file else []
        if op.keys and not keys:
            raise RuntimeError(f"no keys in {keys_file}")
        round_, rounds = run.share  # runs first, then threads: runs of other thread counts never share a key
        mine = keys[round_::rounds]
        shares = [mine[i::run.connections] if op.partition else keys for i in range(run.connections)]
        workers = [Worker(run, shares[i], i) for i in range(run.connections)]
        deadline = time.monotonic() + run.seconds

        def loop(worker: Worker) -> None:
            while time.monotonic() < deadline:
                try:
                    op.step(worker)
                except requests.RequestException as error:
                    worker.socket_errors += 1
                    worker.sample = worker.sample or f"{type(error).__name__}: {error}"
            worker.session.close()

        threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in workers]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(run.seconds + 2 * REQUEST_TIMEOUT)
        seconds = time.monotonic() - started
        latencies = sorted(t for w in workers for t in w.latencies)
        return Result(
            op.name, run.connections, self.version, requests=len(latencies), seconds=seconds,
            non_2xx=sum(w.non_2xx for w in workers), socket_errors=sum(w.socket_errors for w in workers),
            unexpected=sum(w.unexpected for w in workers),
            p50_ms=_percentile(latencies, 50) * 1000 if latencies else None,
            p99_ms=_percentile(latencies, 99) * 1000 if latencies else None,
            sample=next((w.sample for w in workers if w.sample), ""),
        )


def _percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def find_wrk(install: bool) -> str | None:
    """wrk's path; with `install`, install it from Debian's packages first when it is missing."""
    path = shutil.which("wrk")
    if path or not install or not shutil.which("apt-get"):
        return path
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("wrk is missing: installing it from Debian's packages (apt-get update; apt-get install -y wrk)", flush=True)
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        if subprocess.run([*sudo, *command], env=env).returncode != 0:
            break
    return shutil.which("wrk")


def choose(kind: str, install: bool):
    """`auto`: wrk when it is (or can be) installed, else Python. `wrk` fails without it."""
    if kind in ("auto", "wrk"):
        path = find_wrk(install)
        if path:
            return WrkDriver(path)
        if kind == "wrk":
            raise SystemExit("wrk is not installed (and could not be installed with apt-get)")
        print("wrk is not available: using the Python load generator (figures not comparable with wrk's)", flush=True)
    return PythonDriver()
