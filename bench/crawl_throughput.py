"""Crawl throughput: the full product crawl against a bare Scrapy spider, in the same run.

Serves N product pages (default 5,000) from 20 host names pinned to 127.0.0.1
(tests.support.shop, pages pre-rendered, ~10k req/s), throttling off, and
measures pages/s from the first parsed page to the end of the crawl for:

  (a) baseline  a bare Scrapy spider that only fetches and parses JSON-LD (bench/bare_spider.py)
  (b) obsrv     the real product crawl: `python -m crawler.run` over 20 websites (one per host) with
                extraction cascade, Normalize/Diff/Persist pipelines and Postgres writes (COPY)

Target: b/a >= 0.7.

    .venv/bin/python bench/crawl_throughput.py [--products 5000] [--hosts 20]
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
from tests.support.shop import Shop  # noqa: E402


def register(conn, shop: Shop) -> list[tuple[int, int]]:
    """One active website per host with its products approved; returns (website id, crawl run id) pairs."""
    client = conn.execute("INSERT INTO clients (name) VALUES ('bench') RETURNING id").fetchone()["id"]
    pairs = []
    for host in shop.hosts:
        domain = f"{host}:{shop.port}"
        website = conn.execute(
            "INSERT INTO websites (client_id, name, domain, seed_urls, status) VALUES (%s, %s, %s, %s, 'active') "
            "RETURNING id", (client, host, domain, [shop.url("/", host=host)])).fetchone()["id"]
        urls = [shop.url(p, host=host) for p in shop.product_paths_for(host)]
        conn.execute(
            "INSERT INTO products (website_id, url, identity, status) "
            "SELECT %s, u, 'url:' || u, 'approved' FROM unnest(%s::text[]) AS u", (website, urls))
        run = conn.execute("INSERT INTO crawl_runs (website_id, kind) VALUES (%s, 'manual') RETURNING id",
                           (website,)).fetchone()["id"]
        pairs.append((website, run))
    return pairs


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
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
               "OBSRV_ALLOW_PRIVATE_TARGETS": "true", "OBSRV_CRAWL_THROTTLE": "false",
               "OBSRV_DNS_OVERRIDES": overrides, "OBSRV_LOG_LEVEL": "WARNING"}
        a_runs, b_runs = [], []
        for _round in range(args.rounds):
            # (a) bare spider
            bare = subprocess.run([python, str(ROOT / "bench" / "bare_spider.py"), str(urls_file), overrides],
                                  cwd=ROOT, capture_output=True, text=True, check=True)
            a_runs.append(json.loads(bare.stdout.strip().splitlines()[-1]))
            # (b) the real product crawl, on a fresh set of websites each round
            with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
                conn.execute("TRUNCATE clients, websites, products, observations, crawl_runs CASCADE")
                pairs = register(conn, shop)
            profile = os.environ.get("BENCH_PROFILE")
            command = [python, *(["-m", "cProfile", "-o", profile] if profile else []), "-m", "crawler.run",
                       "--spider", "products", "--kind", "manual"]
            for website, run in pairs:
                command += ["--website", str(website), "--crawl-run", str(run)]
            subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
            with psycopg.connect(database_url, row_factory=dict_row) as conn:
                stats = conn.execute(
                    """SELECT count(*) AS pages, count(*) FILTER (WHERE o.ok) AS ok,
                              extract(epoch FROM (SELECT max(finished_at) FROM crawl_runs) - min(o.observed_at))
                                  AS seconds
                         FROM observations o""").fetchone()
                runs = conn.execute("SELECT count(*) FILTER (WHERE status = 'succeeded') AS ok, count(*) AS n "
                                    "FROM crawl_runs").fetchone()
            b_runs.append({"pages": stats["pages"], "ok": stats["ok"], "seconds": float(stats["seconds"]),
                           "runs_ok": runs["ok"], "runs": runs["n"]})
        a = sorted(a_runs, key=lambda r: r["pages"] / r["seconds"])[len(a_runs) // 2]
        b = sorted(b_runs, key=lambda r: r["pages"] / r["seconds"])[len(b_runs) // 2]
        a_rate, b_rate = a["pages"] / a["seconds"], b["pages"] / b["seconds"]
        print(f"pages served from {len(hosts)} host names on 127.0.0.1: {len(urls)}")
        print(f"(a) bare Scrapy spider, fetch + JSON-LD:          {a['pages']:6d} pages in {a['seconds']:6.2f} s "
              f"= {a_rate:7.1f} pages/s   rounds: {rates(a_runs)}")
        print(f"(b) obsrv product crawl (extract+pipelines+PG):   {b['pages']:6d} pages in {b['seconds']:6.2f} s "
              f"= {b_rate:7.1f} pages/s   rounds: {rates(b_runs)}")
        print(f"    ({b['ok']} ok observations, {b['runs_ok']}/{b['runs']} crawl runs succeeded; medians of "
              f"{args.rounds} alternating rounds)")
        print(f"ratio b/a: {b_rate / a_rate:.2f} (target >= 0.70): {'PASS' if b_rate / a_rate >= 0.7 else 'FAIL'}")
        return 0
    finally:
        shop.stop()
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
