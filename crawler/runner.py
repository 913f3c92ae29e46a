"""The crawler process: ``python -m crawler [--until-idle]``.

One Scrapy engine and one spider (crawler.spiders.obsrv) crawling up to OBSRV_CRAWL_CONCURRENCY
websites at the same time, each website's crawl claimed from Postgres (crawl work) and paced in its
domain's download slot (crawler.manager). Run one per machine; more machines run more of them against
the same Postgres and Redis. SIGTERM or Ctrl-C: it stops claiming, lets running crawls go on for
OBSRV_CRAWL_STOP_GRACE_SECONDS, hands the rest back to the queue and exits (a second signal hands them
back at once).

``--until-idle`` exits once no crawl work is due and none runs (tests, one-off catch-up runs).
"""

from __future__ import annotations

import argparse
import gc
import logging
import resource
import sys

from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

from core.jsonlog import configure_logging
from core.settings import load_settings
from crawler.dns import parse_overrides

#: requests a crawl keeps in Scrapy at most (crawler.spiders.base.Crawl.window), with throttling off
MAX_WINDOW = 5


def scrapy_settings(settings: dict, *, until_idle: bool = False):
    """Scrapy settings of the crawler process: the project's (crawler/settings.py) and the deployment's."""
    s = get_project_settings()
    s.set("OBSRV_SETTINGS", dict(settings))
    s.set("OBSRV_UNTIL_IDLE", until_idle)
    s.set("USER_AGENT", settings["OBSRV_USER_AGENT"])
    s.set("DOWNLOAD_TIMEOUT", settings["OBSRV_DOWNLOAD_TIMEOUT"])
    s.set("DOWNLOAD_MAXSIZE", settings["OBSRV_DOWNLOAD_MAXSIZE"])
    s.set("RETRY_TIMES", settings["OBSRV_RETRY_TIMES"])
    s.set("OBSRV_RETRY_BACKOFF_BASE", settings["OBSRV_RETRY_BACKOFF_BASE"])
    s.set("OBSRV_RETRY_BACKOFF_MAX", settings["OBSRV_RETRY_BACKOFF_MAX"])
    s.set("OBSRV_ALLOW_PRIVATE_TARGETS", settings["OBSRV_ALLOW_PRIVATE_TARGETS"])
    s.set("OBSRV_DNS_OVERRIDES", parse_overrides(settings["OBSRV_DNS_OVERRIDES"]))
    s.set("OBSRV_PERSIST_BATCH", settings["OBSRV_PERSIST_BATCH"])
    s.set("OBSRV_PERSIST_MAX_WAIT", settings["OBSRV_PERSIST_MAX_WAIT"])
    s.set("LOG_LEVEL", settings["OBSRV_LOG_LEVEL"])
    # Every crawl keeps a few requests in Scrapy (its window); the engine must never hold one back.
    s.set("CONCURRENT_REQUESTS", max(64, settings["OBSRV_CRAWL_CONCURRENCY"] * MAX_WINDOW + 64))
    if not settings["OBSRV_CRAWL_THROTTLE"]:
        s.set("DOWNLOAD_DELAY", 0)
        s.set("CONCURRENT_REQUESTS_PER_DOMAIN", 4)
    s.set(
        "PLAYWRIGHT_LAUNCH_OPTIONS",
        {
            "executable_path": settings["OBSRV_CHROMIUM_PATH"],
            "headless": True,
            "args": [
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        },
    )
    s.set("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", settings["OBSRV_DOWNLOAD_TIMEOUT"] * 1000)
    return s


def _more_open_files() -> None:
    """A connection per website crawled at once: raise the soft limit of open files to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
        except (ValueError, OSError):
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler", description=__doc__.split("\n\n")[0])
    parser.add_argument("--until-idle", action="store_true", help="exit once no crawl work is due and no crawl runs")
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings["OBSRV_LOG_LEVEL"])
    if not settings["DATABASE_URL"] or not settings["REDIS_URL"]:
        print("error: DATABASE_URL and REDIS_URL must be set (or run it through `make run`)", file=sys.stderr)
        return 2
    _more_open_files()
    from crawler.extract.currency_tables import warm_up
    from crawler.spiders.obsrv import ObsrvSpider

    warm_up()  # the currency tables, before the first crawl rather than during it

    process = CrawlerProcess(scrapy_settings(settings, until_idle=args.until_idle), install_root_handler=False)
    logging.getLogger("scrapy").setLevel(settings["OBSRV_LOG_LEVEL"])
    outcome = {"failed": None}

    def failed(failure):
        outcome["failed"] = failure
        logging.getLogger("obsrv.crawler").error("the crawler could not run", exc_info=failure.value)

    process.crawl(ObsrvSpider).addErrback(failed)
    # A crawl allocates many short-lived objects per page (trees, items, requests): collect the
    # young generation less often and keep start-up objects out of every collection.
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    process.start(install_signal_handlers=False)  # the manager handles SIGTERM/SIGINT (a graceful stop)
    return 1 if outcome["failed"] is not None else 0


if __name__ == "__main__":
    sys.exit(main())
