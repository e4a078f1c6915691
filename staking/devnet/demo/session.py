"""The demo's connections and narration: the service's HTTP API, the devnet chain and the
`swarm-staking` command line as an operator types it, the numbered steps, and the waits for the
service to catch up with what was just done."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from staking.chain.connect import connect
from staking.chain.contracts import StakingContract
from staking.deployment import Deployment
from staking.devnet.accounts import GOVERNANCE, devnet_account
from staking.devnet.demo.texts import recovery_text
from staking.devnet.harness import CLI
from staking.domain.errors import SwarmError


class DemoError(SwarmError, RuntimeError):
    """The scenario cannot go on: the message says what did not happen and where to look."""


class Session:
    def __init__(self, api: str, deployment: Path) -> None:
        self.deployment_path = deployment
        self.deployment = Deployment.load(deployment)
        self.w3 = connect(self.deployment.rpc_url)
        self.staking = StakingContract(self.w3, self.deployment.contracts.SwarmStaking)
        self.http = httpx.Client(base_url=api, timeout=15)
        self.providers = self.deployment.accounts.providers
        self.step_no = 0
        self.run_id = str(time.time_ns())

    # ---- narration
    def step(self, title: str) -> None:
        self.step_no += 1
        print(f"\n== {self.step_no}. {title}", flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)

    # ---- the chain
    def chain_time(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance_chain_time(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        self.say(f"(devnet) chain clock moved {seconds} s forward")

    # ---- where a provider stands, as the API shows it
    def standing(self, provider: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/providers/{provider}")
        if r.status_code != 200:
            raise DemoError(f"GET /v1/providers/{provider} answered {r.status_code}")
        doc = dict(r.json())
        rec = doc.get("recovery") or {}
        jail = doc.get("jail") or {}
        flight = doc.get("in_flight") or []
        self.say(
            f"GET /v1/providers/{provider[:10]}…: status {doc['status']}"
            + (f" ({doc.get('status_reason')})" if doc.get("status_reason") else "")
            + (f"; jail: {jail.get('reason')}" if jail else "")
            + (f"; {recovery_text(rec)}: next step: {rec.get('next_step')}" if rec else "")
            + (
                "; in flight: " + ", ".join(f"{f['kind']} in block {f['block']}" for f in flight)
                if flight
                else ""
            )
        )
        if flight:
            self.say(
                f"why: `status` is what the indexer has folded (up to block {doc['as_of']['block']}); "
                "`in_flight` is what this service has just confirmed on chain and the indexer has not "
                "reached yet: the isolation already holds on chain"
            )
        return doc

    def wait_indexed(
        self, provider: str, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = dict(self.http.get(f"/v1/providers/{provider}").json())
            if predicate(doc):
                return doc
            time.sleep(0.5)
        raise DemoError(f"the API did not show {what} for {provider} within {timeout}s")

    def wait_caught_up(self) -> int:
        """Wait until the service has indexed the chain's current head; returns that block."""
        head = int(self.w3.eth.block_number)
        self.wait_indexed(self.providers[0], lambda d: (d["as_of"]["block"] or 0) >= head, f"block {head}")
        return head

    # ---- governance's side: the command line, as an operator types it
    def cli(self, *args: str) -> str:
        env = dict(
            os.environ,
            SWARM_DEPLOYMENT=str(self.deployment_path),
            SWARM_SIGNER_KEY=devnet_account(GOVERNANCE).key.hex(),  # public devnet key #0
        )
        self.say("$ swarm-staking " + " ".join(args))
        done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)
        out = (done.stdout + done.stderr).strip()
        for line in out.splitlines():
            self.say(f"  {line}")
        if done.returncode != 0:
            raise DemoError(f"`swarm-staking {' '.join(args)}` failed with status {done.returncode}")
        return out
