"""`make demo`: a narrated scenario against the service `make run` started.

Verdicts of every event type go in through the HTTP API (signed by the devnet detector), the
service decides and acts on chain, and governance reviews with the command line: a slash is
vetoed, another executed after its veto window, a breached provider walks its recovery path and
is reinstated into probation. Then a reward epoch is published: the detector files signed
performance reports for the current epoch, governance funds its pool, the epoch ends and the
service's rewards job computes every provider's eligibility and publishes the Merkle root on chain;
a provider's proof is checked against that root. Each step prints what happened and the command or
request behind it.

Devnet only: the detector and governance keys are the public default-mnemonic accounts, and the
chain clock is moved forward past the veto window and the epoch's end instead of waiting for them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from eth_utils import keccak, to_checksum_address
from web3.exceptions import ContractLogicError

from staking.chain.connect import connect
from staking.chain.contracts import StakingContract
from staking.deployment import Deployment
from staking.devnet.accounts import DETECTOR, GOVERNANCE, devnet_account
from staking.devnet.harness import CLI
from staking.performance import PerformanceBatch, ProviderReport, sign_batch
from staking.performance import to_wire as batch_to_wire
from staking.rewards.eligibility import PerformanceReport
from staking.rewards.merkle import verify
from staking.types import TOKEN, Address, EventType, Severity
from staking.verdict import Verdict, sign_verdict, to_wire
from staking.worker.jobs import REPORT_GRACE_DIVISOR

# What the detector measured of each demo provider over the epoch: (uptime bps, p50 ms, error
# rate bps, rating bps), by the provider's role in the scenario. All but the last meet the
# default SLA (uptime >= 95 %, errors <= 5 %); what they earn also depends on their standing.
REPORTS = {
    "breached": (9_990, 110, 10, 9_200),
    "attacked": (9_870, 180, 40, 8_800),
    "warned": (9_960, 140, 20, 9_000),
    "slow": (9_620, 950, 300, 7_000),
    "failing": (9_700, 260, 150, 8_200),
    "suspicious": (9_980, 120, 10, 9_400),
    "flaky": (9_120, 400, 620, 8_000),
}
EPOCH_STATES = {
    "computed": "weights computed and stored; the publishEligibility transaction is next",
    "empty": "nobody eligible: a zero root closes the epoch",
    "publishing": "publishEligibility sent by the service signer, waiting for its receipt",
    "published": "the root is on chain",
}
POOL_SWARM = 1_000  # the demo's reward pool for the epoch


def utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%SZ")


def swarm(amount: int | str) -> str:
    """Base units as SWARM with two decimals (display only)."""
    whole, frac = divmod(int(amount), TOKEN)
    return f"{whole:,}.{frac * 100 // TOKEN:02d}"


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

    def wait_caught_up(self) -> int:
        """Wait until the service has indexed the chain's current head; returns that block."""
        head = int(self.w3.eth.block_number)
        self.wait_indexed(self.providers[0], lambda d: (d["as_of"]["block"] or 0) >= head, f"block {head}")
        return head

    # ---- rewards
    def file_reports(self, epoch: int, roles: dict[str, str], batch_label: str) -> dict[str, Any]:
        reports = tuple(
            ProviderReport(Address(to_checksum_address(a)), PerformanceReport(*REPORTS[role]))
            for a, role in roles.items()
        )
        batch = PerformanceBatch(keccak(text=f"demo-{self.run_id}-{batch_label}-{epoch}"), epoch, reports)
        body = batch_to_wire(batch, sign_batch(batch, self.staking.domain(), devnet_account(DETECTOR).key))
        r = self.http.post("/v1/performance", json=body)
        return {"status": r.status_code, "body": r.json()}

    def epoch_doc(self, epoch: int) -> dict[str, Any] | None:
        r = self.http.get(f"/v1/epochs/{epoch}")
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise DemoError(f"GET /v1/epochs/{epoch} answered {r.status_code}: {r.text[:300]}")
        return dict(r.json())

    def wait_published(self, epoch: int, timeout: float = 90) -> dict[str, Any]:
        """Poll GET /v1/epochs/{n}, narrating each state the rewards job moves the epoch through."""
        deadline, seen, doc = time.monotonic() + timeout, "", None
        while time.monotonic() < deadline:
            doc = self.epoch_doc(epoch)
            state = doc["state"] if doc else "not computed yet"
            if state != seen:
                self.say(
                    f"GET /v1/epochs/{epoch}: {state}"
                    + (f" ({EPOCH_STATES[state]})" if state in EPOCH_STATES else "")
                )
                seen = state
            if doc and doc["state"] == "mismatch":
                raise DemoError(f"epoch {epoch} is on chain with another root than the service computed")
            if doc and doc["state"] == "published" and doc["published"]:
                return doc
            time.sleep(0.5)
        raise DemoError(
            f"epoch {epoch} was not published within {timeout:.0f}s (last state: {seen}); the worker's "
            "reconcile_epochs job publishes it: see its runs at GET /metrics and the service's log"
        )

    def publication_tx(self, epoch: int) -> dict[str, Any] | None:
        """The EligibilityPublished log of `epoch` on chain (its transaction and block)."""
        logs = self.staking.contract.events.EligibilityPublished.get_logs(
            from_block=self.deployment.deployed_block, argument_filters={"epoch": epoch}
        )
        return dict(logs[-1]) if logs else None

    def advance_chain_time(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        self.say(f"(devnet) chain clock moved {seconds} s forward")

    # ---- the scenario
    def fresh(self) -> None:
        """The story needs untouched providers: a second run on the same devnet meets the first
        run's strikes (the escalation ladder) and jails, so it stops here instead of half-way."""
        touched = []
        for address in self.providers[:6]:
            doc = self.http.get(f"/v1/providers/{address}").json()
            if doc.get("status") != "active" or doc.get("strikes", {}).get("in_window"):
                touched.append(f"{address[:10]}… {doc.get('status')}")
        if touched:
            raise DemoError(
                "this devnet has already run the demo (" + ", ".join(touched) + "); "
                "stop `make run` (Ctrl-C) and start it again for a fresh devnet"
            )

    def run(self) -> None:
        p = self.providers
        breached, attacked, warned, slow, failing, suspicious = p[0], p[1], p[2], p[3], p[4], p[5]
        self.fresh()

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

        self.reward_epoch(
            {
                breached: "breached",
                attacked: "attacked",
                warned: "warned",
                slow: "slow",
                failing: "failing",
                suspicious: "suspicious",
                p[6]: "flaky",
            }
        )

        print("\nDone. Everything above is on the devnet and in the service's database; explore it at /docs.")

    def reward_epoch(self, roles: dict[str, str]) -> None:
        fns = self.staking.contract.functions
        genesis, length = int(fns.epochGenesis().call()), int(fns.epochLength().call())
        grace = length // REPORT_GRACE_DIVISOR  # the worker's default (reconcile_epochs)

        self.step(
            "This reward epoch: the detector files signed performance reports, governance funds the pool"
        )
        self.wait_caught_up()  # the intake judges "has the epoch begun" by the indexed chain time
        epoch = self.staking.current_epoch()
        start, end = genesis + epoch * length, genesis + (epoch + 1) * length
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        self.say(
            f"reward epoch {epoch} runs {utc(start)} to {utc(end)} chain time ({length} s epochs on the "
            f"devnet; {end - now} s left); the detector reports what it measured of each provider"
        )
        sent = self.file_reports(epoch, roles, "performance")
        if sent["status"] not in (200, 202):
            raise DemoError(f"POST /v1/performance answered {sent['status']}: {sent['body']}")
        self.say(
            f"POST /v1/performance: {len(roles)} reports for epoch {epoch}, an EIP-712 PerformanceBatch "
            f"signed by the detector {sent['body']['signer'][:10]}… → {sent['status']}"
        )
        for address, role in roles.items():
            up, ms, err, rating = REPORTS[role]
            self.say(
                f"  {address[:10]}… {role:<10} uptime {up / 100:6.2f} %  p50 {ms:4d} ms  "
                f"errors {err / 100:5.2f} %  rating {rating / 100:5.2f} %"
            )
        self.say(
            f"reports count until the rewards job computes the epoch, {grace} s after its end; "
            "later ones are refused (409), so the published weights are final"
        )
        self.say(
            "a reward pool funded before the epoch is published is what claims pay out: "
            "pool x weight / total weight"
        )
        self.cli("rewards", "fund", str(epoch), str(POOL_SWARM), "--yes")

        self.step("The epoch ends: the rewards job computes eligibility and publishes the Merkle root")
        self.say(
            f"the service's rewards job (reconcile_epochs, every few seconds) computes an epoch once the "
            f"indexed chain is {grace} s past its end, then sends publishEligibility; the devnet clock is "
            "moved there instead of waiting"
        )
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        self.advance_chain_time(max(1, end + grace + 1 - now))
        doc = self.wait_published(epoch)
        self.say(
            f"epoch {epoch} published on chain: root {doc['merkle_root']}, total weight "
            f"{swarm(doc['total_weight'])} (SWARM of time-weighted stake x performance score), "
            f"{doc['eligible']} of {doc['providers']} providers eligible"
        )
        tx = self.publication_tx(epoch)
        if tx is not None:
            sender = self.w3.eth.get_transaction(tx["transactionHash"])["from"]
            self.say(
                f"publishEligibility({epoch}, root, totalWeight, {doc['uri']!r}): tx "
                f"{tx['transactionHash'].to_0x_hex()[:12]}… in block {tx['blockNumber']}, sent by the "
                f"service signer {sender[:10]}… (REWARDS_ORACLE_ROLE) at {doc['published_at']}"
            )
        self.say("each provider's share, as GET /v1/epochs/{n}/proofs/{address} answers it:")
        proofs: dict[str, dict[str, Any]] = {}
        for address, role in roles.items():
            r = self.http.get(f"/v1/epochs/{epoch}/proofs/{address}")
            if r.status_code == 200:
                proofs[address] = dict(r.json())
                weight = int(proofs[address]["weight"])
                share = 100 * weight / int(doc["total_weight"])  # display only
                self.say(f"  {address[:10]}… {role:<10} eligible, weight {swarm(weight)} ({share:.2f} %)")
            elif r.status_code == 404 and r.json().get("type", "").endswith("not-eligible"):
                self.say(f"  {address[:10]}… {role:<10} not eligible: {'; '.join(r.json()['reasons'])}")
            else:
                raise DemoError(
                    f"GET /v1/epochs/{epoch}/proofs/{address} answered {r.status_code}: {r.text[:300]}"
                )
        self.say(
            "why: the job folds the epoch's indexed events, so a jail at any moment of the epoch, an open "
            "recovery, a pending slash or a stake under the class minimum costs the epoch's reward, as does "
            "a report under the SLA; a warning or an open investigation does not. Weight = time-weighted "
            "stake x performance score"
        )
        self.cli("rewards", "show", str(epoch))
        late = self.file_reports(epoch, roles, "late-performance")
        self.say(
            f"a late report for epoch {epoch} now: POST /v1/performance → {late['status']} "
            f"{late['body'].get('title')}: {late['body'].get('detail')}"
        )

        self.step("A provider's reward: its Merkle proof, checked against the root on chain")
        if not proofs:
            self.say(f"nobody is eligible in epoch {epoch}: the zero root closes it and nobody can claim")
            return
        address, proof = next(iter(proofs.items()))
        self.say(
            f"GET /v1/epochs/{epoch}/proofs/{address[:10]}…: weight {proof['weight']} (base units), "
            f"proof of {len(proof['proof'])} node{'s' if len(proof['proof']) != 1 else ''}:"
        )
        for node in proof["proof"]:
            self.say(f"  {node}")
        on_chain = self.staking.epoch(epoch)
        nodes = [bytes.fromhex(n[2:]) for n in proof["proof"]]
        if not verify(nodes, on_chain.merkle_root, address, int(proof["weight"])):
            raise DemoError(f"the proof of {address} does not verify against epoch {epoch}'s root on chain")
        # What claim() would do, simulated from the provider's address: the contract checks the proof.
        try:
            self.staking.claim(epoch, int(proof["weight"]), nodes).call({"from": address})
        except ContractLogicError as exc:
            raise DemoError(f"claim({epoch}) simulated from {address} reverts: {exc}") from exc
        amount = on_chain.pool * int(proof["weight"]) // on_chain.total_weight
        self.say(
            f"proof verified against the root on chain (getEpoch({epoch})); claim({epoch}, weight, proof) "
            f"simulated from the provider passes and would pay {swarm(amount)} of the {swarm(on_chain.pool)} "
            f"SWARM pool (the same from the command line: swarm-staking rewards proof {epoch} ADDRESS)"
        )


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
