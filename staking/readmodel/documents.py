"""The documents of the read model, built from rows already read: no SQL and no chain, so each is
tested from recorded inputs (`tests/fixtures/provider_documents.json`).

Times are unix seconds; amounts are decimal strings of base units (uint256 does not fit a JSON
number). See `staking.readmodel.standing.provider_standing` for the provider document's fields.
"""

from __future__ import annotations

from typing import Any

from indexer.appeals import state_at
from indexer.projection import ProviderRow, row_from
from staking import recovery
from staking.domain.clock import EpochClock
from staking.domain.reasons import INELIGIBLE_STATUSES, Ineligible
from staking.domain.stake import class_key, min_stake
from staking.domain.status import provider_status
from staking.domain.strikes import strikes_in_window
from staking.domain.vocabulary import (
    EventType,
    Level,
    ProviderClass,
    ProviderStatus,
    RecoveryPath,
    RecoveryStage,
    Severity,
    SlashState,
)
from staking.policy import Policy
from staking.readmodel.parts import Parts, epoch_clock, evaluated_at, to_int
from staking.rewards.last_computed import summarize

# No stake to measure against the class minimum.
_UNBONDED = (ProviderStatus.UNREGISTERED, ProviderStatus.EXITED, ProviderStatus.UNBONDING)


def standing_from_parts(
    parts: Parts, addr: str, now: int, policy: Policy, head: int | None = None
) -> dict[str, Any]:
    """The provider document from its parts, however they were read (`addr` checksummed)."""
    meta, params = parts.meta, parts.params
    clock = epoch_clock(meta)
    at = evaluated_at(meta, now)
    p: ProviderRow | None = None if parts.provider is None else row_from(ProviderRow, parts.provider)
    status, reason = provider_status(p, at, clock or EpochClock(0, 1))
    stake = stake_of(p, params, at)
    slash_items = [slash_item(s, at) for s in parts.slashes]
    pending = [s for s in slash_items if s["state"] == "pending"]
    appeal = _appeal_step(pending, at, to_int(params.get("appeal_bond")))
    current_epoch = clock.epoch_at(at) if clock else None
    return {
        "address": addr,
        "class": ProviderClass(p.provider_class).wire if p else None,
        "gpus": p.gpus if p else 0,
        "metadata_uri": p.metadata_uri if p else None,
        "status": status,
        "status_reason": reason,
        "stake": stake,
        "jail": _jail(p),
        "recovery": _recovery(p, parts.jail_guidance, at, stake, params.get("paused") == "true", appeal),
        "probation": _probation(p, status, clock),
        "pending_slashes": _with_signers(pending, parts.signers),
        "slashes": [s for s in slash_items if s["state"] != "pending"],
        "strikes": _strikes(strikes_in_window(parts.strikes, at, policy.window_seconds), policy),
        "rewards": {
            **_rewards(p, status, stake, at, clock),
            "last_computed": _last_computed(parts.reward_epochs, current_epoch),
        },
        "in_flight": [in_flight_item(a) for a in parts.in_flight],
        "held": [
            {"kind": a.kind, "verdict_id": a.verdict_id, "incident_id": a.incident_id, "note": a.note}
            for a in parts.held
        ],
        "as_of": as_of(meta, head),
    }


def _with_signers(pending: list[dict[str, Any]], signers: list[Any]) -> list[dict[str, Any]]:
    """Each pending slash with the detectors its verdict rests on, in the order they signed (empty:
    the slash did not come through this intake)."""
    by_verdict: dict[str, list[str]] = {}
    for s in signers:
        by_verdict.setdefault(s.verdict_id, []).append(s.signer)
    return [{**s, "signers": by_verdict.get(s["id"], []), "appeal_until": _appeal_until(s)} for s in pending]


def _appeal_until(pending: dict[str, Any]) -> int | None:
    """Until when the provider may appeal a pending slash: the veto window's end, while it has
    no appeal (`appealSlash` inside the window, once per slash)."""
    return pending["executable_at"] if pending["appeal"] is None else None


def _appeal_step(pending: list[dict[str, Any]], at: int, bond: int | None) -> str | None:
    """How to appeal the pending slash whose window closes first, among those still open at `at`
    without an appeal (None when there is none)."""
    open_windows = sorted(
        (s for s in pending if s["appeal"] is None and at < s["executable_at"]),
        key=lambda s: (s["executable_at"], s["id"]),
    )
    if not open_windows:
        return None
    first = open_windows[0]
    return recovery.appeal_step(first["id"], first["executable_at"], bond, len(open_windows) - 1)


def as_of(meta: dict[str, str], head: int | None = None) -> dict[str, Any]:
    """The indexer checkpoint a document reflects; `lag_blocks` = head - checkpoint, with the
    more recent (higher) of the caller's head and the head the indexer last saw (null when
    neither is known)."""
    block = to_int(meta.get("checkpoint_block"))
    heads = [h for h in (head, to_int(meta.get("head_block"))) if h is not None]
    lag = max(0, max(heads) - block) if heads and block is not None else None
    return {
        "block": block,
        "block_hash": meta.get("checkpoint_hash"),
        "timestamp": to_int(meta.get("checkpoint_time")),
        "lag_blocks": lag,
    }


def stake_of(p: ProviderRow | None, params: dict[str, str], now: int) -> dict[str, Any]:
    """`stakeOf`, `unbondingOf`, `withdrawableOf` and `minStakeOf` from the indexed row (for an
    unknown address `minStakeOf` answers the hardware class's base minimum, and so does this)."""
    gpus = p.gpus if p else 0
    minimum = min_stake(params.get(class_key(p.provider_class if p else 0)), gpus)
    active = p.active if p else 0
    unbonding = p.unbonding if p else 0
    # withdrawableOf: nothing while a slash is pending or before the unbonding bucket matures.
    matured = p is not None and p.pending_slashes == 0 and now >= p.unbonding_end
    return {
        "active": str(active),
        "unbonding": str(unbonding),
        "withdrawable": str(unbonding if matured else 0),
        "min_required": None if minimum is None else str(minimum),
        "meets_minimum": None if minimum is None else active >= minimum,
        "unbonding_end": p.unbonding_end if p and p.unbonding_end else None,
    }


def _jail(p: ProviderRow | None) -> dict[str, Any] | None:
    if p is None or not p.jailed:
        return None
    event_type = EventType(p.jail_event_type).wire if p.jail_event_type is not None else None
    if p.tombstoned:
        reason = f"tombstoned by governance (reason hash {p.tombstone_reason})"
    elif event_type is not None:
        reason = f"{event_type} verdict {p.jail_verdict_id}"
    else:
        reason = "isolated"
    return {
        "until": p.jailed_until or None,
        "reason": reason,
        "verdict_id": p.jail_verdict_id,
        "event_type": event_type,
        "since": p.jailed_at,
    }


def _probation(p: ProviderRow | None, status: str, clock: EpochClock | None) -> dict[str, Any] | None:
    """While the status is probation: when it began and the first epoch at full reward weight."""
    if status != ProviderStatus.PROBATION or p is None or p.reinstated_at is None or clock is None:
        return None
    return {
        "reinstated_at": p.reinstated_at,
        "until_epoch": clock.epoch_at(p.reinstated_at) + p.probation_epochs,
    }


def _recovery(
    p: ProviderRow | None,
    guidance: int | None,
    now: int,
    stake: dict[str, Any],
    paused: bool,
    appeal: str | None = None,
) -> dict[str, Any] | None:
    """`{path, stage, next_step}` from the recovery machine: the open path and stage, or for a jail
    without one the way out (a timed jail's `path` is the policy's guidance, nothing on chain).
    `appeal` (how to appeal a pending slash, `_appeal_step`) comes first in `next_step`: its window
    closes; with nothing else to do it is the whole of it."""
    if p is None:
        return None
    only_appeal = None if appeal is None else {"path": None, "stage": None, "next_step": appeal}
    if p.tombstoned:
        return only_appeal
    state = recovery.state_of(p)
    if state.is_open:
        return {
            "path": RecoveryPath(p.recovery_path).wire,
            "stage": RecoveryStage(p.recovery_stage).wire,
            "next_step": recovery.then(appeal, recovery.next_step(p.recovery_path, p.recovery_stage)),
        }
    shortfall = 0
    if stake["min_required"] is not None:
        shortfall = max(0, int(stake["min_required"]) - int(stake["active"]))
    step = recovery.jail_step(state, now, shortfall, paused)
    if step is None:
        return only_appeal
    timed = p.jailed_until != 0
    path = RecoveryPath(guidance).wire if timed and guidance else None
    return {"path": path, "stage": None, "next_step": recovery.then(appeal, step)}


def _strikes(rows: list[Any], policy: Policy) -> dict[str, Any]:
    """`rows`: the offences in the window, newest first."""
    return {
        "in_window": len(rows),
        "level": rows[0].level if rows else Level.NONE,
        "window_days": policy.window_days,
        "last_detected_at": rows[0].detected_at if rows else None,
    }


def _rewards(
    p: ProviderRow | None, status: str, stake: dict[str, Any], now: int, clock: EpochClock | None
) -> dict[str, Any]:
    reasons: list[str] = [Ineligible(status)] if status in INELIGIBLE_STATUSES else []
    if p is not None and p.pending_slashes:
        reasons.append(Ineligible.PENDING_SLASH)
    if stake["meets_minimum"] is False and status not in _UNBONDED:
        reasons.append(Ineligible.BELOW_MINIMUM_STAKE)
    eligible = not reasons
    if status == ProviderStatus.PROBATION:
        reasons.append(Ineligible.PROBATION)
    return {
        "epoch": clock.epoch_at(now) if clock else None,
        "eligible": eligible,
        "reasons": reasons,
        "weight": None,
    }


def _last_computed(reward_epochs: list[tuple[int, Any]], current_epoch: int | None) -> dict[str, Any] | None:
    """The most recent epoch the rewards job computed (not after the current one): its verdict on
    this provider and weight; None before any. `reward_epochs`: see `Parts`."""
    summary = summarize(reward_epochs, current_epoch)
    return summary if summary["epoch"] is not None else None


def in_flight_item(r: Any) -> dict[str, Any]:
    """One of the service's own actions mined after the indexer's checkpoint: on chain already,
    not yet in the rest of the document."""
    return {"kind": r.kind, "verdict_id": r.verdict_id, "tx_hash": r.tx_hash, "block": int(r.block)}


def slash_item(r: Any, at: int) -> dict[str, Any]:
    """A slash as the API shows it. `id` is the verdict id (the contract keys slashes by it);
    `verdict_status` is the service's status of that verdict, null when it did not come through
    this service's intake (then `verdict` is null too). `amount`: proposed, or executed once
    executed. `proposed_tx` / `resolved_tx`: the proposal and the veto or execution."""
    state = SlashState(r.state).wire
    return {
        "id": r.id,
        "provider": r.provider,
        "state": state,
        "bps": r.bps,
        "amount": str(r.amount),
        "from_active": None if r.from_active is None else str(r.from_active),
        "from_unbonding": None if r.from_unbonding is None else str(r.from_unbonding),
        "event_type": EventType(r.event_type).wire,
        "severity": Severity(r.severity).wire,
        "evidence_hash": r.evidence_hash,
        "proposed_at": r.proposed_at,
        "executable_at": r.executable_at,
        "proposed_block": r.proposed_block,
        "proposed_tx": r.proposed_tx,
        "resolved_block": r.resolved_block,
        "resolved_tx": r.resolved_tx,
        "veto_reason": r.veto_reason,
        "vetoer": r.vetoer,
        "appeal": appeal_of(r, at),
        "verdict_id": r.id,
        "verdict_status": r.verdict_status,
        "verdict": f"/v1/verdicts/{r.id}" if r.verdict_status is not None else None,
    }


def appeal_of(r: Any, at: int) -> dict[str, Any] | None:
    """A slash row's appeal (its `appeal_<column>`s, `parts.APPEAL_COLUMNS`), null without one,
    in the state `appealOf` answers at `at` (an open appeal past its deadline reads expired).
    `deadline`: until when the council may resolve it; `resolved_at`: block time of the resolution
    or of the settled expiry (null while an expired appeal awaits executeSlash); `bond` in base units."""
    if r.appeal_state is None:
        return None
    return {
        "state": state_at(r.appeal_state, r.appeal_deadline, at),
        "evidence_hash": r.appeal_evidence_hash,
        "bond": str(r.appeal_bond),
        "deadline": r.appeal_deadline,
        "resolved_at": r.appeal_resolved_at,
        "reason_hash": r.appeal_reason_hash,
    }


def provider_summary(
    p: ProviderRow, now: int, clock: EpochClock | None, params: dict[str, str]
) -> dict[str, Any]:
    """A provider in a listing: identity, status and stake (the full document is one link away)."""
    status, reason = provider_status(p, now, clock or EpochClock(0, 1))
    return {
        "address": p.address,
        "class": ProviderClass(p.provider_class).wire,
        "gpus": p.gpus,
        "status": status,
        "status_reason": reason,
        "stake": stake_of(p, params, now),
        "jailed_until": p.jailed_until if p.jailed and p.jailed_until else None,
        "pending_slashes": p.pending_slashes,
        "link": f"/v1/providers/{p.address}",
    }
