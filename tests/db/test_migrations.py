"""Migrations from an empty database, rollback, and monthly observation partitions."""

from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest
from yoyo import read_migrations

from core.settings import with_database
from db.migrate import MIGRATIONS_DIR, _backend, migrate, rollback_all
from db.partitions import add_months, ensure_observation_partitions, existing_partitions, partition_name

#: every migration, in the order yoyo applies them (by id)
MIGRATION_IDS = sorted(
    path.name[: -len(".sql")] for path in MIGRATIONS_DIR.glob("*.sql") if not path.name.endswith(".rollback.sql")
)
TABLES = {
    "clients",
    "api_keys",
    "websites",
    "webhook_secrets",
    "products",
    "observations",
    "change_events",
    "webhook_deliveries",
    "crawl_runs",
    "product_statistics",
    "audit_log",
    "crawl_work",
}


@pytest.fixture
def empty_db(services):
    name = "obsrv_migrations_test"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(services.database_url, name)
    yield url
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_migration_has_a_rollback():
    assert {"0001_initial", "0002_crawl_work", "0003_offers", "0004_delivery_lease"} <= set(MIGRATION_IDS)
    for name in MIGRATION_IDS:
        assert (MIGRATIONS_DIR / f"{name}.rollback.sql").exists(), name


def columns(url, table):
    with psycopg.connect(url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
                (table,),
            )
        }


def tables(url):
    with psycopg.connect(url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'observations_y%'"
            )
        }


def test_migrations_from_empty_create_every_table_and_are_idempotent(empty_db):
    assert tables(empty_db) == set()
    applied = migrate(empty_db)
    assert applied == MIGRATION_IDS and applied[:3] == ["0001_initial", "0002_crawl_work", "0003_offers"]
    assert tables(empty_db) >= TABLES
    assert {"lease_token", "leased_until"} <= columns(empty_db, "change_events")
    assert migrate(empty_db) == []  # second run: nothing to do
    with psycopg.connect(empty_db) as conn:
        kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'observations'").fetchone()[0]
        assert kind == "p"  # partitioned
        strategy, column = conn.execute(
            """SELECT p.partstrat, a.attname FROM pg_partitioned_table p
               JOIN pg_class c ON c.oid = p.partrelid
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0]
               WHERE c.relname = 'observations'"""
        ).fetchone()
        assert (strategy, column) == ("r", "observed_at")
        types = dict(
            conn.execute(
                """SELECT table_name || '.' || column_name, data_type FROM information_schema.columns
               WHERE column_name IN ('price', 'observed_at', 'created_at') AND table_schema = 'public'"""
            )
        )
        assert types["observations.price"] == "numeric" and types["products.price"] == "numeric"
        assert types["observations.observed_at"] == "timestamp with time zone"
        offers = dict(
            conn.execute(
                """SELECT table_name || '.' || column_name, data_type FROM information_schema.columns
               WHERE column_name IN ('list_price', 'offers') AND table_schema = 'public'
                 AND table_name IN ('products', 'observations')"""
            )
        )
        assert offers == {
            "products.list_price": "numeric",
            "products.offers": "jsonb",
            "observations.list_price": "numeric",
            "observations.offers": "jsonb",
        }


def test_offers_migration_keeps_existing_rows_and_rolls_back_alone(empty_db):
    """0003 on a database that already has products and history: rows stay, with no offers or list price."""
    backend = _backend(empty_db)
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        backend.apply_migrations(backend.to_apply(migrations.filter(lambda m: m.id != "0003_offers")))
    at = datetime.now(UTC)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        ensure_observation_partitions(conn, first=at.date(), last=at.date())
        client = conn.execute("INSERT INTO clients (name) VALUES ('c') RETURNING id").fetchone()[0]
        website = conn.execute(
            "INSERT INTO websites (client_id, name, domain, seed_urls) VALUES (%s, 'w', 'w.test', %s) RETURNING id",
            (client, ["https://w.test/"]),
        ).fetchone()[0]
        product = conn.execute(
            "INSERT INTO products (website_id, url, identity, price) VALUES (%s, 'https://w.test/p',"
            " 'url:p', 9.99) RETURNING id",
            (website,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO observations (product_id, observed_at, ok, price) VALUES (%s, %s, true, 9.99)", (product, at)
        )
    assert migrate(empty_db) == ["0003_offers"]
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT price, list_price, offers FROM products").fetchone() == (
            Decimal("9.99"),
            None,
            None,
        )
        assert conn.execute("SELECT list_price, offers FROM observations").fetchone() == (None, None)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute('UPDATE products SET offers = \'{"sku": "x"}\'')
    with backend.lock():
        backend.rollback_migrations(backend.to_rollback(migrations.filter(lambda m: m.id == "0003_offers")))
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM observations").fetchone() == (1,)
        columns = {
            r[0]
            for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'products'")
        }
        assert "offers" not in columns and "price" in columns


def test_rollback_then_apply_again(empty_db):
    migrate(empty_db)
    assert rollback_all(empty_db) == MIGRATION_IDS[::-1]
    assert not (TABLES & tables(empty_db))
    assert migrate(empty_db) == MIGRATION_IDS


def test_the_delivery_lease_rolls_back_alone(empty_db):
    from yoyo import get_backend, read_migrations

    from db.migrate import yoyo_url

    migrate(empty_db)
    backend = get_backend(yoyo_url(empty_db), migration_table="_yoyo_migration")
    lease = [m for m in read_migrations(str(MIGRATIONS_DIR)) if m.id == "0004_delivery_lease"]
    with backend.lock():
        backend.rollback_migrations(lease)
    assert not {"lease_token", "leased_until"} & columns(empty_db, "change_events")
    assert tables(empty_db) >= TABLES
    assert migrate(empty_db) == ["0004_delivery_lease"]
    assert {"lease_token", "leased_until"} <= columns(empty_db, "change_events")


def test_partitions_are_created_ahead_by_code(db):
    this_month = datetime.now(UTC).date().replace(day=1)
    names = existing_partitions(db)
    for ahead in range(0, 4):  # migrate() made the current month and three ahead
        assert partition_name(add_months(this_month, ahead)) in names
    created = ensure_observation_partitions(db, first=date(2024, 11, 5), last=date(2025, 2, 1))
    assert created == [
        "observations_y2024m11",
        "observations_y2024m12",
        "observations_y2025m01",
        "observations_y2025m02",
    ]
    assert ensure_observation_partitions(db, first=date(2024, 11, 1), last=date(2025, 2, 1)) == []
    bounds = db.execute(
        "SELECT pg_get_expr(relpartbound, oid) AS b FROM pg_class WHERE relname = 'observations_y2024m12'"
    ).fetchone()["b"]
    assert "2024-12-01" in bounds and "2025-01-01" in bounds


def test_observation_rows_route_to_their_month(db):
    ensure_observation_partitions(db, first=date(2025, 1, 1), last=date(2025, 2, 1))
    client = db.execute("INSERT INTO clients (name) VALUES ('c') RETURNING id").fetchone()["id"]
    website = db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls) VALUES (%s, 'w', 'shop.test', %s) RETURNING id",
        (client, ["https://shop.test/"]),
    ).fetchone()["id"]
    product = db.execute(
        "INSERT INTO products (website_id, url, identity) VALUES (%s, 'https://shop.test/p/1', "
        "'url:https://shop.test/p/1') RETURNING id",
        (website,),
    ).fetchone()["id"]
    at = datetime(2025, 1, 31, 23, 59, tzinfo=UTC)
    db.execute(
        "INSERT INTO observations (product_id, observed_at, ok, price, currency, availability) "
        "VALUES (%s, %s, true, %s, 'GBP', 'InStock')",
        (product, at, Decimal("51.77")),
    )
    row = db.execute("SELECT tableoid::regclass::text AS part, price FROM observations").fetchone()
    assert row == {"part": "observations_y2025m01", "price": Decimal("51.77")}
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO observations (product_id, observed_at, ok) VALUES (%s, '1999-01-01Z', true)", (product,)
        )


def test_constraints_hold(db):
    client = db.execute("INSERT INTO clients (name) VALUES ('c') RETURNING id").fetchone()["id"]
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO api_keys (client_id, name, prefix, digest, scopes) VALUES (%s, 'k', 'p', %s, %s)",
            (client, b"x" * 32, ["root"]),
        )
    db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls) VALUES (%s, 'w', 'a.test', %s)",
        (client, ["https://a.test/"]),
    )
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(
            "INSERT INTO websites (client_id, name, domain, seed_urls) VALUES (%s, 'w2', 'a.test', %s)",
            (client, ["https://a.test/x"]),
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO websites (client_id, name, domain, seed_urls, status) VALUES (%s, 'w', 'b.test', %s, 'weird')",
            (client, ["https://b.test/"]),
        )
