"""The read side of rewards: an epoch's computed weights as the API shows them, Merkle proofs for
claims, and a provider's rewards summary for its status document.

Everything is read from `reward_epochs` / `reward_weights` (written by the rewards job) and the
indexed `epochs` table (the chain's pool, claims and publication). Amounts and weights are decimal
strings of base units.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import Connection, select

from staking.db import schema as t
from staking.domain.clock import iso_ms, iso_seconds
from staking.domain.errors import SwarmError
from staking.rewards.clock import epoch_clock, window
from staking.rewards.last_computed import reasons_of
from staking.rewards.merkle import WeightTree


class EpochInconsistent(SwarmError, RuntimeError):
    """The stored weights of an epoch do not hash to its stored Merkle root."""


def epoch_document(conn: Connection, epoch: int, *, detail: bool = False) -> dict[str, Any] | None:
    """`GET /v1/epochs/{n}`: the computed epoch with the chain's pool and claims (null until the
    indexer has seen the epoch funded or published); None when the epoch is not computed.

    With `detail` (`swarm-staking rewards show`), also the epoch's window (`start`, `end`; null
    before the indexer has recorded the epoch clock), the hash of its inputs, the publishing intent
    and every provider's weight, score, time-weighted stake and reasons (`weights`)."""
    r, e = t.reward_epochs, t.epochs
    row = conn.execute(
        select(
            r,
            e.c.pool,
            e.c.claimed,
            e.c.claims,
            e.c.published.label("on_chain"),
            e.c.claimable_at,
            e.c.revocations,
            e.c.swept,
        )
        .select_from(r.outerjoin(e, e.c.epoch == r.c.epoch))
        .where(r.c.epoch == epoch)
    ).first()
    if row is None:
        return None
    doc = {
        "epoch": row.epoch,
        "state": row.state,
        "merkle_root": row.merkle_root,
        "total_weight": str(row.total_weight),
        "eligible": row.eligible,
        "providers": row.providers,
        "uri": row.uri,
        # Our own confirmation may run ahead of the indexer, but not past a revocation it has seen.
        "published": bool(row.on_chain) or (row.state == "published" and not row.revocations),
        "pool": None if row.pool is None else str(row.pool),
        "claimed": None if row.claimed is None else str(row.claimed),
        "claims": row.claims,
        "claims_open_at": None if row.claimable_at is None else iso_seconds(row.claimable_at),
        "revocations": row.revocations or 0,
        "swept": None if row.swept is None else str(row.swept),
        "computed_at": iso_ms(row.computed_ms),
        "published_at": iso_ms(row.published_ms),
    }
    if not detail:
        return doc
    clock = epoch_clock(conn)
    start, end = window(clock, epoch) if clock else (None, None)
    return {
        **doc,
        "start": start,
        "end": end,
        "inputs_hash": row.inputs_hash,
        "intent_id": row.intent_id,
        "weights": epoch_weights(conn, epoch),
    }


def epoch_weights(conn: Connection, epoch: int) -> list[dict[str, Any]]:
    """Every provider's `reward_weights` row of `epoch`, by address: eligibility, weight, score,
    time-weighted stake (decimal strings of base units) and the reasons it earns less or nothing."""
    w = t.reward_weights
    return [
        {
            "address": r.provider,
            "eligible": r.eligible,
            "weight": str(r.weight),
            "score_bps": r.score_bps,
            "time_weighted_stake": str(r.time_weighted_stake),
            "reasons": reasons_of(r),
        }
        for r in conn.execute(select(w).where(w.c.epoch == epoch).order_by(w.c.provider))
    ]


def provider_weight(conn: Connection, epoch: int, address: str) -> Any:
    """The `reward_weights` row of `address` (checksummed) in `epoch`, or None."""
    w = t.reward_weights
    return conn.execute(select(w).where(w.c.epoch == epoch, w.c.provider == address)).first()


class ProofTrees:
    """Merkle trees of computed epochs, built once per (epoch, root) and kept in process (least
    recently used first out): a published epoch never changes, and an epoch recomputed to another
    root is another key. A tree is built only if it hashes to the stored root."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._trees: OrderedDict[tuple[int, str], WeightTree] = OrderedDict()
        self._lock = threading.Lock()

    def tree(self, conn: Connection, epoch: int, root: str) -> WeightTree:
        key = (epoch, root.lower())
        with self._lock:
            if key in self._trees:
                self._trees.move_to_end(key)
                return self._trees[key]
        w = t.reward_weights
        rows = conn.execute(select(w.c.provider, w.c.weight).where(w.c.epoch == epoch, w.c.eligible)).all()
        tree = WeightTree.build({r.provider: r.weight for r in rows if r.weight > 0})
        if "0x" + tree.root.hex() != key[1]:
            raise EpochInconsistent(
                f"the eligible weights of epoch {epoch} hash to 0x{tree.root.hex()}, not to the stored "
                f"root {root}: no proof is served from them"
            )
        with self._lock:
            self._trees[key] = tree
            while len(self._trees) > self.size:
                self._trees.popitem(last=False)
        return tree
