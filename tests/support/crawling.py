"""Crawls for real in tests: crawl work in Postgres, then the crawler process (`python -m crawler`).

``run_crawl(website_id, kind)`` queues the crawl as the API or the scheduler would, runs a crawler
process with ``--until-idle`` in the test's environment (crawl_env) until no work is due, and returns
what became of that work: its last crawl run, or why none ran. ``baseline_crawled(db, urls)`` is the
usual start of a crawl test: an active website watching those products, its baseline crawled.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
from psycopg.rows import dict_row

from db.queries import work as work_q
from tests.conftest import ROOT
from tests.support.factories import approve_products, make_website


def run_crawler(
    *, timeout: float = 300, env: dict | None = None, module: str = "crawler"
) -> subprocess.CompletedProcess:
    """One crawler process until no crawl work is due; fails loudly if it did not end well.

    ``module``: ``tests.support.outside`` runs it with a public side to the world (see there)."""
    env = env or dict(os.environ)
    if os.environ.get("OBSRV_TEST_CRAWLER_LOG"):
        env["OBSRV_LOG_LEVEL"] = os.environ["OBSRV_TEST_CRAWLER_LOG"]
    result = subprocess.run(
        [sys.executable, "-m", module, "--until-idle"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    if os.environ.get("OBSRV_TEST_CRAWLER_LOG"):
        print(result.stderr[-20000:])
    return result


def queue(website_id: int, kind: str, product_ids: list[int] | None = None) -> str:
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, row_factory=dict_row) as conn:
        return work_q.enqueue(conn, website_id, kind, product_ids=product_ids)


def run_crawl(website_id: int, kind: str, product_ids: list[int] | None = None, *, timeout: float = 300) -> dict:
    job_id = queue(website_id, kind, product_ids)
    run_crawler(timeout=timeout)
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, row_factory=dict_row) as conn:
        work = conn.execute("SELECT * FROM crawl_work WHERE job_id = %s", (job_id,)).fetchone()
        if work is None:
            return {"website_id": website_id, "skipped": "website deleted"}
        run = conn.execute(
            "SELECT * FROM crawl_runs WHERE work_id = %s ORDER BY id DESC LIMIT 1", (work["id"],)
        ).fetchone()
    if run is None:
        result = {"website_id": website_id, "work": work["status"], "note": work["note"]}
        if (work["note"] or "").startswith("skipped: "):
            result["skipped"] = work["note"].removeprefix("skipped: ")
        return result
    return {
        "website_id": website_id,
        "crawl_run_id": run["id"],
        "status": run["status"],
        "products_ok": run["products_ok"],
        "products_failed": run["products_failed"],
        "work": work["status"],
    }


def baseline_crawled(db, product_urls: list[str], **website_fields) -> tuple[int, list[int]]:
    """An active website (seeded with the first URL) watching these products, after its baseline crawl
    succeeded: (website id, product ids). ``website_fields`` are more columns of the website."""
    website_id = make_website(db, [product_urls[0]], status="active", **website_fields)
    product_ids = approve_products(db, website_id, product_urls)
    assert run_crawl(website_id, "baseline")["status"] == "succeeded"
    return website_id, product_ids
