"""Crawls run for real here: settings for the crawl job and its Scrapy child (through the environment)."""

import pytest


@pytest.fixture
def crawl_env(services, monkeypatch):
    for name, value in services.env(
        OBSRV_ALLOW_PRIVATE_TARGETS="true", OBSRV_CRAWL_THROTTLE="false", OBSRV_RETRY_BACKOFF_BASE="0.01",
        OBSRV_DOWNLOAD_TIMEOUT="3", OBSRV_LOG_LEVEL="WARNING", OBSRV_DOWNLOAD_MAXSIZE=str(5 * 1024 * 1024),
    ).items():
        monkeypatch.setenv(name, value)
    for name in ("OBSRV_RUN_DIR",):
        monkeypatch.delenv(name, raising=False)
