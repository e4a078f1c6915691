"""Reward eligibility rules (pure): weights are never negative, a worse report never raises a
weight, and a jailed, tombstoned, recovering or slashed provider is never eligible."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staking.rewards.eligibility import (
    BPS,
    EpochStanding,
    PerformanceReport,
    RewardRules,
    evaluate,
    performance_score_bps,
)

pytestmark = pytest.mark.unit
RULES = RewardRules()

bps = st.integers(min_value=0, max_value=BPS)
reports = st.builds(
    PerformanceReport,
    uptime_bps=bps,
    response_ms_p50=st.integers(min_value=0, max_value=10_000),
    error_rate_bps=bps,
    rating_bps=bps,
)
standings = st.builds(
    EpochStanding,
    time_weighted_stake=st.integers(min_value=0, max_value=10**30),
    min_stake=st.integers(min_value=0, max_value=10**24),
    jailed=st.booleans(),
    tombstoned=st.booleans(),
    in_recovery=st.booleans(),
    pending_slash=st.booleans(),
    probation=st.booleans(),
)
GOOD = PerformanceReport(uptime_bps=9_990, response_ms_p50=120, error_rate_bps=10, rating_bps=9_000)
CLEAN = EpochStanding(10_000 * 10**18, 2_000 * 10**18, False, False, False, False, False)


@given(standings, st.none() | reports)
def test_a_weight_is_never_negative_and_zero_exactly_when_ineligible(
    s: EpochStanding, r: PerformanceReport | None
) -> None:
    e = evaluate(s, r, RULES)
    assert e.weight >= 0
    assert e.eligible == (e.weight > 0)
    assert 0 <= e.score_bps <= BPS


@given(standings, reports)
def test_a_provider_out_of_standing_is_never_eligible(s: EpochStanding, r: PerformanceReport) -> None:
    if s.jailed or s.tombstoned or s.in_recovery or s.pending_slash:
        assert not evaluate(s, r, RULES).eligible


@given(standings, reports, st.data())
def test_a_worse_report_never_raises_the_weight(
    s: EpochStanding, r: PerformanceReport, data: st.DataObject
) -> None:
    worse = replace(
        r,
        uptime_bps=data.draw(st.integers(0, r.uptime_bps)),
        response_ms_p50=data.draw(st.integers(r.response_ms_p50, 20_000)),
        error_rate_bps=data.draw(st.integers(r.error_rate_bps, BPS)),
        rating_bps=data.draw(st.integers(0, r.rating_bps)),
    )
    assert performance_score_bps(worse, RULES) <= performance_score_bps(r, RULES)
    assert evaluate(s, worse, RULES).weight <= evaluate(s, r, RULES).weight


@given(st.integers(min_value=2_000 * 10**18, max_value=10**30))
def test_probation_reduces_the_weight_by_the_multiplier(stake: int) -> None:
    base = evaluate(replace(CLEAN, time_weighted_stake=stake), GOOD, RULES)
    probation = evaluate(replace(CLEAN, time_weighted_stake=stake, probation=True), GOOD, RULES)
    assert probation.eligible and probation.weight == base.weight * RULES.probation_multiplier_bps // BPS
    assert any("probation" in r for r in probation.reasons)


def test_each_reason_is_named() -> None:
    e = evaluate(
        EpochStanding(
            10, 2_000, jailed=True, tombstoned=True, in_recovery=True, pending_slash=True, probation=False
        ),
        PerformanceReport(uptime_bps=9_000, response_ms_p50=100, error_rate_bps=900, rating_bps=5_000),
        RULES,
    )
    text = " ".join(e.reasons)
    for word in ("tombstoned", "jailed", "recovery", "slash", "minimum", "uptime", "error rate"):
        assert word in text
    assert "no performance report" in " ".join(evaluate(CLEAN, None, RULES).reasons)
    assert evaluate(CLEAN, None, RewardRules(require_report=False)).eligible


def test_the_weight_of_a_clean_epoch_is_stake_times_score() -> None:
    e = evaluate(CLEAN, GOOD, RULES)
    assert e.eligible and e.reasons == ()
    assert e.weight == CLEAN.time_weighted_stake * performance_score_bps(GOOD, RULES) // BPS
