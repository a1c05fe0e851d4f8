"""The servers the bench drives, all gunicorn with crm_provider/gunicorn_conf.py: the service
(`python -m crm_provider serve`, its production command), the bare Flask baseline (baseline_app.py) and
the floor (floor_app.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn arbiter started as a subprocess; its output goes to `log` (a pipe nobody reads could
    fill up and stall it under load)."""

    def __init__(self, command: list[str], env: dict, ready_path: str, log: Path, cwd: Path = ROOT):
        self.port = free_port()
        self.cwd = cwd
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.command = command
        self.env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.ready_path = ready_path
        self.log = log
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited ({self.process.returncode}); see {self.log}:\n{self.log_tail()}")
            try:
                requests.get(self.base_url + self.ready_path, timeout=10)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start within {timeout:.0f} s; see {self.log}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def workers(self) -> dict[int, float]:
        """pid -> resident memory in MB of each gunicorn worker (the arbiter's children)."""
        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return {}
        rss = {}
        for worker in children:
            try:
                rss[worker.pid] = round(worker.memory_info().rss / 2**20, 1)
            except psutil.NoSuchProcess:
                pass
        return rss

    def cpu_seconds(self) -> float | None:
        return process_tree_cpu(self.process.pid) if self.process else None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: nothing is in flight any more
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def process_tree_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a process, its live children, and the children it has reaped: a
    gunicorn arbiter with its workers (even those max_requests replaced), a postmaster with its backends."""
    try:
        parent = psutil.Process(pid)
        own = parent.cpu_times()
        total = own.user + own.system + own.children_user + own.children_system
        for child in parent.children():
            try:
                times = child.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass  # exited since: counted in children_* once reaped, or lost (the figure is a little low)
        return total
    except psutil.NoSuchProcess:
        return None


def postmaster_pid(pgdata: Path) -> int | None:
    """The embedded server's postmaster (first line of postmaster.pid)."""
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# The production default (6000/minute per credential) would answer most of the load with 429. The limiter
# stays on, so its cost is measured, with a limit the bench never reaches; CRM_RATE_LIMIT overrides it.
RATE_LIMIT = os.environ.get("CRM_RATE_LIMIT", "100000000/minute")


def service(database_url: str, spi_users: str, admin_users: str, log: Path) -> Server:
    env = {"DATABASE_URL": database_url, "CRM_SPI_USERS": spi_users, "CRM_ADMIN_USERS": admin_users,
           "CRM_RATE_LIMIT": RATE_LIMIT}
    return Server([sys.executable, "-m", "crm_provider", "serve"], env, "/openapi.json", log)


def baseline(log: Path) -> Server:
    return _bare("bench.baseline_app:app", {}, "/", log)


def floor(database_url: str, log: Path) -> Server:
    return _bare("bench.floor_app:app", {"DATABASE_URL": database_url}, "/", log)  # any answer, a 404 too


def _bare(app: str, env: dict, ready_path: str, log: Path) -> Server:
    command = [sys.executable, "-m", "gunicorn", "-c", "python:crm_provider.gunicorn_conf", app]
    return Server(command, env, ready_path, log)
