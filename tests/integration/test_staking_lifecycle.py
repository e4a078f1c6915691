"""Success paths and guarded failure paths of every external SwarmStaking function, on a real Anvil.

Every custom error declared for SwarmStaking (in ISwarmStaking.sol or SwarmStaking.sol), except the
verdict-signature ones covered by another module, is reached here through `chain.expect_revert(...)`
/ `chain.expect_revert_at(...)`.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from web3.logs import DISCARD
from web3.types import TxReceipt

from staking.domain.vocabulary import (
    TOKEN,
    EventType,
    ProviderClass,
    RecoveryPath,
    RecoveryStage,
    Severity,
    SlashState,
)
from staking.rewards.merkle import WeightTree
from staking.verdict import typed_data
from tests.support.chain import Chain
from tests.support.reward_epochs_on_chain import EPOCH_LENGTH, finish_epoch, fn, fund, genesis, publish

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TOKEN
DAY = 24 * 3600
HARDWARE, OPERATOR, PLATFORM = (
    ProviderClass.HARDWARE_PROVIDER,
    ProviderClass.NETWORK_OPERATOR,
    ProviderClass.PLATFORM_USER,
)
VETO_WINDOW = 120
MAX_GPUS = 100_000
ZERO32 = b"\x00" * 32
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


# ---------------------------------------------------------------------------------------- helpers


def events(chain: Chain, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    """Decoded args of every `name` event SwarmStaking emitted in `receipt`."""
    event = getattr(chain.staking.contract.events, name)()
    return [dict(e["args"]) for e in event.process_receipt(receipt, errors=DISCARD)]


def one_event(chain: Chain, receipt: TxReceipt, name: str) -> dict[str, Any]:
    found = events(chain, receipt, name)
    assert len(found) == 1, f"expected exactly one {name}, got {found}"
    return found[0]


def lo(address: str) -> str:
    """An address as custom-error arguments decode it (lower case)."""
    return address.lower()


def block_ts(chain: Chain, receipt: TxReceipt) -> int:
    return int(chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def fresh_account(chain: Chain, index: int, tokens: int = 0) -> str:
    address = chain.account(index).address
    if tokens:
        chain.tx(chain.token.transfer(address, tokens), chain.governance)
    return address


def jail(chain: Chain, provider: str, until: int = 0) -> TxReceipt:
    v, sig = chain.signed(provider)
    return chain.tx(chain.staking.jail(v, sig, until), chain.service)


def propose(chain: Chain, provider: str, bps: int, **kw: Any) -> tuple[bytes, TxReceipt]:
    v, sig = chain.signed(provider, **kw)
    receipt = chain.tx(chain.staking.propose_slash(v, sig, bps), chain.service)
    return v.id, receipt


def execute_when_ready(chain: Chain, slash_id: bytes) -> TxReceipt:
    executable_at = chain.staking.slash(slash_id).executable_at
    if chain.now() < executable_at:
        chain.mine(executable_at)
    return chain.tx(chain.staking.execute_slash(slash_id), chain.stranger)


def balances(chain: Chain, *accounts: str) -> list[int]:
    return [chain.token.balance_of(a) for a in accounts]


# ---------------------------------------------------------------------------------------- views


def test_views_report_the_provisioned_devnet_state(chain: Chain) -> None:
    s = chain.staking
    p = chain.providers
    hw, op, pu = s.class_params(HARDWARE), s.class_params(OPERATOR), s.class_params(PLATFORM)
    assert (hw.base_min_stake, hw.per_gpu_min_stake, hw.unbonding_period) == (1_000 * T, 500 * T, 7 * DAY)
    assert (op.base_min_stake, op.per_gpu_min_stake, op.unbonding_period) == (50_000 * T, 0, 28 * DAY)
    assert (pu.base_min_stake, pu.per_gpu_min_stake, pu.unbonding_period) == (100 * T, 0, 1 * DAY)

    stakes = [10_000, 5_000, 3_000, 2_000, 60_000, 55_000, 500]
    minimums = [5_000, 3_000, 2_000, 1_500, 50_000, 50_000, 100]
    for provider, staked, minimum in zip(p, stakes, minimums, strict=True):
        assert s.stake_of(provider) == staked * T
        assert s.unbonding_of(provider) == 0
        assert s.withdrawable_of(provider) == 0
        assert s.min_stake_of(provider) == minimum * T
        assert not s.is_jailed(provider)
        assert not s.is_tombstoned(provider)
    assert chain.token.balance_of(s.address) == sum(stakes) * T

    rec = s.provider(p[0])
    assert rec.registered and not rec.tombstoned and not rec.jailed
    assert rec.provider_class == HARDWARE and rec.gpus == 8
    assert rec.recovery_path == RecoveryPath.NONE and rec.recovery_stage == RecoveryStage.NONE
    assert (rec.pending_slashes, rec.jailed_until, rec.unbonding_end) == (0, 0, 0)
    assert (rec.active, rec.unbonding) == (10_000 * T, 0)
    assert s.provider(p[4]).provider_class == OPERATOR and s.provider(p[6]).provider_class == PLATFORM
    assert not s.provider(chain.stranger).registered

    assert s.veto_window() == VETO_WINDOW
    assert s.max_verdict_age() == 3600
    assert fn(chain).maxJailDuration().call() == 30 * DAY
    assert fn(chain).probationEpochs().call() == 3
    assert fn(chain).epochLength().call() == EPOCH_LENGTH
    assert s.stake_token() == chain.token.address
    assert s.treasury() == chain.deployment.accounts.treasury
    assert not s.paused()
    assert s.current_epoch() == (chain.now() - genesis(chain)) // EPOCH_LENGTH

    unknown = keccak(text="no such slash")
    assert s.slash_state(unknown) == SlashState.NONE
    empty = s.slash(unknown)
    assert (empty.provider, empty.bps, empty.amount, empty.executable_at) == (ZERO_ADDRESS, 0, 0, 0)
    ep = s.epoch(12345)
    assert (ep.merkle_root, ep.total_weight, ep.pool, ep.claimed, ep.published) == (ZERO32, 0, 0, 0, False)

    assert s.has_role("GOVERNANCE_ROLE", chain.governance) and s.has_role("VETOER_ROLE", chain.governance)
    assert s.has_role("SLASHER_ROLE", chain.service) and s.has_role("REWARDS_ORACLE_ROLE", chain.service)
    assert s.has_role("DETECTOR_ROLE", chain.detector)
    assert not s.has_role("SLASHER_ROLE", chain.stranger)


def test_verdict_digest_and_domain_separator_match_what_detectors_sign(chain: Chain) -> None:
    v = chain.verdict(chain.providers[0], event_type=EventType.OPERATIONAL_FAILURE, severity=Severity.LOW)
    signable = encode_typed_data(full_message=typed_data(v, chain.staking.domain()))
    assert fn(chain).domainSeparator().call() == signable.header
    assert fn(chain).verdictDigest(v.as_tuple()).call() == keccak(
        b"\x19\x01" + signable.header + signable.body
    )
    verdict_type = (
        "Verdict(bytes32 id,address provider,uint8 eventType,uint8 severity,"
        "uint64 detectedAt,bytes32 evidenceHash)"
    )
    assert fn(chain).VERDICT_TYPEHASH().call() == keccak(text=verdict_type)


def test_bounds_constants_are_the_documented_ones(chain: Chain) -> None:
    f = fn(chain)
    assert f.MAX_BPS().call() == 10_000
    assert (f.MIN_VETO_WINDOW().call(), f.MAX_VETO_WINDOW().call()) == (60, 30 * DAY)
    assert (f.MIN_VERDICT_AGE().call(), f.MAX_VERDICT_AGE().call()) == (60, 30 * DAY)
    assert f.MAX_UNBONDING_PERIOD().call() == 365 * DAY
    assert f.MAX_JAIL_DURATION_LIMIT().call() == 365 * DAY
    assert f.MAX_PROBATION_EPOCHS().call() == 52
    assert f.MAX_GPUS().call() == MAX_GPUS


def test_current_epoch_advances_exactly_at_each_epoch_length_boundary(chain: Chain) -> None:
    g = genesis(chain)
    start = chain.staking.current_epoch() + 1
    for k in (start, start + 1, start + 5):
        chain.mine(g + k * EPOCH_LENGTH - 1)
        assert chain.staking.current_epoch() == k - 1
        chain.mine(g + k * EPOCH_LENGTH)
        assert chain.staking.current_epoch() == k


# ---------------------------------------------------------------------------------------- register


def test_register_hardware_provider_scales_min_stake_with_gpu_count(chain: Chain) -> None:
    acct = fresh_account(chain, 12)
    r = chain.tx(chain.staking.register(HARDWARE, 3, "ipfs://gpu-farm"), acct)
    assert one_event(chain, r, "ProviderRegistered") == {
        "provider": acct,
        "class": 0,
        "gpus": 3,
        "metadataURI": "ipfs://gpu-farm",
    }
    rec = chain.staking.provider(acct)
    assert rec.registered and rec.provider_class == HARDWARE and rec.gpus == 3
    assert (rec.active, rec.unbonding, rec.jailed) == (0, 0, False)
    assert chain.staking.min_stake_of(acct) == 1_000 * T + 3 * 500 * T

    biggest = fresh_account(chain, 13)
    chain.tx(chain.staking.register(HARDWARE, MAX_GPUS, ""), biggest)
    assert chain.staking.min_stake_of(biggest) == 1_000 * T + MAX_GPUS * 500 * T

    # The per-GPU term follows governance's class parameters for every hardware provider.
    chain.tx(fn(chain).setClassParams(0, 2_000 * T, 100 * T, 7 * DAY), chain.governance)
    assert chain.staking.min_stake_of(acct) == 2_000 * T + 3 * 100 * T
    assert chain.staking.min_stake_of(chain.providers[0]) == 2_000 * T + 8 * 100 * T


def test_register_network_operator_and_platform_user_min_stake_ignores_gpus(chain: Chain) -> None:
    operator, user = fresh_account(chain, 12), fresh_account(chain, 13)
    r = chain.tx(chain.staking.register(OPERATOR, 5, "ipfs://op"), operator)
    assert one_event(chain, r, "ProviderRegistered")["class"] == 1
    r = chain.tx(chain.staking.register(PLATFORM, 0, "ipfs://user"), user)
    assert one_event(chain, r, "ProviderRegistered") == {
        "provider": user,
        "class": 2,
        "gpus": 0,
        "metadataURI": "ipfs://user",
    }
    assert chain.staking.provider(operator).gpus == 5
    assert chain.staking.min_stake_of(operator) == 50_000 * T
    assert chain.staking.min_stake_of(user) == 100 * T


def test_register_rejects_unknown_class_bad_gpu_count_and_second_registration(chain: Chain) -> None:
    acct = fresh_account(chain, 12)
    s = chain.staking
    chain.expect_revert(fn(chain).register(3, 1, ""), acct, "InvalidClass", 3)
    chain.expect_revert(s.register(HARDWARE, 0, ""), acct, "InvalidGpuCount", 0)
    chain.expect_revert(s.register(HARDWARE, MAX_GPUS + 1, ""), acct, "InvalidGpuCount", MAX_GPUS + 1)
    chain.expect_revert(s.register(OPERATOR, MAX_GPUS + 1, ""), acct, "InvalidGpuCount", MAX_GPUS + 1)
    chain.expect_revert(
        s.register(PLATFORM, 1, ""), chain.providers[0], "AlreadyRegistered", lo(chain.providers[0])
    )
    chain.tx(s.register(PLATFORM, 0, ""), acct)
    chain.expect_revert(s.register(HARDWARE, 4, ""), acct, "AlreadyRegistered", lo(acct))


# ---------------------------------------------------------------------------------------- stake


def test_stake_adds_to_active_stake_and_pulls_tokens_into_the_contract(chain: Chain) -> None:
    acct = fresh_account(chain, 12, tokens=1_000 * T)
    chain.tx(chain.staking.register(PLATFORM, 0, ""), acct)
    chain.tx(chain.token.approve(chain.staking.address, 1_000 * T), acct)
    before = balances(chain, acct, chain.staking.address)

    r = chain.tx(chain.staking.stake(300 * T), acct)
    assert one_event(chain, r, "Staked") == {"provider": acct, "amount": 300 * T, "active": 300 * T}
    r = chain.tx(chain.staking.stake(200 * T), acct)
    assert one_event(chain, r, "Staked") == {"provider": acct, "amount": 200 * T, "active": 500 * T}

    assert chain.staking.stake_of(acct) == 500 * T
    after = balances(chain, acct, chain.staking.address)
    assert after == [before[0] - 500 * T, before[1] + 500 * T]


def test_stake_beyond_what_the_bonded_total_can_count_is_refused(chain: Chain) -> None:
    p = chain.providers[0]
    huge = 2**128  # minted by governance (the devnet token's minter): more than 128 bits can count
    chain.tx(chain.token.contract.functions.mint(p, huge), chain.governance)
    chain.tx(chain.token.approve(chain.staking.address, huge), p)
    bonded = chain.staking.total_bonded()
    chain.expect_revert(chain.staking.stake(huge), p, "AmountTooLarge", bonded + huge)
    headroom = 2**128 - 1 - bonded
    chain.tx(chain.staking.stake(headroom), p)
    assert chain.staking.total_bonded() == 2**128 - 1
    chain.expect_revert(chain.staking.stake(1), p, "AmountTooLarge", 2**128)


def test_stake_rejects_zero_amount_and_unregistered_callers(chain: Chain) -> None:
    chain.expect_revert(chain.staking.stake(0), chain.providers[0], "ZeroAmount")
    chain.expect_revert(chain.staking.stake(1), chain.stranger, "NotRegistered", lo(chain.stranger))
    chain.expect_revert(chain.staking.request_unbond(1), chain.stranger, "NotRegistered", lo(chain.stranger))
    chain.expect_revert(chain.staking.withdraw(1), chain.stranger, "NotRegistered", lo(chain.stranger))
    chain.expect_revert(chain.staking.unjail(), chain.stranger, "NotRegistered", lo(chain.stranger))


# ---------------------------------------------------------------------------------------- unbond / withdraw


def test_request_unbond_moves_stake_into_a_bucket_maturing_one_class_period_later(chain: Chain) -> None:
    p = chain.providers[0]
    r = chain.tx(chain.staking.request_unbond(1_000 * T), p)
    ts = block_ts(chain, r)
    assert one_event(chain, r, "UnbondRequested") == {
        "provider": p,
        "amount": 1_000 * T,
        "active": 9_000 * T,
        "unbonding": 1_000 * T,
        "unbondingEnd": ts + 7 * DAY,
    }
    rec = chain.staking.provider(p)
    assert (rec.active, rec.unbonding, rec.unbonding_end) == (9_000 * T, 1_000 * T, ts + 7 * DAY)
    assert chain.staking.stake_of(p) == 9_000 * T and chain.staking.unbonding_of(p) == 1_000 * T
    assert chain.staking.withdrawable_of(p) == 0

    operator = chain.providers[4]
    r = chain.tx(chain.staking.request_unbond(10_000 * T), operator)
    assert one_event(chain, r, "UnbondRequested")["unbondingEnd"] == block_ts(chain, r) + 28 * DAY
    user = chain.providers[6]
    r = chain.tx(chain.staking.request_unbond(500 * T), user)
    assert one_event(chain, r, "UnbondRequested")["unbondingEnd"] == block_ts(chain, r) + 1 * DAY
    assert chain.staking.stake_of(user) == 0


def test_a_later_unbond_request_restarts_maturity_of_the_whole_bucket(chain: Chain) -> None:
    p = chain.providers[1]
    t0 = chain.now() + 10
    chain.tx_at(t0, chain.staking.request_unbond(1_000 * T), p)
    t1 = t0 + 3 * DAY
    r = chain.tx_at(t1, chain.staking.request_unbond(500 * T), p)
    assert r["status"] == 1
    assert one_event(chain, r, "UnbondRequested")["unbondingEnd"] == t1 + 7 * DAY
    assert chain.staking.provider(p).unbonding_end == t1 + 7 * DAY

    chain.expect_revert_at(t0 + 7 * DAY, chain.staking.withdraw(1), p, "UnbondingNotFinished")
    chain.expect_revert(chain.staking.withdraw(1), p, "UnbondingNotFinished", t1 + 7 * DAY)
    chain.mine(t1 + 7 * DAY)
    assert chain.staking.withdrawable_of(p) == 1_500 * T


def test_request_unbond_rejects_zero_and_more_than_active_stake(chain: Chain) -> None:
    p = chain.providers[2]
    chain.expect_revert(chain.staking.request_unbond(0), p, "ZeroAmount")
    chain.expect_revert(
        chain.staking.request_unbond(3_000 * T + 1), p, "InsufficientStake", 3_000 * T + 1, 3_000 * T
    )
    chain.tx(chain.staking.request_unbond(3_000 * T), p)
    chain.expect_revert(chain.staking.request_unbond(1), p, "InsufficientStake", 1, 0)


def test_withdraw_pays_out_matured_unbonding_stake_from_the_end_boundary(chain: Chain) -> None:
    p = chain.providers[0]
    t0 = chain.now() + 5
    assert chain.tx_at(t0, chain.staking.request_unbond(2_000 * T), p)["status"] == 1
    end = t0 + 7 * DAY
    chain.expect_revert_at(end - 1, chain.staking.withdraw(500 * T), p, "UnbondingNotFinished")
    assert chain.staking.withdrawable_of(p) == 0

    before = balances(chain, p, chain.staking.address)
    r = chain.tx_at(end, chain.staking.withdraw(500 * T), p)
    assert r["status"] == 1
    assert one_event(chain, r, "Withdrawn") == {"provider": p, "amount": 500 * T, "unbonding": 1_500 * T}
    assert balances(chain, p, chain.staking.address) == [before[0] + 500 * T, before[1] - 500 * T]
    assert chain.staking.withdrawable_of(p) == 1_500 * T

    r = chain.tx(chain.staking.withdraw(1_500 * T), p)
    assert one_event(chain, r, "Withdrawn")["unbonding"] == 0
    assert chain.staking.unbonding_of(p) == 0 and chain.staking.stake_of(p) == 8_000 * T


def test_withdraw_rejects_zero_more_than_unbonding_and_immature_buckets(chain: Chain) -> None:
    p = chain.providers[6]
    chain.expect_revert(chain.staking.withdraw(0), p, "ZeroAmount")
    chain.expect_revert(chain.staking.withdraw(1), p, "InsufficientStake", 1, 0)
    r = chain.tx(chain.staking.request_unbond(200 * T), p)
    end = block_ts(chain, r) + DAY
    chain.expect_revert(chain.staking.withdraw(1), p, "UnbondingNotFinished", end)
    chain.mine(end)
    chain.expect_revert(chain.staking.withdraw(200 * T + 1), p, "InsufficientStake", 200 * T + 1, 200 * T)
    chain.tx(chain.staking.withdraw(200 * T), p)


# ---------------------------------------------------------------------------------------- jail


def test_jail_with_until_zero_isolates_the_provider_until_recovery(chain: Chain) -> None:
    p = chain.providers[1]
    v, sig = chain.signed(p, event_type=EventType.POLICY_VIOLATION, severity=Severity.HIGH)
    r = chain.tx(chain.staking.jail(v, sig, 0), chain.service)
    assert one_event(chain, r, "Jailed") == {
        "provider": p,
        "verdictId": v.id,
        "until": 0,
        "eventType": int(EventType.POLICY_VIOLATION),
        "severity": int(Severity.HIGH),
    }
    assert chain.staking.is_jailed(p)
    assert fn(chain).verdictJailUsed(v.id).call() is True
    rec = chain.staking.provider(p)
    assert rec.jailed and rec.jailed_until == 0
    chain.expect_revert(chain.staking.jail(v, sig, 0), chain.service, "VerdictAlreadyUsed", v.id)
    v2, sig2 = chain.signed(p)
    chain.expect_revert(chain.staking.jail(v2, sig2, 0), chain.stranger, "AccessControlUnauthorizedAccount")


def test_timed_jail_accepts_until_up_to_max_jail_duration(chain: Chain) -> None:
    p = chain.providers[2]
    max_jail = 30 * DAY
    v, sig = chain.signed(p)
    chain.expect_revert(chain.staking.jail(v, sig, chain.now() - 10), chain.service, "InvalidJailUntil")
    now = chain.now()
    chain.expect_revert(chain.staking.jail(v, sig, now), chain.service, "InvalidJailUntil", now)
    chain.expect_revert(
        chain.staking.jail(v, sig, now + max_jail + 1), chain.service, "InvalidJailUntil", now + max_jail + 1
    )
    t = chain.now() + 10
    chain.expect_revert_at(t, chain.staking.jail(v, sig, t + max_jail + 1), chain.service, "InvalidJailUntil")
    r = chain.tx_at(t + 1, chain.staking.jail(v, sig, t + 1 + max_jail), chain.service)
    assert r["status"] == 1
    assert one_event(chain, r, "Jailed")["until"] == t + 1 + max_jail
    assert chain.staking.provider(p).jailed_until == t + 1 + max_jail


def test_jailing_an_already_jailed_provider_keeps_the_longer_jail(chain: Chain) -> None:
    p = chain.providers[3]
    now = chain.now()
    first = now + 2 * DAY
    jail(chain, p, first)
    r = jail(chain, p, now + DAY)  # shorter: ignored
    assert one_event(chain, r, "Jailed")["until"] == first
    assert chain.staking.provider(p).jailed_until == first
    longer = now + 5 * DAY
    r = jail(chain, p, longer)
    assert one_event(chain, r, "Jailed")["until"] == longer
    assert chain.staking.provider(p).jailed_until == longer
    r = jail(chain, p, 0)  # indefinite beats any timed jail
    assert one_event(chain, r, "Jailed")["until"] == 0
    r = jail(chain, p, now + 10 * DAY)  # and a timed jail never shortens an indefinite one
    assert one_event(chain, r, "Jailed")["until"] == 0
    rec = chain.staking.provider(p)
    assert rec.jailed and rec.jailed_until == 0


# ---------------------------------------------------------------------------------------- unjail


def test_unjail_lifts_a_timed_jail_exactly_when_it_expires(chain: Chain) -> None:
    p = chain.providers[0]
    until = chain.now() + 3600
    jail(chain, p, until)
    chain.expect_revert_at(until - 1, chain.staking.unjail(), p, "JailNotExpired")
    chain.expect_revert(chain.staking.unjail(), p, "JailNotExpired", until)
    r = chain.tx_at(until, chain.staking.unjail(), p)
    assert r["status"] == 1
    assert one_event(chain, r, "Unjailed") == {"provider": p, "by": p}
    rec = chain.staking.provider(p)
    assert not rec.jailed and rec.jailed_until == 0
    chain.expect_revert(chain.staking.unjail(), p, "NotJailed", lo(p))


def test_unjail_is_refused_for_a_jail_until_recovery(chain: Chain) -> None:
    p = chain.providers[1]
    jail(chain, p, 0)
    chain.advance(365 * DAY)
    chain.expect_revert(chain.staking.unjail(), p, "JailNotExpired", 0)


def test_unjail_is_refused_while_a_recovery_path_is_open(chain: Chain) -> None:
    p = chain.providers[2]
    until = chain.now() + 3600
    jail(chain, p, until)
    chain.tx(chain.staking.begin_recovery(p, RecoveryPath.SERVICE_IMPROVEMENT), chain.service)
    chain.mine(until)
    chain.expect_revert(chain.staking.unjail(), p, "RecoveryOpen", lo(p))


def test_unjail_is_refused_when_a_slash_left_active_stake_below_the_class_minimum(chain: Chain) -> None:
    p = chain.providers[0]  # 10,000 staked, minimum 1,000 + 8 * 500 = 5,000
    until = chain.now() + 3600
    jail(chain, p, until)
    slash_id, _ = propose(chain, p, 6_000)
    execute_when_ready(chain, slash_id)
    assert chain.staking.stake_of(p) == 4_000 * T
    chain.mine(until)
    chain.expect_revert(chain.staking.unjail(), p, "BelowMinimumStake", 4_000 * T, 5_000 * T)
    chain.approve_and_stake(p, 1_000 * T)
    chain.tx(chain.staking.unjail(), p)
    assert not chain.staking.is_jailed(p)


def test_unjail_is_refused_for_a_provider_that_is_not_jailed(chain: Chain) -> None:
    p = chain.providers[5]
    chain.expect_revert(chain.staking.unjail(), p, "NotJailed", lo(p))


def test_unjail_is_refused_for_a_tombstoned_provider(chain: Chain) -> None:
    p = chain.providers[3]
    chain.tx(chain.staking.tombstone(p, keccak(text="fraud")), chain.governance)
    chain.advance(365 * DAY)
    chain.expect_revert(chain.staking.unjail(), p, "ProviderIsTombstoned", lo(p))


# ---------------------------------------------------------------------------------------- slashes


def test_propose_slash_fixes_the_amount_from_active_plus_unbonding_stake(chain: Chain) -> None:
    p = chain.providers[1]  # 5,000 staked
    chain.tx(chain.staking.request_unbond(1_000 * T), p)
    v, sig = chain.signed(p, event_type=EventType.SYSTEM_ATTACK, severity=Severity.MEDIUM)
    r = chain.tx(chain.staking.propose_slash(v, sig, 2_500), chain.service)
    ts = block_ts(chain, r)
    assert one_event(chain, r, "SlashProposed") == {
        "id": v.id,
        "provider": p,
        "bps": 2_500,
        "amount": 1_250 * T,
        "executableAt": ts + VETO_WINDOW,
        "eventType": int(EventType.SYSTEM_ATTACK),
        "severity": int(Severity.MEDIUM),
        "evidenceHash": v.evidence_hash,
    }
    s = chain.staking.slash(v.id)
    assert (s.provider, s.bps, s.state, s.event_type) == (
        p,
        2_500,
        SlashState.PENDING,
        EventType.SYSTEM_ATTACK,
    )
    assert (s.proposed_at, s.executable_at, s.amount, s.severity) == (
        ts,
        ts + VETO_WINDOW,
        1_250 * T,
        Severity.MEDIUM,
    )
    assert chain.staking.slash_state(v.id) == SlashState.PENDING
    assert chain.staking.provider(p).pending_slashes == 1
    # Proposing moves no tokens.
    assert chain.staking.stake_of(p) == 4_000 * T and chain.staking.unbonding_of(p) == 1_000 * T

    full_id, _ = propose(chain, p, 10_000)
    assert chain.staking.slash(full_id).amount == 5_000 * T
    assert chain.staking.provider(p).pending_slashes == 2


def test_propose_slash_rejects_bps_outside_one_to_ten_thousand(chain: Chain) -> None:
    p = chain.providers[0]
    v, sig = chain.signed(p)
    chain.expect_revert(chain.staking.propose_slash(v, sig, 0), chain.service, "InvalidBps", 0)
    chain.expect_revert(chain.staking.propose_slash(v, sig, 10_001), chain.service, "InvalidBps", 10_001)
    chain.expect_revert(
        chain.staking.propose_slash(v, sig, 1), chain.stranger, "AccessControlUnauthorizedAccount"
    )
    chain.tx(chain.staking.propose_slash(v, sig, 1), chain.service)
    assert chain.staking.slash(v.id).amount == 10_000 * T // 10_000


def test_a_slash_id_cannot_be_proposed_twice_even_after_veto_or_execution(chain: Chain) -> None:
    p = chain.providers[4]
    vetoed, sig_v = chain.signed(p)
    chain.tx(chain.staking.propose_slash(vetoed, sig_v, 100), chain.service)
    chain.expect_revert(
        chain.staking.propose_slash(vetoed, sig_v, 100), chain.service, "SlashAlreadyExists", vetoed.id
    )
    chain.tx(chain.staking.veto_slash(vetoed.id, ZERO32), chain.governance)
    chain.expect_revert(
        chain.staking.propose_slash(vetoed, sig_v, 200), chain.service, "SlashAlreadyExists", vetoed.id
    )

    executed, sig_e = chain.signed(p)
    chain.tx(chain.staking.propose_slash(executed, sig_e, 100), chain.service)
    execute_when_ready(chain, executed.id)
    executed = chain.verdict(p, verdict_id=executed.id)  # re-signed fresh, same id
    chain.expect_revert(
        chain.staking.propose_slash(executed, chain.sign(executed), 100),
        chain.service,
        "SlashAlreadyExists",
        executed.id,
    )


def test_veto_cancels_a_pending_slash_for_good(chain: Chain) -> None:
    p = chain.providers[0]
    slash_id, _ = propose(chain, p, 1_000)
    reason = keccak(text="false positive")
    r = chain.tx(chain.staking.veto_slash(slash_id, reason), chain.governance)
    assert one_event(chain, r, "SlashVetoed") == {
        "id": slash_id,
        "provider": p,
        "vetoer": chain.governance,
        "reasonHash": reason,
    }
    assert chain.staking.slash_state(slash_id) == SlashState.VETOED
    assert chain.staking.provider(p).pending_slashes == 0
    chain.advance(VETO_WINDOW + 1)
    chain.expect_revert(chain.staking.execute_slash(slash_id), chain.stranger, "SlashNotPending", slash_id, 2)
    chain.expect_revert(
        chain.staking.veto_slash(slash_id, reason), chain.governance, "SlashNotPending", slash_id, 2
    )
    unknown = keccak(text="unknown slash")
    chain.expect_revert(
        chain.staking.veto_slash(unknown, reason), chain.governance, "SlashNotPending", unknown, 0
    )
    chain.expect_revert(chain.staking.execute_slash(unknown), chain.stranger, "SlashNotPending", unknown, 0)
    assert chain.staking.stake_of(p) == 10_000 * T

    other, _ = propose(chain, p, 1_000)
    chain.expect_revert(
        chain.staking.veto_slash(other, reason), chain.stranger, "AccessControlUnauthorizedAccount"
    )


def test_execute_slash_boundary_is_exactly_executable_at(chain: Chain) -> None:
    p = chain.providers[1]
    slash_id, _ = propose(chain, p, 1_000)
    executable_at = chain.staking.slash(slash_id).executable_at
    chain.expect_revert_at(
        executable_at - 1, chain.staking.execute_slash(slash_id), chain.stranger, "VetoWindowOpen"
    )
    chain.expect_revert(
        chain.staking.execute_slash(slash_id), chain.stranger, "VetoWindowOpen", slash_id, executable_at
    )
    r = chain.tx_at(executable_at, chain.staking.execute_slash(slash_id), chain.stranger)
    assert r["status"] == 1
    assert chain.staking.slash_state(slash_id) == SlashState.EXECUTED
    chain.expect_revert(chain.staking.execute_slash(slash_id), chain.stranger, "SlashNotPending", slash_id, 3)


def test_veto_window_boundary_allows_veto_until_one_second_before_executable_at(chain: Chain) -> None:
    p = chain.providers[2]
    t0 = chain.now() + 5
    va, sa = chain.signed(p)
    vb, sb = chain.signed(p)
    assert chain.tx_at(t0, chain.staking.propose_slash(va, sa, 500), chain.service)["status"] == 1
    assert chain.tx_at(t0 + 10, chain.staking.propose_slash(vb, sb, 500), chain.service)["status"] == 1
    end_a, end_b = t0 + VETO_WINDOW, t0 + 10 + VETO_WINDOW
    assert chain.staking.slash(va.id).executable_at == end_a
    assert chain.staking.slash(vb.id).executable_at == end_b

    r = chain.tx_at(end_a - 1, chain.staking.veto_slash(va.id, ZERO32), chain.governance)
    assert r["status"] == 1
    assert chain.staking.slash_state(va.id) == SlashState.VETOED

    chain.expect_revert_at(
        end_b, chain.staking.veto_slash(vb.id, ZERO32), chain.governance, "VetoWindowClosed"
    )
    chain.expect_revert(
        chain.staking.veto_slash(vb.id, ZERO32), chain.governance, "VetoWindowClosed", vb.id, end_b
    )
    assert chain.staking.slash_state(vb.id) == SlashState.PENDING


def test_veto_is_still_allowed_after_the_window_while_paused(chain: Chain) -> None:
    p = chain.providers[4]
    slash_id, _ = propose(chain, p, 5_000)
    chain.tx(chain.staking.pause(), chain.governance)
    chain.advance(VETO_WINDOW * 10)
    chain.expect_revert(chain.staking.execute_slash(slash_id), chain.stranger, "EnforcedPause")
    r = chain.tx(chain.staking.veto_slash(slash_id, keccak(text="incident review")), chain.governance)
    assert one_event(chain, r, "SlashVetoed")["id"] == slash_id
    assert chain.staking.slash_state(slash_id) == SlashState.VETOED
    chain.tx(chain.staking.unpause(), chain.governance)
    chain.expect_revert(chain.staking.execute_slash(slash_id), chain.stranger, "SlashNotPending", slash_id, 2)
    assert chain.staking.stake_of(p) == 60_000 * T


def test_execute_slash_moves_exactly_the_slashed_stake_to_the_treasury(chain: Chain) -> None:
    p = chain.providers[0]
    slash_id, _ = propose(chain, p, 1_000)
    treasury, contract = chain.treasury, chain.staking.address
    before = balances(chain, treasury, contract)
    r = execute_when_ready(chain, slash_id)
    assert one_event(chain, r, "SlashExecuted") == {
        "id": slash_id,
        "provider": p,
        "amount": 1_000 * T,
        "fromActive": 1_000 * T,
        "fromUnbonding": 0,
    }
    assert balances(chain, treasury, contract) == [before[0] + 1_000 * T, before[1] - 1_000 * T]
    assert chain.staking.stake_of(p) == 9_000 * T
    rec = chain.staking.provider(p)
    assert rec.pending_slashes == 0
    s = chain.staking.slash(slash_id)
    assert (s.state, s.amount) == (SlashState.EXECUTED, 1_000 * T)


def test_slash_proposed_before_an_unbond_takes_active_stake_first_then_unbonding(chain: Chain) -> None:
    p = chain.providers[1]  # 5,000 staked
    slash_id, _ = propose(chain, p, 5_000)  # 2,500
    chain.tx(chain.staking.request_unbond(4_500 * T), p)  # active 500, unbonding 4,500
    treasury, contract = chain.treasury, chain.staking.address
    before = balances(chain, treasury, contract, p)
    r = execute_when_ready(chain, slash_id)
    assert one_event(chain, r, "SlashExecuted") == {
        "id": slash_id,
        "provider": p,
        "amount": 2_500 * T,
        "fromActive": 500 * T,
        "fromUnbonding": 2_000 * T,
    }
    assert balances(chain, treasury, contract, p) == [before[0] + 2_500 * T, before[1] - 2_500 * T, before[2]]
    rec = chain.staking.provider(p)
    assert (rec.active, rec.unbonding) == (0, 2_500 * T)
    chain.mine(rec.unbonding_end)
    assert chain.staking.withdrawable_of(p) == 2_500 * T
    chain.tx(chain.staking.withdraw(2_500 * T), p)


def test_slash_proposed_after_an_unbond_still_reaches_the_unbonding_bucket(chain: Chain) -> None:
    p = chain.providers[2]  # 3,000 staked
    chain.tx(chain.staking.request_unbond(2_800 * T), p)  # active 200, unbonding 2,800
    slash_id, r = propose(chain, p, 5_000)
    assert one_event(chain, r, "SlashProposed")["amount"] == 1_500 * T
    treasury = chain.treasury
    before = chain.token.balance_of(treasury)
    r = execute_when_ready(chain, slash_id)
    ev = one_event(chain, r, "SlashExecuted")
    assert (ev["amount"], ev["fromActive"], ev["fromUnbonding"]) == (1_500 * T, 200 * T, 1_300 * T)
    assert chain.token.balance_of(treasury) == before + 1_500 * T
    assert (chain.staking.stake_of(p), chain.staking.unbonding_of(p)) == (0, 1_500 * T)


def test_withdrawal_is_blocked_while_a_slash_is_pending(chain: Chain) -> None:
    p = chain.providers[6]  # platform user, 500 staked, 1-day unbonding
    r = chain.tx(chain.staking.request_unbond(400 * T), p)
    chain.mine(block_ts(chain, r) + DAY)
    assert chain.staking.withdrawable_of(p) == 400 * T

    first, _ = propose(chain, p, 1_000)
    second, _ = propose(chain, p, 1_000)
    assert chain.staking.withdrawable_of(p) == 0
    chain.expect_revert(chain.staking.withdraw(1), p, "WithdrawalBlockedBySlash", lo(p), 2)
    chain.tx(chain.staking.veto_slash(first, ZERO32), chain.governance)
    chain.expect_revert(chain.staking.withdraw(1), p, "WithdrawalBlockedBySlash", lo(p), 1)
    chain.tx(chain.staking.veto_slash(second, ZERO32), chain.governance)

    # allowed again once every pending slash is vetoed
    assert chain.staking.withdrawable_of(p) == 400 * T
    chain.tx(chain.staking.withdraw(100 * T), p)

    third, _ = propose(chain, p, 5_000)  # 50% of 100 active + 300 unbonding = 200
    chain.expect_revert(chain.staking.withdraw(1), p, "WithdrawalBlockedBySlash", lo(p), 1)
    r = execute_when_ready(chain, third)
    ev = one_event(chain, r, "SlashExecuted")
    assert (ev["amount"], ev["fromActive"], ev["fromUnbonding"]) == (200 * T, 100 * T, 100 * T)
    # ... and once the pending slash is executed
    assert chain.staking.withdrawable_of(p) == 200 * T
    before = chain.token.balance_of(p)
    chain.tx(chain.staking.withdraw(200 * T), p)
    assert chain.token.balance_of(p) == before + 200 * T
    assert (chain.staking.stake_of(p), chain.staking.unbonding_of(p)) == (0, 0)


def test_a_later_slash_is_capped_by_what_earlier_slashes_left(chain: Chain) -> None:
    p = chain.providers[3]  # 2,000 staked
    a, _ = propose(chain, p, 8_000)  # 1,600
    b, _ = propose(chain, p, 8_000)  # 1,600, but only 400 will be left
    c, _ = propose(chain, p, 1_000)  # 200, nothing will be left
    assert [chain.staking.slash(i).amount for i in (a, b, c)] == [1_600 * T, 1_600 * T, 200 * T]
    treasury = chain.treasury
    start = chain.token.balance_of(treasury)

    assert one_event(chain, execute_when_ready(chain, a), "SlashExecuted")["amount"] == 1_600 * T
    r = execute_when_ready(chain, b)
    assert one_event(chain, r, "SlashExecuted") == {
        "id": b,
        "provider": p,
        "amount": 400 * T,
        "fromActive": 400 * T,
        "fromUnbonding": 0,
    }
    assert chain.staking.slash(b).amount == 400 * T  # the record shows what was actually taken
    assert chain.token.balance_of(treasury) == start + 2_000 * T

    r = execute_when_ready(chain, c)
    ev = one_event(chain, r, "SlashExecuted")
    assert (ev["amount"], ev["fromActive"], ev["fromUnbonding"]) == (0, 0, 0)
    assert chain.staking.slash(c).state == SlashState.EXECUTED and chain.staking.slash(c).amount == 0
    assert chain.token.balance_of(treasury) == start + 2_000 * T
    rec = chain.staking.provider(p)
    assert (rec.active, rec.unbonding, rec.pending_slashes) == (0, 0, 0)


# ---------------------------------------------------------------------------------------- tombstone


def test_tombstone_permanently_excludes_a_provider_and_freezes_its_stake_until_governance_releases_it(
    chain: Chain,
) -> None:
    p = chain.providers[1]
    until = chain.now() + 3600
    jail(chain, p, until)
    chain.tx(chain.staking.begin_recovery(p, RecoveryPath.SECURITY_REVIEW), chain.governance)
    reason = keccak(text="repeat offender")
    r = chain.tx(chain.staking.tombstone(p, reason), chain.governance)
    assert one_event(chain, r, "Tombstoned") == {"provider": p, "reasonHash": reason}
    rec = chain.staking.provider(p)
    assert rec.tombstoned and rec.jailed and rec.jailed_until == 0
    assert rec.recovery_path == RecoveryPath.NONE and rec.recovery_stage == RecoveryStage.NONE
    assert chain.staking.is_tombstoned(p) and chain.staking.is_jailed(p)
    assert not chain.staking.is_released(p)

    chain.tx(chain.token.approve(chain.staking.address, 100 * T), p)
    chain.expect_revert(chain.staking.stake(100 * T), p, "ProviderIsTombstoned", lo(p))
    v, sig = chain.signed(p)
    chain.expect_revert(chain.staking.jail(v, sig, 0), chain.service, "ProviderIsTombstoned", lo(p))
    chain.expect_revert(
        chain.staking.begin_recovery(p, RecoveryPath.SERVICE_IMPROVEMENT),
        chain.service,
        "ProviderIsTombstoned",
        lo(p),
    )
    chain.expect_revert(chain.staking.reinstate(p), chain.governance, "ProviderIsTombstoned", lo(p))
    chain.expect_revert(chain.staking.tombstone(p, reason), chain.governance, "ProviderIsTombstoned", lo(p))
    chain.expect_revert(chain.staking.tombstone(chain.stranger, reason), chain.governance, "NotRegistered")
    chain.expect_revert(chain.staking.tombstone(p, reason), chain.service, "AccessControlUnauthorizedAccount")

    slash_id, _ = propose(chain, p, 2_000)  # still slashable: 1,000
    execute_when_ready(chain, slash_id)
    r = chain.tx(chain.staking.request_unbond(4_000 * T), p)  # it may unbond ...
    chain.mine(block_ts(chain, r) + 365 * DAY)
    assert chain.staking.withdrawable_of(p) == 0  # ... but the stake stays frozen, however long
    chain.expect_revert(chain.staking.withdraw(4_000 * T), p, "ProviderIsJailed", lo(p))

    r = chain.tx(chain.staking.release_tombstoned(p), chain.governance)
    assert one_event(chain, r, "TombstonedStakeReleased") == {"provider": p, "by": chain.governance}
    assert chain.staking.is_released(p) and chain.staking.is_tombstoned(p) and chain.staking.is_jailed(p)
    chain.expect_revert(chain.staking.release_tombstoned(p), chain.governance, "NothingToReinstate", lo(p))
    assert chain.staking.withdrawable_of(p) == 4_000 * T
    chain.tx(chain.staking.withdraw(4_000 * T), p)
    assert (chain.staking.stake_of(p), chain.staking.unbonding_of(p)) == (0, 0)
    assert chain.staking.is_tombstoned(p)
    chain.expect_revert(chain.staking.stake(100 * T), p, "ProviderIsTombstoned", lo(p))


def test_only_a_tombstoned_provider_can_be_released_or_slashed_by_governance(chain: Chain) -> None:
    p = chain.providers[2]
    why = keccak(text="forfeit")
    chain.expect_revert(chain.staking.release_tombstoned(p), chain.governance, "NotTombstoned", lo(p))
    chain.expect_revert(
        chain.staking.slash_tombstoned(p, 1_000, why), chain.governance, "NotTombstoned", lo(p)
    )
    chain.expect_revert(
        chain.staking.release_tombstoned(chain.stranger),
        chain.governance,
        "NotRegistered",
        lo(chain.stranger),
    )
    chain.expect_revert(
        chain.staking.slash_tombstoned(chain.stranger, 1_000, why),
        chain.governance,
        "NotRegistered",
        lo(chain.stranger),
    )
    jail(chain, p)  # a jail is not a tombstone
    chain.expect_revert(chain.staking.release_tombstoned(p), chain.governance, "NotTombstoned", lo(p))


def test_a_jailed_provider_cannot_withdraw_matured_stake_until_its_jail_is_over(chain: Chain) -> None:
    p = chain.providers[6]  # platform user, 500 staked, 1-day unbonding
    r = chain.tx(chain.staking.request_unbond(400 * T), p)
    chain.mine(block_ts(chain, r) + DAY)
    assert chain.staking.withdrawable_of(p) == 400 * T
    # Between a jail and its slash proposal the matured stake must stay put.
    until = chain.now() + 2 * 3600
    jail(chain, p, until)
    assert chain.staking.withdrawable_of(p) == 0
    chain.expect_revert(chain.staking.withdraw(1), p, "ProviderIsJailed", lo(p))
    chain.expect_revert_at(until - 1, chain.staking.withdraw(1), p, "ProviderIsJailed", lo(p))
    # A timed jail that ran out no longer blocks, even before the provider unjails itself.
    chain.mine(until)
    assert chain.staking.is_jailed(p) and chain.staking.withdrawable_of(p) == 400 * T
    chain.tx(chain.staking.withdraw(100 * T), p)
    # A jail until recovery blocks until it is lifted.
    jail(chain, p)
    chain.expect_revert(chain.staking.withdraw(1), p, "ProviderIsJailed", lo(p))
    chain.tx(chain.staking.reinstate(p), chain.governance)
    chain.tx(chain.staking.withdraw(300 * T), p)
    assert chain.staking.unbonding_of(p) == 0


# ---------------------------------------------------------------------------------------- recovery


def test_recovery_runs_from_response_to_restoration_and_reinstate_lifts_the_jail(chain: Chain) -> None:
    p = chain.providers[4]
    jail(chain, p, 0)
    r = chain.tx(chain.staking.begin_recovery(p, RecoveryPath.SECURITY_REVIEW), chain.service)
    assert one_event(chain, r, "RecoveryBegun") == {"provider": p, "path": 2, "stage": 2}
    rec = chain.staking.provider(p)
    assert (rec.recovery_path, rec.recovery_stage) == (RecoveryPath.SECURITY_REVIEW, RecoveryStage.RESPONSE)

    r = chain.tx(chain.staking.advance_recovery(p), chain.governance)
    assert one_event(chain, r, "RecoveryAdvanced") == {"provider": p, "path": 2, "stage": 3}
    r = chain.tx(chain.staking.advance_recovery(p), chain.governance)
    assert one_event(chain, r, "RecoveryAdvanced") == {"provider": p, "path": 2, "stage": 4}
    assert chain.staking.provider(p).recovery_stage == RecoveryStage.RESTORATION
    chain.expect_revert(chain.staking.advance_recovery(p), chain.governance, "RecoveryAtFinalStage", lo(p))

    r = chain.tx(chain.staking.reinstate(p), chain.governance)
    assert one_event(chain, r, "Reinstated") == {"provider": p, "path": 2, "probationEpochs": 3}
    rec = chain.staking.provider(p)
    assert not rec.jailed and rec.jailed_until == 0
    assert (rec.recovery_path, rec.recovery_stage) == (RecoveryPath.NONE, RecoveryStage.NONE)


def test_governance_may_also_begin_recovery_and_strangers_may_not(chain: Chain) -> None:
    p = chain.providers[5]
    jail(chain, p, 0)
    chain.expect_revert(
        chain.staking.begin_recovery(p, RecoveryPath.COMPLIANCE_VERIFICATION),
        chain.stranger,
        "AccessControlUnauthorizedAccount",
    )
    r = chain.tx(chain.staking.begin_recovery(p, RecoveryPath.COMPLIANCE_VERIFICATION), chain.governance)
    assert one_event(chain, r, "RecoveryBegun") == {"provider": p, "path": 3, "stage": 2}
    chain.expect_revert(chain.staking.advance_recovery(p), chain.service, "AccessControlUnauthorizedAccount")
    chain.expect_revert(chain.staking.reinstate(p), chain.service, "AccessControlUnauthorizedAccount")


def test_recovery_flow_rejects_bad_paths_double_begin_and_out_of_order_steps(chain: Chain) -> None:
    p = chain.providers[0]
    s = chain.staking
    chain.expect_revert(s.advance_recovery(p), chain.governance, "NoRecoveryOpen", lo(p))
    chain.expect_revert(s.reinstate(p), chain.governance, "NothingToReinstate", lo(p))
    chain.expect_revert(fn(chain).beginRecovery(p, 0), chain.service, "InvalidRecoveryPath", 0)
    chain.expect_revert(fn(chain).beginRecovery(p, 4), chain.service, "InvalidRecoveryPath", 4)
    chain.expect_revert(
        fn(chain).beginRecovery(chain.stranger, 1), chain.service, "NotRegistered", lo(chain.stranger)
    )

    jail(chain, p, 0)
    chain.tx(s.begin_recovery(p, RecoveryPath.SERVICE_IMPROVEMENT), chain.service)
    chain.expect_revert(
        s.begin_recovery(p, RecoveryPath.SECURITY_REVIEW), chain.service, "RecoveryOpen", lo(p)
    )
    chain.expect_revert(s.reinstate(p), chain.governance, "RecoveryIncomplete", lo(p), 2)
    chain.tx(s.advance_recovery(p), chain.governance)
    chain.expect_revert(s.reinstate(p), chain.governance, "RecoveryIncomplete", lo(p), 3)
    chain.tx(s.advance_recovery(p), chain.governance)
    r = chain.tx(s.reinstate(p), chain.governance)
    assert one_event(chain, r, "Reinstated")["path"] == 1
    chain.expect_revert(s.reinstate(p), chain.governance, "NothingToReinstate", lo(p))
    chain.expect_revert(s.advance_recovery(p), chain.governance, "NoRecoveryOpen", lo(p))


def test_reinstate_lifts_a_jail_without_recovery_path_and_announces_probation(chain: Chain) -> None:
    p = chain.providers[2]
    jail(chain, p, chain.now() + 3 * DAY)
    chain.tx(fn(chain).setProbationEpochs(7), chain.governance)
    r = chain.tx(chain.staking.reinstate(p), chain.governance)
    assert one_event(chain, r, "Reinstated") == {"provider": p, "path": 0, "probationEpochs": 7}
    rec = chain.staking.provider(p)
    assert not rec.jailed and rec.jailed_until == 0


# ---------------------------------------------------------------------------------------- pause


def test_pause_blocks_state_changes_and_unpause_restores_them(chain: Chain) -> None:
    s = chain.staking
    p0, p6 = chain.providers[0], chain.providers[6]
    newcomer = fresh_account(chain, 12)
    # Set up one of everything that must wait out the pause.
    r = chain.tx(s.request_unbond(100 * T), p6)
    unbond_end = block_ts(chain, r) + DAY
    jail_until = chain.now() + 3600
    jail(chain, p0, jail_until)
    slash_id, _ = propose(chain, chain.providers[4], 1_000)
    epoch = s.current_epoch()
    fund(chain, epoch, 100 * T)
    finish_epoch(chain, epoch)
    tree = WeightTree.build({p6: 1})
    publish(chain, epoch, tree)
    chain.tx(chain.token.approve(s.address, 10**24), chain.governance)
    chain.tx(chain.token.approve(s.address, 10**24), p6)

    r = chain.tx(s.pause(), chain.governance)
    assert [e["args"]["account"] for e in s.contract.events.Paused().process_receipt(r, errors=DISCARD)] == [
        chain.governance
    ]
    assert s.paused()
    chain.expect_revert(s.pause(), chain.governance, "EnforcedPause")
    chain.mine(max(unbond_end, jail_until))

    v, sig = chain.signed(p6)
    current = s.current_epoch()
    chain.expect_revert(s.stake(1 * T), p6, "EnforcedPause")
    chain.expect_revert(s.request_unbond(1 * T), p6, "EnforcedPause")
    chain.expect_revert(s.withdraw(100 * T), p6, "EnforcedPause")
    chain.expect_revert(s.jail(v, sig, 0), chain.service, "EnforcedPause")
    chain.expect_revert(s.propose_slash(v, sig, 100), chain.service, "EnforcedPause")
    chain.expect_revert(s.execute_slash(slash_id), chain.stranger, "EnforcedPause")
    chain.expect_revert(s.claim(epoch, 1, tree.proofs[p6]), p6, "EnforcedPause")
    chain.expect_revert(s.register(PLATFORM, 0, ""), newcomer, "EnforcedPause")
    chain.expect_revert(s.fund_rewards(current, 1 * T), chain.governance, "EnforcedPause")
    chain.expect_revert(s.publish_eligibility(current - 1, ZERO32, 0, ""), chain.service, "EnforcedPause")
    chain.expect_revert(s.unjail(), p0, "EnforcedPause")
    chain.expect_revert(s.unpause(), chain.stranger, "AccessControlUnauthorizedAccount")

    r = chain.tx(s.unpause(), chain.governance)
    assert len(s.contract.events.Unpaused().process_receipt(r, errors=DISCARD)) == 1
    assert not s.paused()
    chain.expect_revert(s.unpause(), chain.governance, "ExpectedPause")

    chain.tx(s.stake(1 * T), p6)
    chain.tx(s.withdraw(100 * T), p6)
    chain.tx(s.request_unbond(1 * T), p6)
    chain.tx(s.jail(v, sig, 0), chain.service)
    chain.tx(s.propose_slash(v, sig, 100), chain.service)
    chain.tx(s.execute_slash(slash_id), chain.stranger)
    chain.tx(s.claim(epoch, 1, tree.proofs[p6]), p6)
    chain.tx(s.register(PLATFORM, 0, ""), newcomer)
    chain.tx(s.fund_rewards(current, 1 * T), chain.governance)
    chain.tx(s.publish_eligibility(current - 1, ZERO32, 0, ""), chain.service)
    chain.tx(s.unjail(), p0)
    assert not s.is_jailed(p0) and s.slash_state(slash_id) == SlashState.EXECUTED


# ---------------------------------------------------------------------------------------- rewards


def test_rewards_are_funded_published_and_claimed_pro_rata(chain: Chain) -> None:
    s = chain.staking
    p = chain.providers
    epoch = s.current_epoch()
    pool = 1_000 * T + 7  # not divisible by the total weight: shares round down
    r = fund(chain, epoch, 600 * T)
    assert one_event(chain, r, "RewardsFunded") == {
        "epoch": epoch,
        "funder": chain.governance,
        "amount": 600 * T,
        "pool": 600 * T,
    }
    r = fund(chain, epoch, 400 * T + 7, funder=p[5])
    assert one_event(chain, r, "RewardsFunded") == {
        "epoch": epoch,
        "funder": p[5],
        "amount": 400 * T + 7,
        "pool": pool,
    }
    assert s.epoch(epoch).pool == pool and not s.epoch(epoch).published

    weights = {p[0]: 3, p[1]: 5, p[2]: 11}
    tree = WeightTree.build(weights)
    finish_epoch(chain, epoch)
    r = publish(chain, epoch, tree)
    assert one_event(chain, r, "EligibilityPublished") == {
        "epoch": epoch,
        "merkleRoot": tree.root,
        "totalWeight": 19,
        "pool": pool,
        "uri": "ipfs://weights",
    }
    ep = s.epoch(epoch)
    assert (ep.merkle_root, ep.total_weight, ep.pool, ep.claimed, ep.published) == (
        tree.root,
        19,
        pool,
        0,
        True,
    )

    contract_before = chain.token.balance_of(s.address)
    paid = 0
    for account, weight in weights.items():
        before = chain.token.balance_of(account)
        r = chain.tx(s.claim(epoch, weight, tree.proofs[account]), account)
        expected = pool * weight // 19
        assert one_event(chain, r, "RewardClaimed") == {
            "epoch": epoch,
            "account": account,
            "weight": weight,
            "amount": expected,
        }
        assert chain.token.balance_of(account) == before + expected
        assert fn(chain).hasClaimed(epoch, account).call() is True
        paid += expected
    assert s.epoch(epoch).claimed == paid
    assert chain.token.balance_of(s.address) == contract_before - paid
    assert pool - paid < 3  # only rounding dust stays behind
    assert fn(chain).hasClaimed(epoch, p[3]).call() is False


def test_eligibility_is_published_only_for_finished_epochs_and_only_once(chain: Chain) -> None:
    s = chain.staking
    current = s.current_epoch()
    tree = WeightTree.build({chain.providers[0]: 1})
    chain.expect_revert(
        s.publish_eligibility(current, tree.root, 1, ""), chain.service, "EpochNotFinished", current
    )
    chain.expect_revert(
        s.publish_eligibility(current + 5, tree.root, 1, ""), chain.service, "EpochNotFinished", current + 5
    )
    chain.expect_revert(
        s.publish_eligibility(current, tree.root, 1, ""), chain.stranger, "AccessControlUnauthorizedAccount"
    )
    fund(chain, current + 1, 50 * T)  # a future epoch may be funded ahead of time
    finish_epoch(chain, current)
    publish(chain, current, tree)
    chain.expect_revert(
        s.publish_eligibility(current, tree.root, 1, ""), chain.service, "EpochAlreadyPublished", current
    )
    chain.expect_revert(s.fund_rewards(current, 1 * T), chain.governance, "EpochAlreadyPublished", current)
    chain.expect_revert(s.fund_rewards(current + 1, 0), chain.governance, "ZeroAmount")
    assert s.epoch(current + 1).pool == 50 * T


def test_publish_eligibility_rejects_a_root_and_total_weight_that_disagree(chain: Chain) -> None:
    s = chain.staking
    epoch = s.current_epoch()
    finish_epoch(chain, epoch)
    tree = WeightTree.build({chain.providers[0]: 4})
    chain.expect_revert(s.publish_eligibility(epoch, ZERO32, 10, ""), chain.service, "InvalidEligibility")
    chain.expect_revert(s.publish_eligibility(epoch, tree.root, 0, ""), chain.service, "InvalidEligibility")
    # The total weight is stored in 248 bits beside the published flag.
    chain.expect_revert(
        s.publish_eligibility(epoch, tree.root, 2**248, ""), chain.service, "InvalidEligibility"
    )
    # An empty epoch (zero root, zero weight) is valid; nothing can be claimed from it.
    r = chain.tx(s.publish_eligibility(epoch, ZERO32, 0, "ipfs://empty"), chain.service)
    assert one_event(chain, r, "EligibilityPublished")["totalWeight"] == 0
    chain.expect_revert(
        s.claim(epoch, 4, tree.proofs[chain.providers[0]]), chain.providers[0], "InvalidProof"
    )
    chain.expect_revert(s.claim(epoch, 0, []), chain.providers[0], "InvalidProof")


def test_claim_rejects_replays_bad_proofs_and_unpublished_epochs(chain: Chain) -> None:
    s = chain.staking
    a, b = chain.providers[0], chain.providers[1]
    epoch = s.current_epoch()
    fund(chain, epoch, 90 * T)
    tree = WeightTree.build({a: 2, b: 1})
    chain.expect_revert(s.claim(epoch, 2, tree.proofs[a]), a, "EpochNotPublished", epoch)
    finish_epoch(chain, epoch)
    publish(chain, epoch, tree)

    chain.expect_revert(s.claim(epoch, 3, tree.proofs[a]), a, "InvalidProof")  # wrong weight
    chain.expect_revert(s.claim(epoch, 2, tree.proofs[a]), chain.stranger, "InvalidProof")  # wrong account
    chain.expect_revert(s.claim(epoch, 2, tree.proofs[a]), b, "InvalidProof")  # someone else's leaf
    chain.expect_revert(s.claim(epoch, 0, tree.proofs[a]), a, "InvalidProof")  # zero weight
    chain.expect_revert(s.claim(epoch, 2, tree.proofs[b]), a, "InvalidProof")  # wrong proof

    r = chain.tx(s.claim(epoch, 2, tree.proofs[a]), a)
    assert one_event(chain, r, "RewardClaimed")["amount"] == 60 * T
    chain.expect_revert(s.claim(epoch, 2, tree.proofs[a]), a, "AlreadyClaimed", epoch, lo(a))
    chain.expect_revert(s.claim(epoch + 1, 2, tree.proofs[a]), a, "EpochNotPublished", epoch + 1)


def test_an_accounts_claims_are_tracked_per_epoch_across_bitmap_words(chain: Chain) -> None:
    s, a = chain.staking, chain.providers[0]
    tree = WeightTree.build({a: 1, chain.providers[1]: 1})
    first = s.current_epoch()
    # epochs e and e + 1 share a word of the account's claimed bitmap; e + 256 has the next word
    for epoch in (first, first + 1, first + 256):
        fund(chain, epoch, 10 * T)
    for epoch in (first, first + 1, first + 256):
        finish_epoch(chain, epoch)
        publish(chain, epoch, tree)
    for epoch in (first + 256, first, first + 1):
        assert not fn(chain).hasClaimed(epoch, a).call()
        chain.tx(s.claim(epoch, 1, tree.proofs[a]), a)
        assert fn(chain).hasClaimed(epoch, a).call()
        chain.expect_revert(s.claim(epoch, 1, tree.proofs[a]), a, "AlreadyClaimed", epoch, lo(a))
    assert not any(fn(chain).hasClaimed(e, a).call() for e in (first + 2, first + 255, first + 257))
    assert not fn(chain).hasClaimed(first, chain.providers[1]).call()


def test_a_root_whose_weights_exceed_total_weight_cannot_overdraw_the_epoch_pool(chain: Chain) -> None:
    s = chain.staking
    a, b, c = chain.providers[0], chain.providers[1], chain.providers[2]
    epoch = s.current_epoch()
    fund(chain, epoch, 1_000 * T)
    fund(chain, epoch + 1, 500 * T)  # another epoch's pool that must stay intact
    stakes = sum(s.stake_of(x) + s.unbonding_of(x) for x in chain.providers)
    tree = WeightTree.build({a: 60, b: 60})  # sums to 120 ...
    finish_epoch(chain, epoch)
    publish(chain, epoch, tree, total_weight=100)  # ... but published as 100

    r = chain.tx(s.claim(epoch, 60, tree.proofs[a]), a)
    assert one_event(chain, r, "RewardClaimed")["amount"] == 600 * T
    chain.expect_revert(s.claim(epoch, 60, tree.proofs[b]), b, "PoolOverdrawn", epoch, 600 * T, 400 * T)
    ep = s.epoch(epoch)
    assert (ep.pool, ep.claimed) == (1_000 * T, 600 * T)
    assert chain.token.balance_of(s.address) == stakes + 400 * T + 500 * T

    other = WeightTree.build({c: 1})
    finish_epoch(chain, epoch + 1)
    publish(chain, epoch + 1, other)
    r = chain.tx(s.claim(epoch + 1, 1, other.proofs[c]), c)
    assert one_event(chain, r, "RewardClaimed")["amount"] == 500 * T
    assert chain.token.balance_of(s.address) == stakes + 400 * T


@pytest.mark.integration
def test_a_claim_may_take_exactly_what_is_left_of_the_pool_and_the_next_is_refused_as_overdrawn(
    chain: Chain,
) -> None:
    s = chain.staking
    a, b, c = chain.providers[0], chain.providers[1], chain.providers[2]
    epoch = s.current_epoch()
    fund(chain, epoch, 1_000 * T)
    tree = WeightTree.build({a: 50, b: 50, c: 1})  # sums to 101 ...
    finish_epoch(chain, epoch)
    publish(chain, epoch, tree, total_weight=100)  # ... but published as 100

    for account in (a, b):  # the second claim takes exactly the 500 left
        r = chain.tx(s.claim(epoch, 50, tree.proofs[account]), account)
        assert one_event(chain, r, "RewardClaimed")["amount"] == 500 * T
    assert s.epoch(epoch).claimed == 1_000 * T
    before = balances(chain, c, s.address)
    chain.expect_revert(s.claim(epoch, 1, tree.proofs[c]), c, "PoolOverdrawn", epoch, 10 * T, 0)
    # Refused and not recorded: the claimant is neither paid nor marked as having claimed.
    assert not fn(chain).hasClaimed(epoch, c).call()
    assert balances(chain, c, s.address) == before


def test_fund_rewards_rejects_zero_amount(chain: Chain) -> None:
    chain.expect_revert(
        chain.staking.fund_rewards(chain.staking.current_epoch(), 0), chain.governance, "ZeroAmount"
    )


def test_an_epoch_pool_beyond_what_128_bits_count_is_refused(chain: Chain) -> None:
    s, gov = chain.staking, chain.governance
    epoch = s.current_epoch()
    huge = 2**128
    chain.tx(chain.token.contract.functions.mint(gov, huge), gov)
    chain.tx(chain.token.approve(s.address, huge), gov)
    chain.tx(s.fund_rewards(epoch, 5 * T), gov)
    chain.expect_revert(s.fund_rewards(epoch, huge - 5 * T), gov, "AmountTooLarge", huge)
    chain.tx(s.fund_rewards(epoch, huge - 5 * T - 1), gov)
    assert s.epoch(epoch).pool == huge - 1


# ------------------------------------------------------------------------------- governance parameters


def test_governance_setters_update_parameters_and_emit_events(chain: Chain) -> None:
    f, s, gov = fn(chain), chain.staking, chain.governance
    p0 = chain.providers[0]

    r = chain.tx(f.setClassParams(0, 2_000 * T, 100 * T, 3 * DAY), gov)
    assert one_event(chain, r, "ClassParamsSet") == {
        "class": 0,
        "baseMinStake": 2_000 * T,
        "perGpuMinStake": 100 * T,
        "unbondingPeriod": 3 * DAY,
    }
    hw = s.class_params(HARDWARE)
    assert (hw.base_min_stake, hw.per_gpu_min_stake, hw.unbonding_period) == (2_000 * T, 100 * T, 3 * DAY)
    assert s.min_stake_of(p0) == 2_800 * T
    r = chain.tx(s.request_unbond(1 * T), p0)
    assert s.provider(p0).unbonding_end == block_ts(chain, r) + 3 * DAY

    pending, _ = propose(chain, p0, 100)
    old_executable_at = s.slash(pending).executable_at
    r = chain.tx(f.setVetoWindow(600), gov)
    assert one_event(chain, r, "VetoWindowSet") == {"vetoWindow": 600}
    assert s.veto_window() == 600
    fresh_id, r = propose(chain, p0, 100)
    assert s.slash(fresh_id).executable_at == block_ts(chain, r) + 600
    assert s.slash(pending).executable_at == old_executable_at  # fixed at proposal

    r = chain.tx(f.setMaxVerdictAge(7200), gov)
    assert one_event(chain, r, "MaxVerdictAgeSet") == {"maxVerdictAge": 7200}
    assert s.max_verdict_age() == 7200

    r = chain.tx(f.setMaxJailDuration(2 * 3600), gov)
    assert one_event(chain, r, "MaxJailDurationSet") == {"maxJailDuration": 2 * 3600}
    assert f.maxJailDuration().call() == 2 * 3600
    v, sig = chain.signed(chain.providers[1])
    chain.expect_revert(chain.staking.jail(v, sig, chain.now() + 3 * 3600), chain.service, "InvalidJailUntil")

    r = chain.tx(f.setProbationEpochs(0), gov)
    assert one_event(chain, r, "ProbationEpochsSet") == {"probationEpochs": 0}
    assert f.probationEpochs().call() == 0

    new_treasury = fresh_account(chain, 14)
    r = chain.tx(f.setTreasury(new_treasury), gov)
    assert one_event(chain, r, "TreasurySet") == {"treasury": new_treasury}
    assert s.treasury() == new_treasury
    old_treasury_balance = chain.token.balance_of(chain.deployment.accounts.treasury)
    execute_when_ready(chain, pending)
    assert chain.token.balance_of(new_treasury) == s.slash(pending).amount > 0
    assert chain.token.balance_of(chain.deployment.accounts.treasury) == old_treasury_balance


def test_parameter_setters_enforce_their_bounds_on_each_side(chain: Chain) -> None:
    f, gov = fn(chain), chain.governance
    year = 365 * DAY

    chain.expect_revert(f.setClassParams(3, 1, 0, DAY), gov, "InvalidClass", 3)
    chain.expect_revert(f.setClassParams(0, 0, 0, DAY), gov, "ParameterOutOfBounds")
    chain.expect_revert(f.setClassParams(1, 1, 0, year + 1), gov, "ParameterOutOfBounds")
    chain.tx(f.setClassParams(1, 1, 0, year), gov)
    # Unbonding outlasts the oldest usable verdict by the margin (maxVerdictAge 1 h + 1 h).
    assert f.maxVerdictAge().call() == 3600 and f.UNBONDING_MARGIN().call() == 3600
    chain.expect_revert(f.setClassParams(2, 1, 0, 7199), gov, "ParameterOutOfBounds")
    chain.expect_revert(f.setClassParams(2, 1, 0, 0), gov, "ParameterOutOfBounds")
    chain.tx(f.setClassParams(2, 1, 0, 7200), gov)
    assert chain.staking.class_params(OPERATOR).unbonding_period == year
    assert chain.staking.class_params(PLATFORM).unbonding_period == 7200

    # The veto window's floor is minVetoWindow: 60 s on the devnet's chain id (1 day elsewhere).
    assert f.minVetoWindow().call() == 60 and f.PRODUCTION_MIN_VETO_WINDOW().call() == DAY
    chain.expect_revert(f.setVetoWindow(59), gov, "ParameterOutOfBounds")
    chain.expect_revert(f.setVetoWindow(30 * DAY + 1), gov, "ParameterOutOfBounds")
    chain.tx(f.setVetoWindow(60), gov)
    chain.tx(f.setVetoWindow(30 * DAY), gov)

    chain.expect_revert(f.setMaxVerdictAge(59), gov, "ParameterOutOfBounds")
    chain.expect_revert(f.setMaxVerdictAge(30 * DAY + 1), gov, "ParameterOutOfBounds")
    chain.tx(f.setMaxVerdictAge(60), gov)
    # Every class's unbonding (platform users: 7,200 s now) must stay a margin beyond the age.
    chain.expect_revert(f.setMaxVerdictAge(3601), gov, "ParameterOutOfBounds")
    chain.tx(f.setMaxVerdictAge(3600), gov)
    for cls in (0, 2):
        chain.tx(f.setClassParams(cls, 1, 0, 30 * DAY + 3600), gov)
    chain.expect_revert(f.setMaxVerdictAge(30 * DAY + 1), gov, "ParameterOutOfBounds")
    chain.tx(f.setMaxVerdictAge(30 * DAY), gov)
    chain.expect_revert(f.setClassParams(0, 1, 0, 30 * DAY + 3599), gov, "ParameterOutOfBounds")

    chain.expect_revert(f.setMaxJailDuration(3599), gov, "ParameterOutOfBounds")
    chain.expect_revert(f.setMaxJailDuration(year + 1), gov, "ParameterOutOfBounds")
    chain.tx(f.setMaxJailDuration(3600), gov)
    chain.tx(f.setMaxJailDuration(year), gov)

    chain.expect_revert(f.setProbationEpochs(53), gov, "ParameterOutOfBounds")
    chain.tx(f.setProbationEpochs(52), gov)
    chain.tx(f.setProbationEpochs(0), gov)

    chain.expect_revert(f.setTreasury(ZERO_ADDRESS), gov, "ZeroAddress")

    for call in (
        f.setClassParams(0, 1, 0, DAY),
        f.setVetoWindow(600),
        f.setMaxVerdictAge(600),
        f.setMaxJailDuration(3600),
        f.setProbationEpochs(1),
        f.setTreasury(chain.stranger),
    ):
        chain.expect_revert(call, chain.service, "AccessControlUnauthorizedAccount")


# ---------------------------------------------------------------------------------------- gas


def test_gas_costs_of_hot_paths(chain: Chain) -> None:
    s = chain.staking
    p6 = chain.providers[6]
    chain.tx(chain.token.approve(s.address, 100 * T), p6)
    gas = {"stake": int(chain.tx(s.stake(100 * T), p6)["gasUsed"])}
    gas["jail"] = int(jail(chain, chain.providers[1], chain.now() + 3600)["gasUsed"])
    slash_id, r = propose(chain, chain.providers[2], 1_000)
    gas["proposeSlash"] = int(r["gasUsed"])
    gas["executeSlash"] = int(execute_when_ready(chain, slash_id)["gasUsed"])

    epoch = s.current_epoch()
    fund(chain, epoch, 100 * T)
    tree = WeightTree.build({chain.providers[i]: i + 1 for i in range(7)})
    finish_epoch(chain, epoch)
    publish(chain, epoch, tree)
    claimer = chain.providers[3]
    gas["claim"] = int(chain.tx(s.claim(epoch, 4, tree.proofs[claimer]), claimer)["gasUsed"])

    print(json.dumps(gas, indent=2, sort_keys=True))
    out = REPO_ROOT / "var" / "gas-report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(gas, indent=2, sort_keys=True) + "\n")
    for name, used in gas.items():
        assert used > 21_000, f"{name} used only {used} gas"


# ---------------------------------------------------------------------------------------- self-check


# The bounds of the automatic path have modules of their own (read here, not imported).
COMPANIONS = (
    "test_contract_caps.py",
    "test_contract_bounds.py",
    "test_contract_containment.py",
    "test_contract_appeals.py",
    "test_contract_reward_challenge.py",
)


def test_this_module_and_its_companions_reach_every_non_signature_custom_error() -> None:
    names = ("ISwarmStaking.sol", "SwarmStaking.sol")  # the interface holds most errors
    sources = [(REPO_ROOT / "contracts" / name).read_text() for name in names]
    declared = {e for src in sources for e in re.findall(r"^\s*error\s+(\w+)\s*\(", src, flags=re.MULTILINE)}
    assert len(declared) >= 30 and "PoolOverdrawn" in declared and "JailCapExceeded" in declared
    signature_errors = {"InvalidVerdict", "InvalidVerdictSigner", "VerdictFromFuture", "VerdictExpired"}
    modules = [Path(__file__), *(Path(__file__).with_name(name) for name in COMPANIONS)]
    reached = {
        arg.value
        for module in modules
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("expect_revert", "expect_revert_at")
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    }
    assert declared - signature_errors - reached == set()
