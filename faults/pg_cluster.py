"""A private, throw-away PostgreSQL cluster for fault runs: its own data directory, a free loopback
port, trust authentication and `fsync=off` (which survives a server crash, not a machine crash).
It can be restarted (the "database restarted mid-burst" fault) without touching the machine's
shared server on port 5432, which other tests use.

    with PgCluster.start() as pg:
        url = pg.create_database("trial_1")   # postgresql://postgres@127.0.0.1:PORT/trial_1
        pg.restart("fast")                    # every connection is cut; the server comes back

The server runs as the `postgres` system user (initdb refuses root) through `runuser` when this
process is root; as any other user it runs as that user. Stopped and removed on exit, also after
Ctrl-C or an exception inside the block (and at interpreter exit, should the block be skipped).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from staking.devnet.node import free_port

PG_ROOTS = ("/usr/lib/postgresql",)


class PgClusterError(RuntimeError):
    pass


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian layout), or None."""
    env = os.environ.get("SWARM_PG_BINDIR")
    if env:
        return Path(env) if (Path(env) / "initdb").exists() else None
    for root in PG_ROOTS:
        versions = sorted(
            (p for p in Path(root).glob("*") if (p / "bin" / "initdb").exists()),
            key=lambda p: int(p.name) if p.name.isdigit() else 0,
        )
        if versions:
            return versions[-1] / "bin"
    return None


def unavailable() -> str | None:
    """None if a private cluster can be started here, else why not."""
    bindir = find_bindir()
    if bindir is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root, and `runuser` (to start the server as `postgres`) is missing"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no `postgres` system user to run the server as"
    return None


@dataclass
class PgCluster:
    bindir: Path
    root: Path  # holds data/, sock/ and the server log
    port: int
    user: str | None  # the system user the server runs as (None: this process's user)
    _running: bool = field(default=False, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        return self.root / "sock"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str, application_name: str | None = None) -> str:
        url = f"postgresql://postgres@127.0.0.1:{self.port}/{database}"
        return url + (f"?application_name={application_name}" if application_name else "")

    # ---- lifecycle
    @classmethod
    def start(cls, port: int | None = None) -> PgCluster:
        why = unavailable()
        if why:
            raise PgClusterError(why)
        bindir = find_bindir()
        assert bindir is not None
        # In the system temp directory, not under a caller's private (0700) work directory: the
        # server's user must be able to reach it.
        root = Path(tempfile.mkdtemp(prefix="swarm-chaos-pg-"))
        user = "postgres" if os.geteuid() == 0 else None
        cluster = cls(bindir, root, port or free_port(), user)
        atexit.register(cluster.stop)
        try:
            cluster.data.mkdir()
            cluster.sockdir.mkdir()
            if user is not None:
                entry = pwd.getpwnam(user)
                for path in (root, cluster.data, cluster.sockdir):
                    os.chown(path, entry.pw_uid, entry.pw_gid)
            initdb = ["initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "--no-sync"]
            cluster._run([*initdb, "-E", "UTF8"], timeout=120)
            cluster._pg_ctl("start", "-w", "-t", "60", "-o", cluster._options(), "-l", str(cluster.log_path))
            cluster._running = True
            cluster.wait_ready()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _options(self) -> str:
        # fsync=off only skips flushing to the disk: a server that is killed or restarted (not the
        # machine) loses nothing. synchronous_commit stays on: with it off, a commit already
        # acknowledged to a client can vanish in an immediate stop, which is not the fault under test.
        return (
            f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200 -c shared_buffers=64MB"
        )

    def _argv(self, argv: list[str]) -> list[str]:
        argv = [str(self.bindir / argv[0]), *argv[1:]]
        return ["runuser", "-u", self.user, "--", *argv] if self.user else argv

    def _run(self, argv: list[str], timeout: float) -> str:
        done = subprocess.run(
            self._argv(argv), capture_output=True, timeout=timeout, cwd=self.root, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            raise PgClusterError(
                f"{argv[0]} {argv[1] if len(argv) > 1 else ''} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).decode(errors='replace')[-1500:]}\n{self.log_tail()}"
            )
        return done.stdout.decode(errors="replace")

    def _pg_ctl(self, *args: str, timeout: float = 90) -> str:
        return self._run(["pg_ctl", "-D", str(self.data), *args], timeout=timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error as exc:
                last = exc
                time.sleep(0.1)
        raise PgClusterError(
            f"the private PostgreSQL did not answer in {timeout}s: {last}\n{self.log_tail()}"
        )

    def restart(self, mode: str = "fast", down_seconds: float = 0.0) -> float:
        """Stop (`-m fast`: clients are disconnected, or `immediate`: no shutdown checkpoint, as in
        a crash), stay down `down_seconds`, start again. Returns the seconds it was unavailable."""
        started = time.monotonic()
        self._pg_ctl("stop", "-w", "-t", "60", "-m", mode)
        time.sleep(down_seconds)
        self._pg_ctl("start", "-w", "-t", "60", "-o", self._options(), "-l", str(self.log_path))
        self.wait_ready()
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop the server (fast, then immediate) and remove everything. Idempotent."""
        if self._running or (self.data / "postmaster.pid").exists():
            for mode in ("fast", "immediate"):
                try:
                    self._pg_ctl("stop", "-w", "-t", "30", "-m", mode, timeout=45)
                    break
                except (PgClusterError, subprocess.TimeoutExpired):
                    continue
            self._running = False
        shutil.rmtree(self.root, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- databases
    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database, empty or a copy of `template` (which must have no open sessions);
        returns its URL (no application name)."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(psycopg.Error), psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def dump(self, name: str, path: Path) -> bool:
        """`pg_dump` of database `name` into `path` (plain SQL), for a failed run's evidence."""
        server = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        done = subprocess.run(
            [str(self.bindir / "pg_dump"), *server, "-d", name, "-f", str(path)],
            capture_output=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        return done.returncode == 0

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"
