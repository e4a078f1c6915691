"""`GET /v1/network` (SPEC section 8): the on-chain bounds of the automatic path, their use in the
current window (live from the contract's `capUsage()`), the open incidents and the network's
totals from the projection. Amounts are exact ints here; the API writes them as decimal strings."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from staking.db import schema as t
from staking.db.stream import stream_events
from staking.domain.status import STATUSES
from staking.domain.vocabulary import Severity
from staking.readmodel.documents import as_of
from staking.readmodel.incidents import open_incidents
from staking.readmodel.parts import epoch_clock, evaluated_at
from staking.readmodel.queries import meta
from staking.readmodel.status_filter import status_condition

if TYPE_CHECKING:
    from staking.chain.contracts import Caps, CapUsage


Live = tuple["Caps", "CapUsage"]  # what the contract answered: its bounds and `capUsage()`


def indexed_caps(conn: Connection) -> dict[str, Any] | None:
    """The bounds as the indexer last saw them set (`CapsSet`, `SeverityBoundsSet`, `QuorumSet`)."""
    rows = {r.name: r.value for r in conn.execute(select(t.params.c.name, t.params.c.value))}
    if "jail_cap" not in rows:
        return None
    bounds = json.loads(rows.get("severity_bounds", "[0, 0, 0, 0]"))
    return {
        "window_seconds": int(rows["cap_window"]),
        "jail_cap": int(rows["jail_cap"]),
        "slash_cap_bps": int(rows["slash_cap_bps"]),
        "max_slash_bps": int(rows["max_slash_bps"]),
        "severity_bounds": {s.wire: int(b) for s, b in zip(Severity, bounds, strict=True)},
        "quorum": int(rows.get("quorum", 1)),
        "quorum_bps": int(rows.get("quorum_bps", 0)),
        "source": "index",
    }


def totals(conn: Connection) -> dict[str, int]:
    """Summed in Python: SQL's SUM over SQLite's exact-integer amounts goes through floats."""
    p = t.providers.c
    providers = jailed = active = unbonding = 0
    for row in conn.execute(select(p.active, p.unbonding, p.jailed)):
        providers += 1
        jailed += bool(row.jailed)
        active += int(row.active)
        unbonding += int(row.unbonding)
    return {
        "providers": providers,
        "active": active,
        "unbonding": unbonding,
        "bonded": active + unbonding,
        "jailed": jailed,
    }


def live_figures(live: Live) -> tuple[dict[str, Any], dict[str, Any]]:
    """(caps, usage) as the documents show them, from what the contract answered."""
    bounds, use = live
    caps = {
        "window_seconds": bounds.window,
        "jail_cap": bounds.jail_cap,
        "slash_cap_bps": bounds.slash_cap_bps,
        "max_slash_bps": bounds.max_slash_bps,
        "severity_bounds": {s.wire: b for s, b in zip(Severity, bounds.severity_bounds, strict=True)},
        "quorum": bounds.quorum,
        "quorum_bps": bounds.quorum_bps,
        "source": "chain",
    }
    usage = {
        "jails": use.jails,
        "jails_left": max(0, bounds.jail_cap - use.jails),
        "at_stake": str(use.at_stake),
        "slash_cap": str(use.total_bonded * bounds.slash_cap_bps // 10_000),
        "total_bonded": str(use.total_bonded),
    }
    return caps, usage


def network_document(conn: Connection, live: Live | None, why_not_live: str | None) -> dict[str, Any]:
    """The document; `live` from the contract, or None with `why_not_live` (then the bounds come
    from the index and the window's use is unknown)."""
    incidents = open_incidents(conn)
    caps: dict[str, Any] | None
    usage: dict[str, Any] | None
    if live is not None:
        caps, usage = live_figures(live)
    else:
        caps, usage = indexed_caps(conn), None
    sums = totals(conn)
    return {
        "caps": caps,
        "usage": usage,
        "usage_unavailable": why_not_live,
        "incidents": {"open": len(incidents), "ids": [i["id"] for i in incidents]},
        "totals": {k: (str(v) if k in ("active", "unbonding", "bonded") else v) for k, v in sums.items()},
        "as_of": as_of(meta(conn)),
    }


RECENT = 20


def network_overview(conn: Connection, now: int) -> dict[str, Any]:
    """The network page (`/`, SPEC section 10): totals, providers by status at `max(now, last
    indexed block time)`, the newest consequences (the live stream's rows) and recent epochs."""
    meta_ = meta(conn)
    at = evaluated_at(meta_, now)
    clock = epoch_clock(meta_)
    count = select(func.count()).select_from(t.providers)
    by_status = {
        s: int(conn.execute(count.where(status_condition(s, at, clock))).scalar_one()) for s in STATUSES
    }
    s = stream_events.c
    recent = conn.execute(select(stream_events).order_by(s.id.desc()).limit(RECENT)).all()
    re, e = t.reward_epochs.c, t.epochs.c
    epochs = conn.execute(
        select(re.epoch, re.state, re.eligible, re.providers, re.total_weight, e.pool, e.claimed, e.claims)
        .select_from(t.reward_epochs.outerjoin(t.epochs, e.epoch == re.epoch))
        .order_by(re.epoch.desc())
        .limit(8)
    ).all()
    return {
        "at": at,
        "current_epoch": clock.epoch_at(at) if clock else None,
        "totals": totals(conn),
        "by_status": by_status,
        "recent": [{**r._mapping, "data": json.loads(r.data)} for r in recent],
        "epochs": [dict(r._mapping) for r in epochs],
        "incidents_open": len(open_incidents(conn)),
        "as_of": as_of(meta_),
    }
