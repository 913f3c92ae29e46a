"""gunicorn settings for ``gunicorn -c api/gunicorn.conf.py 'api:create_app()'``.

Bind address and worker count come from OBSRV_HOST / OBSRV_PORT /
OBSRV_API_WORKERS / OBSRV_API_THREADS; logs are JSON lines like every other
process's.

Requests gunicorn refuses itself, before the app sees them (a request line it cannot read, a URI over
``limit_request_line``: 414, headers over ``limit_request_fields`` / ``limit_request_field_size``: 431,
a malformed header: 400), are answered in the API's one error shape (api/errors.py), as JSON, not
gunicorn's HTML page: gunicorn has no hook for that page, so each worker replaces the function that
writes it (``gunicorn.util.write_error``) after it is forked. Which status and message gunicorn picks
stays gunicorn's.
"""

import json
import logging
import uuid

import gunicorn.util

from db.settings import load_settings

_settings = load_settings()

bind = f"{_settings['OBSRV_HOST']}:{_settings['OBSRV_PORT']}"
workers = _settings["OBSRV_API_WORKERS"]
worker_class = "gthread"            # keep-alive, and threads share one pool per worker
threads = _settings["OBSRV_API_THREADS"]
graceful_timeout = 10
timeout = 60
control_socket_disable = True      # two checkouts side by side must not share ~/.gunicorn/gunicorn.ctl
accesslog = None                    # the app logs each request, with its request id
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "db.jsonlog.formatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": _settings["OBSRV_LOG_LEVEL"], "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": _settings["OBSRV_LOG_LEVEL"], "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
    },
}


def _write_json_error(sock, status_int, reason, mesg):
    """gunicorn's error page as the API's error shape (what api/errors.py sends), with a request id that
    is logged beside gunicorn's own line about the refused request."""
    request_id = uuid.uuid4().hex
    body = json.dumps({"code": status_int, "status": reason, "message": (mesg or reason)[:300],
                       "request_id": request_id}).encode()
    logging.getLogger("obsrv.api.request").warning(
        "request refused before the app", extra={"request_id": request_id, "status": status_int})
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-ID: {request_id}\r\n\r\n").encode("latin-1")
    gunicorn.util.write_nonblock(sock, head + body)


def post_fork(server, worker):
    gunicorn.util.write_error = _write_json_error
