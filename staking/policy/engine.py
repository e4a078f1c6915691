"""Slashing matrix and escalation ladder.

`decide(verdict, history, policy)` is a pure function: the same verdict and history always give
the same decision, so a replayed or recovered verdict is decided identically.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from staking.domain.strikes import strikes_in_window
from staking.domain.vocabulary import ActionKind, EventType, Level, RecoveryPath, Severity
from staking.rewards.eligibility import RewardRules

DEFAULT_POLICY = Path(__file__).with_name("default.toml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Caps(_Strict):
    max_slash_bps: int = Field(ge=0, le=10_000)
    max_jail_seconds: int = Field(gt=0)


class IncidentThreshold(_Strict):
    """Verdicts against more than `max_providers` distinct providers, or (once at least
    `min_providers_for_stake` are hit) against more than `max_stake_bps` of the bonded stake,
    within the incident window, open an incident."""

    max_providers: int = Field(gt=0)
    max_stake_bps: int = Field(gt=0, le=10_000)
    min_providers_for_stake: int = Field(default=10, gt=0)


class Incidents(_Strict):
    enabled: bool = True
    window_minutes: int = Field(default=10, gt=0, le=24 * 60)
    per_detector: IncidentThreshold = IncidentThreshold(max_providers=20, max_stake_bps=1_000)
    per_event_type: IncidentThreshold = IncidentThreshold(max_providers=50, max_stake_bps=2_000)
    # Jails kept free of the on-chain jail cap for verdicts outside an open detector incident:
    # a rogue detector's isolations stop this far below the cap, so honest ones still land.
    reserve_jails: int = Field(default=10, ge=0)


class Quorum(_Strict):
    # A slash above the contract's quorumBps waits this long for co-signatures, then falls back
    # to the largest slash one signature may carry (and says so on the action).
    timeout_seconds: int = Field(default=600, gt=0)


class LevelRule(_Strict):
    slash_bps: int = Field(ge=0, le=10_000)
    jail_seconds: int = Field(default=0, ge=0)
    jail_until_recovery: bool = False
    propose_tombstone: bool = False


class EventRule(_Strict):
    deadline_seconds: int = Field(gt=0)
    ladder: tuple[Level, ...] = Field(min_length=1)
    isolate: bool = False
    investigate: bool = False
    severity_floor: dict[Literal["low", "medium", "high", "critical"], Level] = {}
    recovery_path: Literal["service_improvement", "security_review", "compliance_verification"] | None = None

    @field_validator("ladder")
    @classmethod
    def _monotone(cls, ladder: tuple[Level, ...]) -> tuple[Level, ...]:
        if Level.NONE in ladder:
            raise ValueError("a ladder's rungs are warning, penalty or severe (none is no offence)")
        ranks = [x.rank for x in ladder]
        if ranks != sorted(ranks):
            raise ValueError(f"ladder must never de-escalate: {[str(x) for x in ladder]}")
        return ladder

    @field_validator("severity_floor")
    @classmethod
    def _floors_are_offences(cls, floor: dict[str, Level]) -> dict[str, Level]:
        if Level.NONE in floor.values():
            raise ValueError("a severity floor is warning, penalty or severe")
        return floor


class Policy(_Strict):
    window_days: int = Field(gt=0, le=3650)
    caps: Caps
    levels: dict[Level, LevelRule]
    event_types: dict[str, EventRule]
    rewards: RewardRules = Field(default_factory=RewardRules)
    incidents: Incidents = Field(default_factory=Incidents)
    quorum: Quorum = Field(default_factory=Quorum)

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        missing = {e.wire for e in EventType} - set(self.event_types)
        unknown = set(self.event_types) - {e.wire for e in EventType}
        if missing or unknown:
            raise ValueError(
                f"event_types must cover exactly {[e.wire for e in EventType]} "
                f"(missing {sorted(missing)}, unknown {sorted(unknown)})"
            )
        if set(self.levels) != {Level.WARNING, Level.PENALTY, Level.SEVERE}:
            raise ValueError("levels must define warning, penalty and severe")
        return self

    @property
    def window_seconds(self) -> int:
        return self.window_days * 86_400

    def rule(self, event_type: EventType) -> EventRule:
        return self.event_types[event_type.wire]


def load_policy(path: Path | None = None) -> Policy:
    """Reads and validates a policy TOML file (the packaged defaults when `path` is None)."""
    source = path or DEFAULT_POLICY
    try:
        data = tomllib.loads(source.read_text())
    except FileNotFoundError:
        raise ValueError(f"policy file {source} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"policy file {source} is not valid TOML: {exc}") from None
    return Policy.model_validate(data)


@dataclass(frozen=True)
class Offence:
    """A past decided verdict of the same provider (investigations are not offences)."""

    detected_at: int
    event_type: EventType
    level: Level


@dataclass(frozen=True)
class VerdictFacts:
    event_type: EventType
    severity: Severity
    detected_at: int


@dataclass(frozen=True)
class Decision:
    level: Level
    offence_number: int  # this verdict's position in the rolling window (1 = first)
    slash_bps: int
    jail_seconds: int | None  # None: no jail; 0: until recovery; >0: timed
    recovery_path: RecoveryPath
    deadline_seconds: int  # from detection to the first on-chain action
    actions: tuple[ActionKind, ...]  # in the order they must go out: isolation first


def _max_level(a: Level, b: Level) -> Level:
    return a if a.rank >= b.rank else b


def decide(verdict: VerdictFacts, history: list[Offence], policy: Policy) -> Decision:
    rule = policy.rule(verdict.event_type)
    if rule.investigate:
        investigate = (ActionKind.OPEN_INVESTIGATION,)
        return Decision(Level.NONE, 0, 0, None, RecoveryPath.NONE, rule.deadline_seconds, investigate)

    prior = strikes_in_window(history, verdict.detected_at, policy.window_seconds)
    n = len(prior) + 1
    level: Level = rule.ladder[min(n, len(rule.ladder)) - 1]
    floor = rule.severity_floor.get(verdict.severity.wire)  # type: ignore[call-overload]
    if floor is not None:
        level = _max_level(level, floor)
    lv = policy.levels[level]

    slash_bps = min(lv.slash_bps, policy.caps.max_slash_bps)
    jail: int | None = None
    if rule.isolate or lv.jail_until_recovery:
        jail = 0
    elif lv.jail_seconds:
        jail = min(lv.jail_seconds, policy.caps.max_jail_seconds)
    path = (
        RecoveryPath.from_wire(rule.recovery_path)
        if rule.recovery_path and level != Level.WARNING
        else RecoveryPath.NONE
    )
    if jail == 0 and path == RecoveryPath.NONE:
        path = RecoveryPath.SECURITY_REVIEW  # an open-ended jail always needs a way out

    actions: list[ActionKind] = []
    if jail is not None:
        actions.append(ActionKind.JAIL)  # isolation goes out first
    if level == Level.WARNING:
        actions.append(ActionKind.WARN)
    if slash_bps:
        actions.append(ActionKind.PROPOSE_SLASH)
    if jail == 0:
        # Only an open-ended jail opens the path on chain; after a timed jail the provider unjails
        # itself, and `recovery_path` is the guidance shown to it.
        actions.append(ActionKind.BEGIN_RECOVERY)
    if lv.propose_tombstone:
        actions.append(ActionKind.PROPOSE_TOMBSTONE)
    return Decision(level, n, slash_bps, jail, RecoveryPath(path), rule.deadline_seconds, tuple(actions))
