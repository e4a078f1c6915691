"""The slashing policy: seed-table defaults, escalation, caps, and policy-file validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staking.domain.vocabulary import EventType, RecoveryPath, Severity
from staking.policy import Offence, decide, load_policy
from staking.policy.engine import VerdictFacts

pytestmark = pytest.mark.unit
POLICY = load_policy()
NOW = 1_795_000_000
DAY = 86_400


def facts(e: EventType, s: Severity = Severity.MEDIUM, at: int = NOW) -> VerdictFacts:
    return VerdictFacts(e, s, at)


def history(n: int, e: EventType = EventType.POLICY_VIOLATION, spacing: int = DAY) -> list[Offence]:
    return [Offence(NOW - (i + 1) * spacing, e, "warning") for i in range(n)]


def test_seed_deadlines_breach_under_a_minute_attack_under_30_seconds() -> None:
    assert decide(facts(EventType.SECURITY_BREACH), [], POLICY).deadline_seconds <= 60
    assert decide(facts(EventType.SYSTEM_ATTACK), [], POLICY).deadline_seconds <= 30
    assert decide(facts(EventType.POLICY_VIOLATION), [], POLICY).deadline_seconds <= 300
    assert decide(facts(EventType.SUSPICIOUS_ACTIVITY), [], POLICY).deadline_seconds <= 900


@pytest.mark.parametrize("event", [EventType.SECURITY_BREACH, EventType.SYSTEM_ATTACK])
def test_breaches_and_attacks_isolate_first_until_a_security_review(event: EventType) -> None:
    d = decide(facts(event, Severity.LOW), [], POLICY)
    assert d.actions[0] == "jail" and d.jail_seconds == 0
    assert d.recovery_path == RecoveryPath.SECURITY_REVIEW and "begin_recovery" in d.actions
    assert "propose_slash" in d.actions and d.actions.index("jail") < d.actions.index("propose_slash")


def test_suspicious_activity_opens_an_investigation_and_never_penalises() -> None:
    for sev in Severity:
        d = decide(facts(EventType.SUSPICIOUS_ACTIVITY, sev), history(5), POLICY)
        assert d.actions == ("open_investigation",) and d.slash_bps == 0 and d.jail_seconds is None


def test_performance_violations_graduate_warning_penalty_severe() -> None:
    levels = [
        decide(
            facts(EventType.PERFORMANCE_VIOLATION), history(n, EventType.PERFORMANCE_VIOLATION), POLICY
        ).level
        for n in range(4)
    ]
    assert levels == ["warning", "penalty", "severe", "severe"]
    first = decide(facts(EventType.PERFORMANCE_VIOLATION), [], POLICY)
    assert first.actions == ("warn",) and first.slash_bps == 0
    second = decide(facts(EventType.PERFORMANCE_VIOLATION), history(1), POLICY)
    assert second.jail_seconds and second.jail_seconds > 0 and "begin_recovery" not in second.actions
    assert second.recovery_path == RecoveryPath.SERVICE_IMPROVEMENT
    third = decide(facts(EventType.PERFORMANCE_VIOLATION), history(2), POLICY)
    assert (
        third.jail_seconds == 0 and "propose_tombstone" in third.actions and "begin_recovery" in third.actions
    )


def test_offences_outside_the_rolling_window_do_not_escalate() -> None:
    old = history(5, spacing=POLICY.window_seconds + 1)
    assert decide(facts(EventType.PERFORMANCE_VIOLATION), old, POLICY).level == "warning"
    investigations = [Offence(NOW - DAY, EventType.SUSPICIOUS_ACTIVITY, "none")] * 3
    assert decide(facts(EventType.PERFORMANCE_VIOLATION), investigations, POLICY).level == "warning"


def test_severity_floor_lifts_a_critical_first_offence() -> None:
    assert decide(facts(EventType.SECURITY_BREACH, Severity.CRITICAL), [], POLICY).level == "severe"
    assert decide(facts(EventType.POLICY_VIOLATION, Severity.HIGH), [], POLICY).level == "penalty"


offences = st.lists(
    st.builds(
        Offence,
        st.integers(NOW - 60 * DAY, NOW),
        st.sampled_from(list(EventType)),
        st.sampled_from(["none", "warning", "penalty", "severe"]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(EventType)), st.sampled_from(list(Severity)), offences, offences)
def test_escalation_is_monotone_in_the_number_of_offences(
    e: EventType, s: Severity, base: list[Offence], more: list[Offence]
) -> None:
    fewer = decide(facts(e, s), base, POLICY)
    extra = decide(facts(e, s), base + more, POLICY)
    assert extra.level.rank >= fewer.level.rank
    assert extra.slash_bps >= fewer.slash_bps


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(EventType)), st.sampled_from(list(Severity)), offences)
def test_no_decision_exceeds_the_caps_and_every_decision_has_a_deadline(
    e: EventType, s: Severity, past: list[Offence]
) -> None:
    d = decide(facts(e, s), past, POLICY)
    assert 0 <= d.slash_bps <= POLICY.caps.max_slash_bps
    assert d.jail_seconds is None or 0 <= d.jail_seconds <= POLICY.caps.max_jail_seconds
    assert d.deadline_seconds > 0 and d.actions
    if d.jail_seconds == 0:
        assert d.recovery_path != RecoveryPath.NONE, "an open-ended jail needs a recovery path"


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_caps_bind_even_when_a_level_asks_for_more(level_bps: int, cap: int) -> None:
    raw = load_policy().model_dump()
    raw["levels"]["severe"]["slash_bps"] = level_bps
    raw["caps"]["max_slash_bps"] = cap
    policy = type(POLICY).model_validate(raw)
    d = decide(facts(EventType.SECURITY_BREACH, Severity.CRITICAL), [], policy)
    assert d.slash_bps == min(level_bps, cap)


def test_policy_files_are_validated_with_clear_errors(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "staking" / "policy" / "default.toml").read_text()
    bad = tmp_path / "p.toml"
    bad.write_text(
        text.replace('ladder = ["warning", "penalty", "severe"]', 'ladder = ["severe", "warning"]', 1)
    )
    with pytest.raises(ValueError, match="never de-escalate"):
        load_policy(bad)
    bad.write_text(text.replace("[event_types.operational_failure]", "[event_types.meteor]"))
    with pytest.raises(ValueError, match="missing"):
        load_policy(bad)
    bad.write_text(text + "\nsurprise = 1\n")
    with pytest.raises(ValueError, match="surprise"):
        load_policy(bad)
    with pytest.raises(ValueError, match="not found"):
        load_policy(tmp_path / "missing.toml")
