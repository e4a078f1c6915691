"""The rolling caps of SwarmStaking's automatic path (SPEC section 8), on a real Anvil.

`jailCap` jails and `slashCapBps` of the bonded stake put at stake by SLASHER_ROLE per `capWindow`
seconds, counted in 24 buckets of `ceil(capWindow / 24)` seconds plus the current one, so no
interval of `capWindow` seconds ever sees more than the cap. The devnet opens the caps wide; every
test here sets tight ones first with the governance account (`Chain.bound`, as `apply_bounds`
does at deployment). Transactions whose bucket matters are mined at chosen timestamps.
"""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak
from web3.types import TxReceipt

from staking.chain.contracts import StakingContract
from staking.chain.sender import Sender
from staking.deploy import StakingParams, apply_bounds, deploy_staking
from staking.devnet.accounts import GOVERNANCE, devnet_account
from staking.domain.vocabulary import TOKEN, SlashState
from tests.support.chain import Chain

pytestmark = pytest.mark.integration

T = TOKEN
HOUR = 3600
DAY = 24 * HOUR
BUCKET = HOUR // 24  # the devnet's cap window is one hour: buckets of 150 s
BONDED = 135_500 * T  # the devnet providers' stakes
ZERO32 = b"\x00" * 32


def jail_at(chain: Chain, ts: int, provider: str, until: int = 0) -> TxReceipt:
    """A detector's fresh verdict against `provider`, jailed by the service in a block at `ts`."""
    v, sig = chain.signed(provider, detected_at=ts)
    return chain.tx_at(ts, chain.staking.jail(v, sig, until), chain.service)


def propose_at(chain: Chain, ts: int, provider: str, bps: int) -> tuple[bytes, TxReceipt]:
    v, sig = chain.signed(provider, detected_at=ts)
    return v.id, chain.tx_at(ts, chain.staking.propose_slash(v, sig, bps), chain.service)


def refused_jail_at(chain: Chain, ts: int, provider: str, used: int, cap: int) -> None:
    v, sig = chain.signed(provider, detected_at=ts)
    chain.expect_revert_at(ts, chain.staking.jail(v, sig, 0), chain.service, "JailCapExceeded", used, cap)


def refused_proposal_at(chain: Chain, ts: int, provider: str, bps: int, at_stake: int, cap: int) -> None:
    v, sig = chain.signed(provider, detected_at=ts)
    fn = chain.staking.propose_slash(v, sig, bps)
    chain.expect_revert_at(ts, fn, chain.service, "SlashCapExceeded", at_stake, cap)


# ---------------------------------------------------------------------------------------- jail cap


def test_jails_beyond_the_cap_revert_with_the_figures_until_their_bucket_leaves_the_window(
    chain: Chain,
) -> None:
    chain.bound(jail_cap=3)
    p = chain.providers
    t0 = chain.bucket_start(HOUR)
    for i in range(3):  # three jails in one bucket
        assert jail_at(chain, t0 + i, p[i])["status"] == 1
    assert chain.staking.cap_usage().jails == 3
    refused_jail_at(chain, t0 + 3, p[3], 3, 3)
    assert not chain.staking.is_jailed(p[3])
    # The bucket of t0 counts for 24 more buckets: up to the last second before t0 + 25 buckets.
    chain.mine(t0 + 24 * BUCKET)
    assert chain.staking.cap_usage().jails == 3
    refused_jail_at(chain, t0 + 25 * BUCKET - 1, p[3], 3, 3)
    chain.mine(t0 + 25 * BUCKET)
    assert chain.staking.cap_usage().jails == 0  # the view forgets the old bucket by itself
    assert jail_at(chain, t0 + 25 * BUCKET + 1, p[3])["status"] == 1
    assert chain.staking.cap_usage().jails == 1
    assert chain.staking.is_jailed(p[3])


def test_jails_spread_over_buckets_leave_the_window_one_bucket_at_a_time(chain: Chain) -> None:
    chain.bound(jail_cap=2)
    p = chain.providers
    t0 = chain.bucket_start(HOUR)
    assert jail_at(chain, t0, p[0])["status"] == 1
    assert jail_at(chain, t0 + 10 * BUCKET, p[1])["status"] == 1
    refused_jail_at(chain, t0 + 25 * BUCKET - 1, p[2], 2, 2)
    assert jail_at(chain, t0 + 25 * BUCKET, p[2])["status"] == 1  # the first jail's bucket left
    refused_jail_at(chain, t0 + 35 * BUCKET - 1, p[3], 2, 2)
    assert jail_at(chain, t0 + 35 * BUCKET, p[3])["status"] == 1
    # Long after every bucket left (more than a whole ring of idle buckets), the count is zero.
    chain.mine(t0 + 200 * BUCKET)
    assert chain.staking.cap_usage().jails == 0
    assert jail_at(chain, t0 + 200 * BUCKET + 1, p[4])["status"] == 1
    assert chain.staking.cap_usage().jails == 1


def test_no_interval_of_cap_window_seconds_ever_sees_more_than_jail_cap_jails(chain: Chain) -> None:
    """Attempts every 73 s for two windows: each accepted jail has at most cap - 1 accepted ones
    in the capWindow seconds before it (strict), and each refused one has cap of them within the
    window plus one bucket (the buckets' only slack)."""
    cap = 2
    chain.bound(jail_cap=cap)
    t0 = chain.bucket_start(HOUR) + 17
    accepted: list[int] = []
    for ts in range(t0, t0 + 2 * HOUR, 73):
        recent = [t for t in accepted if t > ts - HOUR]
        within_slack = [t for t in accepted if t > ts - HOUR - BUCKET]
        if jail_at(chain, ts, chain.providers[ts % 7])["status"] == 1:
            assert len(recent) <= cap - 1, f"jail at {ts - t0} s accepted after {recent}"
            accepted.append(ts)
        else:
            assert len(within_slack) >= cap, f"jail at {ts - t0} s refused after {within_slack}"
    assert len(accepted) >= 2 * cap  # the cap delays jails, it does not stop them


def test_the_caps_count_only_the_slasher_path_governance_is_never_capped(chain: Chain) -> None:
    chain.bound(jail_cap=1, slash_cap_bps=1)  # one jail, 13.55 tokens put at stake per hour
    s, gov, p = chain.staking, chain.governance, chain.providers
    t0 = chain.bucket_start(HOUR)
    assert jail_at(chain, t0, p[0])["status"] == 1
    refused_jail_at(chain, t0 + 1, p[1], 1, 1)
    refused_proposal_at(chain, t0 + 2, p[6], 2_000, 100 * T, BONDED // 10_000)  # 100 of 500
    why = keccak(text="governance")
    chain.tx_ok_at(t0 + 3, s.tombstone(p[2], why), gov)
    chain.tx_ok_at(t0 + 4, s.slash_tombstoned(p[2], 10_000, why), gov)  # 3,000: never capped
    chain.tx_ok_at(t0 + 5, s.reinstate(p[0]), gov)
    tombstone_slash = keccak(encode(["address", "bytes32"], [p[2], why]))
    assert s.slash_state(tombstone_slash) == SlashState.PENDING
    chain.tx_ok_at(t0 + 6, s.veto_slash(tombstone_slash, why), gov)
    usage = s.cap_usage()
    assert (usage.jails, usage.at_stake) == (1, 0)
    refused_jail_at(chain, t0 + 7, p[1], 1, 1)


def test_jail_and_propose_slash_counts_one_jail_and_its_stake(chain: Chain) -> None:
    chain.bound(jail_cap=2, slash_cap_bps=100)  # 1,355 tokens per window
    p = chain.providers[1]  # 5,000 staked
    v, sig = chain.signed(p)
    chain.tx(chain.staking.jail_and_propose_slash(v, sig, 0, 1_000), chain.service)
    usage = chain.staking.cap_usage()
    assert (usage.jails, usage.at_stake, usage.total_bonded) == (1, 500 * T, BONDED)
    assert chain.staking.at_stake_of(p) == 500 * T


# ---------------------------------------------------------------------------------------- stake cap


def test_proposals_beyond_the_stake_cap_revert_with_the_figures(chain: Chain) -> None:
    chain.bound(slash_cap_bps=100)  # 1 % of the bonded stake
    s, p = chain.staking, chain.providers
    assert s.total_bonded() == BONDED
    cap = BONDED // 100  # 1,355 tokens
    t0 = chain.bucket_start(HOUR)
    assert propose_at(chain, t0, p[6], 10_000)[1]["status"] == 1  # all 500 of a platform user
    # Concurrent proposals share the provider's stake: a second 100 % puts nothing more at stake.
    assert propose_at(chain, t0 + 1, p[6], 10_000)[1]["status"] == 1
    assert s.at_stake_of(p[6]) == 500 * T and s.cap_usage().at_stake == 500 * T
    assert propose_at(chain, t0 + 2, p[3], 4_000)[1]["status"] == 1  # 800 of 2,000
    refused_proposal_at(chain, t0 + 3, p[3], 1_000, 1_500 * T, cap)  # 200 more: 1,500 > 1,355
    assert propose_at(chain, t0 + 4, p[3], 275)[1]["status"] == 1  # 55 more: exactly the cap
    assert s.cap_usage().at_stake == cap
    refused_proposal_at(chain, t0 + 5, p[0], 1, cap + T, cap)  # 1 token of 10,000 is one too many
    assert s.provider(p[0]).pending_slashes == 0


def test_a_veto_gives_no_headroom_back_the_window_does(chain: Chain) -> None:
    chain.bound(slash_cap_bps=100)
    s, p = chain.staking, chain.providers
    cap = BONDED // 100
    t0 = chain.bucket_start(HOUR)
    slash_id, r = propose_at(chain, t0, p[0], 1_355)  # 1,355 of 10,000: the whole cap
    assert r["status"] == 1 and s.slash(slash_id).amount == cap
    chain.tx_ok_at(t0 + 1, s.veto_slash(slash_id, ZERO32), chain.governance)
    assert s.at_stake_of(p[0]) == 0 and s.cap_usage().at_stake == cap
    half = T // 2  # 1 bps of 5,000
    refused_proposal_at(chain, t0 + 2, p[1], 1, cap + half, cap)
    refused_proposal_at(chain, t0 + 25 * BUCKET - 1, p[1], 1, cap + half, cap)
    assert propose_at(chain, t0 + 25 * BUCKET, p[1], 1)[1]["status"] == 1
    assert s.cap_usage().at_stake == half


def test_the_stake_cap_is_a_share_of_the_bonded_stake_at_the_time_of_the_proposal(chain: Chain) -> None:
    chain.bound(slash_cap_bps=100)
    s, p = chain.staking, chain.providers
    t0 = chain.bucket_start(HOUR)
    assert propose_at(chain, t0, p[0], 1_355)[1]["status"] == 1  # the whole cap of 1,355
    chain.tx(chain.token.approve(s.address, 10_000 * T), p[0])
    chain.tx_ok_at(t0 + 1, s.stake(10_000 * T), p[0])  # bonded 145,500: the cap grows to 1,455
    assert s.total_bonded() == s.cap_usage().total_bonded == BONDED + 10_000 * T
    assert propose_at(chain, t0 + 2, p[1], 200)[1]["status"] == 1  # 100 more fits
    refused_proposal_at(chain, t0 + 3, p[1], 1, 1_455 * T + T // 2, 1_455 * T)


def test_total_bonded_follows_stake_unbonding_withdrawals_and_executed_slashes(chain: Chain) -> None:
    s, p = chain.staking, chain.providers[6]  # platform user, 500 staked, 1-day unbonding

    def summed() -> int:
        return sum(s.stake_of(a) + s.unbonding_of(a) for a in chain.providers)

    assert s.total_bonded() == summed() == BONDED
    chain.approve_and_stake(p, 100 * T)
    r = chain.tx(s.request_unbond(300 * T), p)
    assert s.total_bonded() == summed() == BONDED + 100 * T  # unbonding stake is still bonded
    chain.mine(chain.block_time(r) + DAY)
    chain.tx(s.withdraw(100 * T), p)
    assert s.total_bonded() == summed() == BONDED
    v, sig = chain.signed(p)
    chain.tx(s.propose_slash(v, sig, 5_000), chain.service)  # 250 of 500
    chain.mine(s.slash(v.id).executable_at)
    chain.tx(s.execute_slash(v.id), chain.stranger)
    assert s.slash_state(v.id) == SlashState.EXECUTED
    assert s.total_bonded() == summed() == BONDED - 250 * T
    assert s.cap_usage().total_bonded == BONDED - 250 * T


# ---------------------------------------------------------------------------------------- setCaps


def test_set_caps_enforces_its_bounds_on_each_side_and_emits_caps_set(chain: Chain) -> None:
    s, gov, f = chain.staking, chain.governance, chain.staking.contract.functions
    assert (f.MIN_CAP_WINDOW().call(), f.MAX_CAP_WINDOW().call()) == (HOUR, 30 * DAY)
    for window, jails, stake_bps, max_bps in (
        (HOUR - 1, 1, 1, 10_000),
        (30 * DAY + 1, 1, 1, 10_000),
        (HOUR, 0, 1, 10_000),
        (HOUR, 1, 0, 10_000),
        (HOUR, 1, 10_001, 10_000),
        (HOUR, 1, 1, 0),
        (HOUR, 1, 1, 10_001),
        (HOUR, 1, 1, 9_999),  # below the devnet's severity bounds (10,000 each)
    ):
        chain.expect_revert(s.set_caps(window, jails, stake_bps, max_bps), gov, "ParameterOutOfBounds")
    r = chain.tx(s.set_caps(HOUR, 1, 1, 10_000), gov)
    assert chain.one_event(r, "CapsSet") == {
        "window": HOUR,
        "jailCap": 1,
        "slashCapBps": 1,
        "maxSlashBps": 10_000,
    }
    r = chain.tx(s.set_caps(30 * DAY, 2**32 - 1, 10_000, 10_000), gov)
    assert chain.one_event(r, "CapsSet")["window"] == 30 * DAY
    caps = s.caps()
    assert (caps.window, caps.jail_cap, caps.slash_cap_bps, caps.max_slash_bps) == (
        30 * DAY,
        2**32 - 1,
        10_000,
        10_000,
    )
    for caller in (chain.service, chain.detector, chain.stranger):
        chain.expect_revert(s.set_caps(HOUR, 1, 1, 10_000), caller, "AccessControlUnauthorizedAccount")


def test_lowering_a_cap_takes_effect_at_once_on_what_the_window_already_counted(chain: Chain) -> None:
    chain.bound(jail_cap=5)
    t0 = chain.bucket_start(HOUR)
    for i in range(3):
        assert jail_at(chain, t0 + i, chain.providers[i])["status"] == 1
    chain.tx_ok_at(t0 + 3, chain.staking.set_caps(HOUR, 2, 10_000, 10_000), chain.governance)
    assert chain.staking.cap_usage().jails == 3  # same window: nothing is forgotten
    refused_jail_at(chain, t0 + 4, chain.providers[3], 3, 2)


def test_a_new_window_carries_what_the_old_one_counted_so_no_headroom_is_freed_early(chain: Chain) -> None:
    chain.bound(jail_cap=3, slash_cap_bps=100)
    s, p = chain.staking, chain.providers
    t0 = chain.bucket_start(2 * HOUR)  # also a bucket start of the one-hour window
    assert jail_at(chain, t0, p[0])["status"] == 1
    assert jail_at(chain, t0 + 1, p[1])["status"] == 1
    assert propose_at(chain, t0 + 2, p[6], 10_000)[1]["status"] == 1  # 500 at stake
    # Two hours, buckets of 300 s: what the hour counted moves into the current bucket.
    chain.tx_ok_at(t0 + 3, s.set_caps(2 * HOUR, 3, 100, 10_000), chain.governance)
    usage = s.cap_usage()
    assert (usage.jails, usage.at_stake) == (2, 500 * T)
    assert jail_at(chain, t0 + 4, p[2])["status"] == 1
    refused_jail_at(chain, t0 + 5, p[3], 3, 3)
    refused_proposal_at(chain, t0 + 6, p[3], 5_000, 1_500 * T, BONDED // 100)  # 1,000 more
    # They leave together 25 buckets of the new window later.
    refused_jail_at(chain, t0 + 25 * 300 - 1, p[3], 3, 3)
    chain.mine(t0 + 25 * 300)
    usage = s.cap_usage()
    assert (usage.jails, usage.at_stake) == (0, 0)
    assert jail_at(chain, t0 + 25 * 300 + 1, p[3])["status"] == 1


def test_a_fresh_deployment_starts_with_tight_caps_until_governance_sizes_them(chain: Chain) -> None:
    sender = Sender(chain.w3, devnet_account(GOVERNANCE))
    params = StakingParams()  # production defaults
    address, _ = deploy_staking(sender, chain.token.address, chain.treasury, chain.governance, params)
    fresh = StakingContract(chain.w3, address)
    caps = fresh.caps()
    assert (caps.window, caps.jail_cap, caps.slash_cap_bps, caps.max_slash_bps) == (DAY, 10, 500, 5_000)
    assert caps.severity_bounds == (500, 1_000, 2_500, 5_000)
    assert (caps.quorum, caps.quorum_bps) == (2, 1_000)
    assert fresh.cap_usage().total_bonded == 0
    apply_bounds(sender, fresh, params)
    caps = fresh.caps()
    assert (caps.window, caps.jail_cap, caps.slash_cap_bps, caps.max_slash_bps) == (
        params.cap_window,
        params.jail_cap,
        params.slash_cap_bps,
        params.max_slash_bps,
    )
