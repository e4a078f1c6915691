"""Performance report intake: authenticate a detector's signed batch of per-epoch reports and
store it (`POST /v1/performance`; the batch format is `staking.performance`'s).

`PerformanceIntake.submit` is the whole endpoint below the HTTP layer, with the verdict intake's
rules:

1. parse the body (Rejected, naming every bad field); an epoch that has not begun yet is
   malformed too (the contract's epoch clock as the indexer recorded it; Unavailable before the
   indexer recorded it),
2. the EIP-712 signature under the verdicts' domain must recover to an account holding
   `DETECTOR_ROLE` (`staking.intake.detectors.Detectors`: Rejected, or Unavailable when it cannot
   be checked) and be within its rate limit (RateLimited; the bucket is shared with the detector's
   verdicts),
3. in one database transaction: Replay / Conflict by batch id; else, when the epoch's reward
   weights are already computed (a `reward_epochs` row), a Conflict `EPOCH_CLOSED`: published
   rewards cannot change after the fact; else the batch row and one upserted report per
   (epoch, provider) — a later batch replaces an earlier batch's report for the same provider
   (Accepted).

Rejected batches store nothing. The answers are the values of `staking.intake.results`; the API
turns them into HTTP.

The rewards job must take `lock_epoch(conn, epoch)` in the transaction that reads an epoch's
reports and writes its `reward_epochs` row: with it, a batch is either counted in the weights or
refused as `epoch-closed`, never accepted and silently left out.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from staking.db import schema as t
from staking.domain.clock import EpochClock, iso_ms
from staking.intake.detectors import Detectors
from staking.intake.results import (
    Accepted,
    Conflict,
    ConflictKind,
    Outcome,
    Rejected,
    Replay,
    Unavailability,
    Unavailable,
    malformed,
)
from staking.performance import InvalidPerformanceBody, PerformanceBatch, parse_batch, recover_batch_signer

log = logging.getLogger("staking.intake.performance")

EPOCH_META = ("epoch_genesis", "epoch_length", "checkpoint_time")


def current_epoch(conn: Connection, now: float) -> int | None:
    """The contract's current epoch at `now` (or at the last indexed block's time, if later), by
    the epoch clock the indexer recorded; None before the indexer has recorded it."""
    meta = {r.key: r.value for r in conn.execute(select(t.meta).where(t.meta.c.key.in_(EPOCH_META)))}
    if "epoch_genesis" not in meta or int(meta.get("epoch_length", "0")) <= 0:
        return None
    at = max(int(now), int(meta.get("checkpoint_time", "0")))
    return EpochClock(int(meta["epoch_genesis"]), int(meta["epoch_length"])).epoch_at(at)


def lock_epoch(conn: Connection, epoch: int) -> None:
    """Serialize writers of one epoch's reports and weights for the rest of `conn`'s transaction:
    PostgreSQL a transaction-scoped advisory lock per epoch, SQLite the database write lock."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"swarm-staking:rewards:epoch:{epoch}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite would begin only at the first write


@dataclass
class PerformanceIntake:
    engine: Engine
    detectors: Detectors
    clock: Callable[[], float] = field(default=time.time)

    def submit(self, body: Any) -> Outcome:
        """Accepted (stored now), Replay, Conflict, Rejected or Unavailable; RateLimited is raised
        for a detector over its rate limit. Nothing is stored unless Accepted."""
        now = self.clock()
        try:
            batch, signature = parse_batch(body)
        except InvalidPerformanceBody as exc:
            return malformed(exc.errors)
        with self.engine.connect() as conn:
            current = current_epoch(conn, now)
        if current is None:
            return Unavailable(
                Unavailability.EPOCH_CLOCK,
                "the indexer has not recorded SwarmStaking's epoch clock yet; retry shortly",
            )
        if batch.epoch > current:
            message = f"epoch {batch.epoch} has not begun: the current epoch is {current}"
            return malformed([{"field": "epoch", "message": message}])

        domain = self.detectors.domain
        signer = self.detectors.authenticate(
            signature, lambda sig: recover_batch_signer(batch, domain, sig), "performance batch"
        )
        if isinstance(signer, Rejected | Unavailable):
            return signer
        return self._record(batch, signer, int(now * 1000))

    def _record(self, batch: PerformanceBatch, signer: str, now_ms: int) -> Accepted | Replay | Conflict:
        try:
            with self.engine.begin() as conn:
                lock_epoch(conn, batch.epoch)
                existing = _stored(conn, batch.id_hex)
                if existing is None:
                    if _epoch_closed(conn, batch.epoch):
                        return Conflict(
                            ConflictKind.EPOCH_CLOSED,
                            batch.id_hex,
                            f"the reward weights of epoch {batch.epoch} are computed: reports for it "
                            "can no longer change its rewards",
                            epoch=batch.epoch,
                        )
                    self._insert(conn, batch, signer, now_ms)
                    stored = _stored(conn, batch.id_hex)
                    assert stored is not None
                    log.info(
                        "performance batch accepted",
                        extra={"batch_id": batch.id_hex, "epoch": batch.epoch, "reports": len(batch.reports)},
                    )
                    return Accepted(_resource(stored))
        except IntegrityError:
            # A concurrent submission of the same id committed first: answer as for a replay.
            with self.engine.connect() as conn:
                existing = _stored(conn, batch.id_hex)
            if existing is None:
                raise
        if existing.content_hash != batch.content_hash():
            return Conflict(
                ConflictKind.ID_REUSED,
                batch.id_hex,
                f"performance batch {batch.id_hex} was already submitted with different content; "
                "send changed reports as a new batch (a later batch replaces earlier reports)",
            )
        return Replay(_resource(existing))

    @staticmethod
    def _insert(conn: Connection, batch: PerformanceBatch, signer: str, now_ms: int) -> None:
        conn.execute(
            t.performance_batches.insert().values(
                id=batch.id_hex,
                epoch=batch.epoch,
                signer=signer,
                content_hash=batch.content_hash(),
                reports=len(batch.reports),
                received_ms=now_ms,
            )
        )
        rows = [
            {
                "epoch": batch.epoch,
                "provider": r.provider,
                "batch_id": batch.id_hex,
                "uptime_bps": r.report.uptime_bps,
                "response_ms_p50": r.report.response_ms_p50,
                "error_rate_bps": r.report.error_rate_bps,
                "rating_bps": r.report.rating_bps,
                "received_ms": now_ms,
            }
            for r in batch.reports
        ]
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
            t.performance_reports
        )
        replace = {name: insert.excluded[name] for name in rows[0] if name not in ("epoch", "provider")}
        conn.execute(insert.on_conflict_do_update(index_elements=["epoch", "provider"], set_=replace), rows)


def _stored(conn: Connection, batch_id: str) -> Any:
    b = t.performance_batches
    return conn.execute(select(b).where(b.c.id == batch_id.lower())).first()


def _epoch_closed(conn: Connection, epoch: int) -> bool:
    e = t.reward_epochs
    return conn.execute(select(e.c.epoch).where(e.c.epoch == epoch)).first() is not None


def _resource(row: Any) -> dict[str, Any]:
    """The accepted batch as the API answers it (the same for the first answer and a replay)."""
    return {
        "id": row.id,
        "epoch": row.epoch,
        "signer": row.signer,
        "reports": row.reports,
        "received_at": iso_ms(row.received_ms),
    }
