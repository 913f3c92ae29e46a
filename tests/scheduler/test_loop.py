"""The scheduler process: a real loop that ticks and stops cleanly on SIGTERM."""

import signal
import subprocess
import sys
import threading

from core.redis_client import get_redis
from core.settings import load_settings
from db.partitions import existing_partitions
from scheduler.loop import HEARTBEAT_KEY, Scheduler
from tests.conftest import ROOT
from tests.support.waiting import wait_until


def test_tick_keeps_partitions_ahead_and_leaves_a_heartbeat(services, db):
    settings = {
        **load_settings({}),
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "OBSRV_PARTITION_MONTHS_AHEAD": 5,
    }
    # drop a future partition: the tick must make it again
    future = sorted(existing_partitions(db))[-1]
    db.execute(f'DROP TABLE "{future}"')
    done = Scheduler(settings).tick()
    assert future in done["partitions_created"]
    assert get_redis(services.redis_url).exists(HEARTBEAT_KEY)


def test_scheduler_process_ticks_until_sigterm(services, db):
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler"],
        cwd=ROOT,
        env=services.env(OBSRV_SCHEDULER_TICK_SECONDS="0.2", OBSRV_LOG_LEVEL="DEBUG"),
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # its log, as it comes
    reader.start()
    try:
        redis = get_redis(services.redis_url)
        wait_until(lambda: redis.exists(HEARTBEAT_KEY), timeout=30, message=lambda: f"a heartbeat:\n{''.join(lines)}")
        # several ticks, seen in its log (however busy the machine), then SIGTERM
        wait_until(
            lambda: len([line for line in list(lines) if '"message": "tick"' in line]) >= 2,
            timeout=30,
            message=lambda: f"two ticks in the log:\n{''.join(lines)}",
        )
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    reader.join(10)
    err = "".join(lines)
    assert proc.returncode == 0, err
    ticks = [line for line in err.splitlines() if '"message": "tick"' in line]
    assert len(ticks) >= 2, err
    assert '"message": "scheduler stopped"' in err
