"""What another policy would have decided (`swarm-staking policy simulate`, SPEC section 11). Pure:
recorded verdicts in, decisions out; no chain, no database.

Every recorded verdict goes, in the order the service received it, through `decide` with the
history the intake would have read then: the provider's earlier verdicts as this simulation
decided them, minus those rejected before this one arrived (a revoked detector's, a dismissed
incident's: `rejected_ms`). So rolling windows, ladders and severity floors escalate on the
simulated history, not on the recorded one. With the policy the decisions were made under, the
simulation reproduces the recorded decisions exactly (`replay`; tests/integration/
test_policy_simulate.py). A decision "changes" when the other policy's differs from the recorded one.

Stake slashed is counted on each provider's bonded stake today (`stakes`), the same base under
both policies, without compounding: a slash of `bps` takes `stake * bps // 10_000`. Rejected
verdicts slash nothing under either. Incidents hold slashes but do not change decisions: the
recorded incident holds are reported as they are (`held`), and incident thresholds are not
re-simulated (`incident_rules_differ` says when the other policy's differ)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from staking.domain.strikes import strikes_in_window
from staking.domain.vocabulary import EventType, Level, RecoveryPath, Severity
from staking.policy.engine import Decision, Offence, Policy, VerdictFacts, decide


@dataclass(frozen=True)
class Outcome:
    """What a decision does to the provider (the fields of the verdict resource's `decision`)."""

    level: str
    offence_number: int
    slash_bps: int
    jail_seconds: int | None  # None: no jail; 0: until recovery
    recovery_path: int

    @staticmethod
    def of(d: Decision) -> Outcome:
        return Outcome(d.level.value, d.offence_number, d.slash_bps, d.jail_seconds, int(d.recovery_path))

    def wire(self) -> dict[str, Any]:
        path = RecoveryPath(self.recovery_path)
        return {
            "level": self.level,
            "offence_number": self.offence_number,
            "slash_bps": self.slash_bps,
            "jail_seconds": self.jail_seconds,
            "recovery_path": None if path == RecoveryPath.NONE else path.wire,
        }


@dataclass(frozen=True)
class RecordedVerdict:
    id: str
    provider: str
    event_type: int
    severity: int
    detected_at: int
    received_ms: int
    recorded: Outcome
    rejected_ms: int | None = None  # when the service rejected it (None: never)
    held: bool = False  # an incident holds (or held) its slash


@dataclass
class _Prior:
    offence: Offence  # as `decide` reads it (it reads no event type)
    received_ms: int
    rejected_ms: int | None

    @staticmethod
    def of(v: RecordedVerdict, level: str) -> _Prior:
        return _Prior(
            Offence(v.detected_at, EventType.SECURITY_BREACH, Level(level)), v.received_ms, v.rejected_ms
        )

    @property
    def detected_at(self) -> int:
        return self.offence.detected_at

    @property
    def level(self) -> str:
        return self.offence.level


@dataclass
class ProviderTotals:
    stake: int
    slashed_recorded: int = 0
    slashed_other: int = 0
    changed: int = 0
    standing_recorded: tuple[int, str] = (0, Level.NONE.value)
    standing_other: tuple[int, str] = (0, Level.NONE.value)


@dataclass
class Simulation:
    verdicts: int = 0
    changed: list[dict[str, Any]] = field(default_factory=list)
    providers: dict[str, ProviderTotals] = field(default_factory=dict)

    def totals(self) -> dict[str, Any]:
        current = sum(p.slashed_recorded for p in self.providers.values())
        other = sum(p.slashed_other for p in self.providers.values())
        return {
            "verdicts": self.verdicts,
            "decisions_changed": len(self.changed),
            "providers_affected": sum(1 for p in self.providers.values() if p.changed),
            "slashed_recorded": current,
            "slashed_other": other,
            "slashed_difference": other - current,
        }

    def standing_differs(self) -> list[str]:
        return sorted(a for a, p in self.providers.items() if p.standing_recorded != p.standing_other)


def _decide(policy: Policy, v: RecordedVerdict, prior: list[_Prior]) -> Decision:
    history = [p.offence for p in prior if p.rejected_ms is None or p.rejected_ms > v.received_ms]
    return decide(VerdictFacts(EventType(v.event_type), Severity(v.severity), v.detected_at), history, policy)


def _standing(prior: list[_Prior], now: int, policy: Policy) -> tuple[int, str]:
    """(strikes in the window at `now`, the level of the most recent) of a provider today."""
    alive = [p for p in prior if p.rejected_ms is None]
    strikes = sorted(
        strikes_in_window(alive, now, policy.window_seconds), key=lambda p: (p.detected_at, p.received_ms)
    )
    return len(strikes), strikes[-1].level if strikes else Level.NONE.value


def simulate(
    verdicts: Iterable[RecordedVerdict],
    current: Policy,
    other: Policy,
    stakes: dict[str, int],
    now: int,
) -> Simulation:
    """`verdicts` in the order received, each with the decision recorded for it; `other` the policy
    to try; `current` the active policy (its window counts today's recorded strikes)."""
    sim = Simulation()
    prior_current: dict[str, list[_Prior]] = {}
    prior_other: dict[str, list[_Prior]] = {}
    for v in verdicts:
        sim.verdicts += 1
        mine_current = prior_current.setdefault(v.provider, [])
        mine_other = prior_other.setdefault(v.provider, [])
        now_current = v.recorded
        now_other = Outcome.of(_decide(other, v, mine_other))
        mine_current.append(_Prior.of(v, now_current.level))
        mine_other.append(_Prior.of(v, now_other.level))
        totals = sim.providers.get(v.provider)
        if totals is None:
            totals = sim.providers[v.provider] = ProviderTotals(stakes.get(v.provider, 0))
        if v.rejected_ms is None:
            totals.slashed_recorded += totals.stake * now_current.slash_bps // 10_000
            totals.slashed_other += totals.stake * now_other.slash_bps // 10_000
        if now_current != now_other:
            totals.changed += 1
            sim.changed.append(
                {
                    "verdict_id": v.id,
                    "provider": v.provider,
                    "event_type": EventType(v.event_type).wire,
                    "severity": Severity(v.severity).wire,
                    "received_ms": v.received_ms,
                    "rejected": v.rejected_ms is not None,
                    "held": v.held,
                    "current": now_current.wire(),
                    "other": now_other.wire(),
                }
            )
    # "Today" is never before the newest verdict (a devnet's clock may run ahead of the wall's).
    now = max([now, *(p.received_ms // 1000 for mine in prior_current.values() for p in mine)])
    for provider, totals in sim.providers.items():
        totals.standing_recorded = _standing(prior_current[provider], now, current)
        totals.standing_other = _standing(prior_other[provider], now, other)
    return sim


def replay(verdicts: Iterable[RecordedVerdict], policy: Policy) -> list[Outcome]:
    """Each verdict's decision under `policy` with the simulated history (what `simulate` compares)."""
    prior: dict[str, list[_Prior]] = {}
    out = []
    for v in verdicts:
        mine = prior.setdefault(v.provider, [])
        outcome = Outcome.of(_decide(policy, v, mine))
        mine.append(_Prior.of(v, outcome.level))
        out.append(outcome)
    return out


def penalties_scaled(policy: Policy, factor: int) -> Policy:
    """The what-if governance asks first: every level's slash bps times `factor`, the per-decision
    cap lifted to 100 % so nothing is cut (bps above 10,000 are refused as the policy refuses them)."""
    data = policy.model_dump(mode="json")
    for level in data["levels"].values():
        level["slash_bps"] *= factor
    data["caps"]["max_slash_bps"] = 10_000
    return Policy.model_validate(data)
