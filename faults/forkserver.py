"""A fork server for fault runs: starts `swarm-staking` processes by forking one interpreter that
has already imported the service's modules, instead of a fresh interpreter each time.

A chaos run starts hundreds of role processes (five per trial, plus every restart after a kill),
and each fresh interpreter spends ~3 s of CPU importing web3, FastAPI, SQLAlchemy and the service
before it does anything: on a 2-core machine that, not the trial itself, would dominate the run.
A forked child is a new process like any other — its own pid, session, log file, environment and
working directory; it reads its settings and opens every connection after the fork, exactly as a
fresh `swarm-staking` would — it only skips the imports (what `gunicorn --preload` does).

Protocol (JSON lines): the client writes `{"argv", "env", "cwd", "log"}` to the server's stdin and
reads `{"pid"}` back; the server reports `{"exit": pid, "code": n}` (negative: killed by signal n)
for every child it reaps. The server is single-threaded (fork and threads do not mix) and kills
its children when its stdin closes.

    python -m faults.forkserver      # started by `ForkServer.start()`
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import io
import json
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from typing import IO, Any

PRELOAD = (
    "staking.cli",
    "staking.service",
    "staking.api.app",
    "uvicorn",
    "indexer.runner",
    "staking.worker.executor",
    "staking.worker.jobs",
    "staking.worker.drift",
    "staking.worker.leader",
    "staking.txmanager.manager",
    "staking.notify.webhooks",
    "apscheduler.schedulers.background",
    "psycopg",
    "sqlalchemy.dialects.postgresql.psycopg",
)


# ------------------------------------------------------------------------------- the server side


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the requested process. Never returns."""
    code = 1
    try:
        os.setsid()  # its own process group, like a process a supervisor starts
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdin
        sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), line_buffering=True)  # noqa: SIM115
        sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), line_buffering=True)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        random.seed()
        sys.argv = list(request["argv"])
        from staking.cli import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client decides when this ends
    out = sys.stdout
    children: set[int] = set()

    def emit(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            emit({"exit": pid, "code": os.waitstatus_to_exitcode(status)})

    emit({"ready": True, "pid": os.getpid()})
    pending = b""
    while True:
        try:
            readable, _, _ = select.select([0, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
            reap()
        if 0 not in readable:
            continue
        chunk = os.read(0, 65536)
        if not chunk:  # the client is gone: so are the children
            for pid in list(children):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                os.close(wake_r)
                os.close(wake_w)
                _child(request)
            children.add(pid)
            emit({"pid": pid})
        reap()


# ------------------------------------------------------------------------------- the client side


class ForkedProcess:
    """A child of the fork server, with the part of `subprocess.Popen`'s interface the
    supervisor uses (pid, poll, wait, send_signal, returncode)."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.server.cond:
            while self.returncode is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
                if self.server.dead:
                    raise RuntimeError("the fork server died")
                self.server.cond.wait(left)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


class ForkServer:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.cond = threading.Condition()
        self.replies: list[int] = []
        self.children: dict[int, ForkedProcess] = {}
        self.early_exits: dict[int, int] = {}  # exits reported before the spawn reply was read
        self.dead = False
        self._send_lock = threading.Lock()
        assert process.stdout is not None
        first = json.loads(process.stdout.readline() or b"{}")
        if not first.get("ready"):
            raise RuntimeError("the fork server did not start")
        self._reader = threading.Thread(target=self._read, name="forkserver-reader", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, cwd: str | None = None) -> ForkServer:
        process = subprocess.Popen(
            [sys.executable, "-m", "faults.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
        )
        return cls(process)

    def _read(self) -> None:
        stream: IO[bytes] | None = self.process.stdout
        assert stream is not None
        for raw in stream:
            message = json.loads(raw)
            with self.cond:
                if "pid" in message:
                    self.replies.append(int(message["pid"]))
                elif "exit" in message:
                    pid, code = int(message["exit"]), int(message["code"])
                    child = self.children.get(pid)
                    if child is not None and child.returncode is None:
                        child.returncode = code
                        del self.children[pid]
                    else:
                        self.early_exits[pid] = code
                self.cond.notify_all()
        with self.cond:
            self.dead = True
            self.cond.notify_all()

    def spawn(self, argv: list[str], env: dict[str, str], log: str, cwd: str | None = None) -> ForkedProcess:
        request = {"argv": argv, "env": env, "log": log, "cwd": cwd or os.getcwd()}
        with self._send_lock:
            stdin = self.process.stdin
            assert stdin is not None
            stdin.write((json.dumps(request) + "\n").encode())
            stdin.flush()
            with self.cond:
                while not self.replies:
                    if self.dead:
                        raise RuntimeError("the fork server died")
                    self.cond.wait(10)
                pid = self.replies.pop(0)
                child = ForkedProcess(self, pid)
                if pid in self.early_exits:
                    child.returncode = self.early_exits.pop(pid)
                else:
                    self.children[pid] = child
        return child

    def stop(self) -> None:
        """Closing its stdin makes the server SIGKILL its children and exit."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


if __name__ == "__main__":
    try:
        serve()
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
