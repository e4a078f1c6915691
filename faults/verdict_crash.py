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

from faults.burst import Burst, make_bodies
from faults.invariants import check_actions, wait_verdicts_settled
from staking.devnet.accounts import SERVICE, devnet_account
from staking.devnet.harness import LocalDeployment, ServiceProcess, local_deployment, without_incidents

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


def wait_settled(service: ServiceProcess, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    return wait_verdicts_settled([service.base_url], ids, timeout)


def check(
    net: LocalDeployment,
    burst: Burst,
    bodies: list[dict[str, Any]],
    settled: dict[str, dict[str, Any]],
    first_block: int,
    nonce_before: int,
) -> tuple[list[str], int, Counter[str]]:
    """The shared invariants (`faults.invariants.check_actions`) plus the detectors' refusals."""
    audit = check_actions(
        net.node.w3,
        net.staking,
        devnet_account(SERVICE).address,
        bodies,
        burst.accepted,
        settled,
        first_block,
        nonce_before,
    )
    return list(burst.refused) + audit.violations, audit.transactions, audit.actions


def run_trial(seed: int, verdicts: int, workroot: Path, max_kills: int = 3) -> TrialResult:
    rng = random.Random(seed)  # a reproducible fault schedule
    workdir = Path(tempfile.mkdtemp(prefix=f"trial-{seed}-", dir=workroot))
    started = time.monotonic()
    with local_deployment(workdir, extra_providers=33) as net:
        url = f"sqlite:///{workdir}/service.db"
        service = ServiceProcess(net, workdir, url, extra_env=without_incidents(workdir))
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
