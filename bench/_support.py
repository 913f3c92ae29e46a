"""What the benchmarks share (not a benchmark itself: `make bench` skips bench/_*.py).

Child processes started in their own session (``start_new_session=True``) are stopped with their whole
process group: :func:`stop_process_groups` sends SIGTERM, waits, and SIGKILLs what is still there.
:func:`wait_for_rq_workers` waits until RQ workers have registered (or one died). :class:`Sampler`
reads a process's RSS (with its children) and CPU seconds every few tenths of a second.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import psutil
from rq import Worker


def stop_process_groups(procs: list[subprocess.Popen], timeout: float = 30) -> None:
    """SIGTERM every process's group, then wait ``timeout`` s for each before a SIGKILL."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_rq_workers(
    redis, names: list[str], procs: list[subprocess.Popen], log: Path, failure: str, timeout: float = 60
) -> None:
    """Until every worker in ``names`` is registered; SystemExit(``failure`` + the log's tail) when one
    of ``procs`` ends first or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while not set(names) <= {w.name for w in Worker.all(connection=redis)}:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit(failure + log.read_text()[-3000:])
        time.sleep(0.1)


class Sampler(threading.Thread):
    """RSS (process + children) and CPU seconds of one process every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, rss bytes, cpu s)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                rss = cpu = 0.0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        rss += p.memory_info().rss
                        t = p.cpu_times()
                        cpu += t.user + t.system
                self.samples.append((time.monotonic(), rss, cpu))
            except psutil.Error:
                return
            self.done.wait(self.interval)

    def peak_mb(self) -> float:
        return max((s[1] for s in self.samples), default=0.0) / 2**20

    def at(self, t: float) -> tuple[float, float, float] | None:
        """The last sample taken at or before monotonic time ``t``."""
        before = [s for s in self.samples if s[0] <= t]
        return before[-1] if before else None
