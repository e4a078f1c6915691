"""The executor's reads of the service database: the pending actions of a step, and what planning
them needs (their verdicts' jails, incidents, co-signers, combined intents that failed, jails in
flight). Each is one statement; none writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, case, func, literal, select

from staking.db import schema as t
from staking.domain.vocabulary import ActionKind, ActionState, IncidentKind, IncidentState, TxState
from staking.txmanager.states import OPEN_STATES
from staking.worker.calls import COMBINED, key
from staking.worker.slash_plan import Signer

JAIL_TARGET_DIVISOR = 20
MAX_EXCLUDED = 5_000  # waiting actions left out of one query by id (the rest sort after them)
NOT_MINED = [str(s) for s in (TxState.PLANNED, TxState.SENT, TxState.VOIDING)]

_a, _v = t.actions, t.verdicts


def _action_rows() -> Any:
    return select(_a, _v).join(_v, _v.c.id == _a.c.verdict_id)


def pending_rows(conn: Connection, batch: int, waiting: Sequence[int]) -> list[Any]:
    """Pending actions with their verdicts, isolation first: jails by an internal target of 1/20
    of their response deadline, the rest by deadline; `waiting` (ids in backoff) left out."""
    priority = case((_a.c.kind == "jail", 0), else_=1)
    target = case(
        (_a.c.kind == "jail", _v.c.received_ms + (_a.c.deadline_ms - _v.c.received_ms) / JAIL_TARGET_DIVISOR),
        else_=_a.c.deadline_ms,
    )
    q = _action_rows().where(_a.c.state == ActionState.PENDING)
    if waiting:
        q = q.where(_a.c.id.not_in(list(waiting)[:MAX_EXCLUDED]))
    q = q.order_by(priority, target, _v.c.received_ms, _a.c.seq).limit(batch)
    return list(conn.execute(q).mappings().all())


def pending_slashes_of(conn: Connection, verdict_ids: Sequence[str]) -> dict[str, Any]:
    """verdict id -> its pending `propose_slash` action (with the verdict's columns)."""
    if not verdict_ids:
        return {}
    q = _action_rows().where(
        _a.c.kind == ActionKind.PROPOSE_SLASH,
        _a.c.state == ActionState.PENDING,
        _a.c.verdict_id.in_(list(verdict_ids)),
    )
    return {r["verdict_id"]: r for r in conn.execute(q).mappings()}


def jail_states(conn: Connection, verdict_ids: Sequence[str]) -> dict[str, str]:
    """verdict id -> the state of its `jail` action (verdicts without one are absent)."""
    if not verdict_ids:
        return {}
    q = select(_a.c.verdict_id, _a.c.state).where(
        _a.c.kind == ActionKind.JAIL, _a.c.verdict_id.in_(list(verdict_ids))
    )
    return {vid: state for vid, state in conn.execute(q)}


def open_detector_incidents(conn: Connection, verdict_ids: Sequence[str]) -> dict[str, int]:
    """verdict id -> the open incident of kind "detector" it belongs to (lowest id if several)."""
    if not verdict_ids:
        return {}
    i, iv = t.incidents, t.incident_verdicts
    q = (
        select(iv.c.verdict_id, func.min(i.c.id))
        .join(i, i.c.id == iv.c.incident_id)
        .where(
            i.c.state == IncidentState.OPEN,
            i.c.kind == IncidentKind.DETECTOR,
            iv.c.verdict_id.in_(list(verdict_ids)),
        )
        .group_by(iv.c.verdict_id)
    )
    return {vid: int(n) for vid, n in conn.execute(q)}


def jails_in_flight(conn: Connection) -> int:
    """Jails sent (alone or with their slash) whose transaction is not mined yet: not in
    `capUsage()` yet, but they will count against the jail cap."""
    q = (
        select(func.count())
        .select_from(_a.join(t.tx_intents, t.tx_intents.c.id == _a.c.intent_id))
        .where(
            _a.c.kind == ActionKind.JAIL,
            _a.c.state == ActionState.SUBMITTED,
            t.tx_intents.c.state.in_(NOT_MINED),
        )
    )
    return int(conn.execute(q).scalar_one())


def co_signers(conn: Connection, verdict_ids: Sequence[str]) -> dict[str, list[Signer]]:
    """verdict id -> the detectors that signed it (`verdict_signers`), revoked detectors left out."""
    if not verdict_ids:
        return {}
    s = t.verdict_signers
    revoked = select(t.detector_revocations.c.account)
    q = (
        select(s.c.verdict_id, s.c.signer, s.c.signature)
        .where(s.c.verdict_id.in_(list(verdict_ids)), s.c.signer.not_in(revoked))
        .order_by(s.c.received_ms)
    )
    out: dict[str, list[Signer]] = {}
    for vid, signer, signature in conn.execute(q):
        out.setdefault(vid, []).append(Signer(signer, signature))
    return out


def failed_combined(conn: Connection, verdict_ids: Sequence[str]) -> set[str]:
    """Verdicts whose jail-and-slash transaction failed: their actions now go alone."""
    if not verdict_ids:
        return set()
    keys = [key(COMBINED, vid) for vid in verdict_ids]
    i = t.tx_intents
    q = select(i.c.idempotency_key).where(i.c.idempotency_key.in_(keys), i.c.state == TxState.FAILED)
    return {k.split(":", 1)[1] for k in conn.execute(q).scalars()}


def recovery_in_flight(conn: Connection, provider: str, verdict_id: str, settled_before_ms: int) -> bool:
    """Whether another verdict's `beginRecovery` for `provider` is sent but not settled, or was
    confirmed after `settled_before_ms`.

    A provider has one recovery at a time; two sent together both simulate fine and the second
    reverts on chain. Waiting for the first turns the second into a clean "skipped". One confirmed
    only moments ago can still be taken away by a shallow reorg, and a second beginRecovery
    simulated in that moment would pass, then revert on chain."""
    i = t.tx_intents
    others = conn.execute(
        select(i.c.state, i.c.confirmed_ms)
        .join(_v, i.c.idempotency_key == literal("begin_recovery:") + _v.c.id)
        .where(
            _v.c.provider == provider,
            _v.c.id != verdict_id,
            i.c.state.in_([*OPEN_STATES, TxState.CONFIRMED]),
        )
    ).all()
    if any(o.state != TxState.CONFIRMED for o in others):
        return True
    return any((o.confirmed_ms or 0) > settled_before_ms for o in others)
