"""The projection fold and provider status rules, on hand-made events (no chain, no database)."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.projection import Projection, ProjectionError
from staking.domain.clock import EpochClock
from staking.domain.events import DecodedEvent
from staking.domain.status import provider_status

pytestmark = pytest.mark.unit

P = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
SID = "0x" + "11" * 32
CLOCK = EpochClock(genesis=1_000, length=100)
_block = iter(range(1, 10_000))


def ev(name: str, **args: Any) -> DecodedEvent:
    n = next(_block)
    return DecodedEvent(name, n, f"0x{n:064x}", 0, f"0x{n:064x}", 1_000 + n, args)


def fold(*events: DecodedEvent) -> Projection:
    proj = Projection()
    for e in events:
        proj.apply(e, e.block_time or 0)
    return proj


REGISTER = dict(provider=P, **{"class": 0}, gpus=4, metadataURI="ipfs://x")


def test_stake_unbond_withdraw_follow_the_totals_the_events_carry() -> None:
    proj = fold(
        ev("ProviderRegistered", **REGISTER),
        ev("Staked", provider=P, amount=100, active=100),
        ev("UnbondRequested", provider=P, amount=40, active=60, unbonding=40, unbondingEnd=5_000),
        ev("Withdrawn", provider=P, amount=15, unbonding=25),
    )
    p = proj.providers[P]
    assert (p.active, p.unbonding, p.unbonding_end, p.withdrawn) == (60, 25, 5_000, 15)


def test_slash_lifecycle_moves_pending_count_and_stake() -> None:
    proposed = dict(
        id=SID,
        provider=P,
        bps=1000,
        amount=10,
        executableAt=2_000,
        eventType=0,
        severity=3,
        evidenceHash="0x" + "22" * 32,
    )
    proj = fold(
        ev("ProviderRegistered", **REGISTER),
        ev("Staked", provider=P, amount=100, active=100),
        ev("SlashProposed", **proposed),
    )
    assert proj.providers[P].pending_slashes == 1 and proj.slashes[SID].state == 1
    proj.apply(ev("SlashExecuted", id=SID, provider=P, amount=10, fromActive=10, fromUnbonding=0), 0)
    p, s = proj.providers[P], proj.slashes[SID]
    assert (p.active, p.slashed, p.pending_slashes) == (90, 10, 0)
    assert (s.state, s.amount, s.from_active) == (3, 10, 10)


def test_vetoed_slash_releases_the_pending_count_without_touching_stake() -> None:
    proposed = dict(
        id=SID,
        provider=P,
        bps=1000,
        amount=10,
        executableAt=2_000,
        eventType=0,
        severity=3,
        evidenceHash="0x" + "22" * 32,
    )
    proj = fold(
        ev("ProviderRegistered", **REGISTER),
        ev("Staked", provider=P, amount=100, active=100),
        ev("SlashProposed", **proposed),
        ev("SlashVetoed", id=SID, provider=P, vetoer=P, reasonHash="0x" + "33" * 32),
    )
    assert proj.providers[P].pending_slashes == 0 and proj.providers[P].active == 100
    assert proj.slashes[SID].state == 2 and proj.slashes[SID].veto_reason == "0x" + "33" * 32


def test_events_for_unknown_providers_or_slashes_signal_a_gap() -> None:
    with pytest.raises(ProjectionError):
        fold(ev("Staked", provider=P, amount=1, active=1))
    with pytest.raises(ProjectionError):
        fold(
            ev("ProviderRegistered", **REGISTER),
            ev("SlashExecuted", id=SID, provider=P, amount=1, fromActive=1, fromUnbonding=0),
        )


def test_roles_and_parameters_track_grants_revokes_and_setters() -> None:
    role = "0x" + "44" * 32
    proj = fold(
        ev("RoleGranted", role=role, account=P, sender=P),
        ev("VetoWindowSet", vetoWindow=120),
        ev("Paused", account=P),
        ev("ClassParamsSet", **{"class": 1}, baseMinStake=5, perGpuMinStake=0, unbondingPeriod=9),
    )
    assert proj.roles[(role, P)] is not None
    assert proj.params["veto_window"][0] == "120" and proj.params["paused"][0] == "true"
    assert '"unbonding_period": 9' in proj.params["class.1"][0]
    proj.apply(ev("RoleRevoked", role=role, account=P, sender=P), 0)
    assert proj.roles[(role, P)] is None


def test_epoch_pool_publication_and_claims() -> None:
    proj = fold(
        ev("RewardsFunded", epoch=3, funder=P, amount=70, pool=70),
        ev(
            "EligibilityPublished",
            epoch=3,
            merkleRoot="0x" + "55" * 32,
            totalWeight=7,
            pool=70,
            uri="ipfs://e3",
        ),
        ev("RewardClaimed", epoch=3, account=P, weight=2, amount=20),
    )
    e = proj.epochs[3]
    assert (e.pool, e.published, e.total_weight, e.claimed, e.claims) == (70, True, 7, 20, 1)


def _provider(*events: DecodedEvent) -> Any:
    return fold(
        ev("ProviderRegistered", **REGISTER), ev("Staked", provider=P, amount=100, active=100), *events
    ).providers[P]


@pytest.mark.parametrize(
    ("events", "now", "status"),
    [
        ([], 2_000, "active"),
        ([("Jailed", dict(provider=P, verdictId=SID, until=0, eventType=0, severity=3))], 2_000, "jailed"),
        (
            [
                ("Jailed", dict(provider=P, verdictId=SID, until=0, eventType=0, severity=3)),
                ("RecoveryBegun", dict(provider=P, path=2, stage=2)),
            ],
            2_000,
            "in_recovery",
        ),
        ([("Tombstoned", dict(provider=P, reasonHash=SID))], 2_000, "tombstoned"),
        (
            [("UnbondRequested", dict(provider=P, amount=100, active=0, unbonding=100, unbondingEnd=9))],
            2_000,
            "unbonding",
        ),
        (
            [
                ("UnbondRequested", dict(provider=P, amount=100, active=0, unbonding=100, unbondingEnd=9)),
                ("Withdrawn", dict(provider=P, amount=100, unbonding=0)),
            ],
            2_000,
            "exited",
        ),
    ],
)
def test_status_follows_the_most_severe_standing(
    events: list[tuple[str, dict[str, Any]]], now: int, status: str
) -> None:
    p = _provider(*(ev(name, **args) for name, args in events))
    assert provider_status(p, now, CLOCK)[0] == status


def test_probation_lasts_the_announced_epochs_after_reinstatement() -> None:
    p = _provider(
        ev("Jailed", provider=P, verdictId=SID, until=0, eventType=0, severity=3),
        ev("Reinstated", provider=P, path=0, probationEpochs=3),
    )
    reinstated_epoch = CLOCK.epoch_at(p.reinstated_at)
    assert provider_status(p, CLOCK.genesis + (reinstated_epoch + 2) * CLOCK.length, CLOCK)[0] == "probation"
    assert provider_status(p, CLOCK.genesis + (reinstated_epoch + 3) * CLOCK.length, CLOCK)[0] == "active"


def test_an_expired_timed_jail_still_reads_jailed_and_says_the_provider_may_unjail() -> None:
    p = _provider(ev("Jailed", provider=P, verdictId=SID, until=1_500, eventType=4, severity=1))
    assert provider_status(p, 1_400, CLOCK) == ("jailed", "isolated until the jail expires")
    status, reason = provider_status(p, 1_500, CLOCK)
    assert status == "jailed" and "may unjail" in reason
    assert provider_status(None, 0, CLOCK)[0] == "unregistered"


def test_the_chains_bounds_become_parameters_and_the_latest_setter_wins() -> None:
    proj = fold(
        ev("CapsSet", window=86_400, jailCap=10, slashCapBps=500, maxSlashBps=5_000),
        ev("SeverityBoundsSet", bounds=[500, 1_000, 2_500, 5_000]),
        ev("QuorumSet", quorum=2, quorumBps=1_000),
        ev("CapsSet", window=3_600, jailCap=50, slashCapBps=100, maxSlashBps=2_500),
    )
    values = {k: v for k, (v, _) in proj.params.items()}
    assert values == {
        "cap_window": "3600",
        "jail_cap": "50",
        "slash_cap_bps": "100",
        "max_slash_bps": "2500",
        "severity_bounds": "[500, 1000, 2500, 5000]",
        "quorum": "2",
        "quorum_bps": "1000",
    }


def test_a_lifted_jail_frees_the_provider_and_closes_its_recovery_without_probation() -> None:
    p = _provider(
        ev("Jailed", provider=P, verdictId=SID, until=0, eventType=0, severity=3),
        ev("RecoveryBegun", provider=P, path=2, stage=2),
        ev("JailLifted", provider=P, by=P, reasonHash=SID),
    )
    assert (p.jailed, p.jailed_until, p.recovery_path, p.recovery_stage) == (False, 0, 0, 0)
    assert p.reinstated_at is None and p.probation_epochs == 0
    assert provider_status(p, 2_000, CLOCK)[0] == "active"


def test_released_tombstoned_stake_leaves_the_row_tombstoned_and_co_signers_file_under_the_slash() -> None:
    from indexer.projection import event_keys

    released = ev("TombstonedStakeReleased", provider=P, by=P)
    p = _provider(ev("Tombstoned", provider=P, reasonHash=SID), released)
    assert p.tombstoned and p.jailed and p.updated_block == released.block_number
    co_signed = ev("SlashCoSigned", id=SID, signers=[P, "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"])
    proj = fold(co_signed)  # no state of its own: kept in `events`, keyed by the slash
    assert not proj.providers and not proj.slashes and not proj.params
    assert event_keys(co_signed) == (None, SID, None)
    assert event_keys(released) == (P, None, None)
