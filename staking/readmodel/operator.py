"""What needs an operator's decision now (the `/operator` page, SPEC section 10), read on one
snapshot: pending slashes by the time left in their veto window, open appeals, incidents and
investigations, held actions, transactions that are stuck or failed, drift findings, the caps'
use, the indexer's lag, the scheduled jobs and the webhook outbox.

Each list is capped at `LIMIT` rows (with the full count beside it): the page is for deciding,
the CLI and the JSON API list everything."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from staking.db import schema as t
from staking.domain.vocabulary import ActionState, IncidentState, InvestigationStatus, TxState
from staking.readmodel.appeals import list_appeals
from staking.readmodel.documents import as_of
from staking.readmodel.incidents import open_incidents
from staking.readmodel.listings import MAX_PAGE, list_slashes
from staking.readmodel.network import Live, indexed_caps, live_figures, totals
from staking.readmodel.parts import evaluated_at
from staking.readmodel.queries import meta

LIMIT = 50
# An intent still open this long after it was created is shown as stuck (an isolation's deadline
# is 30-60 s: by then it should long be mined).
STUCK_AFTER_MS = 120_000
OPEN_INTENT_STATES = (TxState.PLANNED.value, TxState.SENT.value, TxState.MINED.value, TxState.VOIDING.value)


def operator_document(
    conn: Connection,
    now: int,
    head: int | None = None,
    live: Live | None = None,
    why_not_live: str | None = None,
) -> dict[str, Any]:
    """The operator's to-do list at `now` (unix seconds; evaluated like the provider documents, at
    `max(now, last indexed block time)`). `live`: the contract's caps and their use; without it the
    caps come from the index and `usage` is None, with `usage_unavailable` saying why."""
    meta_ = meta(conn)
    at = evaluated_at(meta_, now)
    pending = list_slashes(conn, "pending", MAX_PAGE, now=now)["items"]
    pending.sort(key=lambda s: (s["executable_at"], s["id"]))
    caps, usage = live_figures(live) if live is not None else (indexed_caps(conn), None)
    return {
        "at": at,
        "pending_slashes": [{**s, "seconds_left": max(0, s["executable_at"] - at)} for s in pending[:LIMIT]],
        "pending_slashes_total": len(pending),
        "appeals": list_appeals(conn, "open", LIMIT, now=now)["items"],
        "incidents": open_incidents(conn),
        "investigations": _open_investigations(conn),
        "held": _held(conn),
        "transactions": _troubled_intents(conn, at * 1000),
        "drift": _drift(conn),
        "caps": caps,
        "usage": usage,
        "usage_unavailable": why_not_live,
        "totals": totals(conn),
        "jobs": _jobs(conn),
        "webhooks": _outbox(conn),
        "as_of": as_of(meta_, head),
    }


def _open_investigations(conn: Connection) -> list[dict[str, Any]]:
    i = t.investigations.c
    query = (
        select(i.id, i.verdict_id, i.provider, i.opened_ms)
        .where(i.status == InvestigationStatus.OPEN.value)
        .order_by(i.id)
        .limit(LIMIT)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def _held(conn: Connection) -> list[dict[str, Any]]:
    """Held actions, oldest verdict first, each with its provider and the open incident holding it."""
    a, v, iv, inc = t.actions.c, t.verdicts.c, t.incident_verdicts.c, t.incidents.c
    holding = (
        select(func.min(iv.incident_id))
        .select_from(t.incident_verdicts.join(t.incidents, inc.id == iv.incident_id))
        .where(iv.verdict_id == a.verdict_id, inc.state == IncidentState.OPEN.value)
        .scalar_subquery()
    )
    query = (
        select(a.kind, a.verdict_id, a.note, v.provider, holding.label("incident_id"))
        .select_from(t.actions.join(t.verdicts, v.id == a.verdict_id))
        .where(a.state == ActionState.HELD.value)
        .order_by(v.received_ms, a.seq)
        .limit(LIMIT)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def _troubled_intents(conn: Connection, now_ms: int) -> list[dict[str, Any]]:
    """Open intents older than STUCK_AFTER_MS or stuck at the fee cap, and failed ones, oldest first."""
    x = t.tx_intents.c
    stuck = (x.state.in_(OPEN_INTENT_STATES)) & (
        (x.created_ms < now_ms - STUCK_AFTER_MS) | x.fee_capped_ms.isnot(None)
    )
    query = (
        select(
            x.id,
            x.idempotency_key,
            x.state,
            x.nonce,
            x.tx_hash,
            x.attempts,
            x.error,
            x.created_ms,
            x.fee_capped_ms,
        )
        .where(stuck | (x.state == TxState.FAILED.value))
        .order_by(x.created_ms)
        .limit(LIMIT)
    )
    return [
        {**r._mapping, "kind": r.idempotency_key.split(":", 1)[0], "stuck": r.state != TxState.FAILED.value}
        for r in conn.execute(query)
    ]


def _drift(conn: Connection) -> list[dict[str, Any]]:
    d = t.drift_findings.c
    query = (
        select(d.provider, d.field, d.projected, d.on_chain, d.block)
        .order_by(d.provider, d.field)
        .limit(LIMIT)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def _jobs(conn: Connection) -> list[dict[str, Any]]:
    j = t.job_runs.c
    rows = conn.execute(select(t.job_runs).order_by(j.name)).all()
    return [dict(r._mapping) for r in rows]


def _outbox(conn: Connection) -> dict[str, int]:
    w = t.webhook_outbox.c
    rows = conn.execute(select(w.state, func.count()).group_by(w.state)).all()
    return {"pending": 0, "delivered": 0, "failed": 0, **{str(s): int(n) for s, n in rows}}
