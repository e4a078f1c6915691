"""Containment on chain (SPEC section 8), on a real Anvil: a verdict's jail and slash proposal in
one transaction (both or neither), the security council's batched vetoes and lifted jails, and a
tombstoned provider's stake, frozen until governance slashes or releases it.
"""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak

from staking.domain.vocabulary import TOKEN, EventType, RecoveryPath, RecoveryStage, Severity, SlashState
from tests.support.chain import Chain

pytestmark = pytest.mark.integration

T = TOKEN
DAY = 24 * 3600
VETO_WINDOW = 120  # the devnet's
WHY = keccak(text="rogue detector")


def lo(address: str) -> str:
    return address.lower()


def pending_slash(chain: Chain, provider: str, bps: int = 1_000) -> bytes:
    v, sig = chain.signed(provider)
    chain.tx(chain.staking.propose_slash(v, sig, bps), chain.service)
    return v.id


# ---------------------------------------------------------------------------------------- jailAndProposeSlash


def test_jail_and_propose_slash_jails_and_proposes_in_one_transaction(chain: Chain) -> None:
    s, p = chain.staking, chain.providers[1]  # 5,000 staked
    v, sig = chain.signed(p, event_type=EventType.SYSTEM_ATTACK, severity=Severity.HIGH)
    until = chain.now() + 3_600
    r = chain.tx(s.jail_and_propose_slash(v, sig, until, 2_000), chain.service)
    ts = chain.block_time(r)
    assert chain.one_event(r, "Jailed") == {
        "provider": p,
        "verdictId": v.id,
        "until": until,
        "eventType": int(EventType.SYSTEM_ATTACK),
        "severity": int(Severity.HIGH),
    }
    assert chain.one_event(r, "SlashProposed") == {
        "id": v.id,
        "provider": p,
        "bps": 2_000,
        "amount": 1_000 * T,
        "executableAt": ts + VETO_WINDOW,
        "eventType": int(EventType.SYSTEM_ATTACK),
        "severity": int(Severity.HIGH),
        "evidenceHash": v.evidence_hash,
    }
    record = s.provider(p)
    assert record.jailed and record.jailed_until == until and record.pending_slashes == 1
    assert s.contract.functions.verdictJailUsed(v.id).call()
    assert s.slash(v.id).state == SlashState.PENDING and s.at_stake_of(p) == 1_000 * T
    # Nothing to front-run: the stake is frozen from the same block on.
    chain.expect_revert(s.withdraw(1), p, "ProviderIsJailed", lo(p))


def test_jail_and_propose_slash_does_neither_when_either_part_is_refused(chain: Chain) -> None:
    s, svc = chain.staking, chain.service
    p, q = chain.providers[0], chain.providers[2]
    v, sig = chain.signed(p)
    # The proposal is refused: so is the whole call, the jail with it.
    chain.expect_revert(s.jail_and_propose_slash(v, sig, 0, 10_001), svc, "InvalidBps", 10_001)
    chain.bound(slash_cap_bps=1)  # 13.55 tokens per window; 10 % of 10,000 is 1,000
    cap = s.total_bonded() // 10_000
    chain.expect_revert(s.jail_and_propose_slash(v, sig, 0, 1_000), svc, "SlashCapExceeded", 1_000 * T, cap)
    chain.bound(jail_cap=1)
    chain.tx(s.propose_slash(v, sig, 1), svc)  # the verdict's slash exists already
    chain.expect_revert(s.jail_and_propose_slash(v, sig, 0, 1), svc, "SlashAlreadyExists", v.id)
    assert not s.is_jailed(p) and s.cap_usage().jails == 0
    # The jail is refused: so is the whole call, the proposal with it.
    w, wsig = chain.signed(q)
    chain.tx(s.jail(w, wsig, 0), svc)  # uses the one jail of the window, and the verdict's jail
    chain.expect_revert(s.jail_and_propose_slash(w, wsig, 0, 1), svc, "VerdictAlreadyUsed", w.id)
    x, xsig = chain.signed(p)
    chain.expect_revert(s.jail_and_propose_slash(x, xsig, 0, 1), svc, "JailCapExceeded", 1, 1)
    chain.expect_revert(
        s.jail_and_propose_slash(x, xsig, chain.now(), 1), svc, "InvalidJailUntil", chain.now()
    )
    chain.tx(s.tombstone(p, WHY), chain.governance)
    chain.expect_revert(s.jail_and_propose_slash(x, xsig, 0, 1), svc, "ProviderIsTombstoned", lo(p))
    assert s.slash_state(w.id) == SlashState.NONE and s.slash_state(x.id) == SlashState.NONE
    assert s.provider(p).pending_slashes == 1  # the one proposal of `v`


# ---------------------------------------------------------------------------------------- vetoSlashes


def test_veto_slashes_vetoes_every_vetoable_id_and_skips_the_rest(chain: Chain) -> None:
    s, gov, p = chain.staking, chain.governance, chain.providers
    closed = [pending_slash(chain, p[i]) for i in range(3)]
    executed = pending_slash(chain, p[4])
    vetoed = pending_slash(chain, p[5])
    chain.tx(s.veto_slash(vetoed, WHY), gov)
    chain.mine(s.slash(executed).executable_at)  # every window so far has closed
    chain.tx(s.execute_slash(executed), chain.stranger)
    open_id = pending_slash(chain, p[3])
    unknown = keccak(text="never proposed")
    batch = [*closed, open_id, unknown, executed, vetoed, open_id]
    fn = s.veto_slashes(batch, WHY)
    assert fn.call({"from": gov}) == 1
    r = chain.tx(fn, gov)
    assert chain.events(r, "SlashVetoed") == [
        {"id": open_id, "provider": p[3], "vetoer": gov, "reasonHash": WHY}
    ]
    assert all(s.slash_state(i) == SlashState.PENDING for i in closed)
    assert s.slash_state(executed) == SlashState.EXECUTED and s.slash_state(open_id) == SlashState.VETOED
    assert s.at_stake_of(p[3]) == 0 and s.provider(p[3]).pending_slashes == 0


def test_veto_slashes_in_one_transaction_frees_the_stake_of_many_providers(chain: Chain) -> None:
    s, gov, p = chain.staking, chain.governance, chain.providers
    ids = [pending_slash(chain, p[i % 7], 500 + i) for i in range(14)]
    fn = s.veto_slashes(ids, WHY)
    assert fn.call({"from": gov}) == 14
    r = chain.tx(fn, gov)
    assert [e["id"] for e in chain.events(r, "SlashVetoed")] == ids
    assert all(s.slash_state(i) == SlashState.VETOED for i in ids)
    assert all(s.at_stake_of(a) == 0 and s.provider(a).pending_slashes == 0 for a in p)


def test_veto_slashes_reaches_closed_windows_only_while_paused(chain: Chain) -> None:
    s, gov = chain.staking, chain.governance
    slash_id = pending_slash(chain, chain.providers[0])
    chain.mine(s.slash(slash_id).executable_at)
    assert s.veto_slashes([slash_id], WHY).call({"from": gov}) == 0
    chain.tx(s.pause(), gov)
    r = chain.tx(s.veto_slashes([slash_id], WHY), gov)
    assert len(chain.events(r, "SlashVetoed")) == 1 and s.slash_state(slash_id) == SlashState.VETOED


# ---------------------------------------------------------------------------------------- liftJails


def test_lift_jails_sets_wrongly_jailed_providers_free_without_probation(chain: Chain) -> None:
    s, gov, p = chain.staking, chain.governance, chain.providers
    chain.bound(jail_cap=3)
    for i in range(3):
        v, sig = chain.signed(p[i])
        chain.tx(s.jail(v, sig, 0 if i else chain.now() + 3_600), chain.service)
    chain.tx(s.begin_recovery(p[1], RecoveryPath.SECURITY_REVIEW), chain.service)
    chain.tx(s.tombstone(p[2], WHY), gov)
    usage = s.cap_usage()
    batch = [p[0], p[1], p[2], p[3], chain.stranger, p[0]]  # tombstoned, free, unregistered, repeated
    fn = s.lift_jails(batch, WHY)
    assert fn.call({"from": gov}) == 2
    r = chain.tx(fn, gov)
    assert chain.events(r, "JailLifted") == [
        {"provider": p[0], "by": gov, "reasonHash": WHY},
        {"provider": p[1], "by": gov, "reasonHash": WHY},
    ]
    assert not chain.events(r, "Reinstated")  # no probation announced
    for provider in (p[0], p[1]):
        record = s.provider(provider)
        assert not record.jailed and record.jailed_until == 0
        assert (record.recovery_path, record.recovery_stage) == (RecoveryPath.NONE, RecoveryStage.NONE)
    assert s.is_jailed(p[2]) and s.is_tombstoned(p[2])
    assert s.cap_usage() == usage  # the jails used stay counted: lifting is not a refund


def test_a_lifted_provider_may_withdraw_again(chain: Chain) -> None:
    s, p = chain.staking, chain.providers[6]
    r = chain.tx(s.request_unbond(100 * T), p)
    chain.mine(chain.block_time(r) + DAY)
    v, sig = chain.signed(p)
    chain.tx(s.jail(v, sig, 0), chain.service)
    chain.expect_revert(s.withdraw(100 * T), p, "ProviderIsJailed", lo(p))
    chain.tx(s.lift_jails([p], WHY), chain.governance)
    chain.tx(s.withdraw(100 * T), p)
    assert s.unbonding_of(p) == 0


# ---------------------------------------------------------------------------------------- tombstoned stake


def test_slash_tombstoned_proposes_a_vetoable_uncapped_slash_under_a_reason_derived_id(chain: Chain) -> None:
    chain.bound(slash_cap_bps=1, max_slash_bps=100, severity_bounds=(100,) * 4)
    s, gov, p = chain.staking, chain.governance, chain.providers[3]  # 2,000 staked
    chain.tx(s.tombstone(p, WHY), gov)
    reason = keccak(text="forfeit")
    slash_id = keccak(encode(["address", "bytes32"], [p, reason]))
    chain.expect_revert(s.slash_tombstoned(p, 0, reason), gov, "InvalidBps", 0)
    chain.expect_revert(s.slash_tombstoned(p, 10_001, reason), gov, "InvalidBps", 10_001)
    r = chain.tx(s.slash_tombstoned(p, 10_000, reason), gov)  # above maxSlashBps and the stake cap
    ts = chain.block_time(r)
    assert chain.one_event(r, "SlashProposed") == {
        "id": slash_id,
        "provider": p,
        "bps": 10_000,
        "amount": 2_000 * T,
        "executableAt": ts + VETO_WINDOW,
        "eventType": int(EventType.POLICY_VIOLATION),
        "severity": int(Severity.CRITICAL),
        "evidenceHash": reason,
    }
    assert s.cap_usage().at_stake == 0 and s.at_stake_of(p) == 2_000 * T
    chain.expect_revert(s.slash_tombstoned(p, 10_000, reason), gov, "SlashAlreadyExists", slash_id)
    chain.tx(s.veto_slash(slash_id, WHY), gov)
    again = keccak(text="forfeit, second finding")
    second = keccak(encode(["address", "bytes32"], [p, again]))
    chain.tx(s.slash_tombstoned(p, 5_000, again), gov)
    chain.mine(s.slash(second).executable_at)
    r = chain.tx(s.execute_slash(second), chain.stranger)
    assert chain.one_event(r, "SlashExecuted")["amount"] == 1_000 * T
    assert s.stake_of(p) == 1_000 * T


def test_released_tombstoned_stake_still_waits_for_pending_slashes_and_unbonding(chain: Chain) -> None:
    s, gov, p = chain.staking, chain.governance, chain.providers[6]  # 500 staked, 1-day unbonding
    chain.tx(s.tombstone(p, WHY), gov)
    r = chain.tx(s.request_unbond(500 * T), p)
    chain.tx(s.slash_tombstoned(p, 1_000, WHY), gov)
    chain.tx(s.release_tombstoned(p), gov)
    chain.expect_revert(s.withdraw(1), p, "WithdrawalBlockedBySlash", lo(p), 1)
    chain.mine(chain.block_time(r) + DAY)
    slash_id = keccak(encode(["address", "bytes32"], [p, WHY]))
    chain.tx(s.execute_slash(slash_id), chain.stranger)
    assert s.withdrawable_of(p) == 450 * T
    chain.tx(s.withdraw(450 * T), p)
    assert (s.stake_of(p), s.unbonding_of(p)) == (0, 0)
