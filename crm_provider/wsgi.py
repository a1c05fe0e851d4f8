"""gunicorn entry point: `gunicorn -c python:crm_provider.gunicorn_conf crm_provider.wsgi:app`."""

from .app import create_app

app = create_app()
