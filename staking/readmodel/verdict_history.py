"""The recorded verdicts as the policy simulator replays them (`staking.policy.simulate`): every
verdict in the order the service received it, with its recorded decision, when it was rejected
(a rejected verdict's last update is its rejection) and whether an incident holds its slash; and
each provider's bonded stake today, the simulator's base for stake slashed."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, select

from staking.db import schema as t
from staking.domain.vocabulary import VerdictStatus
from staking.policy.simulate import Outcome, RecordedVerdict


def recorded_verdicts(conn: Connection, until_ms: int | None = None) -> Iterator[RecordedVerdict]:
    """Verdicts received up to `until_ms` (all when None), oldest first (ties by id)."""
    v = t.verdicts.c
    held = select(t.incident_verdicts.c.verdict_id).distinct().scalar_subquery()
    query = select(
        v.id, v.provider, v.event_type, v.severity, v.detected_at, v.received_ms, v.updated_ms, v.status,
        v.level, v.offence_number, v.slash_bps, v.jail_seconds, v.recovery_path, v.id.in_(held).label("held"),
    ).order_by(v.received_ms, v.id)  # fmt: skip
    if until_ms is not None:
        query = query.where(v.received_ms <= until_ms)
    for r in conn.execute(query.execution_options(yield_per=5_000)):
        yield RecordedVerdict(
            id=r.id,
            provider=r.provider,
            event_type=r.event_type,
            severity=r.severity,
            detected_at=r.detected_at,
            received_ms=r.received_ms,
            recorded=Outcome(r.level, r.offence_number, r.slash_bps, r.jail_seconds, r.recovery_path),
            rejected_ms=r.updated_ms if r.status == VerdictStatus.REJECTED.value else None,
            held=bool(r.held),
        )


def bonded_stakes(conn: Connection) -> dict[str, int]:
    p = t.providers.c
    return {
        r.address: int(r.active) + int(r.unbonding)
        for r in conn.execute(select(p.address, p.active, p.unbonding))
    }
