"""Start and stop a local chain process: Anvil (npm `@foundry-rs/anvil`) or `hardhat node`.

The binaries come from `node_modules/.bin` (installed by `npm ci`), which also puts the
npm-packaged Node 22 that Hardhat 3 needs first on PATH.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from web3 import Web3

from staking.chain.connect import wait_for_rpc
from staking.config import REPO_ROOT
from staking.domain.errors import SwarmError

NodeKind = Literal["anvil", "hardhat"]
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"


class NodeError(SwarmError, RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _command(kind: NodeKind, port: int) -> list[str]:
    if kind == "anvil":
        binary = NODE_BIN / "anvil"
        return [
            str(binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            "31337",
            "--accounts",
            "20",
            "--silent",
        ]
    binary = NODE_BIN / "hardhat"
    return [str(binary), "node", "--hostname", "127.0.0.1", "--port", str(port)]


@dataclass
class LocalNode:
    """A running devnet node. Use as a context manager or call `stop()`."""

    kind: NodeKind
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    w3: Web3 = field(repr=False)

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        kind: NodeKind = "anvil",
        port: int | None = None,
        log_dir: Path | None = None,
        ready_timeout: float = 60.0,
    ) -> LocalNode:
        port = port or free_port()
        if port_in_use(port):
            raise NodeError(f"port {port} is already in use on 127.0.0.1; pick another with --port")
        cmd = _command(kind, port)
        if not Path(cmd[0]).exists():
            raise NodeError(f"{cmd[0]} not found: run `make setup` (npm install) first")
        log_dir = log_dir or (REPO_ROOT / "var" / "log")
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{kind}-{port}.log"
        env = dict(os.environ, PATH=f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            w3 = wait_for_rpc(f"http://127.0.0.1:{port}", timeout=ready_timeout)
        except Exception:
            _terminate(process)
            tail = log_path.read_text(errors="replace")[-2000:]
            raise NodeError(
                f"{kind} did not become ready on port {port}; its log ends with:\n{tail}"
            ) from None
        return cls(kind=kind, port=port, process=process, log_path=log_path, w3=w3)

    def set_block_time(self, seconds: int) -> None:
        """Switch from automine to interval mining (after a fast automined deployment)."""
        if seconds <= 0:
            return
        if self.kind == "anvil":
            self.w3.provider.make_request("evm_setIntervalMining", [seconds])  # type: ignore[arg-type]
        else:
            self.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
            self.w3.provider.make_request("evm_setIntervalMining", [seconds * 1000])  # type: ignore[arg-type]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        _terminate(self.process)

    def __enter__(self) -> LocalNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGINT, then SIGTERM, then SIGKILL, each with a wait, to the whole process group: the npm
    `anvil` and `hardhat` commands are launchers whose child is the node itself, and a busy child
    can outlive its launcher. The group is gone when this returns."""
    for sig, wait in ((signal.SIGINT, 5.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        process.poll()  # reap the launcher: a zombie still counts as a member of the group
        if not _group_alive(process.pid):
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and (process.poll() is None or _group_alive(process.pid)):
            time.sleep(0.05)
    if process.poll() is None:
        process.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
