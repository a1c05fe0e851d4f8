"""gunicorn entry point: `gunicorn -c python:crm_provider.gunicorn_conf crm_provider.wsgi:app` (the container).

It refuses to start with weak or default credentials (config.weak_secrets), as `crm-provider serve` does.
"""

import sys

from .app import create_app
from .config import weak_secrets

_problems = weak_secrets()
if _problems:
    sys.exit("refusing to start: " + "; ".join(_problems))

app = create_app()
