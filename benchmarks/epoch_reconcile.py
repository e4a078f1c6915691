"""Reward epoch benchmark: compute, store and publish one epoch of 10,000 providers, and proofs/s.

One run does, on a private Anvil (automine):

1. **Chain.** The devnet deployment plus `--providers` registered and staked providers in all, of
   mixed classes, GPU counts and stakes (`provision_providers_bulk` with `api_load.provider_shape`),
   staked in epoch k. Epochs up to k are reconciled (not timed). Then, in epoch k+1, a realistic
   mix (`api_load.add_consequences`: partial unbonds, jails, pending slashes), and the chain is
   moved past the end of k+1 and its report grace. The chain is snapshotted there and reverted to
   it before each database, so each publishes on the same chain.
2. **Databases.** A fresh SQLite file and a fresh PostgreSQL database, migrated, indexed to the
   head and given a performance report for every provider for epoch k+1 (about 5 % failing the
   uptime threshold), as the intake stores them (not timed; reported).
3. **Measured**, per database:
   - `compute_s`: `compute_epoch` for k+1 (median of `--repeat`): one ordered scan of `events`
     folded in Python, one query for the reports, `evaluate`, the Merkle tree;
   - `baseline_s`: the same result by a naive per-provider SQL loop (its events, then its report,
     one query each), checked to give the same root;
   - `store_s`: `store_epoch` (10,000 weight rows) in a transaction rolled back afterwards;
   - `job_s`: one `reconcile_epochs` run from "k+1 finished, nothing computed": compute, store
     and submit `publishEligibility` (write-ahead intent, simulation, send) — the target, < 10 s;
   - `confirmed_s` / `published_s`: from the start of that run until the intent is confirmed, and
     until the database shows the epoch "published" (indexer + the next run);
   - proofs: `tree_proofs_per_s` (the tree over the eligible weights from the database, with every
     proof, per proof), `proofs_per_s` (the reads of `GET /v1/epochs/{n}/proofs/{address}` with
     the tree cached, as the API keeps it), against `rebuild_proofs_per_s`, the baseline that
     rebuilds the tree for each request. A sample of proofs is verified against the root.

Progress on stderr, one JSON object on stdout.

    .venv/bin/python -m benchmarks.epoch_reconcile [--providers 10000] [--repeat 3] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from benchmarks.api_load import (
    DEMO_PROVIDERS,
    BenchError,
    Chain,
    add_consequences,
    fresh_database,
    node_binaries,
    provider_shape,
    reap,
)
from benchmarks.common import database_kinds, machine, say, time_limit
from indexer.runner import Indexer
from indexer.store import stored_event
from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
from staking.devnet.accounts import SERVICE, devnet_account
from staking.devnet.harness import LocalDeployment, local_deployment
from staking.devnet.provision import extra_provider_account, provision_providers_bulk
from staking.domain.clock import EpochClock
from staking.domain.vocabulary import TxState
from staking.rewards import epochs as ep
from staking.rewards.eligibility import PerformanceReport, RewardRules
from staking.rewards.merkle import verify
from staking.rewards.summary import ProofTrees, epoch_document, provider_weight
from staking.txmanager.manager import TxConfig, TxManager
from staking.worker.jobs import reconcile_epochs

TARGET_S = 10.0


class Net:
    """The Anvil deployment and its epoch clock."""

    def __init__(self, net: LocalDeployment) -> None:
        self.net = net
        fns = net.staking.contract.functions
        self.clock = EpochClock(int(fns.epochGenesis().call()), int(fns.epochLength().call()))
        self.grace = self.clock.length // 10

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.net.node.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in response:
            raise BenchError(f"{method}: {response['error']}")
        return response["result"]

    def into(self, epoch: int, offset: int) -> None:
        self.rpc("evm_setNextBlockTimestamp", ep.window(self.clock, epoch)[0] + offset)
        self.rpc("evm_mine")

    def oracle(self, engine: Engine) -> TxManager:
        w3, staking = self.net.node.w3, self.net.staking
        txm = TxManager(engine, w3, devnet_account(SERVICE), TxConfig(), error_name=staking.error_name)
        txm.reconcile()
        return txm

    def index(self, engine: Engine) -> None:
        Indexer(engine, self.net.node.w3, self.net.deployment).run(exit_at_head=True)

    @property
    def before(self) -> int:
        """A report grace that leaves the measured epoch out: only the earlier ones are due."""
        return self.grace + self.clock.length // 2


def reports(providers: list[str], seed: int) -> dict[str, PerformanceReport]:
    """A report per provider; about one in twenty below the uptime threshold."""
    rng = random.Random(seed)
    out = {}
    for p in providers:
        uptime = rng.randint(8_500, 9_400) if rng.random() < 0.05 else rng.randint(9_500, 10_000)
        out[p] = PerformanceReport(
            uptime, rng.randint(50, 2_500), rng.randint(0, 400), rng.randint(5_000, 10_000)
        )
    return out


def file_reports(engine: Engine, epoch: int, by_provider: dict[str, PerformanceReport]) -> None:
    now = int(time.time() * 1000)
    batch = "0x" + "be" * 32
    rows = [
        {
            "epoch": epoch,
            "provider": p,
            "batch_id": batch,
            "uptime_bps": r.uptime_bps,
            "response_ms_p50": r.response_ms_p50,
            "error_rate_bps": r.error_rate_bps,
            "rating_bps": r.rating_bps,
            "received_ms": now,
        }
        for p, r in by_provider.items()
    ]
    with engine.begin() as conn:
        conn.execute(t.performance_reports.insert(), rows)


def naive_epoch(engine: Engine, epoch: int, clock: EpochClock, rules: RewardRules) -> ep.EpochResult:
    """The baseline: the same fold, provider by provider, one SQL query per provider and kind."""
    start, end = ep.window(clock, epoch)
    fold = ep.EpochFold(clock, epoch)
    ev, pr = t.events, t.performance_reports.c
    found: dict[str, PerformanceReport] = {}

    def fold_rows(*where: Any) -> None:
        query = select(ev).where(ev.c.block_time < end, *where).order_by(ev.c.block_number, ev.c.log_index)
        for row in conn.execute(query).mappings():
            fold.apply(stored_event(row), row["block_time"])

    with engine.connect() as conn:
        fold_rows(ev.c.name == "ClassParamsSet")
        for address in conn.execute(select(t.providers.c.address)).scalars():
            fold_rows(ev.c.provider == address, ev.c.name.in_(ep.FOLDED_EVENTS))
            report = conn.execute(
                select(pr.uptime_bps, pr.response_ms_p50, pr.error_rate_bps, pr.rating_bps).where(
                    pr.epoch == epoch, pr.provider == address
                )
            ).first()
            if report is not None:
                found[address] = PerformanceReport(*report)
    return ep.evaluate_epoch(epoch, start, end, fold.standings(), found, rules)


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def measure(n: Net, kind: str, url: str, epoch: int, args: argparse.Namespace) -> dict[str, Any]:
    rules = RewardRules()
    upgrade(url)
    engine = make_engine(url)
    try:
        _, index_s = timed(lambda: n.index(engine))
        with engine.connect() as conn:
            providers = sorted(conn.execute(select(t.providers.c.address)).scalars())
        file_reports(engine, epoch, reports(providers, args.seed))
        say(f"{kind}: indexed {len(providers):,} providers in {index_s:.1f}s, reports filed")
        # The earlier epochs are published already: computed and settled here, untimed.
        reconcile_epochs(engine, n.net.staking, None, rules, grace_seconds=n.before, max_epochs=10**6)

        samples = []
        for _ in range(args.repeat):
            with engine.connect() as conn:
                result, seconds = timed(lambda c=conn: ep.compute_epoch(c, epoch, n.clock, rules))
            samples.append(seconds)
        compute_s = statistics.median(samples)
        baseline, baseline_s = timed(lambda: naive_epoch(engine, epoch, n.clock, rules))
        if (baseline.root, baseline.inputs_hash) != (result.root, result.inputs_hash):
            raise BenchError(f"{kind}: the per-provider baseline computed another root")
        with engine.connect() as conn:
            trans = conn.begin()
            _, store_s = timed(lambda: ep.store_epoch(conn, result, now_ms=int(time.time() * 1000)))
            trans.rollback()
        say(f"{kind}: compute {compute_s:.2f}s (baseline {baseline_s:.2f}s), store {store_s:.2f}s")

        txm = n.oracle(engine)
        started = time.perf_counter()
        job = reconcile_epochs(engine, n.net.staking, txm, rules)
        job_s = time.perf_counter() - started
        if job.computed != [epoch] or job.submitted != [epoch]:
            raise BenchError(f"{kind}: the job did {job}, expected to compute and submit epoch {epoch}")
        with engine.connect() as conn:
            intent = (ep.epoch_row(conn, epoch) or {})["intent_id"]
        while txm.intent_state(intent) != TxState.CONFIRMED:
            if time.perf_counter() - started > 120:
                raise BenchError(f"{kind}: publishEligibility not confirmed in 120 s")
            txm.tick()
        confirmed_s = time.perf_counter() - started
        while epoch not in reconcile_epochs(engine, n.net.staking, txm, rules).published:
            n.index(engine)
        published_s = time.perf_counter() - started
        on_chain = "0x" + n.net.staking.epoch(epoch).merkle_root.hex()
        if on_chain != result.root:
            raise BenchError(f"{kind}: the chain holds root {on_chain}, computed {result.root}")
        say(f"{kind}: job {job_s:.2f}s ({job}); confirmed {confirmed_s:.2f}s, published {published_s:.2f}s")
        return {
            "providers": len(result.providers),
            "eligible": result.eligible,
            "index_s": round(index_s, 2),
            "compute_s": round(compute_s, 3),
            "compute_samples_s": [round(x, 3) for x in samples],
            "baseline_s": round(baseline_s, 3),
            "speedup_vs_baseline": round(baseline_s / compute_s, 1),
            "store_s": round(store_s, 3),
            "job_s": round(job_s, 3),
            "confirmed_s": round(confirmed_s, 3),
            "published_s": round(published_s, 3),
            "target_met": job_s < TARGET_S,
            **measure_proofs(engine, epoch, result, args),
        }
    finally:
        engine.dispose()


def measure_proofs(
    engine: Engine, epoch: int, result: ep.EpochResult, args: argparse.Namespace
) -> dict[str, Any]:
    """Proofs as `GET /v1/epochs/{n}/proofs/{address}` serves them (staking.rewards.summary)."""
    eligible = sorted(result.weights)
    rng = random.Random(args.seed)
    sample = [rng.choice(eligible) for _ in range(args.proofs)]
    rebuild = sample[: max(1, args.proofs // 50)]

    def request(conn: Connection, trees: ProofTrees, address: str) -> list[bytes]:
        doc = epoch_document(conn, epoch)
        assert doc is not None and provider_weight(conn, epoch, address) is not None
        return trees.tree(conn, epoch, doc["merkle_root"]).proofs[address]

    with engine.connect() as conn:
        trees = ProofTrees()
        tree, tree_s = timed(lambda: trees.tree(conn, epoch, result.root))  # every proof at once
        _, warm_s = timed(lambda: [request(conn, trees, a) for a in sample])  # the tree cached
        _, rebuild_s = timed(lambda: [request(conn, ProofTrees(), a) for a in rebuild])  # baseline
    for a in sample[:100]:
        if not verify(tree.proofs[a], tree.root, a, tree.weights[a]):
            raise BenchError(f"the proof of {a} does not verify against the root")
    say(
        f"proofs: tree + all {len(eligible):,} proofs {tree_s:.2f}s; {len(sample)} proof requests "
        f"{warm_s:.2f}s; {len(rebuild)} rebuilding the tree each {rebuild_s:.2f}s"
    )
    return {
        "tree_s": round(tree_s, 3),
        "tree_proofs_per_s": round(len(eligible) / tree_s),
        "proofs_per_s": round(len(sample) / warm_s),
        "rebuild_proofs_per_s": round(len(rebuild) / rebuild_s, 1),
    }


def build(stack: ExitStack, workdir: Path, args: argparse.Namespace) -> tuple[Net, int, dict[str, Any]]:
    """The chain at "epoch k+1 finished": returns it, k+1 and the set-up facts."""
    started = time.monotonic()
    binaries: list[int] = []
    stack.callback(reap, binaries)  # after the node's own stop (callbacks run last in, first out)
    lnet = stack.enter_context(local_deployment(workdir, extra_providers=0, block_time=0))
    binaries += node_binaries(lnet.node.process.pid)
    n = Net(lnet)
    count = args.providers - DEMO_PROVIDERS
    say(f"deployed; registering and staking {count:,} more providers")
    bulk = provision_providers_bulk(lnet.node.w3, lnet.deployment, count, shape=provider_shape)
    provisioned = time.monotonic()
    k = n.clock.epoch_at(lnet.now())
    n.into(k + 1, 10)
    chain = Chain(lnet, [*lnet.providers, *bulk], 0, 0, 0, {})
    mix = add_consequences(chain, [extra_provider_account(i) for i in range(count)], args)
    n.into(k + 2, n.grace)
    say(f"chain ready in {time.monotonic() - started:.1f}s: epoch {k + 1} finished; {mix}")
    return n, k + 1, {"providers_s": round(provisioned - started, 1), "epoch_length_s": n.clock.length, **mix}


def publish_earlier(n: Net, workdir: Path) -> None:
    """Publishes the epochs before the measured one, from a scratch database (not timed)."""
    with fresh_database("sqlite", workdir) as url:
        upgrade(url)
        engine = make_engine(url)
        txm = n.oracle(engine)
        for _ in range(30):
            n.index(engine)
            reconcile_epochs(
                engine, n.net.staking, txm, RewardRules(), grace_seconds=n.before, max_epochs=10**6
            )
            with engine.connect() as conn:
                states = set(conn.execute(select(t.reward_epochs.c.state)).scalars())
            if states <= {ep.PUBLISHED}:
                break
            txm.tick()
        else:
            raise BenchError(f"the epochs before the measured one are still {states}")
        engine.dispose()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="epoch_reconcile", description=__doc__.split("\n\n")[0])
    p.add_argument("--providers", type=int, default=10_000, help="registered providers in all (>= 50)")
    p.add_argument("--repeat", type=int, default=3, help="compute runs per database; the median counts")
    p.add_argument("--proofs", type=int, default=1_000, help="proof documents asked per database")
    p.add_argument("--jailed-fraction", type=float, default=0.02, help="share of providers jailed")
    p.add_argument("--unbonding-fraction", type=float, default=0.05, help="share partly unbonding")
    p.add_argument("--slashes", type=int, default=50, help="providers with a pending slash")
    p.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    p.add_argument("--block-gas-limit", type=int, default=300_000_000, help="while setting the chain up")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--time-limit", type=int, default=1800, help="limit for the whole benchmark, seconds")
    p.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = p.parse_args(argv)
    if args.providers < 50 or args.repeat < 1 or args.proofs < 1:
        p.error("--providers >= 50, --repeat >= 1 and --proofs >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = database_kinds(args.skip_postgres)
    if kinds is None:
        return 2
    wall = time.monotonic()
    with ExitStack() as stack:  # unwinds in reverse: the node, the files, then the time limit
        stack.callback(time_limit(args.time_limit))
        workdir = Path(tempfile.mkdtemp(prefix="swarm_epoch_bench_"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        n, epoch, setup = build(stack, workdir, args)
        publish_earlier(n, workdir)
        databases: dict[str, Any] = {}
        for kind in kinds:
            snapshot = n.rpc("evm_snapshot")
            with fresh_database(kind, workdir) as url:
                databases[kind] = measure(n, kind, url, epoch, args)
            n.rpc("evm_revert", snapshot)  # the next database publishes on the same chain
    met = all(d["target_met"] for d in databases.values())
    say(f"done in {time.monotonic() - wall:.1f}s")
    summary = {"benchmark": "epoch_reconcile", "providers": args.providers, "epoch": epoch, "setup": setup}
    print(
        json.dumps(
            {**summary, "target_s": TARGET_S, "target_met": met, **databases, "machine": machine()}, indent=2
        )
    )
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
