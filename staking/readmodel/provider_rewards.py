"""A provider's rewards epoch by epoch (the provider page, SPEC section 10): its weight and share
of each computed epoch, whether the epoch's root is on chain and claims are open, and what it
has claimed (the indexed `RewardClaimed` events). Amounts are integers of base units."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, and_, select

from staking.db import schema as t

RECENT_EPOCHS = 12


def provider_rewards(conn: Connection, addr: str, limit: int = RECENT_EPOCHS) -> list[dict[str, Any]]:
    """The `limit` most recent computed epochs, newest first, for checksummed `addr`: `{epoch,
    state, in_set, eligible, weight, total_weight, share_bps, pool, expected, published,
    claimable_at, claimed}` (`expected` = pool * weight // total weight, what `claim` pays;
    `claimed` the amount claimed, None before a claim)."""
    re, w, e = t.reward_epochs.c, t.reward_weights.c, t.epochs.c
    query = (
        select(
            re.epoch,
            re.state,
            re.total_weight,
            w.provider,
            w.eligible,
            w.weight,
            w.reasons,
            e.pool,
            e.published,
            e.claimable_at,
        )
        .select_from(
            t.reward_epochs.outerjoin(
                t.reward_weights, and_(w.epoch == re.epoch, w.provider == addr)
            ).outerjoin(t.epochs, e.epoch == re.epoch)
        )
        .order_by(re.epoch.desc())
        .limit(limit)
    )
    claimed = _claimed(conn, addr)
    out = []
    for r in conn.execute(query):
        weight = int(r.weight or 0)
        total = int(r.total_weight)
        pool = int(r.pool or 0)
        out.append(
            {
                "epoch": int(r.epoch),
                "state": r.state,
                "in_set": r.provider is not None,
                "eligible": bool(r.eligible),
                "reasons": json.loads(r.reasons) if r.reasons else [],
                "weight": weight,
                "total_weight": total,
                "share_bps": weight * 10_000 // total if total else 0,
                "pool": pool,
                "expected": pool * weight // total if total else 0,
                "published": bool(r.published),
                "claimable_at": r.claimable_at,
                "claimed": claimed.get(int(r.epoch)),
            }
        )
    return out


def _claimed(conn: Connection, addr: str) -> dict[int, int]:
    ev = t.events.c
    rows = conn.execute(select(ev.args).where(ev.provider == addr, ev.name == "RewardClaimed"))
    out: dict[int, int] = {}
    for r in rows:
        args = json.loads(r.args)
        out[int(args["epoch"])] = int(args["amount"])
    return out
