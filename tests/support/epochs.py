"""Reward epochs on the session's Anvil: performance reports filed, the chain's epoch clock, and
an `Oracle` that reconciles and publishes epochs as the worker does."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from eth_utils import keccak
from sqlalchemy import Engine, select

from indexer.runner import Indexer
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import SERVICE, devnet_account
from staking.domain.clock import EpochClock
from staking.rewards.eligibility import PerformanceReport, RewardRules
from staking.rewards.epochs import (
    epoch_row,
)
from staking.txmanager.manager import TxConfig, TxManager
from staking.worker.jobs import Reconciled, reconcile_epochs
from tests.support.chain import Chain

GRACE = 60  # the default report grace on the devnet: a tenth of its 600 s epochs


GOOD = PerformanceReport(uptime_bps=9_990, response_ms_p50=120, error_rate_bps=10, rating_bps=9_000)


def chain_clock(chain: Chain) -> EpochClock:
    fns = chain.staking.contract.functions
    return EpochClock(int(fns.epochGenesis().call()), int(fns.epochLength().call()))


def file_reports(engine: Engine, epoch: int, reports: dict[str, PerformanceReport]) -> None:
    """Performance reports for `epoch`, as the intake stores them (the latest batch's per provider)."""
    batch = "0x" + keccak(text=f"batch-{epoch}-{sorted(reports)}").hex()
    with engine.begin() as conn:
        conn.execute(
            t.performance_reports.insert(),
            [
                {
                    "epoch": epoch,
                    "provider": provider,
                    "batch_id": batch,
                    "uptime_bps": r.uptime_bps,
                    "response_ms_p50": r.response_ms_p50,
                    "error_rate_bps": r.error_rate_bps,
                    "rating_bps": r.rating_bps,
                    "received_ms": int(time.time() * 1000),
                }
                for provider, r in reports.items()
            ],
        )


def varied_reports(providers: list[str], epoch: int) -> dict[str, PerformanceReport]:
    """A passing report for every provider, with scores that differ by provider and epoch."""
    return {
        p: PerformanceReport(9_990 - 40 * i, 100 + 150 * ((i + epoch) % 5), 10 * i, 9_000 - 500 * i)
        for i, p in enumerate(providers)
    }


@dataclass
class Oracle:
    """The rewards side of a service: its database, its indexer and, unless it only audits, the
    service signer's transaction manager (a new one per start, as after a restart)."""

    chain: Chain
    engine: Engine
    txm: TxManager | None
    rules: RewardRules = field(default_factory=RewardRules)

    @classmethod
    def start(cls, chain: Chain, db_url: str, publish: bool = True) -> Oracle:
        engine = make_engine(db_url)
        txm = None
        if publish:
            txm = TxManager(engine, chain.w3, devnet_account(SERVICE), TxConfig(), chain.staking.error_name)
            txm.reconcile()
        return cls(chain, engine, txm)

    def index(self) -> None:
        Indexer(self.engine, self.chain.w3, self.chain.deployment).run(exit_at_head=True)

    def reconcile(self) -> Reconciled:
        self.index()
        return reconcile_epochs(self.engine, self.chain.staking, self.txm, self.rules)

    def settle(self) -> list[Reconciled]:
        """Runs the job until nothing is publishing any more (receipts, the indexer and the job in
        turn, as the worker's scheduler does); returns every run."""
        runs = [self.reconcile()]
        for _ in range(10):
            if not self.states().intersection({"publishing", "computed", "empty"}):
                return runs
            if self.txm is not None:
                self.txm.tick()
            runs.append(self.reconcile())
        raise AssertionError(f"epochs still unpublished: {self.states()}")

    def states(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(t.reward_epochs.c.state)).scalars())

    def roots(self, epochs: list[int]) -> dict[int, str]:
        with self.engine.connect() as conn:
            return {e: (epoch_row(conn, e) or {}).get("merkle_root", "") for e in epochs}
