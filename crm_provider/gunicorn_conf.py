"""gunicorn settings for crm-provider: `crm-provider serve` uses them, and so does the container
(`gunicorn -c python:crm_provider.gunicorn_conf crm_provider.wsgi:app`). Numbers: docs/deploy.md.

- gthread workers: a request is mostly waiting on PostgreSQL, so threads overlap that wait. Measured on the
  2-core reference machine, 2 workers x 4 threads answered more requests per second than sync workers
  and kept the tail lower (docs/deploy.md, "Choosing the worker class").
- The app is not preloaded: each worker imports it after the fork and opens its own connection pool on
  first use, sized to its threads (db.py); and prometheus-client must see PROMETHEUS_MULTIPROC_DIR
  before it is imported, which only the workers do.
- Nothing here reads the environment but through Settings, except PROMETHEUS_MULTIPROC_DIR, which belongs
  to prometheus-client.
"""

import os
import shutil
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

from crm_provider import logs
from crm_provider.config import Settings

_settings = Settings.from_env()

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.web_workers
worker_class = "gthread"
threads = _settings.web_threads
preload_app = False
# A worker that has not reported for this long is killed and replaced. Requests never get near it: every
# query is bounded by CRM_STATEMENT_TIMEOUT_MS and every pool wait by CRM_POOL_TIMEOUT.
timeout = 30
# On SIGTERM (a rolling update, a scale-down) in-flight requests get this long to finish; Kubernetes'
# terminationGracePeriodSeconds (30 s) covers it plus the preStop pause (deploy/kubernetes/).
graceful_timeout = 20
# Longer than the idle timeout of the proxy or load balancer in front (60 s for nginx and most cloud load
# balancers), so that it is always the proxy that closes an idle connection, never a race with us. An idle
# keep-alive connection waits in gthread's poller, not in a thread.
keepalive = 75
# Recycle each worker now and then against slow leaks, with jitter so that workers do not restart together.
# High because every worker that ever lived leaves its counter files in PROMETHEUS_MULTIPROC_DIR, and because
# a restart costs about a second of CPU (imports, a new pool) and stalls the requests queued behind it: at
# 50,000 a worker under the benchmark's full load was replaced about once a minute. At a busy store chain's
# 100 requests per second per worker, this is a restart every three hours.
max_requests = 1_000_000
max_requests_jitter = 100_000
# The heartbeat file in memory, not on a container's overlay filesystem, where a write can stall a worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


class NoAccessLog(Logger):
    """No access log: its request line carries the query string, and search keys are personal data. The app
    logs one JSON line per request instead (observability.py). With a `logconfig_dict`, gunicorn's own
    logger would still format an access line for every request (0.03 ms of CPU each) and then drop it."""

    def access(self, resp, req, environ, request_time) -> None:
        pass


accesslog = None
logger_class = NoAccessLog
logconfig_dict = logs.dict_config(_settings.log_level, _settings.log_format)
# One service per host needs no control socket; several test servers on one machine must not share one.
control_socket_disable = True

_MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
_created_metrics_dir = None


def on_starting(server):
    """Before any worker forks: an empty folder for the workers' metric files (a temporary one if unset)."""
    global _created_metrics_dir
    path = os.environ.get(_MULTIPROC_DIR)
    if not path:
        path = _created_metrics_dir = tempfile.mkdtemp(prefix="crm-metrics-")
        os.environ[_MULTIPROC_DIR] = path
    Path(path).mkdir(parents=True, exist_ok=True)
    for stale in Path(path).glob("*.db"):  # counters of a previous run would be added to this one's
        stale.unlink()


def child_exit(server, worker):
    """A worker exited: its live gauges (pool usage) no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)
