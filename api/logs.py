"""JSON log lines with a request id.

``X-Request-ID`` is accepted when it looks sane (≤ 128 of ``[A-Za-z0-9._:-]``),
generated otherwise, echoed on every response and added to every log record
made while the request runs. Secrets never reach logs: only the key prefix is
logged, never the Authorization header or a URL with a password.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import g, has_request_context, request

from core import jsonlog

REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
log = logging.getLogger("obsrv.api.request")


_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if has_request_context():
        record.request_id = g.get("request_id")
    return record


def configure_logging(level: str = "INFO") -> None:
    """JSON lines, each made during a request carrying its ``request_id``."""
    jsonlog.configure_logging(level)
    if logging.getLogRecordFactory() is not _record_with_request_id:
        logging.setLogRecordFactory(_record_with_request_id)


def init_app(app) -> None:
    @app.before_request
    def _start():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID_RE.fullmatch(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        # Runs after the rate limiter's hook (registered later, run earlier), which sets
        # Retry-After on every response; it only means something on a 429 or 503.
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        if app.config["OBSRV_ACCESS_LOG"] and log.isEnabledFor(logging.INFO):
            principal = g.get("principal")
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
                    "client_id": principal.client_id if principal else None,
                    "key_prefix": principal.prefix if principal else None,
                },
            )
        return response
