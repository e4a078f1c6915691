"""Verdict latency benchmark: how fast a breach or an attack is isolated on chain.

One run, on a private Anvil with 1-second blocks and `--providers` staked providers:

1. **Sender throughput.** The service's transaction manager (write-ahead intents, pipelined
   nonces) sends `--pipelined-txs` `jail` transactions and tracks them to confirmation; the
   baseline, measured in the same run on the same chain with the same signer and the same calls,
   is what a plain web3.py script does: sign, send, wait for the receipt, next. Both report
   confirmed transactions per second; the ratio is the headline (target >= 5). The real peer,
   also in the same run: ethers v6's `NonceManager` firing the same jails as fast as it can with
   nothing persisted (`benchmarks/ethers_peer.py`); target: the service's sender reaches >= 0.8x
   its confirmed tx/s.
2. **End to end.** `swarm-staking serve --role all` (SQLite) receives `--verdicts`
   `security_breach` / `system_attack` verdicts over the providers through `POST /v1/verdicts`,
   from `--clients` concurrent detectors at `--rate` verdicts/s (0: as fast as they can). For
   each verdict, the latency is `received_at` → the jail action's `confirmed_at`, both as the
   service reports them in `GET /v1/verdicts/{id}`. Reported: p50/p95/p99/max against the
   response deadlines of the seed table (60 s breach, 30 s attack) and the 3 s target.

    .venv/bin/python -m benchmarks.verdict_latency [--verdicts 500] [--providers 50] [--rate 0]

Progress on stderr, one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import keccak
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction

from benchmarks.common import machine, percentile, say, time_limit
from benchmarks.ethers_peer import ethers_nonce_manager
from staking.db.engine import make_engine, upgrade
from staking.devnet.accounts import DETECTOR, SERVICE, devnet_account
from staking.devnet.harness import (
    LocalDeployment,
    ServiceProcess,
    VerdictSigner,
    local_deployment,
    without_incidents,
)
from staking.domain.vocabulary import EventType, Severity, TxState
from staking.txmanager.manager import TxManager
from staking.verdict import Verdict, sign_verdict
from staking.worker.executor import DEFAULT_BATCH as EXECUTOR_BATCH

DEADLINES = {"security_breach": 60.0, "system_attack": 30.0}
TARGET_P99_SECONDS = 3.0
TARGET_RATIO = 5.0
TARGET_VS_ETHERS = 0.8  # the write-ahead, crash-safe sender against ethers' NonceManager (issue 18)


# ---------------------------------------------------------------------------- sender throughput


def jail_calls(net: LocalDeployment, count: int, label: str) -> list[ContractFunction]:
    """`count` jail calls with fresh detector-signed verdicts (timed jails, round-robin)."""
    domain, key, now = net.staking.domain(), devnet_account(DETECTOR).key, net.now()
    calls = []
    for i in range(count):
        v = Verdict(
            keccak(text=f"{label}-{i}"),
            net.providers[i % len(net.providers)],
            EventType.SYSTEM_ATTACK,
            Severity.HIGH,
            now,
            keccak(text=f"{label}-evidence-{i}"),
        )
        calls.append(net.staking.jail(v, sign_verdict(v, domain, key), now + 86_400))
    return calls


def send_and_wait(net: LocalDeployment, account: LocalAccount, calls: list[ContractFunction]) -> float:
    """The baseline: one transaction at a time, each waited for. Returns confirmed tx/s."""
    w3 = net.node.w3
    wait_mempool_drained(net, account.address)
    started = time.monotonic()
    for fn in calls:
        tx = fn.build_transaction(
            {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)}
        )
        signed = account.sign_transaction(dict(tx))  # type: ignore[arg-type]
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=60, poll_latency=0.05)
        if receipt["status"] != 1:
            raise RuntimeError("a baseline jail reverted")
    return len(calls) / (time.monotonic() - started)


def wait_mempool_drained(net: LocalDeployment, address: ChecksumAddress, timeout: float = 60.0) -> None:
    """Until every transaction `address` has sent is mined (the previous run's service may have
    left some in the mempool), so the next measurement starts from a quiet signer."""
    w3, deadline = net.node.w3, time.monotonic() + timeout
    while w3.eth.get_transaction_count(address, "pending") != w3.eth.get_transaction_count(address, "latest"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"transactions of {address} still pending after {timeout}s")
        time.sleep(0.2)


def pipelined(
    net: LocalDeployment, account: LocalAccount, calls: list[ContractFunction], workdir: Path, run: int
) -> float:
    """The service's transaction manager as the executor drives it: submit in batches, then track
    until all are confirmed."""
    url = f"sqlite:///{workdir}/txm-bench-{run}.db"
    upgrade(url)
    engine = make_engine(url)
    txm = TxManager(engine, net.node.w3, account)
    txm.reconcile()
    started = time.monotonic()
    ids: list[int] = []
    # As the executor sends a burst: `submit_many` batches of EXECUTOR_BATCH (one simulation request,
    # one write-ahead transaction, one send request each), tracking between them.
    for start in range(0, len(calls), EXECUTOR_BATCH):
        chunk = [
            (f"bench-jail:{start + i}", fn) for i, fn in enumerate(calls[start : start + EXECUTOR_BATCH])
        ]
        for result in txm.submit_many(chunk):
            if isinstance(result, Exception):
                raise result
            ids.append(result)
        txm.tick()
    while True:
        txm.tick()
        if all(txm.intent_state(i) == TxState.CONFIRMED for i in ids):
            break
        time.sleep(0.05)
    rate = len(calls) / (time.monotonic() - started)
    engine.dispose()
    return rate


# ---------------------------------------------------------------------------- end to end


def post_all(base_url: str, bodies: list[dict[str, Any]], clients: int, rate: float) -> float:
    """Posts every body (retrying transport errors) at `rate`/s overall; returns the seconds taken."""
    lock = threading.Lock()
    queue = list(reversed(bodies))
    started = time.monotonic()
    errors: list[str] = []

    def client() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    i = len(bodies) - len(queue)
                    body = queue.pop()
                if rate > 0:
                    time.sleep(max(0.0, started + i / rate - time.monotonic()))
                r = http.post("/v1/verdicts", json=body)
                if r.status_code not in (200, 202):
                    errors.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError(f"{len(errors)} verdicts refused, first: {errors[0]}")
    return time.monotonic() - started


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def collect(base_url: str, bodies: list[dict[str, Any]], timeout: float) -> dict[str, list[float]]:
    """Seconds from received to jail confirmed, per event type, once every verdict's jail is."""
    deadline = time.monotonic() + timeout
    by_type: dict[str, list[float]] = {}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        pending = list(bodies)
        while pending and time.monotonic() < deadline:
            still = []
            for b in pending:
                r = http.get(f"/v1/verdicts/{b['id']}").json()
                jail = next((a for a in r["actions"] if a["kind"] == "jail"), None)
                if jail is None:
                    raise RuntimeError(f"verdict {b['id']} was decided without a jail: {r['decision']}")
                if jail["state"] == "failed":
                    raise RuntimeError(f"the jail of {b['id']} failed: {r}")
                if jail["state"] == "confirmed":
                    latency = parse_time(jail["confirmed_at"]) - parse_time(r["received_at"])
                    by_type.setdefault(b["event_type"], []).append(latency)
                else:
                    still.append(b)
            pending = still
            if pending:
                time.sleep(0.5)
    if pending:
        raise RuntimeError(f"{len(pending)} verdicts not isolated within {timeout}s")
    return by_type


def summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_s": round(percentile(values, 50), 3),
        "p95_s": round(percentile(values, 95), 3),
        "p99_s": round(percentile(values, 99), 3),
        "max_s": round(max(values), 3),
        "mean_s": round(statistics.fmean(values), 3),
    }


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.verdict_latency", description=__doc__.split("\n")[0]
    )
    p.add_argument("--verdicts", type=int, default=500)
    p.add_argument("--providers", type=int, default=50)
    p.add_argument("--clients", type=int, default=8, help="concurrent detectors posting verdicts")
    p.add_argument("--rate", type=float, default=0.0, help="verdicts per second overall (0: unthrottled)")
    p.add_argument("--pipelined-txs", type=int, default=200)
    p.add_argument("--baseline-txs", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3, help="runs of each measurement; medians reported")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--split-roles",
        action="store_true",
        help="api, indexer and worker as three processes (default: --role all)",
    )
    p.add_argument("--time-limit", type=int, default=1200)
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)
    if args.providers < 7 or args.verdicts < 1 or args.pipelined_txs < 1 or args.baseline_txs < 1:
        p.error("--providers must be at least 7 (the demo providers); counts must be positive")
    return args


def end_to_end(net: LocalDeployment, args: argparse.Namespace, run: int, workdir: Path) -> dict[str, Any]:
    """One end-to-end run against a fresh service database; returns its latency summary."""
    rng = random.Random(args.seed + run)
    db = f"sqlite:///{workdir}/service-{run}.db"
    roles = ["api", "indexer", "worker"] if args.split_roles else ["all"]
    env = without_incidents(workdir)  # one detector over all the providers: an incident otherwise
    processes = [ServiceProcess(net, workdir, db, role=role, extra_env=env) for role in roles]
    service = processes[0]
    service.upgrade_db()
    try:
        for process in processes:
            process.start()
        signer = VerdictSigner(net, f"latency-{args.seed}-{run}")
        now = net.now()
        kinds = [EventType.SECURITY_BREACH, EventType.SYSTEM_ATTACK]
        bodies = [
            signer.body(net.providers[i % args.providers], rng.choice(kinds), Severity.HIGH, now)
            for i in range(args.verdicts)
        ]
        pace = f"{args.rate}/s" if args.rate else "unthrottled"
        say(f"run {run}: posting {args.verdicts} verdicts from {args.clients} clients, {pace}")
        post_seconds = post_all(service.base_url, bodies, args.clients, args.rate)
        say(f"  posted in {post_seconds:.1f}s; waiting for every jail to be confirmed")
        by_type = collect(service.base_url, bodies, timeout=300)
    finally:
        for process in processes:
            process.stop()
    everything = [x for values in by_type.values() for x in values]
    out = {
        "post_seconds": round(post_seconds, 2),
        "intake_rate_per_s": round(args.verdicts / post_seconds, 1),
        **summary(everything),
        "by_event_type": {
            k: {**summary(v), "deadline_s": DEADLINES[k], "within_deadline": max(v) < DEADLINES[k]}
            for k, v in sorted(by_type.items())
        },
    }
    say(f"  p50 {out['p50_s']}s p95 {out['p95_s']}s p99 {out['p99_s']}s")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cancel_limit = time_limit(args.time_limit)
    workdir = Path(tempfile.mkdtemp(prefix="swarm_latency_"))
    baselines: list[float] = []
    pipes: list[float] = []
    peers: list[float] = []
    peer_version = None
    runs: list[dict[str, Any]] = []
    try:
        say(f"starting Anvil with {args.providers} providers, 1-second blocks")
        with local_deployment(workdir, extra_providers=args.providers - 7, block_time=1) as net:
            account = devnet_account(SERVICE)
            for run in range(1, args.repeat + 1):
                say(f"run {run}: sender baseline (send-and-wait), {args.baseline_txs} jails")
                baselines.append(send_and_wait(net, account, jail_calls(net, args.baseline_txs, f"b{run}")))
                piped = pipelined(net, account, jail_calls(net, args.pipelined_txs, f"p{run}"), workdir, run)
                pipes.append(piped)
                wait_mempool_drained(net, account.address)
                peer = ethers_nonce_manager(
                    net.node.rpc_url, account, jail_calls(net, args.pipelined_txs, f"e{run}")
                )
                peers.append(peer["tx_per_s"])
                peer_version = peer["ethers"]
                rates = f"baseline {baselines[-1]:.2f} tx/s, pipelined {piped:.2f} tx/s"
                say(f"  {rates}, ethers {peers[-1]:.2f} tx/s")
                runs.append(end_to_end(net, args, run, workdir))
        baseline, piped = statistics.median(baselines), statistics.median(pipes)
        ethers_rate = statistics.median(peers)
        med = {
            k: round(statistics.median(r[k] for r in runs), 3) for k in ("p50_s", "p95_s", "p99_s", "max_s")
        }
        result: dict[str, Any] = {
            "verdicts": args.verdicts,
            "providers": args.providers,
            "block_time_s": 1,
            "service_roles": "api+indexer+worker processes" if args.split_roles else "all in one process",
            "clients": args.clients,
            "rate_per_s": args.rate or None,
            "repeat": args.repeat,
            "received_to_jail_confirmed_median_of_runs": med,
            "sender": {
                "baseline_send_and_wait_tx_per_s": round(baseline, 2),
                "pipelined_tx_per_s": round(piped, 2),
                "ratio": round(piped / baseline, 1),
                "ethers_nonce_manager_tx_per_s": round(ethers_rate, 2),
                "ethers_version": peer_version,
                "ratio_vs_ethers": round(piped / ethers_rate, 2),
                "baseline_txs": args.baseline_txs,
                "pipelined_txs": args.pipelined_txs,
                "samples": {
                    "baseline": [round(b, 2) for b in baselines],
                    "pipelined": [round(p, 2) for p in pipes],
                    "ethers": [round(e, 2) for e in peers],
                },
            },
            "runs": runs,
            "targets": {
                "p99_s": TARGET_P99_SECONDS,
                "sender_ratio": TARGET_RATIO,
                "vs_ethers": TARGET_VS_ETHERS,
            },
            "machine": machine(),
        }
        result["targets_met"] = (
            med["p99_s"] < TARGET_P99_SECONDS
            and piped / baseline >= TARGET_RATIO
            and piped / ethers_rate >= TARGET_VS_ETHERS
        )
        result["target_met"] = {
            "p99": med["p99_s"] < TARGET_P99_SECONDS,
            "sender_vs_send_and_wait": piped / baseline >= TARGET_RATIO,
            "sender_vs_ethers": piped / ethers_rate >= TARGET_VS_ETHERS,
        }
    finally:
        cancel_limit()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 1 if args.check and not result["targets_met"] else 0


if __name__ == "__main__":
    sys.exit(main())
