"""A whole local deployment for fault runs, benchmarks and the demo: an Anvil devnet with the
contracts and providers, and `swarm-staking serve` as a child process that can be killed and
restarted. Loopback only; everything stops when the context managers exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from staking.chain.contracts import StakingContract
from staking.deployment import Deployment
from staking.devnet.accounts import DETECTOR, devnet_account
from staking.devnet.node import LocalNode, free_port
from staking.devnet.provision import provision_devnet, provision_extra_providers, provision_providers_bulk
from staking.domain.errors import SwarmError
from staking.domain.vocabulary import Address, EventType, Severity
from staking.verdict import Verdict, sign_verdict, to_wire

CLI = str(Path(sys.executable).parent / "swarm-staking")


class HarnessError(SwarmError, RuntimeError):
    pass


def without_incidents(workdir: Path) -> dict[str, str]:
    """The environment of a service whose policy is the default with incidents off
    (SWARM_POLICY_FILE in `workdir`): for the crash, chaos and latency runs, whose bursts from one
    detector over dozens of providers are exactly what opens an incident, and which measure
    something else (`make rogue` measures incidents)."""
    from staking.policy.engine import DEFAULT_POLICY

    text = DEFAULT_POLICY.read_text()
    off = text.replace("[incidents]\nenabled = true\n", "[incidents]\nenabled = false\n")
    if off == text:
        raise HarnessError(f"no `[incidents] enabled = true` in {DEFAULT_POLICY} to turn off")
    path = workdir / "policy-without-incidents.toml"
    path.write_text(off)
    return {"SWARM_POLICY_FILE": str(path)}


@dataclass
class LocalDeployment:
    node: LocalNode
    deployment: Deployment
    deployment_path: Path
    staking: StakingContract
    providers: list[Address]

    def now(self) -> int:
        return int(self.node.w3.eth.get_block("latest")["timestamp"])


@contextmanager
def local_deployment(
    workdir: Path, extra_providers: int = 0, block_time: int = 1, bulk: bool = False
) -> Iterator[LocalDeployment]:
    """Anvil with the devnet deployment, `extra_providers` more staked providers, then interval
    mining every `block_time` seconds (0 keeps automine). `bulk`: the extra providers in a few
    large blocks of pre-signed transactions (`provision_providers_bulk`: 500 in about a second)
    instead of one block per transaction; the same accounts, stakes and GPUs either way."""
    with LocalNode.start("anvil", log_dir=workdir) as node:
        deployment = provision_devnet(node.w3, node.rpc_url)
        providers = [Address(to_checksum_address(p)) for p in deployment.accounts.providers]
        if extra_providers and bulk:
            providers += provision_providers_bulk(node.w3, deployment, extra_providers)
        elif extra_providers:
            providers += provision_extra_providers(node.w3, deployment, extra_providers)
        node.set_block_time(block_time)
        path = workdir / "deployment.json"
        deployment.save(path)
        yield LocalDeployment(
            node, deployment, path, StakingContract(node.w3, deployment.contracts.SwarmStaking), providers
        )


class VerdictSigner:
    """Signs verdicts as the devnet detector (account #2), or as the detector whose `key` is
    given (it must hold DETECTOR_ROLE for the verdicts to count). Ids and evidence hashes derive
    from `label` and a counter, so two signers need two labels."""

    def __init__(self, net: LocalDeployment, label: str, key: bytes | None = None) -> None:
        self.domain = net.staking.domain()
        self.key = key if key is not None else bytes(devnet_account(DETECTOR).key)
        self.address = Address(Account.from_key(self.key).address)
        self.label = label
        self.count = 0

    def verdict(self, provider: str, event: EventType, severity: Severity, detected_at: int) -> Verdict:
        """The next unsigned verdict of this signer's series."""
        self.count += 1
        return Verdict(
            keccak(text=f"{self.label}-verdict-{self.count}"),
            Address(to_checksum_address(provider)),
            event,
            severity,
            detected_at,
            keccak(text=f"{self.label}-evidence-{self.count}"),
        )

    def sign(self, verdict: Verdict) -> bytes:
        """This signer's signature of `verdict` (also of another signer's: a co-signature)."""
        return sign_verdict(verdict, self.domain, self.key)

    def body(self, provider: str, event: EventType, severity: Severity, detected_at: int) -> dict[str, Any]:
        v = self.verdict(provider, event, severity, detected_at)
        return to_wire(v, self.sign(v))


@dataclass
class ServiceProcess:
    """`swarm-staking serve` in a child process, with its own database and log file."""

    net: LocalDeployment
    workdir: Path
    database_url: str
    role: str = "all"
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"service-{self.role}.log"

    def env(self) -> dict[str, str]:
        return dict(
            os.environ,
            SWARM_DEPLOYMENT=str(self.net.deployment_path),
            SWARM_DATABASE_URL=self.database_url,
            SWARM_LOG_JSON="true",
            **self.extra_env,
        )

    def upgrade_db(self) -> None:
        done = subprocess.run([CLI, "db", "upgrade"], env=self.env(), capture_output=True, timeout=120)
        if done.returncode != 0:
            raise HarnessError(f"db upgrade failed: {done.stderr.decode()[-2000:]}")

    def start(self, ready_timeout: float = 60.0) -> None:
        if self._log is None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [CLI, "serve", "--role", self.role, "--port", str(self.port)],
            env=self.env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1
        self.wait_ready(ready_timeout)

    def wait_ready(self, timeout: float) -> None:
        """Until /healthz answers; a role without HTTP only has to survive its start-up."""
        if self.role not in ("all", "api"):
            time.sleep(1.0)
            if self.process is not None and self.process.poll() is not None:
                raise HarnessError(
                    f"the {self.role} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise HarnessError(f"the service exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise HarnessError(f"the service was not ready in {timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"
