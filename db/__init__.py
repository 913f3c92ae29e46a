"""Postgres (the only source of truth) and Redis access: settings, pool, migrations, queries."""
