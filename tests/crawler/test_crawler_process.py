"""The long-lived crawler process (`python -m crawler`) for real: many websites at once, each at its own rate,
several crawler processes sharing the queue, a crawler killed or stopped mid-crawl, a hung website.

Real Postgres, real Redis, real crawler processes (each in its own process group, so signals reach it and
nothing outlives the test) against a generated shop on 127.0.0.1 whose virtual hosts are reached by name
through OBSRV_DNS_OVERRIDES. Nothing sleeps and hopes: every wait polls a condition against a deadline.
The only timing assertions are politeness gaps, which are minimum spacings (with a tolerance).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core import locks
from core.redis_client import get_redis
from core.settings import load_settings
from db.queries import work as work_q
from scheduler.loop import Scheduler
from tests.conftest import ROOT
from tests.support.crawling import run_crawler
from tests.support.factories import approve_products, make_website
from tests.support.shop import Shop
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

ZONE = "shops.test"
TOLERANCE = 0.15  # seconds a politeness gap may fall short of its delay (request receipt jitter)
FINISHED = ("succeeded", "partially_failed", "failed", "cancelled")


# -- helpers ---------------------------------------------------------------------------------------------------
class CrawlerProcess:
    """`python -m crawler [--until-idle]` in its own process group; its stderr kept in a file for failures."""

    def __init__(self, env: dict, log_path: Path, *, until_idle: bool = False):
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 -- closed in stop()
        command = [sys.executable, "-m", "crawler", *(["--until-idle"] if until_idle else [])]
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"crawler {self.pid} still running after {timeout}s\n{self.tail()}") from None

    def tail(self, chars: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def cleanup(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(30)
        finally:
            self._log.close()


@pytest.fixture
def spawn(tmp_path):
    """Start crawler processes; every one still running is killed (SIGKILL, its whole group) at the end."""
    started: list[CrawlerProcess] = []

    def start(env: dict, *, until_idle: bool = False) -> CrawlerProcess:
        crawler = CrawlerProcess(env, tmp_path / f"crawler-{len(started)}.log", until_idle=until_idle)
        started.append(crawler)
        return crawler

    try:
        yield start
    finally:
        for crawler in started:
            crawler.cleanup()


def crawler_env(**extra) -> dict:
    """The crawl_env environment (already in os.environ), with the shop's names pinned and quick polling."""
    env = dict(os.environ)
    env.update(
        OBSRV_DNS_OVERRIDES=f"*.{ZONE}=127.0.0.1",
        OBSRV_CRAWL_POLL_SECONDS="0.2",
        OBSRV_PERSIST_MAX_WAIT="0.2",
        OBSRV_HEARTBEAT_SECONDS="0.5",
    )
    env.update({k: str(v) for k, v in extra.items()})
    if os.environ.get("OBSRV_TEST_CRAWLER_LOG"):
        env["OBSRV_LOG_LEVEL"] = os.environ["OBSRV_TEST_CRAWLER_LOG"]
    return env


def hosts(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:02d}.{ZONE}" for i in range(n)]


def add_website(db, shop: Shop, host: str, paths: list[str], *, rate: int = 120) -> tuple[int, list[int]]:
    """An active website (its own client) on ``host`` of the shop, with these product pages approved."""
    domain = f"{host}:{shop.port}"
    website_id = make_website(db, [f"http://{domain}/"], status="active", domain=domain, crawl_rate_per_minute=rate)
    return website_id, approve_products(db, website_id, [f"http://{domain}{path}" for path in paths])


def enqueue(db, website_id: int, kind: str = "scheduled") -> dict:
    job_id = work_q.enqueue(db, website_id, kind)
    assert job_id
    return db.execute("SELECT * FROM crawl_work WHERE job_id = %s", (job_id,)).fetchone()


def runs_of(db, website_id: int) -> list[dict]:
    return db.execute("SELECT * FROM crawl_runs WHERE website_id = %s ORDER BY id", (website_id,)).fetchall()


def observations_of(db, product_ids: list[int]) -> list[dict]:
    return db.execute(
        "SELECT product_id, crawl_run_id, ok, error_type FROM observations WHERE product_id = ANY(%s) ORDER BY id",
        (product_ids,),
    ).fetchall()


def observation_counts(db, product_ids: list[int]) -> dict[int, int]:
    counts = dict.fromkeys(product_ids, 0)
    for row in db.execute(
        "SELECT product_id, count(*) AS n FROM observations WHERE product_id = ANY(%s) GROUP BY product_id",
        (product_ids,),
    ).fetchall():
        counts[row["product_id"]] = row["n"]
    return counts


def count_observations(db, product_ids: list[int]) -> int:
    return db.execute("SELECT count(*) AS n FROM observations WHERE product_id = ANY(%s)", (product_ids,)).fetchone()[
        "n"
    ]


def work_row(db, work_id: int) -> dict:
    return db.execute("SELECT * FROM crawl_work WHERE id = %s", (work_id,)).fetchone()


def request_times(shop: Shop, host: str) -> list[tuple[float, str]]:
    return sorted((t, path) for t, h, _m, path in shop.requests if h == host)


def short_gaps(times: list[float], delay: float) -> list[float]:
    """Where requests came faster than one per ``delay``: the span of every run of consecutive requests
    against its count (less the tolerance). The shop sees when a request *arrives*: one that arrives late
    (a busy machine) shortens the gap to the next without the crawler sending faster, so a run may fall
    short by the tolerance at either end, and a crawler sending too fast falls further short with every
    request."""
    short = []
    for first in range(len(times)):
        for last in range(first + 1, len(times)):
            span, steps = times[last] - times[first], last - first
            if span < steps * delay - 2 * TOLERANCE:  # either end may have arrived late
                short.append(round(span / steps, 3))
    return short


def all_finished(db, website_ids: list[int]) -> bool:
    row = db.execute(
        "SELECT count(*) FILTER (WHERE status = ANY(%s)) AS done, count(*) AS n FROM crawl_runs "
        "WHERE website_id = ANY(%s)",
        (list(FINISHED), website_ids),
    ).fetchone()
    return row["n"] == len(website_ids) and row["done"] == row["n"]


# -- 1. many websites, one process, each at its own rate ---------------------------------------------------------
def test_one_crawler_crawls_many_websites_at_once_each_at_its_own_rate(db, crawl_env, spawn):
    names = hosts("rate", 8)
    with Shop.generated(n_products=8 * 4, hosts=names) as shop:
        rates = {host: (60 if i % 2 == 0 else 120) for i, host in enumerate(names)}
        sites = {host: add_website(db, shop, host, shop.product_paths_for(host), rate=rates[host]) for host in names}
        for website_id, _ids in sites.values():
            enqueue(db, website_id)
        crawler = spawn(crawler_env(OBSRV_CRAWL_THROTTLE="true"), until_idle=True)
        assert crawler.wait(60) == 0, crawler.tail()
        requests = {host: request_times(shop, host) for host in names}

    website_ids = [w for w, _ in sites.values()]
    product_ids = [p for _, ids in sites.values() for p in ids]
    runs = db.execute("SELECT * FROM crawl_runs WHERE website_id = ANY(%s)", (website_ids,)).fetchall()
    assert len(runs) == 8 and {r["status"] for r in runs} == {"succeeded"}, runs
    assert {r["website_id"] for r in runs} == set(website_ids)
    assert all(r["products_ok"] == 4 and r["products_failed"] == 0 for r in runs), runs
    observations = observations_of(db, product_ids)
    assert sorted(o["product_id"] for o in observations) == sorted(product_ids)  # one each
    assert all(o["ok"] for o in observations), [o for o in observations if not o["ok"]]
    assert db.execute("SELECT count(*) AS n FROM crawl_work WHERE status <> 'done'").fetchone()["n"] == 0

    for host in names:
        times = [t for t, _path in requests[host]]
        paths = [path for _t, path in requests[host]]
        assert sorted(p for p in paths if p != "/robots.txt") == sorted(shop.product_paths_for(host)), paths
        delay = 60.0 / rates[host]
        assert not short_gaps(times, delay), (host, delay, short_gaps(times, delay), times)

    # they ran together, not one after another: every run started before any of them finished
    assert max(r["started_at"] for r in runs) < min(r["finished_at"] for r in runs), [
        (r["website_id"], r["started_at"], r["finished_at"]) for r in runs
    ]
    first = {host: requests[host][0][0] for host in names}
    last = {host: requests[host][-1][0] for host in names}
    assert max(first.values()) < min(last.values()), (first, last)


# -- 2. two websites on one domain share the stricter rate ------------------------------------------------------
def test_two_websites_on_one_domain_share_the_stricter_rate(db, crawl_env, spawn):
    [host] = hosts("shared", 1)
    with Shop.generated(n_products=6, hosts=[host]) as shop:
        paths = shop.product_paths_for(host)
        strict_rate, fast_rate = 40, 120  # 1.5 s and 0.5 s between requests
        strict, strict_ids = add_website(db, shop, host, paths[:3], rate=strict_rate)
        fast, fast_ids = add_website(db, shop, host, paths[3:], rate=fast_rate)
        assert db.execute("SELECT count(DISTINCT client_id) AS n FROM websites").fetchone()["n"] == 2
        enqueue(db, strict)
        enqueue(db, fast)
        crawler = spawn(crawler_env(OBSRV_CRAWL_THROTTLE="true"), until_idle=True)
        assert crawler.wait(60) == 0, crawler.tail()
        requests = request_times(shop, host)

    assert [r["status"] for r in runs_of(db, strict)] == ["succeeded"]
    assert [r["status"] for r in runs_of(db, fast)] == ["succeeded"]
    assert sorted(observation_counts(db, strict_ids + fast_ids).values()) == [1] * 6
    strict_runs, fast_runs = runs_of(db, strict), runs_of(db, fast)
    # the two crawls ran at the same time (one process, one download slot for the domain)
    assert max(strict_runs[0]["started_at"], fast_runs[0]["started_at"]) < min(
        strict_runs[0]["finished_at"], fast_runs[0]["finished_at"]
    )

    strict_delay, fast_delay = 60.0 / strict_rate, 60.0 / fast_rate
    times = [t for t, _path in requests]
    strict_paths, fast_paths = set(paths[:3]), set(paths[3:])
    # While both crawl, every request to the domain is spaced at the stricter rate; once one of them has sent
    # its last request, the other may go on at its own rate.
    both_until = min(max(t for t, p in requests if p in strict_paths), max(t for t, p in requests if p in fast_paths))
    together = [t for t in times if t <= both_until]
    assert len(together) >= 4, requests
    assert not short_gaps(together, strict_delay), (short_gaps(together, strict_delay), requests)
    assert not short_gaps(times, fast_delay), (short_gaps(times, fast_delay), requests)


# -- 3. two crawler processes share the queue -------------------------------------------------------------------
def test_two_crawlers_split_the_work_and_nothing_is_crawled_twice(db, crawl_env, spawn):
    names = hosts("split", 40)
    with Shop.generated(n_products=60, hosts=names) as shop:
        # robots.txt answers after 1 s, so every crawl lasts a while: neither process can take the whole queue
        # before the other has started.
        shop.set_response(
            "/robots.txt",
            body="User-agent: *\nDisallow: /private/\n",
            headers={"Content-Type": "text/plain"},
            delay=1.0,
        )
        sites = {host: add_website(db, shop, host, shop.product_paths_for(host)) for host in names}
        assert {len(ids) for _w, ids in sites.values()} == {1, 2}
        works = {website_id: enqueue(db, website_id)["id"] for website_id, _ids in sites.values()}
        env = crawler_env(OBSRV_CRAWL_CONCURRENCY="5")
        crawlers = [spawn(env, until_idle=True), spawn(env, until_idle=True)]
        for crawler in crawlers:
            assert crawler.wait(60) == 0, crawler.tail()

    website_ids = list(works)
    product_ids = [p for _w, ids in sites.values() for p in ids]
    rows = db.execute("SELECT * FROM crawl_work WHERE id = ANY(%s)", (list(works.values()),)).fetchall()
    assert len(rows) == 40
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in rows), [
        (r["id"], r["status"], r["attempts"], r["note"]) for r in rows if r["status"] != "done" or r["attempts"] != 1
    ]
    runs = db.execute("SELECT * FROM crawl_runs WHERE website_id = ANY(%s)", (website_ids,)).fetchall()
    assert sorted(r["website_id"] for r in runs) == sorted(website_ids)  # exactly one run per website
    assert {r["status"] for r in runs} == {"succeeded"}
    assert {r["work_id"] for r in runs} == set(works.values())
    claimed_by = {r["id"]: r["claimed_by"] for r in rows}
    assert all(r["worker"] == claimed_by[r["work_id"]] for r in runs)
    assert set(observation_counts(db, product_ids).values()) == {1}
    assert all(o["ok"] for o in observations_of(db, product_ids))
    workers = {r["worker"] for r in runs}
    pids = {w.split(":")[1] for w in workers}
    assert pids == {str(c.pid) for c in crawlers}, f"one process took every crawl: {workers}"


# -- 4. a crawler killed mid-crawl: reaped, taken up again, nothing lost or doubled ------------------------------
def test_a_killed_crawlers_crawl_is_reaped_and_finished_by_another(db, crawl_env, spawn, services):
    [host] = hosts("killed", 1)
    with Shop.generated(n_products=10, hosts=[host]) as shop:
        website_id, product_ids = add_website(db, shop, host, shop.product_paths_for(host), rate=120)
        work = enqueue(db, website_id)
        first = spawn(crawler_env(OBSRV_CRAWL_THROTTLE="true", OBSRV_CRAWL_LOCK_SECONDS="3"))
        wait_until(
            lambda: count_observations(db, product_ids) >= 3,
            timeout=45,
            message=f"the first observations\n{first.tail()}",
        )
        first.send(signal.SIGKILL)
        first.wait(30)
        observed_first = count_observations(db, product_ids)
        assert observed_first < 10, "the crawl ended before it was killed"
        [killed] = runs_of(db, website_id)
        assert killed["status"] == "running"

        scheduler = Scheduler(load_settings({**os.environ, "OBSRV_CRAWL_DEAD_SECONDS": "1"}))
        wait_until(lambda: killed["id"] in scheduler.reap_dead_crawls(), timeout=20, message="the dead crawl reaped")
        [reaped] = runs_of(db, website_id)
        assert (reaped["status"], reaped["error_type"]) == ("failed", "internal")
        assert "worker lost" in reaped["error_message"]
        requeued = work_row(db, work["id"])
        assert requeued["status"] == "queued" and requeued["claimed_by"] is None and requeued["attempts"] == 1

        # the dead crawler's domain lock runs out (it is no longer renewed), then another crawler takes the work up
        redis = get_redis(services.redis_url)
        key = locks.domain_lock_key(f"{host}:{shop.port}")
        wait_until(lambda: not redis.exists(key), timeout=15, message="the dead crawler's domain lock to expire")
        run_crawler(timeout=60, env=crawler_env(OBSRV_CRAWL_THROTTLE="true"))

    runs = runs_of(db, website_id)
    assert [r["status"] for r in runs] == ["failed", "succeeded"], runs
    assert runs[1]["worker"] != runs[0]["worker"] and runs[1]["work_id"] == work["id"]
    done = work_row(db, work["id"])
    assert done["status"] == "done" and done["attempts"] == 2, done
    observations = observations_of(db, product_ids)
    assert sorted(o["product_id"] for o in observations) == sorted(product_ids), observations  # once each
    assert all(o["ok"] for o in observations)
    by_run = {r["id"]: sum(1 for o in observations if o["crawl_run_id"] == r["id"]) for r in runs}
    assert by_run == {runs[0]["id"]: observed_first, runs[1]["id"]: 10 - observed_first}
    assert runs[1]["products_ok"] == 10 - observed_first


# -- 5. SIGTERM: the crawl is handed back, then finished by the next crawler -------------------------------------
def test_sigterm_hands_running_crawls_back_and_the_next_crawler_finishes_them(db, crawl_env, spawn):
    [host] = hosts("drain", 1)
    with Shop.generated(n_products=10, hosts=[host]) as shop:
        website_id, product_ids = add_website(db, shop, host, shop.product_paths_for(host), rate=120)
        work = enqueue(db, website_id)
        crawler = spawn(crawler_env(OBSRV_CRAWL_THROTTLE="true", OBSRV_CRAWL_STOP_GRACE_SECONDS="0.5"))
        wait_until(
            lambda: count_observations(db, product_ids) >= 2,
            timeout=45,
            message=f"the first observations\n{crawler.tail()}",
        )
        crawler.send(signal.SIGTERM)
        assert crawler.wait(20) == 0, crawler.tail()
        observed_first = count_observations(db, product_ids)
        assert observed_first < 10, "the crawl ended before the crawler was stopped"
        [cancelled] = runs_of(db, website_id)
        assert cancelled["status"] == "cancelled" and cancelled["finished_at"], cancelled
        handed_back = work_row(db, work["id"])
        assert handed_back["status"] == "queued" and handed_back["claimed_by"] is None, handed_back

        run_crawler(timeout=60, env=crawler_env(OBSRV_CRAWL_THROTTLE="true"))

    runs = runs_of(db, website_id)
    done = work_row(db, work["id"])
    observations = observations_of(db, product_ids)
    story = (
        [(r["id"], r["job_id"], r["status"], r["products_ok"]) for r in runs],
        {k: done[k] for k in ("status", "attempts", "note")},
        f"{len(observations)} of 10 observed",
    )
    assert done["status"] == "done", story
    assert [r["status"] for r in runs] == ["cancelled", "succeeded"], story
    assert sorted(o["product_id"] for o in observations) == sorted(product_ids), observations  # once each
    assert all(o["ok"] for o in observations)
    assert runs[1]["products_ok"] == 10 - observed_first


# -- 6. a hung website does not hold up the others ----------------------------------------------------------------
def test_a_hung_website_does_not_hold_up_the_others(db, crawl_env, spawn):
    names = hosts("hung", 5)
    hung_host, healthy_hosts = names[0], names[1:]
    with Shop.generated(n_products=5 * 3, hosts=names) as shop:
        for path in shop.product_paths_for(hung_host):
            shop.set_hang(path, host=hung_host)
        hung, hung_ids = add_website(db, shop, hung_host, shop.product_paths_for(hung_host))
        healthy = {host: add_website(db, shop, host, shop.product_paths_for(host)) for host in healthy_hosts}
        for website_id in [hung, *(w for w, _ in healthy.values())]:
            enqueue(db, website_id)
        healthy_ids = [w for w, _ in healthy.values()]
        # a page gets 2 s, and one retry: the hung website's crawl lasts at least 4 s
        crawler = spawn(crawler_env(OBSRV_DOWNLOAD_TIMEOUT="2", OBSRV_RETRY_TIMES="1"), until_idle=True)
        wait_until(
            lambda: all_finished(db, healthy_ids), timeout=45, message=f"the healthy websites' crawls\n{crawler.tail()}"
        )
        [hung_run] = runs_of(db, hung)
        assert hung_run["status"] == "running", "the hung website's crawl ended before the healthy ones"
        assert crawler.wait(60) == 0, crawler.tail()

    for host, (website_id, ids) in healthy.items():
        [run] = runs_of(db, website_id)
        assert run["status"] == "succeeded" and run["products_ok"] == len(ids), (host, run)
    [hung_run] = runs_of(db, hung)
    assert (hung_run["status"], hung_run["error_type"]) == ("failed", "timeout"), hung_run
    assert hung_run["products_failed"] == len(hung_ids)
    healthy_finished = max(runs_of(db, w)[0]["finished_at"] for w in healthy_ids)
    assert healthy_finished < hung_run["finished_at"]
    assert all(not o["ok"] and o["error_type"] == "timeout" for o in observations_of(db, hung_ids))


# -- #12 (13): Postgres away mid-crawl --------------------------------------------------------------------------
def test_postgres_away_mid_crawl_loses_nothing(db, crawl_env, spawn, services):
    """The crawler's connection is cut and Postgres refuses new ones for a while (what a restart looks like to
    it): the results wait, are written on a new connection once Postgres is back, and the run succeeds."""
    import psycopg

    names = hosts("pgaway", 1)
    database = psycopg.conninfo.conninfo_to_dict(services.database_url)["dbname"]
    with Shop.generated(n_products=20, hosts=names) as shop:
        website_id, product_ids = add_website(db, shop, names[0], shop.product_paths_for(names[0]), rate=120)
        enqueue(db, website_id)
        crawler = spawn(
            crawler_env(OBSRV_CRAWL_THROTTLE="true", OBSRV_PERSIST_BATCH="2", PGAPPNAME="pgaway-crawler"),
            until_idle=True,
        )
        wait_until(lambda: count_observations(db, product_ids) >= 2, 60, "the first results written")
        with psycopg.connect(services.admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
            try:
                cut = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'pgaway-crawler'"
                ).fetchone()[0]
                assert cut >= 1  # the crawler's own connections only: the suite's others stay up
                wait_until(
                    lambda: "could not persist a batch; retrying" in crawler.tail(200_000),
                    60,
                    "a batch to find Postgres away",
                )
            finally:
                admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
        assert crawler.wait(120) == 0, crawler.tail()
    assert "persisted a batch after retrying" in crawler.tail(200_000)
    assert observation_counts(db, product_ids) == dict.fromkeys(product_ids, 1)
    [run] = runs_of(db, website_id)
    assert (run["status"], run["products_ok"], run["error_message"]) == ("succeeded", 20, None), run


# -- #12 (8): a render_js crawl stopped mid-page leaves no browser and no proxy behind ----------------------------
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="Debian's chromium is not installed")
def test_ctrl_c_mid_render_js_crawl_leaves_no_browser_behind(db, crawl_env, spawn):
    import psutil

    [host] = hosts("browser", 1)
    with Shop.generated(n_products=3, hosts=[host]) as shop:
        paths = shop.product_paths_for(host)
        for path in paths:
            shop.set_hang(path, host=host)  # the browser waits on the page when the signal comes
        website_id, _ids = add_website(db, shop, host, paths)
        db.execute("UPDATE websites SET render_js = true WHERE id = %s", (website_id,))
        enqueue(db, website_id)
        crawler = spawn(crawler_env(OBSRV_DOWNLOAD_TIMEOUT="60", OBSRV_CRAWL_STOP_GRACE_SECONDS="0.5"))
        wait_until(
            lambda: any(h == host and p in paths for _t, h, _m, p in shop.requests),
            timeout=60,
            message=f"the browser's first page request\n{crawler.tail()}",
        )
        family = psutil.Process(crawler.pid).children(recursive=True)
        assert any("chrom" in p.name().lower() for p in family), [p.name() for p in family]
        crawler.send(signal.SIGINT)
        assert crawler.wait(20) == 0, crawler.tail()
        _gone, alive = psutil.wait_procs(family, timeout=10)
        assert alive == [], [(p.pid, p.name()) for p in alive]
    [run] = runs_of(db, website_id)
    assert run["status"] == "cancelled", run
