"""Indexer backfill benchmark: the indexer (storage included) against a plain web3.py baseline.

One run does, on a private Anvil:

1. deploys and provisions the devnet (`provision_devnet`), then a few `EventBurst` fixture
   contracts (contracts/bench/EventBurst.sol) that register as providers and emit hundreds of
   SwarmStaking events per transaction, until at least `--events` SwarmStaking logs exist
   (empty blocks are mined between bursts so the events spread over thousands of blocks);
2. `--repeat` times, interleaved over the same chain and block range:
   - baseline: `w3.eth.get_logs` paged over fixed `--page` block windows, each log decoded with
     `contract.events.<Name>().process_log` (event objects looked up by topic0 once, up front),
     nothing stored;
   - the indexer into a fresh SQLite file, and into a fresh PostgreSQL database: `upgrade(url)`
     (untimed), then `Indexer(...).run(exit_at_head=True)` timed from construction to return, and
     checked against the chain afterwards (row counts per event name, providers' active and
     unbonding stake against `getProvider`);
3. prints one JSON object with the medians, their ratios (indexer / baseline) and every sample.

Progress goes to stderr, the JSON to stdout. Anvil is stopped, PostgreSQL databases dropped and
temporary files removed however the run ends; `--time-limit` bounds the whole run.

    .venv/bin/python -m benchmarks.indexer_backfill [--events 50000] [--repeat 3] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import math
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import keccak
from sqlalchemy import Engine, func, select
from web3 import Web3

from benchmarks.common import PG_ADMIN_URL, database_kinds, machine, say, time_limit
from indexer.runner import Indexer, IndexerConfig
from staking.chain.contracts import StakingContract, TokenContract
from staking.chain.sender import Sender
from staking.config import REPO_ROOT
from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
from staking.deployment import Deployment
from staking.devnet.accounts import GOVERNANCE, devnet_account
from staking.devnet.node import LocalNode
from staking.devnet.provision import provision_devnet
from staking.domain.vocabulary import Wei

EVENT_BURST_ARTIFACT = REPO_ROOT / "artifacts" / "contracts" / "bench" / "EventBurst.sol" / "EventBurst.json"
TARGET_RATIO = 1.0


class BenchError(RuntimeError):
    """The benchmark could not measure, or a result failed its check against the chain."""


# ---------------------------------------------------------------------------- chain set-up


@dataclass(frozen=True)
class Chain:
    w3: Web3
    deployment: Deployment
    staking: StakingContract
    bursts: list[ChecksumAddress]  # EventBurst addresses (each a registered provider)
    from_block: int  # the staking contract's deployment block
    to_block: int  # head once every burst is mined
    events: int  # SwarmStaking logs in [from_block, to_block]


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in response:
        raise BenchError(f"{method}: {response['error']}")
    return response["result"]


def count_logs(w3: Web3, address: str, from_block: int, to_block: int, page: int = 10_000) -> int:
    """SwarmStaking logs in the range, by raw eth_getLogs (no web3 formatting)."""
    total = 0
    for start in range(from_block, to_block + 1, page):
        end = min(to_block, start + page - 1)
        total += len(
            rpc(w3, "eth_getLogs", {"address": address, "fromBlock": hex(start), "toBlock": hex(end)})
        )
    return total


def load_event_burst() -> tuple[list[dict[str, Any]], str]:
    try:
        data = json.loads(EVENT_BURST_ARTIFACT.read_text())
    except FileNotFoundError:
        raise BenchError(
            f"{EVENT_BURST_ARTIFACT} not found: compile the contracts first "
            "(`make compile`, or `node_modules/.bin/hardhat build`)"
        ) from None
    return data["abi"], data["bytecode"]


def build_chain(node: LocalNode, args: argparse.Namespace) -> Chain:
    w3 = node.w3
    say("deploying SwarmStaking and the demo providers")
    deployment = provision_devnet(w3, node.rpc_url)
    staking = StakingContract(w3, deployment.contracts.SwarmStaking)
    token = TokenContract(w3, deployment.contracts.SwarmToken)
    gov = Sender(w3, devnet_account(GOVERNANCE))

    abi, bytecode = load_event_burst()
    receipts = gov.wait_all(
        [
            gov.deploy(abi, bytecode, staking.address, token.address, label=f"deploy EventBurst #{i}")
            for i in range(args.contracts)
        ]
    )
    bursts: list[ChecksumAddress] = []
    for r in receipts:
        if r["contractAddress"] is None:
            raise BenchError("an EventBurst deployment receipt has no contract address")
        bursts.append(Web3.to_checksum_address(r["contractAddress"]))
    per_tx = args.per_tx
    unbonds = per_tx // 4  # one UnbondRequested per three Staked
    stakes = per_tx - unbonds
    existing = count_logs(w3, staking.address, deployment.deployed_block, w3.eth.block_number)
    txs = max(1, math.ceil((args.events - existing) / per_tx))
    # Each stake moves 1 base unit; give every contract what its share of bursts needs, and more.
    per_contract = Wei(stakes * (math.ceil(txs / len(bursts)) + 1))
    gov.wait_all([gov.send(token.transfer(b, per_contract)) for b in bursts])

    burst_fns = [w3.eth.contract(address=b, abi=abi).functions.burst(stakes, unbonds) for b in bursts]
    # The first burst of a contract is its most expensive (zero-to-nonzero storage writes).
    gas = int(burst_fns[0].estimate_gas({"from": gov.address}) * 1.25)
    say(
        f"{existing} events after provisioning; sending {txs} bursts of {per_tx} events "
        f"({stakes} Staked + {unbonds} UnbondRequested, {gas:,} gas) over {len(bursts)} EventBurst "
        f"contracts, {args.gap} empty blocks after each"
    )
    started = time.monotonic()
    pending = []
    for i in range(txs):
        pending.append(gov.send(burst_fns[i % len(bursts)], label=f"burst {i}", gas=gas))
        if args.gap:
            rpc(w3, "anvil_mine", hex(args.gap))
    gov.wait_all(pending, timeout=300.0)
    to_block = w3.eth.block_number
    events = count_logs(w3, staking.address, deployment.deployed_block, to_block)
    say(
        f"chain ready in {time.monotonic() - started:.1f}s: {events:,} SwarmStaking events in blocks "
        f"{deployment.deployed_block:,}..{to_block:,}"
    )
    if events < args.events:
        raise BenchError(f"only {events} events were created, wanted {args.events}")
    return Chain(w3, deployment, staking, bursts, deployment.deployed_block, to_block, events)


# ---------------------------------------------------------------------------- measurements


@dataclass(frozen=True)
class Sample:
    seconds: float
    events: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def as_json(self) -> dict[str, float | int]:
        return {"seconds": round(self.seconds, 4), "events": self.events, "events_per_s": round(self.rate, 1)}


def run_baseline(chain: Chain, page: int) -> tuple[Sample, Counter[str]]:
    """Plain web3.py: paged get_logs (with web3's result formatting) and process_log per log."""
    w3 = chain.w3
    contract = w3.eth.contract(address=chain.staking.address, abi=chain.staking.abi)
    by_topic = {}
    for item in chain.staking.abi:
        if item.get("type") == "event" and not item.get("anonymous"):
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            by_topic[keccak(text=signature)] = getattr(contract.events, item["name"])()
    names: Counter[str] = Counter()
    started = time.perf_counter()
    for start in range(chain.from_block, chain.to_block + 1, page):
        end = min(chain.to_block, start + page - 1)
        logs = w3.eth.get_logs({"address": chain.staking.address, "fromBlock": start, "toBlock": end})
        for log in logs:
            decoded = by_topic[bytes(log["topics"][0])].process_log(log)
            names[decoded["event"]] += 1
    elapsed = time.perf_counter() - started
    total = sum(names.values())
    if total != chain.events:
        raise BenchError(f"baseline decoded {total} events, the chain has {chain.events}")
    return Sample(elapsed, total), names


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """A migrated, empty database URL; removed (SQLite) or dropped (PostgreSQL) afterwards."""
    name = f"swarm_bench_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        url = f"sqlite:///{path}"
        try:
            upgrade(url)
            yield url
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def verify(engine: Engine, chain: Chain, expected_names: Counter[str]) -> None:
    """The indexed database against the chain: fail loudly on any difference."""
    with engine.connect() as conn:
        rows = conn.execute(select(t.events.c.name, func.count()).group_by(t.events.c.name)).all()
        stored = Counter({name: int(n) for name, n in rows})
        providers = {r.address: r for r in conn.execute(select(t.providers))}
    if sum(stored.values()) != chain.events:
        raise BenchError(f"events table has {sum(stored.values())} rows, the chain has {chain.events} logs")
    if stored != expected_names:
        raise BenchError(
            f"event counts by name differ: stored {dict(stored)}, decoded {dict(expected_names)}"
        )
    for address in [*chain.bursts, *chain.deployment.accounts.providers]:
        row = providers.get(address)
        if row is None:
            raise BenchError(f"provider {address} missing from the providers table")
        record = chain.staking.provider(address, block=chain.to_block)
        if (row.active, row.unbonding) != (record.active, record.unbonding):
            raise BenchError(
                f"provider {address}: indexed active/unbonding {row.active}/{row.unbonding}, "
                f"chain {record.active}/{record.unbonding}"
            )


def run_indexer(
    kind: str,
    chain: Chain,
    workdir: Path,
    expected_names: Counter[str],
    timeout: float,
    profiler: cProfile.Profile | None = None,
) -> Sample:
    with fresh_database(kind, workdir) as url:
        engine = make_engine(url)
        stop = threading.Event()
        watchdog = threading.Timer(timeout, stop.set)
        watchdog.daemon = True
        try:
            watchdog.start()
            if profiler is not None:
                profiler.enable()
            started = time.perf_counter()
            indexer = Indexer(engine, chain.w3, chain.deployment, IndexerConfig())
            indexer.run(stop=stop, exit_at_head=True)
            elapsed = time.perf_counter() - started
            if profiler is not None:
                profiler.disable()
            watchdog.cancel()
            if stop.is_set() or indexer.status.indexed != chain.to_block:
                raise BenchError(
                    f"{kind} indexer stopped at block {indexer.status.indexed} of {chain.to_block} "
                    f"(time limit {timeout:.0f}s; last error {indexer.status.last_error!r})"
                )
            verify(engine, chain, expected_names)
        finally:
            watchdog.cancel()
            engine.dispose()
    return Sample(elapsed, chain.events)


# ---------------------------------------------------------------------------- report


def median_rate(samples: list[Sample]) -> float:
    return statistics.median(s.rate for s in samples)


def report(chain: Chain, args: argparse.Namespace, runs: dict[str, list[Sample]]) -> dict[str, Any]:
    baseline = median_rate(runs["baseline"])
    out: dict[str, Any] = {
        "events": chain.events,
        "blocks": chain.to_block - chain.from_block + 1,
        "from_block": chain.from_block,
        "to_block": chain.to_block,
        "baseline_page_blocks": args.page,
        "repeat": args.repeat,
        "baseline_events_per_s": round(baseline, 1),
    }
    for kind in ("sqlite", "postgresql"):
        if kind in runs:
            rate = median_rate(runs[kind])
            out[f"{kind}_events_per_s"] = round(rate, 1)
    for kind in ("sqlite", "postgresql"):
        if kind in runs:
            out[f"ratio_{kind}"] = round(median_rate(runs[kind]) / baseline, 3)
    ratios = [v for k, v in out.items() if k.startswith("ratio_")]
    out["target_ratio"] = TARGET_RATIO
    out["target_met"] = all(r >= TARGET_RATIO for r in ratios)
    out["runs"] = {kind: [s.as_json() for s in samples] for kind, samples in runs.items()}
    out["machine"] = machine()
    return out


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.indexer_backfill",
        description="Backfill speed of the indexer (SQLite, PostgreSQL) against a plain web3.py baseline.",
    )
    p.add_argument("--events", type=int, default=50_000, help="SwarmStaking events to create (minimum)")
    p.add_argument("--repeat", type=int, default=3, help="measurements per contender; medians reported")
    p.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    p.add_argument("--page", type=int, default=IndexerConfig().initial_span, help="baseline page, blocks")
    p.add_argument("--per-tx", type=int, default=250, help="events per burst transaction")
    p.add_argument("--contracts", type=int, default=6, help="EventBurst contracts (providers)")
    p.add_argument("--gap", type=int, default=10, help="empty blocks mined after each burst")
    p.add_argument("--run-timeout", type=float, default=600.0, help="limit per indexer run, seconds")
    p.add_argument("--time-limit", type=int, default=3600, help="limit for the whole benchmark, seconds")
    p.add_argument("--check", action="store_true", help="exit 1 when a ratio is below the target")
    p.add_argument(
        "--profile",
        type=Path,
        metavar="OUT",
        help="after measuring, profile one extra (untimed) SQLite run with cProfile into OUT",
    )
    args = p.parse_args(argv)
    if args.events < 1 or args.repeat < 1 or args.per_tx < 4 or args.contracts < 1 or args.page < 1:
        p.error("--events, --repeat, --page and --contracts must be positive, --per-tx at least 4")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = database_kinds(args.skip_postgres)
    if kinds is None:
        return 2
    cancel_limit = time_limit(args.time_limit)
    workdir = Path(tempfile.mkdtemp(prefix="swarm_bench_"))
    wall = time.monotonic()
    try:
        say("starting Anvil")
        with LocalNode.start("anvil", log_dir=workdir) as node:
            chain = build_chain(node, args)
            runs: dict[str, list[Sample]] = {"baseline": [], **{k: [] for k in kinds}}
            for i in range(1, args.repeat + 1):
                sample, names = run_baseline(chain, args.page)
                runs["baseline"].append(sample)
                say(f"run {i}/{args.repeat} baseline: {sample.seconds:.2f}s, {sample.rate:,.0f} events/s")
                for kind in kinds:
                    sample = run_indexer(kind, chain, workdir, names, args.run_timeout)
                    runs[kind].append(sample)
                    say(f"run {i}/{args.repeat} {kind}: {sample.seconds:.2f}s, {sample.rate:,.0f} events/s")
            if args.profile is not None:
                profiler = cProfile.Profile()
                run_indexer("sqlite", chain, workdir, names, args.run_timeout, profiler=profiler)
                profiler.dump_stats(str(args.profile))
                say(f"profile of one SQLite run written to {args.profile}")
        result = report(chain, args, runs)
    finally:
        cancel_limit()
        shutil.rmtree(workdir, ignore_errors=True)
    say(f"done in {time.monotonic() - wall:.1f}s")
    print(json.dumps(result, indent=2))
    return 1 if args.check and not result["target_met"] else 0


if __name__ == "__main__":
    sys.exit(main())
