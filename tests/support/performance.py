"""Performance batches as a detector signs them, and what the intake stored of them: shared by the
performance intake tests on the devnet and in-process."""

from __future__ import annotations

import os
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Engine, select

from staking.db import schema as t
from staking.performance import PerformanceBatch, ProviderReport, sign_batch, to_wire
from staking.rewards.eligibility import PerformanceReport
from staking.verdict import Domain
from tests.support.intake import row_counts
from tests.support.signing import detector_key

PERFORMANCE_TABLES = (t.performance_batches, t.performance_reports)
GOOD = PerformanceReport(uptime_bps=9_990, response_ms_p50=120, error_rate_bps=10, rating_bps=9_000)


def new_batch(providers: list[str], epoch: int, report: PerformanceReport = GOOD) -> PerformanceBatch:
    """A fresh batch (random id) giving each of `providers` the same `report` for `epoch`."""
    reports = tuple(ProviderReport(to_checksum_address(p), report) for p in providers)
    return PerformanceBatch(os.urandom(32), epoch, reports)


def batch_body(batch: PerformanceBatch, domain: Domain, key: Any = None) -> dict[str, Any]:
    """`batch` on the wire, signed for `domain` by the devnet detector unless `key` is given."""
    return to_wire(batch, sign_batch(batch, domain, key if key is not None else detector_key()))


def stored_reports(engine: Engine, epoch: int) -> dict[str, tuple[Any, ...]]:
    """provider -> (batch id, uptime, p50 response, error rate, rating) stored for `epoch`."""
    r = t.performance_reports
    columns = (r.c.batch_id, r.c.uptime_bps, r.c.response_ms_p50, r.c.error_rate_bps, r.c.rating_bps)
    with engine.connect() as conn:
        rows = conn.execute(select(r.c.provider, *columns).where(r.c.epoch == epoch)).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def close_epoch(engine: Engine, epoch: int) -> None:
    """What the rewards job leaves behind once it computed an epoch's weights."""
    with engine.begin() as conn:
        conn.execute(
            t.reward_epochs.insert().values(
                epoch=epoch,
                state="computed",
                merkle_root="0x" + "00" * 32,
                total_weight=0,
                eligible=0,
                providers=0,
                uri="",
                inputs_hash="0" * 64,
                computed_ms=0,
            )
        )


class PostsBatches:
    """Performance batches driven through an app (the devnet's or the in-process one). Put it first
    among the bases: the fixture brings `engine`, `client`, `domain`, `epoch()`,
    `batch_providers()` and `rejects(status, send)`; what a rejection must leave untouched are then
    the performance tables."""

    engine: Engine
    client: Any
    domain: Domain

    def batch(
        self,
        providers: range | list[int] = range(3),
        epoch: int | None = None,
        report: PerformanceReport = GOOD,
    ) -> PerformanceBatch:
        everyone = self.batch_providers()
        chosen = [everyone[i] for i in providers]
        return new_batch(chosen, self.epoch() if epoch is None else epoch, report)

    def body(self, batch: PerformanceBatch, key: Any = None, domain: Domain | None = None) -> dict[str, Any]:
        return batch_body(batch, domain or self.domain, key)

    def post(self, body: Any) -> Any:
        return self.client.post("/v1/performance", json=body)

    def counts(self) -> dict[str, int]:
        return row_counts(self.engine, PERFORMANCE_TABLES)

    def reports(self, epoch: int) -> dict[str, tuple[Any, ...]]:
        return stored_reports(self.engine, epoch)

    def rejects_body(self, status: int, body: Any) -> dict[str, Any]:
        return self.rejects(status, lambda: self.post(body))
