"""`make demo`: a narrated scenario against the service `make run` started.

Verdicts of every event type go in through the HTTP API (signed by the devnet detector), the
service decides and acts on chain, and governance reviews with the command line: a slash is
vetoed, another executed after its veto window, a breached provider walks its recovery path and
is reinstated into probation. Each step prints what happened and the command or request behind it.

Devnet only: the detector and governance keys are the public default-mnemonic accounts, and the
chain clock is moved forward past the veto window instead of waiting for it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from eth_utils import keccak, to_checksum_address

from staking.chain.connect import connect
from staking.chain.contracts import StakingContract
from staking.deployment import Deployment
from staking.devnet.accounts import DETECTOR, GOVERNANCE, devnet_account
from staking.devnet.harness import CLI
from staking.types import Address, EventType, Severity
from staking.verdict import Verdict, sign_verdict, to_wire


class DemoError(RuntimeError):
    pass


class Demo:
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

    # ---- the risk framework's side
    def verdict(self, provider: str, event: EventType, severity: Severity) -> dict[str, Any]:
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        label = f"demo-{self.run_id}-{provider}-{event.wire}-{severity.wire}-{time.monotonic_ns()}"
        v = Verdict(
            keccak(text=label),
            Address(to_checksum_address(provider)),
            event,
            severity,
            now,
            keccak(text=f"{label}-evidence"),
        )
        body = to_wire(v, sign_verdict(v, self.staking.domain(), devnet_account(DETECTOR).key))
        r = self.http.post("/v1/verdicts", json=body)
        if r.status_code not in (200, 202):
            raise DemoError(f"POST /v1/verdicts answered {r.status_code}: {r.text[:300]}")
        self.say(f"POST /v1/verdicts {event.wire}/{severity.wire} for {provider[:10]}… → {r.status_code}")
        return self.settled(body["id"])

    def settled(self, verdict_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.http.get(f"/v1/verdicts/{verdict_id}").json()
            if r["status"] in ("done", "failed"):
                d = r["decision"]
                self.say(
                    f"decision: level {d['level']}, slash {d['slash_bps']} bps, jail {d['jail_seconds']} s, "
                    f"recovery path {d['recovery_path']} → verdict {r['status']}"
                )
                for a in r["actions"]:
                    tx = f" tx {a['tx_hash'][:12]}… block {a['block']}" if a.get("tx_hash") else ""
                    self.say(f"  action {a['kind']}: {a['state']}{tx}")
                return dict(r)
            time.sleep(0.5)
        raise DemoError(f"verdict {verdict_id} not settled within {timeout}s")

    # ---- where a provider stands
    def standing(self, provider: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/providers/{provider}")
        if r.status_code != 200:
            raise DemoError(f"GET /v1/providers/{provider} answered {r.status_code}")
        doc = dict(r.json())
        rec = doc.get("recovery") or {}
        jail = doc.get("jail") or {}
        self.say(
            f"GET /v1/providers/{provider[:10]}…: status {doc['status']}"
            + (f" ({doc.get('status_reason')})" if doc.get("status_reason") else "")
            + (f"; jail: {jail.get('reason')}" if jail else "")
            + (
                f"; recovery {rec.get('path')}/{rec.get('stage')}: next step: {rec.get('next_step')}"
                if rec
                else ""
            )
        )
        return doc

    def wait_indexed(self, provider: str, predicate: Any, what: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = dict(self.http.get(f"/v1/providers/{provider}").json())
            if predicate(doc):
                return doc
            time.sleep(0.5)
        raise DemoError(f"the API did not show {what} for {provider} within {timeout}s")

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

    def advance_chain_time(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        self.say(f"(devnet) chain clock moved {seconds} s forward")

    # ---- the scenario
    def run(self) -> None:
        p = self.providers
        breached, attacked, warned, slow, failing, suspicious = p[0], p[1], p[2], p[3], p[4], p[5]

        self.step("A security breach: isolation within the minute, a slash proposal, a security review")
        breach = self.verdict(breached, EventType.SECURITY_BREACH, Severity.HIGH)
        self.wait_indexed(breached, lambda d: d["status"] == "in_recovery", "the recovery")
        self.standing(breached)

        self.step("A system attack: isolated first, then a penalty proposed")
        attack = self.verdict(attacked, EventType.SYSTEM_ATTACK, Severity.HIGH)
        self.standing(attacked)

        self.step("A policy violation, a first offence: a warning (a strike, no slash)")
        self.verdict(warned, EventType.POLICY_VIOLATION, Severity.LOW)

        self.step("Poor performance twice: a warning, then the escalation ladder's penalty")
        self.verdict(slow, EventType.PERFORMANCE_VIOLATION, Severity.LOW)
        self.verdict(slow, EventType.PERFORMANCE_VIOLATION, Severity.LOW)
        self.wait_indexed(slow, lambda d: d["status"] == "jailed", "the timed jail")
        self.standing(slow)

        self.step("An operational failure: penalty, recovery path compliance verification")
        self.verdict(failing, EventType.OPERATIONAL_FAILURE, Severity.MEDIUM)

        self.step("Suspicious activity: an investigation for the security team, no penalty")
        self.verdict(suspicious, EventType.SUSPICIOUS_ACTIVITY, Severity.MEDIUM)
        self.cli("investigation", "list", "--status", "open")

        self.step("Governance reviews the pending slashes and vetoes the attack's (dry run first)")
        self.wait_indexed(attacked, lambda d: len(d["pending_slashes"]) > 0, "the pending slash")
        self.cli("slash", "list", "--state", "pending")
        self.cli("slash", "veto", attack["id"], "--reason", "demo: evidence disputed", "--dry-run")
        self.cli("slash", "veto", attack["id"], "--reason", "demo: evidence disputed", "--yes")

        self.step("The breach's slash matures: the service's scheduled job executes it")
        self.advance_chain_time(self.staking.veto_window() + 1)
        doc = self.wait_indexed(
            breached, lambda d: any(s["id"] == breach["id"] for s in d["slashes"]), "the executed slash", 60
        )
        executed = next(s for s in doc["slashes"] if s["id"] == breach["id"])
        self.say(
            f"slash {breach['id'][:12]}… {executed['state']}: {executed['amount']} base units to the treasury"
        )
        self.say(
            f"stake now: active {doc['stake']['active']}, meets minimum: {doc['stake']['meets_minimum']}"
        )

        self.step("The security review: governance advances the recovery and reinstates the provider")
        for _ in range(2):
            self.cli("recovery", "advance", breached, "--yes")
        self.cli("recovery", "reinstate", breached, "--yes")
        self.wait_indexed(breached, lambda d: d["status"] in ("probation", "active"), "the reinstatement")
        self.standing(breached)

        print("\nDone. Everything above is on the devnet and in the service's database; explore it at /docs.")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m staking.devnet.demo", description=__doc__.split("\n")[0])
    p.add_argument("--api", default="http://127.0.0.1:8000")
    p.add_argument("--deployment", type=Path, default=Path("deployments/localhost.json"))
    args = p.parse_args(argv)
    try:
        httpx.get(f"{args.api}/healthz", timeout=2).raise_for_status()
    except httpx.HTTPError:
        print(f"no service answers at {args.api}: start it with `make run` (in another terminal) first")
        return 2
    try:
        Demo(args.api, args.deployment).run()
    except (DemoError, FileNotFoundError) as exc:
        print(f"\ndemo stopped: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
