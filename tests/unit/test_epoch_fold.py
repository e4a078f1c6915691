"""Reward epochs from their events alone (no chain, no database): the standing fold (time-weighted
stake, jails, probation, class minimums) and roots that are the same for the same inputs."""

from __future__ import annotations

from typing import Any

import pytest

from staking.domain.clock import EpochClock
from staking.domain.events import DecodedEvent
from staking.rewards.eligibility import PerformanceReport, RewardRules
from staking.rewards.epochs import (
    EpochFold,
    evaluate_epoch,
)
from staking.rewards.merkle import verify
from tests.support.epochs import varied_reports

pytestmark = pytest.mark.unit


CLOCK = EpochClock(genesis=1_000, length=100)  # epoch 1 = [1100, 1200)


Event = tuple[DecodedEvent, int]


def event(name: str, at: int, **args: Any) -> Event:
    """An event as the indexer decodes it, mined at time `at` (block number = time, for order)."""
    return DecodedEvent(name, at, f"0x{at:064x}", 0, "0x" + "ab" * 32, at, args), at


def registered(provider: str, at: int = 1_000, gpus: int = 2) -> Event:
    return event("ProviderRegistered", at, provider=provider, **{"class": 0}, gpus=gpus, metadataURI="")


def staked(provider: str, at: int, active: int) -> Event:
    return event("Staked", at, provider=provider, amount=active, active=active)


def class_params(at: int, base: int, per_gpu: int) -> Event:
    args = {"class": 0, "baseMinStake": base, "perGpuMinStake": per_gpu, "unbondingPeriod": 7 * 86_400}
    return event("ClassParamsSet", at, **args)


def jailed(provider: str, at: int) -> Event:
    return event(
        "Jailed", at, provider=provider, verdictId="0x" + "11" * 32, until=0, eventType=0, severity=3
    )


def unjailed(provider: str, at: int) -> Event:
    return event("Unjailed", at, provider=provider, by=provider)


def proposed(provider: str, at: int, slash: int = 1) -> Event:
    args = {"bps": 1_000, "amount": 1_000, "executableAt": at + 120, "eventType": 0, "severity": 3}
    return event(
        "SlashProposed", at, id=f"0x{slash:064x}", provider=provider, evidenceHash="0x" + "22" * 32, **args
    )


def fold(events: list[Event], epoch: int = 1) -> EpochFold:
    f = EpochFold(CLOCK, epoch)
    for ev, at in [class_params(900, 1_000, 500), *events]:
        f.apply(ev, at)
    return f


@pytest.mark.unit
def test_time_weighted_stake_counts_each_amount_for_the_seconds_it_was_bonded_in_the_epoch() -> None:
    events = [
        *(registered(p) for p in "ABCDF"),
        staked("A", 1_010, 10_000),  # before the epoch: all of it, all along
        staked("B", 1_150, 4_000),  # staked mid-epoch: half the epoch
        staked("C", 1_010, 10_000),
        proposed("C", 1_100),
        event(
            "SlashExecuted",
            1_125,
            id=f"0x{1:064x}",
            provider="C",
            amount=1_000,
            fromActive=1_000,
            fromUnbonding=0,
        ),
        staked("D", 1_010, 10_000),
        event(
            "UnbondRequested",
            1_180,
            provider="D",
            amount=4_000,
            active=6_000,
            unbonding=4_000,
            unbondingEnd=9_999,
        ),
        registered("E", at=1_160),  # registers mid-epoch, stakes 3,000 for the last 30 s
        staked("E", 1_170, 3_000),
        staked("F", 1_199, 100_000),  # the last second
    ]
    s = fold(events).standings()
    assert s["A"].time_weighted_stake == 10_000
    assert s["B"].time_weighted_stake == 4_000 * 50 // 100
    assert s["C"].time_weighted_stake == (10_000 * 25 + 9_000 * 75) // 100 == 9_250
    assert not s["C"].pending_slash, "the slash was executed within the epoch"
    assert s["D"].time_weighted_stake == (10_000 * 80 + 6_000 * 20) // 100
    assert s["E"].time_weighted_stake == 900
    assert s["F"].time_weighted_stake == 1_000
    assert s["A"].min_stake == 1_000 + 500 * 2  # minStakeOf: base + per GPU x declared GPUs
    with pytest.raises(ValueError):  # a block stamped at the end belongs to the next epoch
        fold(events).apply(*staked("A", 1_200, 1))


@pytest.mark.unit
def test_a_jail_at_any_moment_of_the_epoch_counts_and_standing_at_the_end_is_what_counts() -> None:
    events = [
        *(registered(p) for p in "JKLMNOPQ"),
        jailed("J", 1_020),  # jailed before, freed before: clean
        unjailed("J", 1_050),
        jailed("K", 1_020),  # jailed before, freed mid-epoch
        unjailed("K", 1_130),
        jailed("L", 1_110),  # jailed and freed within the epoch
        unjailed("L", 1_111),
        jailed("M", 1_020),  # jailed all along, no event of its own in the epoch
        event("Tombstoned", 1_150, provider="N", reasonHash="0x" + "33" * 32),
        event("RecoveryBegun", 1_150, provider="O", path=2, stage=2),
        proposed("P", 1_190, slash=2),
        proposed("Q", 1_010, slash=3),  # pending before, vetoed within
        event("SlashVetoed", 1_120, id=f"0x{3:064x}", provider="Q", vetoer="V", reasonHash="0x" + "44" * 32),
    ]
    s = fold(events).standings()
    assert [p for p in "JKLMNOPQ" if s[p].jailed] == ["K", "L", "M", "N"]
    assert [p for p in s if s[p].tombstoned] == ["N"]
    assert [p for p in s if s[p].in_recovery] == ["O"]
    assert [p for p in s if s[p].pending_slash] == ["P"]


@pytest.mark.unit
def test_probation_covers_the_reinstatement_epoch_and_the_next_ones_up_to_probation_epochs() -> None:
    events = [registered("R"), event("Reinstated", 1_150, provider="R", path=2, probationEpochs=3)]
    on = [e for e in range(1, 6) if fold(events, e).standings()["R"].probation]
    assert on == [1, 2, 3]  # reinstated in epoch 1: epochs 1-3 at reduced weight, 4 at full


@pytest.mark.unit
def test_the_class_minimum_is_the_one_in_force_at_the_end_of_the_epoch() -> None:
    f = fold([registered("G", gpus=4)])
    f.apply(*class_params(1_150, 2_000, 100))
    assert f.standings()["G"].min_stake == 2_000 + 4 * 100


@pytest.mark.unit
def test_the_same_standings_and_reports_always_give_the_same_root_and_inputs_hash() -> None:
    providers = [f"0x{i:040x}" for i in range(1, 8)]
    events = [e for i, p in enumerate(providers) for e in (registered(p), staked(p, 1_010, 5_000 + i))]
    rules = RewardRules()
    reports = varied_reports(providers, 1)
    a = evaluate_epoch(1, 1_100, 1_200, fold(events).standings(), reports, rules)
    b = evaluate_epoch(
        1, 1_100, 1_200, fold(list(events)).standings(), dict(reversed(reports.items())), rules
    )
    assert (a.root, a.inputs_hash, a.total_weight) == (b.root, b.inputs_hash, b.total_weight)
    assert a.eligible == 7 and a.state == "computed"
    for address, weight in a.weights.items():
        assert verify(a.tree.proofs[address], a.tree.root, address, weight)
    worse = {**reports, providers[0]: PerformanceReport(9_990, 1_500, 10, 9_000)}
    c = evaluate_epoch(1, 1_100, 1_200, fold(events).standings(), worse, rules)
    assert c.inputs_hash != a.inputs_hash and c.root != a.root
    nobody = evaluate_epoch(1, 1_100, 1_200, fold(events).standings(), {}, rules)
    assert nobody.state == "empty" and nobody.total_weight == 0 and nobody.root == "0x" + "00" * 32
