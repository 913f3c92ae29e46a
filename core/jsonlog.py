"""JSON-lines logging for every Obsrv process (api, worker, scheduler, CLI)."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for this process, unless its host (gunicorn, pytest) set up handlers already."""
    root = logging.getLogger()
    if not root.handlers:
        handler = _StderrHandler(sys.stderr)
        handler.setFormatter(formatter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # chatty about its own exit
