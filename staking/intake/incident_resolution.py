"""Closing an incident (SPEC section 8): governance releases it or dismisses it.

- `release_incident`: the held slashes go back to `pending` ("released from incident N"), and the
  executor proposes them through the on-chain caps; state `released`. A held action that another
  open incident also holds stays held.
- `dismiss_incident`: the incident's verdicts were wrong. Their held and still pending actions are
  `skipped` (so nothing more is sent for them) and the verdicts `rejected` (no strike); state
  `dismissed`. What is already on chain is undone from the plan (`dismiss_plan`): the slashes its
  verdicts proposed that are still pending are vetoed (`dismissal_calls`: `vetoSlashes`, batched),
  and the jails that rest only on its verdicts are lifted (`liftJails`, batched), sent with the
  vetoer's key (`swarm-staking incident dismiss`). The plan can be computed again for a dismissed
  incident, to veto and lift what was still in flight the first time.

Each change is one conditional UPDATE under the subject's lock, with its `incident` webhook written
to the outbox in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, select, update

from staking.db import schema as t
from staking.domain.vocabulary import ActionState, IncidentState, VerdictStatus
from staking.intake.containment import BATCH, UndoPlan, undo_calls, undo_plan
from staking.intake.errors import IntakeError
from staking.intake.incidents import (
    Outbox,
    incident_payload,
    incident_verdict_ids,
    incident_verdicts_query,
    lock_subject,
    stream_incident,
)

if TYPE_CHECKING:
    from web3.contract.contract import ContractFunction

    from staking.chain.contracts import StakingContract

log = logging.getLogger("staking.intake")

CLOSED_BY_MAX = 80  # incidents.closed_by


class IncidentError(IntakeError, ValueError):
    """No such incident, or it is not in a state that allows the change."""


def _incident(conn: Connection, incident: int) -> Any:
    row = conn.execute(select(t.incidents).where(t.incidents.c.id == incident)).first()
    if row is None:
        raise IncidentError(f"no incident {incident}")
    return row


def _begin(conn: Connection, row: Any) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite would begin only at the first write
    lock_subject(conn, row.kind, row.subject)


def _check_by(by: str) -> str:
    if not 1 <= len(by.strip()) <= CLOSED_BY_MAX:
        raise ValueError(f"who closes the incident: 1 to {CLOSED_BY_MAX} characters")
    return by.strip()


# ------------------------------------------------------------------------------------ release


@dataclass(frozen=True)
class ReleasePlan:
    incident: int
    release: int  # held actions that go back to pending
    kept: int  # held actions that another open incident keeps held


def _held_elsewhere(incident: int) -> Any:
    iv, i = t.incident_verdicts.c, t.incidents.c
    return (
        select(iv.verdict_id)
        .join(t.incidents, i.id == iv.incident_id)
        .where(i.state == IncidentState.OPEN.value, i.id != incident)
        .scalar_subquery()
    )


def _release_counts(conn: Connection, incident: int) -> ReleasePlan:
    a = t.actions.c
    held = and_(a.verdict_id.in_(incident_verdict_ids(incident)), a.state == ActionState.HELD.value)
    rows = conn.execute(select(a.verdict_id.in_(_held_elsewhere(incident)).label("kept")).where(held)).all()
    kept = sum(1 for r in rows if r.kept)
    return ReleasePlan(incident, len(rows) - kept, kept)


def release_plan(engine: Engine, incident: int) -> ReleasePlan:
    """What `release_incident` would do; IncidentError unless the incident is open."""
    with engine.connect() as conn:
        row = _incident(conn, incident)
        if row.state != IncidentState.OPEN:
            raise IncidentError(f"incident {incident} is {row.state}, not open")
        return _release_counts(conn, incident)


def release_incident(
    engine: Engine, incident: int, by: str, now_ms: int, outbox: Outbox | None = None, note: str | None = None
) -> ReleasePlan:
    """Release the open `incident`: its held actions back to `pending` (unless another open
    incident holds them too), state `released`. IncidentError unless it is open."""
    closer = _check_by(by)
    a = t.actions.c
    with engine.connect() as conn:
        row = _incident(conn, incident)
        _begin(conn, row)
        plan = _release_counts(conn, incident)
        if not _close(conn, incident, IncidentState.RELEASED, closer, note, now_ms):
            raise IncidentError(f"incident {incident} is {_incident(conn, incident).state}, not open")
        conn.execute(
            update(t.actions)
            .where(
                a.verdict_id.in_(incident_verdict_ids(incident)),
                a.verdict_id.not_in(_held_elsewhere(incident)),
                a.state == ActionState.HELD.value,
            )
            .values(state=ActionState.PENDING.value, note=f"released from incident {incident}")
        )
        _announce(conn, incident, outbox, now_ms)
        conn.commit()
    log.warning(
        "incident released: its held slashes go to the executor, through the on-chain caps",
        extra={"incident": incident, "released": plan.release, "kept_held": plan.kept, "closed_by": closer},
    )
    return plan


def _close(
    conn: Connection, incident: int, state: IncidentState, by: str, note: str | None, now_ms: int
) -> bool:
    i = t.incidents.c
    return (
        conn.execute(
            update(t.incidents)
            .where(i.id == incident, i.state == IncidentState.OPEN.value)
            .values(state=state.value, closed_ms=now_ms, updated_ms=now_ms, closed_by=by, note=note)
        ).rowcount
        == 1
    )


def _announce(conn: Connection, incident: int, outbox: Outbox | None, now_ms: int) -> None:
    payload = incident_payload(conn, incident)
    if outbox is not None:
        outbox(conn, "incident", payload)
    stream_incident(conn, payload, now_ms)


# ------------------------------------------------------------------------------------ dismiss


@dataclass(frozen=True)
class DismissPlan:
    incident: int
    state: str  # the incident's state now (open, or dismissed for a second pass)
    skip: int  # held and pending actions of its verdicts, to be skipped
    held: int  # of which held
    undo: UndoPlan  # what is on chain to veto and lift


def dismiss_plan(engine: Engine, incident: int, now_s: int) -> DismissPlan:
    """What dismissing `incident` does at chain time `now_s`; IncidentError unless it is open or
    dismissed (a second pass only vetoes and lifts what remains)."""
    with engine.connect() as conn:
        row = _incident(conn, incident)
        if row.state == IncidentState.RELEASED:
            raise IncidentError(f"incident {incident} was released; its slashes are governance's one by one")
        return _dismiss_plan(conn, incident, row.state, now_s)


def _dismiss_plan(conn: Connection, incident: int, state: str, now_s: int) -> DismissPlan:
    a = t.actions.c
    open_states = (ActionState.PENDING.value, ActionState.HELD.value)
    rows = conn.execute(
        select(a.state).where(a.verdict_id.in_(incident_verdict_ids(incident)), a.state.in_(open_states))
    ).scalars()
    states = list(rows)
    held = sum(1 for x in states if x == ActionState.HELD)
    return DismissPlan(
        incident, state, len(states), held, undo_plan(conn, incident_verdicts_query(incident), now_s)
    )


def dismiss_incident(
    engine: Engine,
    incident: int,
    reason: str,
    by: str,
    now_ms: int,
    outbox: Outbox | None = None,
    chain_now_s: int | None = None,
) -> DismissPlan:
    """Dismiss the open `incident` in the database: its held and pending actions `skipped`, its
    verdicts `rejected`, state `dismissed` with `reason` as the note. Returns the plan of what is
    left to undo on chain at `chain_now_s` (default: `now_ms`), for `dismissal_calls`.
    IncidentError unless it is open."""
    closer = _check_by(by)
    if not reason.strip():
        raise ValueError("the reason must not be empty: say why")
    a, v = t.actions.c, t.verdicts.c
    with engine.connect() as conn:
        row = _incident(conn, incident)
        _begin(conn, row)
        if not _close(conn, incident, IncidentState.DISMISSED, closer, reason.strip(), now_ms):
            raise IncidentError(f"incident {incident} is {_incident(conn, incident).state}, not open")
        ids = incident_verdict_ids(incident)
        skipped = conn.execute(
            update(t.actions)
            .where(a.verdict_id.in_(ids), a.state.in_((ActionState.PENDING.value, ActionState.HELD.value)))
            .values(
                state=ActionState.SKIPPED.value, note=f"dismissed with incident {incident}: {reason.strip()}"
            )
        ).rowcount
        conn.execute(
            update(t.verdicts)
            .where(v.id.in_(ids))
            .values(status=VerdictStatus.REJECTED.value, updated_ms=now_ms)
        )
        _announce(conn, incident, outbox, now_ms)
        conn.commit()
        now_s = chain_now_s if chain_now_s is not None else now_ms // 1000
        plan = _dismiss_plan(conn, incident, IncidentState.DISMISSED.value, now_s)
    log.warning(
        "incident dismissed: its actions are cancelled; pending slashes to veto and jails to lift follow",
        extra={
            "incident": incident,
            "skipped": skipped,
            "vetoes": len(plan.undo.vetoes),
            "lifts": len(plan.undo.lifts),
            "closed_by": closer,
        },
    )
    return plan


def dismissal_calls(
    staking: StakingContract, plan: DismissPlan, reason_hash: bytes, batch: int = BATCH
) -> list[ContractFunction]:
    """The vetoer's transactions that undo a dismissed incident on chain (`containment.undo_calls`)."""
    return undo_calls(staking, plan.undo, reason_hash, batch)
