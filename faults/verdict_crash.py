"""Crash trials: the service SIGKILLed at random points of a verdict burst, then restarted.

Each trial, on its own Anvil (1-second blocks) and its own database:

1. starts `swarm-staking serve --role all`;
2. posts a burst of signed verdicts of every event type (seeded: providers, types, severities)
   from 4 concurrent detectors that retry until the service answers 200/202, as a detector must;
3. SIGKILLs the service 1-3 times at random points of the burst (and sometimes once more while
   it is still executing the actions), restarting it each time;
4. waits until every verdict is settled, then checks the invariants against the chain:
   - no verdict lost: every verdict posted is stored, and none is `failed`;
   - exactly its decided actions: for each verdict, one successful `jail` / `proposeSlash`
     transaction per decided action and none for an action it was not decided, and the
     contract's state shows each effect (`verdictJailUsed`, `slashState`, the recovery path);
   - no duplicate and no failed transaction from the service signer, at most one
     `executeSlash` per slash;
   - no nonce gap: the signer's mined nonce equals its pending nonce and the number of its
     transactions; every transaction intent is confirmed.

    .venv/bin/python -m faults.verdict_crash [--trials 20] [--verdicts 200] [--seed 1]

Progress on stderr, a JSON summary on stdout; exit status 1 when any invariant is violated.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from web3 import Web3

from staking.devnet.accounts import SERVICE, devnet_account
from staking.devnet.harness import LocalDeployment, ServiceProcess, VerdictSigner, local_deployment
from staking.types import EventType, Severity

DETECTORS = 4  # concurrent posting threads
SETTLE_TIMEOUT = 240.0


def say(message: str) -> None:
    print(f"[crash {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class TrialResult:
    seed: int
    verdicts: int
    kills: int
    seconds: float
    transactions: int
    actions: dict[str, int]
    violations: list[str] = field(default_factory=list)


class Burst:
    """Posts every body until the service accepts it, whatever state the service is in."""

    def __init__(self, base_url: str, bodies: list[dict[str, Any]]) -> None:
        self.base_url = base_url
        self.queue = list(reversed(bodies))
        self.lock = threading.Lock()
        self.accepted: dict[str, int] = {}
        self.refused: list[str] = []
        self.retries = 0

    @property
    def posted(self) -> int:
        with self.lock:
            return len(self.accepted) + len(self.refused)

    def _next(self) -> dict[str, Any] | None:
        with self.lock:
            return self.queue.pop() if self.queue else None

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> None:
        while True:
            try:
                status = client.post("/v1/verdicts", json=body).status_code
            except httpx.HTTPError:
                status = 0  # refused or cut off by the kill: the detector retries
            if status in (200, 202):
                with self.lock:
                    self.accepted[body["id"]] = status
                return
            if status in (0, 500, 502, 503):
                with self.lock:
                    self.retries += 1
                time.sleep(0.1)
                continue
            with self.lock:
                self.refused.append(f"{body['id']}: HTTP {status}")
            return

    def run(self) -> None:
        def detector() -> None:
            with httpx.Client(base_url=self.base_url, timeout=10) as client:
                while (body := self._next()) is not None:
                    self._post(client, body)

        threads = [threading.Thread(target=detector, daemon=True) for _ in range(DETECTORS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()


def make_bodies(net: LocalDeployment, rng: random.Random, count: int, label: str) -> list[dict[str, Any]]:
    signer = VerdictSigner(net, label)
    now = net.now()
    events = list(EventType)
    return [
        signer.body(rng.choice(net.providers), rng.choice(events), rng.choice(list(Severity)), now)
        for _ in range(count)
    ]


def wait_settled(service: ServiceProcess, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    settled: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=service.base_url, timeout=10) as client:
        while time.monotonic() < deadline:
            for vid in ids:
                if vid in settled:
                    continue
                r = client.get(f"/v1/verdicts/{vid}")
                if r.status_code == 200 and r.json()["status"] in ("done", "failed", "rejected"):
                    settled[vid] = r.json()
            if len(settled) == len(ids):
                return settled
            time.sleep(0.5)
        for vid in ids:  # what is known of the rest, for the report
            if vid not in settled:
                r = client.get(f"/v1/verdicts/{vid}")
                settled[vid] = r.json() if r.status_code == 200 else {"status": f"HTTP {r.status_code}"}
    return settled


def signer_transactions(w3: Web3, signer: str, first_block: int) -> list[tuple[Any, Any]]:
    """Every transaction the service signer got mined since `first_block`, with its receipt."""
    out = []
    for n in range(first_block, w3.eth.block_number + 1):
        block = w3.eth.get_block(n, full_transactions=True)
        for tx in block["transactions"]:
            assert not isinstance(tx, bytes)  # full transactions, not hashes
            if tx["from"] == signer:
                out.append((tx, w3.eth.get_transaction_receipt(tx["hash"])))
    return out


def check(
    net: LocalDeployment,
    burst: Burst,
    bodies: list[dict[str, Any]],
    settled: dict[str, dict[str, Any]],
    first_block: int,
    nonce_before: int,
) -> tuple[list[str], int, Counter[str]]:
    violations: list[str] = list(burst.refused)
    w3, staking = net.node.w3, net.staking
    signer = devnet_account(SERVICE).address
    by_id = {b["id"]: b for b in bodies}

    # What went on chain, decoded: (function, verdict/slash id or provider) -> successful count.
    sent: Counter[tuple[str, str]] = Counter()
    txs = signer_transactions(w3, signer, first_block)
    for tx, receipt in txs:
        if tx["to"] == signer and tx["input"] in (b"", "0x"):
            key = ("void", str(tx["nonce"]))
        else:
            fn, args = staking.contract.decode_function_input(tx["input"])
            name = fn.fn_name
            if name in ("jail", "proposeSlash"):
                v = args["v"]
                key = (name, "0x" + bytes(v["id"] if isinstance(v, dict) else v[0]).hex())
            elif name == "beginRecovery":
                key = (name, str(args["provider"]))
            elif name == "executeSlash":
                key = (name, "0x" + bytes(args["id"]).hex())
            elif name == "publishEligibility":  # the epoch job, if an epoch ends during a trial
                key = (name, str(args["epoch"]))
            else:
                key = (name, "?")
        if receipt["status"] != 1:
            violations.append(f"transaction {tx['hash'].hex()} ({key[0]}) reverted on chain")
        else:
            sent[key] += 1
    for key, n in sent.items():
        if n > 1:
            violations.append(f"{key[0]} for {key[1]} was mined {n} times")
        if key[0] == "void":
            violations.append(f"nonce {key[1]} was voided: an intended action did not go out")

    actions: Counter[str] = Counter()
    recovery_providers: Counter[str] = Counter()
    for vid in by_id:
        resource = settled.get(vid)
        if vid not in burst.accepted:
            violations.append(f"verdict {vid} was never accepted")
            continue
        if resource is None or "actions" not in resource:
            violations.append(f"verdict {vid} is lost: {resource}")
            continue
        if resource["status"] != "done":
            violations.append(f"verdict {vid} ended {resource['status']}: {resource['actions']}")
        decided = {a["kind"]: a["state"] for a in resource["actions"]}
        for kind, state in decided.items():
            actions[f"{kind}:{state}"] += 1
        vid_bytes = bytes.fromhex(vid[2:])
        jailed = decided.get("jail") == "confirmed"
        if (
            sent[("jail", vid)] != int(jailed)
            or staking.contract.functions.verdictJailUsed(vid_bytes).call() != jailed
        ):
            violations.append(
                f"verdict {vid}: jail decided={decided.get('jail')} mined={sent[('jail', vid)]}"
            )
        proposed = decided.get("propose_slash") == "confirmed"
        state = int(staking.slash_state(vid_bytes))
        if sent[("proposeSlash", vid)] != int(proposed) or (state in (1, 3)) != proposed:
            violations.append(
                f"verdict {vid}: slash decided={decided.get('propose_slash')} "
                f"mined={sent[('proposeSlash', vid)]} state={state}"
            )
        if decided.get("begin_recovery") == "confirmed":
            recovery_providers[by_id[vid]["provider"]] += 1
    for provider in {b["provider"] for b in bodies}:
        expected = recovery_providers[provider]
        mined = sent[("beginRecovery", provider)]
        if mined != expected or expected > 1:
            violations.append(f"provider {provider}: {expected} recoveries confirmed, {mined} mined")
        if expected and staking.provider(provider).recovery_path == 0:
            violations.append(f"provider {provider}: recovery confirmed but none open on chain")

    latest = w3.eth.get_transaction_count(signer, "latest")
    pending = w3.eth.get_transaction_count(signer, "pending")
    if latest != pending:
        violations.append(
            f"signer has {pending - latest} transactions stuck (latest {latest}, pending {pending})"
        )
    if latest - nonce_before != len(txs):
        violations.append(f"nonce gap: nonce moved {latest - nonce_before} but {len(txs)} transactions mined")
    return violations, len(txs), actions


def run_trial(seed: int, verdicts: int, workroot: Path, max_kills: int = 3) -> TrialResult:
    rng = random.Random(seed)  # a reproducible fault schedule
    workdir = Path(tempfile.mkdtemp(prefix=f"trial-{seed}-", dir=workroot))
    started = time.monotonic()
    with local_deployment(workdir, extra_providers=33) as net:
        service = ServiceProcess(net, workdir, f"sqlite:///{workdir}/service.db")
        service.upgrade_db()
        first_block = net.node.w3.eth.block_number + 1
        nonce_before = net.node.w3.eth.get_transaction_count(devnet_account(SERVICE).address, "latest")
        bodies = make_bodies(net, rng, verdicts, f"crash-{seed}")
        kill_at = sorted(rng.sample(range(1, verdicts), k=rng.randint(1, max_kills)))
        kill_after_burst = rng.random() < 0.5
        service.start()
        kills = 0
        try:
            burst = Burst(service.base_url, bodies)
            poster = threading.Thread(target=burst.run, daemon=True)
            poster.start()
            for threshold in kill_at:
                while burst.posted < threshold and poster.is_alive():
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, 0.3))  # land anywhere between two answers
                service.kill()
                kills += 1
                time.sleep(rng.uniform(0, 1.0))
                service.start()
            poster.join()
            if kill_after_burst:  # while the worker is still sending and settling
                time.sleep(rng.uniform(0.2, 3.0))
                service.kill()
                kills += 1
                service.start()
            settled = wait_settled(service, list(burst.accepted) or [b["id"] for b in bodies], SETTLE_TIMEOUT)
            time.sleep(2.5)  # two more blocks, so every sent transaction is mined
            violations, ntx, actions = check(net, burst, bodies, settled, first_block, nonce_before)
        finally:
            service.stop()
        if violations:
            say(f"trial {seed}: service log tail:\n{service.log_tail(4000)}")
    result = TrialResult(
        seed, verdicts, kills, round(time.monotonic() - started, 1), ntx, dict(actions), violations
    )
    if not violations:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--verdicts", type=int, default=200)
    p.add_argument("--seed", type=int, default=1, help="seed of the first trial; trial i uses seed + i")
    p.add_argument("--max-kills", type=int, default=3)
    p.add_argument("--workdir", type=Path, default=None)
    args = p.parse_args(argv)
    workroot = args.workdir or Path(tempfile.mkdtemp(prefix="swarm-crash-"))
    workroot.mkdir(parents=True, exist_ok=True)
    results = []
    for i in range(args.trials):
        r = run_trial(args.seed + i, args.verdicts, workroot, args.max_kills)
        results.append(r)
        say(
            f"trial {i + 1}/{args.trials} seed {r.seed}: {r.kills} kills, {r.transactions} transactions, "
            f"{r.seconds}s, {'OK' if not r.violations else f'{len(r.violations)} VIOLATIONS'}"
        )
        for v in r.violations[:20]:
            say(f"  {v}")
    failed = [r for r in results if r.violations]
    summary = {
        "trials": len(results),
        "passed": len(results) - len(failed),
        "verdicts_per_trial": args.verdicts,
        "kills": sum(r.kills for r in results),
        "transactions": sum(r.transactions for r in results),
        "violations": sum(len(r.violations) for r in results),
        "median_trial_seconds": sorted(r.seconds for r in results)[len(results) // 2] if results else None,
        "actions": dict(sum((Counter(r.actions) for r in results), Counter())),
        "failed_trials": [{"seed": r.seed, "violations": r.violations[:50]} for r in failed],
        "workdir": str(workroot) if failed else None,
    }
    print(json.dumps(summary, indent=2))
    if not failed:
        shutil.rmtree(workroot, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
