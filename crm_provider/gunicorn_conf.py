"""gunicorn settings for crm-provider (`crm-provider serve` uses them; so can a plain `gunicorn -c`).

gthread workers: the work of a request is mostly waiting on PostgreSQL, so threads overlap it. The
connection pool of each worker is opened after the fork, on first use (db.py).
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 20000
max_requests_jitter = 2000
# No access log: its request line carries the query string, and search keys are personal data.
accesslog = None
# One service per host needs no control socket; several test servers on one machine must not share one.
control_socket_disable = True
