"""The floor: a bare Flask route answering a fixed small JSON list, served by gunicorn with the service's
own settings (crm_provider/gunicorn_conf.py). No auth, no database: whatever the service does beyond
this is what its figures, divided by this one's requests per second, show.

    gunicorn -c python:crm_provider.gunicorn_conf bench.baseline_app:app
"""

from flask import Flask

app = Flask(__name__)

ITEMS = [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}, {"id": 3, "name": "three"}]


@app.get("/")
def items():
    return ITEMS
