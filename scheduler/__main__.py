"""``python -m scheduler``: run the scheduler loop until SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import sys

from core.jsonlog import configure_logging
from core.settings import load_settings
from scheduler.loop import Scheduler


def main() -> int:
    settings = load_settings()
    configure_logging(settings["OBSRV_LOG_LEVEL"])
    if not settings["DATABASE_URL"] or not settings["REDIS_URL"]:
        print("error: DATABASE_URL and REDIS_URL must be set (or run it through `make run`)", file=sys.stderr)
        return 2
    scheduler = Scheduler(settings)
    signal.signal(signal.SIGTERM, scheduler.stop)
    signal.signal(signal.SIGINT, scheduler.stop)
    scheduler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
