"""Incidents in tests: a policy with tight incident thresholds, a recording webhook outbox, fresh
provider addresses, and the action and incident rows as the intake leaves them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Connection, Engine, select

from staking.db import schema as t
from staking.policy import Policy, load_policy
from staking.policy.engine import Incidents, IncidentThreshold

LOOSE = IncidentThreshold(max_providers=1_000, max_stake_bps=10_000, min_providers_for_stake=1_000)


def incident_policy(
    per_detector: IncidentThreshold = LOOSE,
    per_event_type: IncidentThreshold = LOOSE,
    window_minutes: int = 10,
    enabled: bool = True,
) -> Policy:
    """The default policy with these incident thresholds (LOOSE: that subject never trips)."""
    rules = Incidents(
        enabled=enabled,
        window_minutes=window_minutes,
        per_detector=per_detector,
        per_event_type=per_event_type,
    )
    return load_policy().model_copy(update={"incidents": rules})


def providers_over(n: int) -> IncidentThreshold:
    """Trips on verdicts against more than `n` providers; the stake rule never decides."""
    return IncidentThreshold(max_providers=n, max_stake_bps=10_000, min_providers_for_stake=1_000)


@dataclass
class RecordingOutbox:
    """Stands in for `WebhookNotifier.record`: keeps (kind, payload) of every event written, and
    checks it was handed the intake's open transaction."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, conn: Connection, kind: str, payload: dict[str, Any]) -> None:
        assert conn.in_transaction()
        self.events.append((kind, payload))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [p for k, p in self.events if k == kind]


def new_provider() -> str:
    """An address no one registered: the intake takes verdicts about any provider."""
    return to_checksum_address(os.urandom(20))


def action_states(engine: Engine, verdict_id: str) -> dict[str, str]:
    a = t.actions.c
    with engine.connect() as conn:
        return dict(conn.execute(select(a.kind, a.state).where(a.verdict_id == verdict_id)).all())


def incident_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(t.incidents).order_by(t.incidents.c.id)).all())


def members(engine: Engine, incident: int) -> set[str]:
    iv = t.incident_verdicts.c
    with engine.connect() as conn:
        return set(conn.execute(select(iv.verdict_id).where(iv.incident_id == incident)).scalars())
