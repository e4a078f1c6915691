"""Reward eligibility and weight of one provider for one epoch (pure: no web3, no SQL).

Swarm rewards depend on stake, on performance (uptime and error rate weigh high, response time and
user rating medium) and on standing: a jailed, tombstoned, recovering or under-staked provider, or
one with a slash pending, earns nothing; a provider in probation earns a reduced share.

    weight = time-weighted stake * performance score * (probation multiplier if in probation)

All arithmetic is on integers (bps = 1/10,000), floored at each step, so every process computes
the same weights, and the same Merkle root, from the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from staking.domain.reasons import Ineligible, high_error_rate, low_uptime, probation_note
from staking.domain.vocabulary import BPS


class RewardRules(BaseModel):
    """`[rewards]` of the policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    require_report: bool = True  # no performance report for the epoch: not eligible
    min_uptime_bps: int = Field(default=9_500, ge=0, le=BPS)
    max_error_rate_bps: int = Field(default=500, ge=0, le=BPS)
    # Response time (p50) scores full marks up to `response_target_ms`, nothing from
    # `response_max_ms`, linearly in between.
    response_target_ms: int = Field(default=200, gt=0)
    response_max_ms: int = Field(default=2_000, gt=0)
    # Relative weights of the performance components: high = 3, medium = 2.
    weight_uptime: int = Field(default=3, ge=0)
    weight_error_rate: int = Field(default=3, ge=0)
    weight_response: int = Field(default=2, ge=0)
    weight_rating: int = Field(default=2, ge=0)
    probation_multiplier_bps: int = Field(default=5_000, ge=0, le=BPS)


@dataclass(frozen=True)
class EpochStanding:
    """What the projection knows of a provider over one epoch."""

    time_weighted_stake: int  # base units * seconds / epoch length: the epoch's average stake
    min_stake: int  # the class minimum for its declared GPUs
    jailed: bool  # jailed at any time in the epoch
    tombstoned: bool
    in_recovery: bool  # a recovery path open at the end of the epoch
    pending_slash: bool  # a slash pending at the end of the epoch
    probation: bool  # reinstated, within its probation epochs


@dataclass(frozen=True)
class PerformanceReport:
    """A detector's per-epoch measurement of one provider."""

    uptime_bps: int  # share of the epoch the node served, 0-10,000
    response_ms_p50: int  # median response time
    error_rate_bps: int  # failed requests, 0-10,000
    rating_bps: int  # mean user rating scaled to 0-10,000


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...]  # why not (empty when eligible); also notes such as probation
    score_bps: int
    weight: int


def response_score_bps(p50_ms: int, rules: RewardRules) -> int:
    if p50_ms <= rules.response_target_ms:
        return BPS
    if p50_ms >= rules.response_max_ms:
        return 0
    span = rules.response_max_ms - rules.response_target_ms
    return (rules.response_max_ms - p50_ms) * BPS // span


def performance_score_bps(report: PerformanceReport, rules: RewardRules) -> int:
    """The weighted mean of the components, each 0-10,000 and never better for a worse report."""
    parts = (
        (rules.weight_uptime, _clamp(report.uptime_bps)),
        (rules.weight_error_rate, BPS - _clamp(report.error_rate_bps)),
        (rules.weight_response, response_score_bps(report.response_ms_p50, rules)),
        (rules.weight_rating, _clamp(report.rating_bps)),
    )
    total_weight = sum(w for w, _ in parts)
    if total_weight == 0:
        return BPS
    return sum(w * s for w, s in parts) // total_weight


def evaluate(standing: EpochStanding, report: PerformanceReport | None, rules: RewardRules) -> Eligibility:
    reasons: list[str] = []
    if standing.tombstoned:
        reasons.append(Ineligible.TOMBSTONED.sentence)
    if standing.jailed:
        reasons.append(Ineligible.JAILED.sentence)
    if standing.in_recovery:
        reasons.append(Ineligible.IN_RECOVERY.sentence)
    if standing.pending_slash:
        reasons.append(Ineligible.PENDING_SLASH.sentence)
    if standing.time_weighted_stake < standing.min_stake or standing.time_weighted_stake <= 0:
        reasons.append(Ineligible.BELOW_MINIMUM_STAKE.sentence)
    score = BPS
    if report is None:
        if rules.require_report:
            reasons.append(Ineligible.NO_REPORT.sentence)
    else:
        if report.uptime_bps < rules.min_uptime_bps:
            reasons.append(low_uptime(report.uptime_bps, rules.min_uptime_bps))
        if report.error_rate_bps > rules.max_error_rate_bps:
            reasons.append(high_error_rate(report.error_rate_bps, rules.max_error_rate_bps))
        score = performance_score_bps(report, rules)
    if reasons:
        return Eligibility(False, tuple(reasons), score, 0)
    weight = max(0, standing.time_weighted_stake) * score // BPS
    notes: tuple[str, ...] = ()
    if standing.probation:
        weight = weight * rules.probation_multiplier_bps // BPS
        notes = (probation_note(rules.probation_multiplier_bps),)
    if weight == 0:
        return Eligibility(False, (Ineligible.ZERO_WEIGHT.sentence, *notes), score, 0)
    return Eligibility(True, notes, score, weight)


def _clamp(bps: int) -> int:
    return max(0, min(BPS, bps))
