"""The scheduler process: a real loop that ticks and stops cleanly on SIGTERM."""

import signal
import subprocess
import sys
import time

from db.partitions import existing_partitions
from db.redis_client import get_redis
from scheduler.loop import HEARTBEAT_KEY, Scheduler
from db.settings import load_settings
from tests.conftest import ROOT


def test_tick_keeps_partitions_ahead_and_leaves_a_heartbeat(services, db):
    settings = {**load_settings({}), "DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url,
                "OBSRV_PARTITION_MONTHS_AHEAD": 5}
    # drop a future partition: the tick must make it again
    future = sorted(existing_partitions(db))[-1]
    db.execute(f'DROP TABLE "{future}"')
    done = Scheduler(settings).tick()
    assert future in done["partitions_created"]
    assert get_redis(services.redis_url).exists(HEARTBEAT_KEY)


def test_scheduler_process_ticks_until_sigterm(services, db):
    proc = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT,
                            env=services.env(OBSRV_SCHEDULER_TICK_SECONDS="0.2", OBSRV_LOG_LEVEL="DEBUG"),
                            stderr=subprocess.PIPE, text=True)
    redis = get_redis(services.redis_url)
    deadline = time.monotonic() + 30
    while not redis.exists(HEARTBEAT_KEY) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)  # several 0.2 s ticks, even on a busy machine
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    ticks = [line for line in err.splitlines() if '"message": "tick"' in line]
    assert len(ticks) >= 2, err
    assert '"message": "scheduler stopped"' in err
