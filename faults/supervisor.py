"""A small process supervisor for fault runs: `swarm-staking serve --role …` children that are
restarted when they exit, as systemd (`Restart=always`) or Kubernetes would.

- A process the harness kills on purpose (`kill(restart_after=…)`) comes back after that delay.
- A process that exits by itself (a crash, or a standby worker that gave up waiting for the
  writer lock) comes back after a back-off: 1 s, doubling up to 8 s while it keeps exiting
  within 20 s of its start, reset once it has run longer.

Every start appends to the role's log file behind a `=== start N ===` marker, so a log holds the
whole life of the slot. Each start gets a fresh environment from `env_for(process)`, e.g. a
database URL whose `application_name` names this incarnation (`chaos-worker-a-3`), which is how
the harness tells, from PostgreSQL, which process holds a lock.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import httpx

from faults.forkserver import ForkServer

CLI = str(Path(sys.executable).parent / "swarm-staking")
# The unindented line of a traceback that names the exception, or the CLI's one-line error.
EXIT_REASON = re.compile(r"^(error:|[A-Za-z_][\w.]*[A-Z]\w*: )")
BACKOFF_FIRST, BACKOFF_MAX, STABLE_AFTER = 1.0, 8.0, 20.0


class Proc(Protocol):
    """What the supervisor needs of a child: `subprocess.Popen` or a fork server's child."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...


@dataclass
class Exit:
    name: str
    incarnation: int
    code: int
    ran_seconds: float
    deliberate: bool  # killed by the harness
    reason: str  # the last error line of its log, if any
    at: float = 0.0  # time.time() it was reaped


@dataclass
class RoleProcess:
    name: str  # "api-1", "indexer", "worker-a"
    role: str  # api | indexer | worker
    workdir: Path
    env_for: Callable[[RoleProcess], dict[str, str]]
    port: int | None = None  # the API port (api role)
    forkserver: ForkServer | None = None  # start children through it (else a fresh interpreter)
    process: Proc | None = None
    starts: int = 0
    started_at: float = 0.0  # monotonic
    hold_until: float = 0.0  # not restarted before (monotonic)
    deliberate: bool = False  # the running incarnation was killed on purpose
    fast_exits: int = 0
    exits: list[Exit] = field(default_factory=list)
    _log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def incarnation(self) -> str:
        """Names this run of the slot: chaos-worker-a-3 (also its PostgreSQL application_name)."""
        return f"chaos-{self.name}-{self.starts}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self._log is None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed by close()
        self.starts += 1
        stamp = f"{time.strftime('%H:%M:%S')} ({time.time():.3f})"
        self._log.write(f"=== start {self.starts} at {stamp} ===\n".encode())
        self._log.flush()
        argv = [CLI, "serve", "--role", self.role]
        if self.port is not None:
            argv += ["--port", str(self.port)]
        self.deliberate = False
        if self.forkserver is not None:
            self.process = self.forkserver.spawn(argv, self.env_for(self), str(self.log_path))
        else:
            self.process = subprocess.Popen(
                argv,
                env=self.env_for(self),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.started_at = time.monotonic()

    def kill(self) -> bool:
        """SIGKILL (no shutdown code runs, as in a crash or an OOM kill). False if not running."""
        if not self.alive():
            return False
        assert self.process is not None
        self.deliberate = True
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        return True

    def terminate(self) -> None:
        if self.alive():
            assert self.process is not None
            self.deliberate = True
            self.process.send_signal(signal.SIGTERM)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def incarnation_logs(self) -> dict[int, tuple[float, list[str]]]:
        """Start number -> (start time, log lines) for every incarnation of this slot."""
        out: dict[int, tuple[float, list[str]]] = {}
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return out
        current: list[str] | None = None
        for line in text.splitlines():
            if line.startswith("=== start "):
                parts = line.split()
                number = int(parts[2])
                at = float(parts[5].strip("()")) if len(parts) > 5 else 0.0
                current = []
                out[number] = (at, current)
            elif current is not None:
                current.append(line)
        return out

    def current_log(self, chars: int = 200_000) -> str:
        """This incarnation's part of the log."""
        try:
            text = self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
        marker = f"=== start {self.starts} at "
        at = text.rfind(marker)
        return text[at:] if at >= 0 else text

    def last_error(self) -> str:
        """Why the current incarnation ended, from its log: what it printed after its last JSON
        line (the CLI's `error: …`, or a traceback's final exception line), else the last
        error-level JSON record."""
        trailing: list[str] = []
        last_error_record = ""
        for line in self.current_log(50_000).splitlines():
            if line.startswith("{"):
                trailing = []
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("level") in ("error", "critical"):
                    last_error_record = str(record.get("msg", ""))
            elif line.strip() and not line.startswith("==="):
                trailing.append(line.rstrip())
        reasons = [line for line in trailing if EXIT_REASON.match(line)]
        return (reasons[-1] if reasons else trailing[-1] if trailing else last_error_record)[:300]


class Supervisor:
    """Keeps every process running; `paused` stops restarts (for the final shutdown)."""

    def __init__(self, processes: list[RoleProcess], on_exit: Callable[[Exit], None] | None = None) -> None:
        self.processes = processes
        self.on_exit = on_exit
        self.lock = threading.RLock()
        self.exits: list[Exit] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        with self.lock:
            for p in self.processes:
                p.start()
        self._thread.start()
        return self

    def by_name(self, name: str) -> RoleProcess:
        return next(p for p in self.processes if p.name == name)

    def kill(self, p: RoleProcess, restart_after: float) -> bool:
        """SIGKILL `p`; the supervisor starts it again `restart_after` seconds later."""
        with self.lock:
            p.hold_until = time.monotonic() + restart_after
            return p.kill()

    def _reap(self, p: RoleProcess) -> None:
        assert p.process is not None
        code = p.process.poll()
        assert code is not None
        ran = time.monotonic() - p.started_at
        reason = "" if p.deliberate else p.last_error()
        ex = Exit(p.name, p.starts, code, round(ran, 1), p.deliberate, reason, time.time())
        p.exits.append(ex)
        self.exits.append(ex)
        if not p.deliberate:
            p.fast_exits = p.fast_exits + 1 if ran < STABLE_AFTER else 0
            backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, p.fast_exits - 1))
            p.hold_until = max(p.hold_until, time.monotonic() + backoff)
        p.process = None
        if self.on_exit is not None:
            self.on_exit(ex)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            with self.lock:
                for p in self.processes:
                    if p.process is not None and p.process.poll() is not None:
                        self._reap(p)
                    if p.process is None and time.monotonic() >= p.hold_until:
                        p.start()

    def stop(self, timeout: float = 3.0) -> None:
        """No more restarts; SIGTERM everything, SIGKILL what is left after `timeout`."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self.lock:
            for p in self.processes:
                p.terminate()
            deadline = time.monotonic() + timeout
            for p in self.processes:
                if p.process is None:
                    continue
                try:
                    p.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
            for p in self.processes:
                p.close()


def wait_http_ready(urls: list[str], timeout: float, path: str = "/healthz") -> None:
    """Until every URL answers 200 on `path` (the API replicas' /healthz)."""
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        for url in list(pending):
            try:
                if httpx.get(url + path, timeout=1).status_code == 200:
                    pending.remove(url)
            except httpx.HTTPError:
                pass
        if pending:
            time.sleep(0.1)
    if pending:
        raise TimeoutError(f"not ready within {timeout}s: {', '.join(pending)}")
