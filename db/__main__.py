"""``python -m db migrate``: apply migrations and create the coming partitions.

Uses DATABASE_URL (docker-compose's one-shot ``migrate`` service runs this).
"""

from __future__ import annotations

import argparse
import sys

from core.jsonlog import configure_logging
from core.settings import load_settings
from db.migrate import migrate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m db")
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings["OBSRV_LOG_LEVEL"])
    if not settings["DATABASE_URL"]:
        print("error: DATABASE_URL is not set", file=sys.stderr)
        return 2
    applied = migrate(settings["DATABASE_URL"], months_ahead=settings["OBSRV_PARTITION_MONTHS_AHEAD"])
    print(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
