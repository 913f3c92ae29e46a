"""gunicorn settings for ``gunicorn -c api/gunicorn.conf.py 'api:create_app()'``.

Bind address and worker count come from OBSRV_HOST / OBSRV_PORT /
OBSRV_API_WORKERS / OBSRV_API_THREADS; logs are JSON lines like every other
process's.

The worker class is gevent (OBSRV_API_WORKER_CLASS): each connection is a greenlet, so a client that
sends its request slowly holds a greenlet, not one of a few threads, and the worker goes on serving
everyone else. gevent's worker reads a request's line and headers under a timeout of ``keepalive``
seconds (OBSRV_API_HEADER_TIMEOUT), after which the connection is closed; the app reads the body
under OBSRV_API_BODY_TIMEOUT (api/body.py). gthread gives each connection being read a thread that
blocks until the request is complete: 8 slowly sent requests stop 2 workers x 4 threads.

gevent monkey-patches the worker (sockets, threads, select) before it imports the app; psycopg 3
sees the patched ``select`` and waits cooperatively (psycopg.waiting), and redis-py's and the pool's
sockets and threads are the patched ones. Nothing here may import them in the master.

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

from core.settings import load_settings

_settings = load_settings()

bind = f"{_settings['OBSRV_HOST']}:{_settings['OBSRV_PORT']}"
workers = _settings["OBSRV_API_WORKERS"]
worker_class = _settings["OBSRV_API_WORKER_CLASS"]  # gevent: a greenlet per connection (see above)
threads = _settings["OBSRV_API_THREADS"]  # gthread only
worker_connections = _settings["OBSRV_API_CONNECTIONS"]
# gevent: also the time a request line + headers may take; 0 would mean no keep-alive and no such bound
keepalive = max(1, _settings["OBSRV_API_HEADER_TIMEOUT"])
graceful_timeout = 10
timeout = 60
control_socket_disable = True  # two checkouts side by side must not share ~/.gunicorn/gunicorn.ctl
accesslog = None  # the app logs each request, with its request id
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "core.jsonlog.formatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": _settings["OBSRV_LOG_LEVEL"], "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": _settings["OBSRV_LOG_LEVEL"], "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
    },
}


def post_worker_init(worker):
    """Under gevent, say so loudly if psycopg waits in C: it chooses how to wait when first imported, and
    an import before the worker's monkey-patching (in the master, or with preload_app) would make every
    query block the whole worker."""
    if worker_class == "gevent":
        import psycopg.waiting

        if psycopg.waiting.wait is getattr(psycopg.waiting, "wait_c", None):
            worker.log.error("psycopg was imported before gevent patched this worker: queries block the worker")


def _write_json_error(sock, status_int, reason, mesg):
    """gunicorn's error page as the API's error shape (what api/errors.py sends), with a request id that
    is logged beside gunicorn's own line about the refused request."""
    request_id = uuid.uuid4().hex
    body = json.dumps(
        {"code": status_int, "status": reason, "message": (mesg or reason)[:300], "request_id": request_id}
    ).encode()
    logging.getLogger("obsrv.api.request").warning(
        "request refused before the app", extra={"request_id": request_id, "status": status_int}
    )
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Request-ID: {request_id}\r\n\r\n"
    ).encode("latin-1")
    gunicorn.util.write_nonblock(sock, head + body)


def post_fork(server, worker):
    gunicorn.util.write_error = _write_json_error
