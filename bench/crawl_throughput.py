"""Crawl throughput: the full product crawl against a bare Scrapy spider, in the same run.

Serves N product pages (default 5,000) from 20 host names pinned to 127.0.0.1
(tests.support.shop, pages pre-rendered, ~10k req/s), throttling off, and
measures pages/s from the first parsed page to the end of the crawl for:

  (a) baseline  a bare Scrapy spider that only fetches and parses JSON-LD (bench/bare_spider.py), with
                the concurrency of Obsrv's throttle-off crawl: 4 requests at a time per host, no delay,
                CONCURRENT_REQUESTS large enough never to hold one back
  (b) obsrv     the real product crawl: one 'manual' crawl_work per website (one per host) and one
                crawler process, `python -m crawler --until-idle` (OBSRV_CRAWL_THROTTLE=false: per-domain
                slot concurrency 4, delay 0), with extraction cascade, Normalize/Diff/Persist pipelines
                and Postgres writes (COPY), crawl runs opened and closed by the crawler

Only ok observations count as pages for (b), and every round must observe every product ok and close
every crawl run as succeeded, or the bench fails (exit 1). Target: b/a >= 0.8.

    .venv/bin/python bench/crawl_throughput.py [--products 5000] [--hosts 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from db.embedded import servers  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.queries import work as work_q  # noqa: E402
from tests.support.shop import Shop  # noqa: E402


def register(conn, shop: Shop) -> int:
    """One active website per host with its products approved and one 'manual' crawl queued for it, as the
    API queues a crawl-now; returns the number of products."""
    client = conn.execute("INSERT INTO clients (name) VALUES ('bench') RETURNING id").fetchone()["id"]
    products = 0
    for host in shop.hosts:
        domain = f"{host}:{shop.port}"
        website = conn.execute(
            "INSERT INTO websites (client_id, name, domain, seed_urls, status) VALUES (%s, %s, %s, %s, 'active') "
            "RETURNING id",
            (client, host, domain, [shop.url("/", host=host)]),
        ).fetchone()["id"]
        urls = [shop.url(p, host=host) for p in shop.product_paths_for(host)]
        conn.execute(
            "INSERT INTO products (website_id, url, identity, status) "
            "SELECT %s, u, 'url:' || u, 'approved' FROM unnest(%s::text[]) AS u",
            (website, urls),
        )
        if work_q.enqueue(conn, website, "manual") is None:
            raise SystemExit(f"FAIL: could not queue the crawl of website {website}")
        products += len(urls)
    return products


def rates(runs: list[dict]) -> str:
    return ", ".join(f"{r['pages'] / r['seconds']:.0f}" for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of (a) and (b); medians reported")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="obsrv-bench-crawl-"))
    stack = contextlib.ExitStack()
    database_url, redis_url = stack.enter_context(servers(workdir, "obsrv_bench_crawl"))
    hosts = [f"shop{i:02d}.test" for i in range(args.hosts)]
    shop = Shop.generated(n_products=args.products, hosts=hosts, jsonld=True)
    shop.warm()
    try:
        migrate(database_url)
        shop.start()
        overrides = ",".join(f"{h}=127.0.0.1" for h in hosts)
        python = str(Path(sys.executable))

        urls = [shop.url(p, host=h) for h in hosts for p in shop.product_paths_for(h)]
        urls_file = workdir / "urls.txt"
        urls_file.write_text("\n".join(urls))
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "OBSRV_ALLOW_PRIVATE_TARGETS": "true",
            "OBSRV_CRAWL_THROTTLE": "false",
            "OBSRV_DNS_OVERRIDES": overrides,
            "OBSRV_LOG_LEVEL": "WARNING",
        }
        a_runs, b_runs = [], []
        for _round in range(args.rounds):
            # (a) bare spider
            bare = subprocess.run(
                [python, str(ROOT / "bench" / "bare_spider.py"), str(urls_file), overrides],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            a_run = json.loads(bare.stdout.strip().splitlines()[-1])
            if a_run["pages"] != len(urls) or a_run["products"] != len(urls):
                raise SystemExit(
                    f"FAIL: the bare spider parsed {a_run['pages']} pages, {a_run['products']} products of {len(urls)}"
                )
            a_runs.append(a_run)
            # (b) the real product crawl, on a fresh set of websites each round
            with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
                conn.execute("TRUNCATE clients, websites, products, observations, crawl_runs, crawl_work CASCADE")
                products = register(conn, shop)
            profile = os.environ.get("BENCH_PROFILE")
            command = [python, *(["-m", "cProfile", "-o", profile] if profile else []), "-m", "crawler", "--until-idle"]
            crawl = subprocess.run(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=1800,
            )
            if crawl.returncode != 0:
                raise SystemExit(f"FAIL: the crawler exited with {crawl.returncode}:\n{crawl.stderr[-3000:]}")
            with psycopg.connect(database_url, row_factory=dict_row) as conn:
                stats = conn.execute(
                    """SELECT count(*) AS observations, count(*) FILTER (WHERE o.ok) AS ok,
                              count(DISTINCT o.product_id) FILTER (WHERE o.ok) AS ok_products,
                              extract(epoch FROM (SELECT max(finished_at) FROM crawl_runs)
                                                 - min(o.observed_at) FILTER (WHERE o.ok)) AS seconds
                         FROM observations o"""
                ).fetchone()
                runs = conn.execute(
                    "SELECT count(*) FILTER (WHERE status = 'succeeded') AS ok, count(*) AS n, "
                    "array_agg(DISTINCT status) AS statuses FROM crawl_runs"
                ).fetchone()
                work = conn.execute(
                    "SELECT count(*) FILTER (WHERE status = 'done') AS done, count(*) AS n FROM crawl_work"
                ).fetchone()
            problems = []
            if not (stats["ok"] == stats["observations"] == stats["ok_products"] == products):
                problems.append(
                    f"{stats['ok']} ok observations ({stats['observations']} in all) of "
                    f"{stats['ok_products']} distinct products; expected one ok each of {products}"
                )
            if not (runs["ok"] == runs["n"] == len(hosts)):
                problems.append(
                    f"{runs['ok']} of {runs['n']} crawl runs succeeded (statuses {runs['statuses']}); "
                    f"expected {len(hosts)}"
                )
            if not (work["done"] == work["n"] == len(hosts)):
                problems.append(f"{work['done']} of {work['n']} crawl work rows done")
            if problems:
                raise SystemExit("FAIL: " + "; ".join(problems) + "\n" + crawl.stderr[-3000:])
            b_runs.append(
                {
                    "pages": stats["ok"],
                    "ok": stats["ok"],
                    "seconds": float(stats["seconds"]),
                    "runs_ok": runs["ok"],
                    "runs": runs["n"],
                }
            )
        a = sorted(a_runs, key=lambda r: r["pages"] / r["seconds"])[len(a_runs) // 2]
        b = sorted(b_runs, key=lambda r: r["pages"] / r["seconds"])[len(b_runs) // 2]
        a_rate, b_rate = a["pages"] / a["seconds"], b["pages"] / b["seconds"]
        print(f"pages served from {len(hosts)} host names on 127.0.0.1: {len(urls)}")
        print(
            f"(a) bare Scrapy spider, fetch + JSON-LD:          {a['pages']:6d}    pages in {a['seconds']:6.2f} s "
            f"= {a_rate:7.1f} pages/s   rounds: {rates(a_runs)}"
        )
        print(
            f"(b) obsrv product crawl (extract+pipelines+PG):   {b['pages']:6d} ok pages in {b['seconds']:6.2f} s "
            f"= {b_rate:7.1f} pages/s   rounds: {rates(b_runs)}"
        )
        print(
            f"    ({b['ok']} ok observations, {b['runs_ok']}/{b['runs']} crawl runs succeeded; medians of "
            f"{args.rounds} alternating rounds)"
        )
        ratio = b_rate / a_rate
        print(f"ratio b/a: {ratio:.2f} (target >= 0.80): {'PASS' if ratio >= 0.8 else 'FAIL'}")
        return 0 if ratio >= 0.8 else 1
    finally:
        shop.stop()
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
