"""How a decided slash goes on chain within the chain's bounds (`staking.worker.slash_plan`): the
clamp to the severity's bound, the quorum's signatures in the contract's order, the wait and the
fallback after the policy's timeout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from staking.domain.vocabulary import Severity
from staking.worker.slash_plan import PROPOSE, QUORUM, SKIP, WAIT, Signer, SlashPlan, ascending, plan_slash

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Bounds:
    bounds: tuple[int, int, int, int] = (500, 1_000, 2_500, 5_000)
    max_slash_bps: int = 5_000
    quorum: int = 2
    quorum_bps: int = 1_000

    def max_for(self, severity: Severity) -> int:
        return min(self.bounds[int(severity)], self.max_slash_bps)


FIRST = Signer("0xF000000000000000000000000000000000000001", "0x01")
LOW = Signer("0x0000000000000000000000000000000000000002", "0x02")
MID = Signer("0x8000000000000000000000000000000000000003", "0x03")


def plan(
    bps: int,
    severity: Severity = Severity.CRITICAL,
    co: Sequence[Signer] = (),
    waited: float = 0.0,
    timeout: int = 600,
    **bounds: Any,
) -> SlashPlan:
    return plan_slash(bps, severity, Bounds(**bounds), FIRST, list(co), waited, timeout)


def test_signers_are_ordered_by_address_as_a_20_byte_integer_and_distinct() -> None:
    lower_case_high = Signer("0xabc0000000000000000000000000000000000000", "0x04")
    upper_case_low = Signer("0x0ABC000000000000000000000000000000000000", "0x05")
    again = Signer(MID.address.lower(), "0x06")
    got = ascending([FIRST, lower_case_high, MID, upper_case_low, again, LOW])
    assert got == [LOW, upper_case_low, MID, lower_case_high, FIRST]


def test_a_slash_above_the_severitys_bound_is_clamped_and_says_so() -> None:
    p = plan(2_000, Severity.MEDIUM, quorum=1)
    assert (p.how, p.bps) == (PROPOSE, 1_000)
    assert p.note == "clamped from 2000 to 1000 bps, the chain's bound for a medium verdict"
    unclamped = plan(800, Severity.MEDIUM)
    assert (unclamped.how, unclamped.bps, unclamped.note) == (PROPOSE, 800, None)


def test_the_clamp_never_exceeds_the_global_maximum() -> None:
    p = plan(9_000, Severity.CRITICAL, quorum=1, bounds=(500, 1_000, 2_500, 9_000), max_slash_bps=3_000)
    assert p.bps == 3_000


def test_above_the_quorum_bps_the_slash_waits_for_the_quorum_then_goes_with_ordered_signatures() -> None:
    waiting = plan(2_000, co=[], waited=10)
    assert waiting.how == WAIT and not waiting.submittable
    assert waiting.note is not None and waiting.note.startswith("waiting for the quorum: 1 of 2")
    p = plan(2_000, co=[MID, LOW], waited=10)
    assert (p.how, p.bps) == (QUORUM, 2_000)
    assert p.signers == (LOW, MID, FIRST)


def test_at_or_below_the_quorum_bps_one_signature_is_enough() -> None:
    assert plan(1_000).how == PROPOSE
    assert plan(5_000, quorum=1).how == PROPOSE


def test_after_the_timeout_the_slash_falls_back_to_what_one_signature_may_carry() -> None:
    p = plan(2_000, waited=601, timeout=600)
    assert (p.how, p.bps, p.signers) == (PROPOSE, 1_000, (FIRST,))
    assert p.note == "quorum not met in 600 s: proposed 1000 bps, the most one signature may carry"


def test_the_fallback_is_never_above_the_severitys_bound() -> None:
    p = plan(3_000, Severity.HIGH, waited=601, timeout=600, bounds=(100, 200, 1_500, 5_000), quorum_bps=2_000)
    assert (p.how, p.bps) == (PROPOSE, 1_500)


def test_a_quorum_bps_of_zero_skips_the_slash_after_the_timeout() -> None:
    p = plan(2_000, waited=601, timeout=600, quorum_bps=0)
    assert p.how == SKIP and p.note is not None and p.note.startswith("quorum not met in 600 s")


def test_a_severity_the_chain_allows_no_slash_for_is_skipped() -> None:
    assert plan(500, Severity.LOW, bounds=(0, 1_000, 2_500, 5_000)).how == SKIP
