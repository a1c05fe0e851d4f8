"""gunicorn, run from inside `crm-provider serve` with the settings of gunicorn_conf.py."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from . import gunicorn_conf


class Server(BaseApplication):
    def load_config(self):
        for name, value in vars(gunicorn_conf).items():
            if name in self.cfg.settings:
                self.cfg.set(name, value)

    def load(self):
        from .app import create_app  # imported in each worker after the fork

        return create_app()  # `serve` checked the credentials (and `serve --demo` sets its own)
