"""gunicorn settings for ``gunicorn -c api/gunicorn.conf.py 'api:create_app()'``.

Bind address and worker count come from OBSRV_HOST / OBSRV_PORT /
OBSRV_API_WORKERS / OBSRV_API_THREADS; logs are JSON lines like every other
process's.
"""

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
