"""Incidents as the API and the CLI show them (SPEC section 8): the `incidents` rows the intake
opens (`staking.intake.incidents`), their verdicts and held actions, and the stake they put at
risk, read from the service's records and the indexer's projection on one snapshot.

- `list_incidents`, `read_incident`, `open_incidents`: the queries;
- `incident_summary`, `incident_document`, `stake_at_risk`: the pure builders (rows in, JSON out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from staking.db import schema as t
from staking.domain.clock import iso_ms
from staking.domain.cursor import NUMBER, decode_cursor, encode_cursor
from staking.domain.vocabulary import (
    BPS,
    ActionKind,
    ActionState,
    EventType,
    IncidentState,
    Severity,
    SlashState,
)
from staking.readmodel.queries import snapshot

INCIDENT_STATES = tuple(s.value for s in IncidentState)
MAX_PAGE = 200
# Actions an incident holds, as its document lists them.
HELD_KINDS = (ActionKind.PROPOSE_SLASH.value, ActionKind.PROPOSE_TOMBSTONE.value)
# A slash proposal in these states may still take stake (confirmed: proposed, maybe not indexed yet).
AT_RISK_STATES = (ActionState.HELD, ActionState.PENDING, ActionState.SUBMITTED, ActionState.CONFIRMED)


@dataclass(frozen=True)
class Counts:
    verdicts: int = 0
    providers: int = 0
    held_actions: int = 0


# ------------------------------------------------------------------------------------ pure builders


def incident_summary(row: Any, counts: Counts) -> dict[str, Any]:
    """One incident of a listing (from an `incidents` row)."""
    return {
        "id": row.id,
        "kind": row.kind,
        "subject": row.subject,
        "state": row.state,
        "reason": row.reason,
        "opened_at": iso_ms(row.opened_ms),
        "updated_at": iso_ms(row.updated_ms),
        "closed_at": iso_ms(row.closed_ms),
        "closed_by": row.closed_by,
        "note": row.note,
        "verdicts": counts.verdicts,
        "providers": counts.providers,
        "held_actions": counts.held_actions,
        "incident": f"/v1/incidents/{row.id}",
    }


def stake_at_risk(
    verdicts: Iterable[Any],
    slash_actions: Mapping[str, str],
    slashes: Mapping[str, tuple[int, int]],
    bonded: Mapping[str, int],
) -> int:
    """The stake the incident's slashes may still take, base units: per provider, the sum of its
    verdicts' slashes that are neither vetoed, executed, skipped nor failed — the proposed amount
    once indexed (`slashes`: id -> (state, amount)), else `slash_bps` of its bonded stake — and at
    most its bonded stake (concurrent proposals share it, as on chain).

    `verdicts` have `id`, `provider`, `slash_bps`; `slash_actions` maps a verdict id to the state
    of its `propose_slash` action; `bonded` a provider to its active + unbonding stake."""
    per_provider: dict[str, int] = {}
    for v in verdicts:
        state = slash_actions.get(v.id)
        if state is None:
            continue
        stake = bonded.get(v.provider, 0)
        if v.id in slashes:
            chain_state, amount = slashes[v.id]
            risk = amount if chain_state == SlashState.PENDING else 0
        elif state in AT_RISK_STATES:
            risk = stake * int(v.slash_bps) // BPS
        else:
            risk = 0
        per_provider[v.provider] = per_provider.get(v.provider, 0) + risk
    return sum(min(risk, bonded.get(p, 0)) for p, risk in per_provider.items())


def incident_document(
    row: Any,
    verdicts: list[Any],
    actions: list[Any],
    slashes: Mapping[str, tuple[int, int]],
    bonded: Mapping[str, int],
) -> dict[str, Any]:
    """`GET /v1/incidents/{id}`: the incident, its verdicts (rows with `id`, `provider`,
    `event_type`, `severity`, `signer`, `status`, `slash_bps`), its providers, the actions it holds
    or held (rows with `verdict_id`, `kind`, `state`) and the stake at risk (a decimal string)."""
    held = [a for a in actions if a.kind in HELD_KINDS]
    slash_actions = {a.verdict_id: a.state for a in actions if a.kind == ActionKind.PROPOSE_SLASH}
    counts = Counts(
        len(verdicts),
        len({v.provider for v in verdicts}),
        sum(1 for a in held if a.state == ActionState.HELD),
    )
    return {
        **incident_summary(row, counts),
        "verdicts": [
            {
                "id": v.id,
                "provider": v.provider,
                "event_type": EventType(v.event_type).wire,
                "severity": Severity(v.severity).wire,
                "signer": v.signer,
                "status": v.status,
                "verdict": f"/v1/verdicts/{v.id}",
            }
            for v in verdicts
        ],
        "providers": sorted({v.provider for v in verdicts}),
        "held_actions": [{"verdict_id": a.verdict_id, "kind": a.kind, "state": a.state} for a in held],
        "stake_at_risk": str(stake_at_risk(verdicts, slash_actions, slashes, bonded)),
    }


# ------------------------------------------------------------------------------------ queries


def _counts(conn: Connection, ids: list[int]) -> dict[int, Counts]:
    if not ids:
        return {}
    iv, v, a = t.incident_verdicts.c, t.verdicts.c, t.actions.c
    per = dict.fromkeys(ids, (0, 0))
    for r in conn.execute(
        select(iv.incident_id, func.count(), func.count(v.provider.distinct()))
        .join(t.verdicts, v.id == iv.verdict_id)
        .where(iv.incident_id.in_(ids))
        .group_by(iv.incident_id)
    ):
        per[r[0]] = (int(r[1]), int(r[2]))
    held = dict.fromkeys(ids, 0)
    for r in conn.execute(
        select(iv.incident_id, func.count())
        .join(t.actions, a.verdict_id == iv.verdict_id)
        .where(iv.incident_id.in_(ids), a.state == ActionState.HELD.value)
        .group_by(iv.incident_id)
    ):
        held[r[0]] = int(r[1])
    return {i: Counts(per[i][0], per[i][1], held[i]) for i in ids}


def list_incidents(
    engine: Engine, state: str | None = None, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """Incidents, newest first: `{"items": [...], "next_cursor": str | None}`. ValueError for an
    unknown state, a limit outside 1..MAX_PAGE or a bad cursor."""
    if state is not None and state not in INCIDENT_STATES:
        raise ValueError(f"state must be one of {', '.join(INCIDENT_STATES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    i = t.incidents.c
    query = select(t.incidents).order_by(i.id.desc()).limit(limit + 1)
    if state is not None:
        query = query.where(i.state == state)
    if cursor is not None:
        query = query.where(i.id < int(decode_cursor("inc", cursor, NUMBER)[0]))
    with snapshot(engine) as conn:
        rows = conn.execute(query).all()
        page = rows[:limit]
        counts = _counts(conn, [r.id for r in page])
    next_cursor = encode_cursor("inc", page[-1].id) if len(rows) > limit else None
    return {"items": [incident_summary(r, counts[r.id]) for r in page], "next_cursor": next_cursor}


def open_incidents(conn: Connection) -> list[dict[str, Any]]:
    """Every open incident (listing shape), oldest first."""
    i = t.incidents.c
    rows = conn.execute(select(t.incidents).where(i.state == IncidentState.OPEN.value).order_by(i.id)).all()
    counts = _counts(conn, [r.id for r in rows])
    return [incident_summary(r, counts[r.id]) for r in rows]


def held_action_count(conn: Connection) -> dict[str, int]:
    """Held actions by kind (every held kind present, 0 when none)."""
    a = t.actions.c
    rows = conn.execute(
        select(a.kind, func.count()).where(a.state == ActionState.HELD.value).group_by(a.kind)
    ).all()
    return {**dict.fromkeys(HELD_KINDS, 0), **{str(k): int(n) for k, n in rows}}


def read_incident(engine: Engine, incident: int) -> dict[str, Any] | None:
    """The incident document, or None for an unknown id."""
    iv, v, a, s, p = t.incident_verdicts.c, t.verdicts.c, t.actions.c, t.slashes.c, t.providers.c
    with snapshot(engine) as conn:
        row = conn.execute(select(t.incidents).where(t.incidents.c.id == incident)).first()
        if row is None:
            return None
        ids = select(iv.verdict_id).where(iv.incident_id == incident).scalar_subquery()
        verdicts = conn.execute(
            select(v.id, v.provider, v.event_type, v.severity, v.signer, v.status, v.slash_bps, v.received_ms)
            .where(v.id.in_(ids))
            .order_by(v.received_ms, v.id)
        ).all()
        actions = conn.execute(
            select(a.verdict_id, a.kind, a.state, a.seq)
            .where(a.verdict_id.in_(ids), a.kind.in_(HELD_KINDS))
            .order_by(a.verdict_id, a.seq)
        ).all()
        slashes = {
            r.id: (int(r.state), int(r.amount))
            for r in conn.execute(select(s.id, s.state, s.amount).where(s.id.in_(ids)))
        }
        providers = {r.provider for r in verdicts}
        bonded = {
            r.address: int(r.active) + int(r.unbonding)
            for r in conn.execute(select(p.address, p.active, p.unbonding).where(p.address.in_(providers)))
        }
    order = {r.id: n for n, r in enumerate(verdicts)}
    actions = sorted(actions, key=lambda r: (order.get(r.verdict_id, 0), r.seq))
    return incident_document(row, list(verdicts), actions, slashes, bonded)
