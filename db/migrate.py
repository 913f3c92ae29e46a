"""Apply the numbered SQL migrations in ``db/migrations`` with yoyo-migrations.

yoyo speaks psycopg 3 through the ``postgresql+psycopg://`` scheme; the
libpq URL of ``DATABASE_URL`` is translated here. After the schema, the
observation partitions for the coming months are made.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from yoyo import get_backend, read_migrations

from db.partitions import ensure_observation_partitions

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger("obsrv.migrate")


def yoyo_url(database_url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


def _backend(database_url: str):
    return get_backend(yoyo_url(database_url), migration_table="_yoyo_migration")


def migrate(database_url: str, *, months_ahead: int = 3) -> list[str]:
    """Bring the schema up to date; returns the ids of the migrations applied now."""
    backend = _backend(database_url)
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        created = ensure_observation_partitions(conn, months_ahead=months_ahead)
    log.info("migrations applied", extra={"applied": applied, "partitions_created": created})
    return applied


def rollback_all(database_url: str) -> list[str]:
    """Roll every applied migration back (tests and emergencies only)."""
    backend = _backend(database_url)
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        todo = backend.to_rollback(migrations)
        backend.rollback_migrations(todo)
    return [m.id for m in todo]
