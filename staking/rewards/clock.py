"""The reward epoch clock as the indexed database knows it: the contract's genesis and epoch
length (recorded by the indexer), an epoch's window, and the chain time the database is indexed to.

Below both the computation (staking/rewards/epochs.py) and the read side
(staking/rewards/summary.py), so each can place an epoch in time without importing the other.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from staking.db import schema as t
from staking.domain.clock import EpochClock


def window(clock: EpochClock, epoch: int) -> tuple[int, int]:
    """[start, end) of `epoch` in unix seconds."""
    return clock.start_of(epoch), clock.end_of(epoch)


def epoch_clock(conn: Connection) -> EpochClock | None:
    """The contract's epoch clock as the indexer recorded it (None before its first run)."""
    meta = _meta(conn, "epoch_genesis", "epoch_length")
    if "epoch_genesis" not in meta or not int(meta.get("epoch_length", "0")):
        return None
    return EpochClock(int(meta["epoch_genesis"]), int(meta["epoch_length"]))


def indexed_time(conn: Connection) -> int | None:
    """Timestamp of the last indexed block: the chain time the database can answer for."""
    value = _meta(conn, "checkpoint_time").get("checkpoint_time")
    return int(value) if value is not None else None


def _meta(conn: Connection, *keys: str) -> dict[str, str]:
    return {r.key: r.value for r in conn.execute(select(t.meta).where(t.meta.c.key.in_(keys)))}
