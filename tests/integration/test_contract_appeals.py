"""Appeals of pending slashes (SPEC section 9) on a real Anvil: who may appeal and when, the
freeze of execution while an appeal is open, and where the bond and the slash go when the
council upholds or rejects it, when it expires, and when the council vetoes the slash instead."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from web3.types import TxReceipt

from staking.domain.vocabulary import TOKEN, AppealState, SlashState
from tests.support.chain import Chain

pytestmark = pytest.mark.integration

EVIDENCE = keccak(text="the provider's evidence")
REASON = keccak(text="the council's reasoning")


def propose(chain: Chain, bps: int = 1_000) -> bytes:
    v, sig = chain.signed(chain.providers[0])
    chain.tx(chain.staking.propose_slash(v, sig, bps), chain.service)
    return v.id


def fund_bond(chain: Chain, provider: str) -> int:
    bond = int(chain.staking.appeal_params().bond)
    chain.tx(chain.token.transfer(provider, bond), chain.governance)
    chain.tx(chain.token.approve(chain.staking.address, bond), provider)
    return bond


def appeal(chain: Chain, slash_id: bytes) -> TxReceipt:
    provider = chain.providers[0]
    fund_bond(chain, provider)
    return chain.tx(chain.staking.appeal_slash(slash_id, EVIDENCE), provider)


def balances(chain: Chain) -> dict[str, int]:
    who = {"provider": chain.providers[0], "treasury": chain.treasury, "staking": chain.staking.address}
    return {name: int(chain.token.balance_of(address)) for name, address in who.items()}


def conserved(chain: Chain) -> int:
    return sum(int(chain.token.balance_of(h)) for h in chain.holders())


def test_the_default_appeal_params_are_the_constructors(chain: Chain) -> None:
    params = chain.staking.appeal_params()
    assert (params.bond, params.grace, params.timeout) == (100 * TOKEN, 86_400, 7 * 86_400)


def test_an_appeal_pulls_the_bond_and_freezes_execution_until_its_deadline(chain: Chain) -> None:
    slash_id = propose(chain)
    before = balances(chain)
    receipt = appeal(chain, slash_id)
    args = chain.one_event(receipt, "SlashAppealed")
    deadline = chain.block_time(receipt) + 7 * 86_400
    bond = 100 * TOKEN
    assert (args["id"], args["provider"], args["evidenceHash"]) == (slash_id, chain.providers[0], EVIDENCE)
    assert (args["bond"], args["deadline"]) == (bond, deadline)
    after = balances(chain)
    assert (
        after["staking"] == before["staking"] + bond
    )  # the provider's own balance got the bond from governance
    record = chain.staking.get_appeal(slash_id)
    assert (record.state, record.deadline, record.bond, record.evidence_hash) == (
        AppealState.OPEN,
        deadline,
        bond,
        EVIDENCE,
    )
    chain.advance(chain.staking.veto_window() + 1)
    chain.expect_revert(
        chain.staking.execute_slash(slash_id), chain.stranger, "AppealPending", slash_id, deadline
    )


def test_an_upheld_appeal_vetoes_the_slash_and_refunds_the_bond(chain: Chain) -> None:
    slash_id = propose(chain)
    appeal(chain, slash_id)
    total = conserved(chain)
    before = balances(chain)
    chain.advance(chain.staking.veto_window() + 1)  # past the veto window: the appeal keeps it vetoable
    receipt = chain.tx(chain.staking.resolve_appeal(slash_id, True, REASON), chain.governance)
    resolved = chain.one_event(receipt, "AppealResolved")
    assert (resolved["id"], resolved["upheld"], resolved["reasonHash"], resolved["executableAt"]) == (
        slash_id,
        True,
        REASON,
        0,
    )
    assert chain.one_event(receipt, "SlashVetoed")["id"] == slash_id
    after = balances(chain)
    assert after["provider"] == before["provider"] + 100 * TOKEN
    assert after["staking"] == before["staking"] - 100 * TOKEN
    assert chain.staking.slash_state(slash_id) == SlashState.VETOED
    assert chain.staking.appeal_of(slash_id) == AppealState.UPHELD
    assert chain.staking.provider(chain.providers[0]).pending_slashes == 0
    chain.expect_revert(
        chain.staking.resolve_appeal(slash_id, True, REASON), chain.governance, "NoOpenAppeal", slash_id
    )
    assert conserved(chain) == total


def test_a_rejected_appeal_sends_the_bond_to_the_treasury_and_the_slash_waits_the_grace(chain: Chain) -> None:
    slash_id = propose(chain)
    appeal(chain, slash_id)
    total = conserved(chain)
    before = balances(chain)
    receipt = chain.tx(chain.staking.resolve_appeal(slash_id, False, REASON), chain.governance)
    executable_at = chain.block_time(receipt) + 86_400  # the grace outlasts the 120 s veto window
    resolved = chain.one_event(receipt, "AppealResolved")
    assert (resolved["upheld"], resolved["executableAt"]) == (False, executable_at)
    assert chain.staking.slash(slash_id).executable_at == executable_at
    after = balances(chain)
    assert after["treasury"] == before["treasury"] + 100 * TOKEN
    assert after["staking"] == before["staking"] - 100 * TOKEN
    assert chain.staking.appeal_of(slash_id) == AppealState.REJECTED
    chain.expect_revert(
        chain.staking.execute_slash(slash_id), chain.stranger, "VetoWindowOpen", slash_id, executable_at
    )
    chain.mine(executable_at)
    amount = chain.staking.slash(slash_id).amount
    receipt = chain.tx(chain.staking.execute_slash(slash_id), chain.stranger)
    assert chain.one_event(receipt, "SlashExecuted")["amount"] == amount
    assert chain.events(receipt, "AppealExpired") == []
    assert balances(chain)["treasury"] == after["treasury"] + amount
    assert conserved(chain) == total


def test_a_veto_during_a_rejected_appeals_grace_refunds_nothing(chain: Chain) -> None:
    slash_id = propose(chain)
    appeal(chain, slash_id)
    chain.tx(chain.staking.resolve_appeal(slash_id, False, REASON), chain.governance)
    before = balances(chain)
    receipt = chain.tx(chain.staking.veto_slash(slash_id, REASON), chain.governance)
    assert chain.events(receipt, "AppealResolved") == []
    assert balances(chain) == before
    assert chain.staking.appeal_of(slash_id) == AppealState.REJECTED


def test_an_expired_appeal_is_refunded_by_the_execution(chain: Chain) -> None:
    slash_id = propose(chain)
    deadline = chain.one_event(appeal(chain, slash_id), "SlashAppealed")["deadline"]
    total = conserved(chain)
    before = balances(chain)
    chain.mine(deadline)
    assert chain.staking.appeal_of(slash_id) == AppealState.EXPIRED
    assert chain.staking.get_appeal(slash_id).state == AppealState.EXPIRED
    chain.expect_revert(
        chain.staking.resolve_appeal(slash_id, False, REASON), chain.governance, "NoOpenAppeal", slash_id
    )
    amount = chain.staking.slash(slash_id).amount
    receipt = chain.tx(chain.staking.execute_slash(slash_id), chain.stranger)
    expired = chain.one_event(receipt, "AppealExpired")
    assert (expired["id"], expired["bondRefunded"]) == (slash_id, 100 * TOKEN)
    assert chain.one_event(receipt, "SlashExecuted")["amount"] == amount
    after = balances(chain)
    assert after["provider"] == before["provider"] + 100 * TOKEN
    assert after["treasury"] == before["treasury"] + amount
    assert chain.staking.slash_state(slash_id) == SlashState.EXECUTED
    assert conserved(chain) == total


@pytest.mark.parametrize("batch", [False, True], ids=["vetoSlash", "vetoSlashes"])
def test_a_veto_of_an_appealed_slash_upholds_the_appeal_once(chain: Chain, batch: bool) -> None:
    slash_id = propose(chain)
    appeal(chain, slash_id)
    before = balances(chain)
    chain.advance(chain.staking.veto_window() + 1)
    fn = (
        chain.staking.veto_slashes([slash_id], REASON)
        if batch
        else chain.staking.veto_slash(slash_id, REASON)
    )
    receipt = chain.tx(fn, chain.governance)
    resolved = chain.one_event(receipt, "AppealResolved")
    assert (resolved["id"], resolved["upheld"], resolved["reasonHash"], resolved["executableAt"]) == (
        slash_id,
        True,
        REASON,
        0,
    )
    assert balances(chain)["provider"] == before["provider"] + 100 * TOKEN
    assert chain.staking.appeal_of(slash_id) == AppealState.UPHELD
    # No second refund: the slash is no longer pending, the appeal no longer open.
    chain.expect_revert(
        chain.staking.veto_slash(slash_id, REASON),
        chain.governance,
        "SlashNotPending",
        slash_id,
        SlashState.VETOED,
    )
    chain.expect_revert(
        chain.staking.resolve_appeal(slash_id, True, REASON), chain.governance, "NoOpenAppeal", slash_id
    )
    after = balances(chain)
    chain.tx(chain.staking.veto_slashes([slash_id], REASON), chain.governance)
    assert balances(chain) == after


def test_one_appeal_per_slash(chain: Chain) -> None:
    slash_id = propose(chain)
    appeal(chain, slash_id)
    provider = chain.providers[0]
    fund_bond(chain, provider)
    chain.expect_revert(chain.staking.appeal_slash(slash_id, EVIDENCE), provider, "AlreadyAppealed", slash_id)
    chain.tx(chain.staking.resolve_appeal(slash_id, False, REASON), chain.governance)
    chain.expect_revert(chain.staking.appeal_slash(slash_id, EVIDENCE), provider, "AlreadyAppealed", slash_id)


@pytest.mark.parametrize("who", ["stranger", "service", "governance", "other_provider"])
def test_only_the_slashed_provider_may_appeal(chain: Chain, who: str) -> None:
    slash_id = propose(chain)
    caller = {
        "stranger": chain.stranger,
        "service": chain.service,
        "governance": chain.governance,
        "other_provider": chain.providers[1],
    }[who]
    if who != "governance":
        chain.tx(chain.token.transfer(caller, 100 * TOKEN), chain.governance)
    chain.tx(chain.token.approve(chain.staking.address, 100 * TOKEN), caller)
    chain.expect_revert(
        chain.staking.appeal_slash(slash_id, EVIDENCE), caller, "NotSlashedProvider", caller.lower()
    )


def test_an_appeal_only_inside_the_veto_window_of_a_pending_slash(chain: Chain) -> None:
    provider = chain.providers[0]
    late = propose(chain)
    executable_at = chain.staking.slash(late).executable_at
    fund_bond(chain, provider)
    chain.mine(executable_at)
    chain.expect_revert(
        chain.staking.appeal_slash(late, EVIDENCE), provider, "VetoWindowClosed", late, executable_at
    )
    vetoed = propose(chain)
    chain.tx(chain.staking.veto_slash(vetoed, REASON), chain.governance)
    chain.expect_revert(
        chain.staking.appeal_slash(vetoed, EVIDENCE), provider, "SlashNotPending", vetoed, SlashState.VETOED
    )
    unknown = keccak(text="never proposed")
    chain.expect_revert(
        chain.staking.appeal_slash(unknown, EVIDENCE), provider, "SlashNotPending", unknown, SlashState.NONE
    )


def test_an_appeal_without_the_approved_bond_reverts(chain: Chain) -> None:
    slash_id = propose(chain)
    provider = chain.providers[0]
    chain.tx(chain.token.approve(chain.staking.address, 0), provider)
    with pytest.raises(Exception):  # noqa: B017 - the token's ERC20InsufficientAllowance
        chain.staking.appeal_slash(slash_id, EVIDENCE).call({"from": provider})
    assert chain.staking.appeal_of(slash_id) == AppealState.NONE


@pytest.mark.parametrize(
    ("bond", "grace", "timeout"),
    [
        (0, 3_600, 3_600),
        (1_000_001 * TOKEN, 3_600, 3_600),
        (TOKEN, 59, 3_600),
        (TOKEN, 3_600, 59),
        (TOKEN, 30 * 86_400 + 1, 3_600),
        (TOKEN, 3_600, 30 * 86_400 + 1),
    ],
)
def test_the_appeal_params_are_bounded(chain: Chain, bond: int, grace: int, timeout: int) -> None:
    chain.expect_revert(
        chain.staking.set_appeal_params(bond, grace, timeout), chain.governance, "ParameterOutOfBounds"
    )


def test_a_timeout_shorter_than_the_veto_window_still_waits_for_the_window(chain: Chain) -> None:
    chain.tx(chain.staking.set_appeal_params(10 * TOKEN, 60, 60), chain.governance)
    slash_id = propose(chain)
    appeal(chain, slash_id)
    executable_at = chain.staking.slash(slash_id).executable_at
    chain.mine(executable_at - 30)  # the appeal's deadline passed, the veto window has not
    chain.expect_revert(
        chain.staking.execute_slash(slash_id), chain.stranger, "VetoWindowOpen", slash_id, executable_at
    )
    chain.mine(executable_at)
    receipt = chain.tx(chain.staking.execute_slash(slash_id), chain.stranger)
    assert chain.one_event(receipt, "AppealExpired")["bondRefunded"] == 10 * TOKEN
