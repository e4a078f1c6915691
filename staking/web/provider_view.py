"""What the provider page shows, from the provider document (`staking.readmodel.standing`) and the
policy: pure, so each state's words are tested without a browser. The document says where the
provider stands; this adds how to show it (a tone, the stake bar, the recovery stepper) and the
escalation ladder's next rung per event type (`staking.policy.decide` on the provider's strikes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staking.domain.vocabulary import EventType, Level, ProviderStatus, RecoveryStage, Severity
from staking.policy import Policy
from staking.policy.engine import Offence, VerdictFacts, decide
from staking.web.format import share_percent

TONES = {
    ProviderStatus.ACTIVE: "ok",
    ProviderStatus.PROBATION: "warn",
    ProviderStatus.JAILED: "bad",
    ProviderStatus.IN_RECOVERY: "bad",
    ProviderStatus.TOMBSTONED: "bad",
}
# What to do when the document names no next step (no jail, no recovery, no appeal open).
QUIET_STEPS = {
    ProviderStatus.ACTIVE: "Nothing to do: keep the node healthy; this epoch's rewards accrue.",
    ProviderStatus.PROBATION: "Nothing to do: full reward weight returns when the probation ends.",
    ProviderStatus.UNBONDING: "Withdraw the unbonded stake once it matures (withdraw()).",
    ProviderStatus.EXITED: "Nothing staked: stake again to rejoin (stake()).",
    ProviderStatus.UNREGISTERED: "Register and stake to join the network (register(), stake()).",
    ProviderStatus.TOMBSTONED: "Excluded for good by governance; no way back to active.",
}
STAGES = (RecoveryStage.DETECTION, RecoveryStage.RESPONSE, RecoveryStage.RECOVERY, RecoveryStage.RESTORATION)


@dataclass(frozen=True)
class Step:
    name: str
    state: str  # done | current | todo
    actor: str | None = None  # who moves it on, for the current step
    command: str | None = None


def provider_view(doc: dict[str, Any], policy: Policy, strikes: list[Any], now: int) -> dict[str, Any]:
    """The page's model: the document plus `tone`, `next_step`, `stake_percent`, `steps`,
    `next_offences` and `countdown` (unix time the jail ends, None when it is not timed)."""
    status = doc["status"]
    rec = doc["recovery"] or {}
    jail = doc["jail"] or {}
    stake = doc["stake"]
    return {
        "doc": doc,
        "tone": TONES.get(status, "muted"),
        "next_step": rec.get("next_step") or QUIET_STEPS.get(status, ""),
        "stake_percent": share_percent(stake["active"], stake["min_required"]),
        "steps": steps(doc),
        "next_offences": next_offences(policy, strikes, now),
        "countdown": jail.get("until") or None,
    }


def steps(doc: dict[str, Any]) -> list[Step]:
    """The recovery path as a stepper (detection → response → recovery → restoration), empty when
    no path is open on chain and none has just closed. During probation every step is done."""
    rec = doc["recovery"] or {}
    if doc["status"] == ProviderStatus.PROBATION:
        return [Step(s.wire, "done") for s in STAGES]
    if rec.get("stage") is None:
        return []
    current = RecoveryStage.from_wire(rec["stage"])
    out = []
    for s in STAGES:
        if s < current:
            out.append(Step(s.wire, "done"))
        elif s == current:
            verb = "reinstate" if s == RecoveryStage.RESTORATION else "advance"
            out.append(
                Step(s.wire, "current", "governance", f"swarm-staking recovery {verb} {doc['address']}")
            )
        else:
            out.append(Step(s.wire, "todo"))
    return out


def next_offences(policy: Policy, strikes: list[Any], now: int) -> list[dict[str, Any]]:
    """Per event type, what a next verdict of the lowest severity would bring now (a higher severity
    may bring more: `severity_floor`). `strikes`: the provider's offences (`detected_at`, `level`)."""
    out = []
    for event_type in EventType:
        history = [Offence(int(s.detected_at), event_type, Level(s.level)) for s in strikes]
        d = decide(VerdictFacts(event_type, Severity.LOW, now), history, policy)
        if d.level == Level.NONE:
            consequence = "an investigation, no penalty"
        else:
            parts = [f"slash {d.slash_bps / 100:g} %" if d.slash_bps else "no slash"]
            if d.jail_seconds == 0:
                parts.append("jail until recovery")
            elif d.jail_seconds:
                parts.append(f"jail {d.jail_seconds // 3600} h")
            consequence = ", ".join(parts)
        out.append(
            {
                "event_type": event_type.wire,
                "offence_number": d.offence_number,
                "level": d.level.value if d.level != Level.NONE else "none",
                "consequence": consequence,
            }
        )
    return out
