"""The reward root's challenge and the sweeps of what strands (audit: a stolen oracle key took
every funded, unpublished epoch's pool at once; funds stranded in empty epochs, rounding dust and
direct transfers), on a real Anvil.

- a root opens for claims `rewardChallengeDelay` after publication; until then the council
  (VETOER) may revoke it and the oracle publishes again; afterwards it is final;
- `REWARD_CLAIM_PERIOD` after claims open, governance sweeps what is left of the pool;
- `sweepExcess` sends only what the contract holds beyond bonded stake, unswept pools and open
  appeal bonds.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from staking.domain.vocabulary import TOKEN
from staking.rewards.merkle import WeightTree
from tests.support.chain import Chain
from tests.support.reward_epochs_on_chain import finish_epoch, fn, fund, publish

pytestmark = pytest.mark.integration

REASON = keccak(text="root of a stolen oracle key")
DELAY = 3_600


def _published(
    chain: Chain, pool: int, weights: dict[str, int], delay: int = DELAY
) -> tuple[int, WeightTree]:
    chain.tx(fn(chain).setRewardChallengeDelay(delay), chain.governance)
    epoch = chain.staking.current_epoch()
    fund(chain, epoch, pool)
    finish_epoch(chain, epoch)
    tree = WeightTree.build(weights)
    publish(chain, epoch, tree)
    return epoch, tree


def _claim(chain: Chain, epoch: int, tree: WeightTree, account: str) -> Any:
    return chain.staking.claim(epoch, tree.weights[account], tree.proofs[account])


def test_claims_wait_for_the_challenge_and_the_council_revokes_a_root_meanwhile(chain: Chain) -> None:
    p0, p1 = chain.providers[0], chain.providers[1]
    rogue = WeightTree.build({chain.stranger: 1})
    chain.tx(fn(chain).setRewardChallengeDelay(DELAY), chain.governance)
    epoch = chain.staking.current_epoch()
    fund(chain, epoch, 100 * TOKEN)
    finish_epoch(chain, epoch)
    receipt = publish(chain, epoch, rogue)
    opens = chain.one_event(receipt, "ClaimsOpenAt")["claimableAt"]
    assert opens == chain.block_time(receipt) + DELAY == fn(chain).claimableAt(epoch).call()
    chain.expect_revert(
        _claim(chain, epoch, rogue, chain.stranger), chain.stranger, "ClaimsNotOpen", epoch, opens
    )

    receipt = chain.tx(fn(chain).revokeEligibility(epoch, REASON), chain.governance)  # the devnet's VETOER
    args = chain.one_event(receipt, "EligibilityRevoked")
    assert (args["epoch"], args["by"], args["reasonHash"]) == (epoch, chain.governance, REASON)
    e = chain.staking.epoch(epoch)
    assert (e.published, e.pool, e.claimed, fn(chain).claimableAt(epoch).call()) == (False, 100 * TOKEN, 0, 0)
    chain.expect_revert(
        _claim(chain, epoch, rogue, chain.stranger), chain.stranger, "EpochNotPublished", epoch
    )

    # The oracle publishes the honest root; once its challenge is over it is final.
    honest = WeightTree.build({p0: 3, p1: 1})
    receipt = publish(chain, epoch, honest)
    opens = chain.one_event(receipt, "ClaimsOpenAt")["claimableAt"]
    chain.mine(opens)
    chain.expect_revert(
        fn(chain).revokeEligibility(epoch, REASON), chain.governance, "ChallengeClosed", epoch, opens
    )
    before = int(chain.token.balance_of(p0))
    chain.tx(_claim(chain, epoch, honest, p0), p0)
    assert int(chain.token.balance_of(p0)) - before == 75 * TOKEN


def test_revoking_needs_a_published_root(chain: Chain) -> None:
    epoch = chain.staking.current_epoch()
    chain.expect_revert(
        fn(chain).revokeEligibility(epoch, REASON), chain.governance, "EpochNotPublished", epoch
    )


def test_the_challenge_delay_is_bounded_and_set_with_an_event(chain: Chain) -> None:
    assert fn(chain).rewardChallengeDelay().call() == 0  # the devnet's default; a day elsewhere
    receipt = chain.tx(fn(chain).setRewardChallengeDelay(7 * 86_400), chain.governance)
    assert chain.one_event(receipt, "RewardChallengeDelaySet")["delay"] == 7 * 86_400
    chain.expect_revert(
        fn(chain).setRewardChallengeDelay(7 * 86_400 + 1), chain.governance, "ParameterOutOfBounds"
    )


def test_what_is_left_of_a_pool_is_swept_only_after_the_claim_period(chain: Chain) -> None:
    p0, p1 = chain.providers[0], chain.providers[1]
    epoch, tree = _published(chain, 100 * TOKEN, {p0: 1, p1: 2})
    chain.mine(fn(chain).claimableAt(epoch).call())
    chain.tx(_claim(chain, epoch, tree, p0), p0)  # 33.33… tokens; p1 never claims
    closes = fn(chain).claimableAt(epoch).call() + fn(chain).REWARD_CLAIM_PERIOD().call()
    chain.expect_revert(fn(chain).sweepEpoch(epoch), chain.governance, "ClaimPeriodOpen", epoch, closes)

    chain.mine(closes)
    chain.expect_revert(_claim(chain, epoch, tree, p1), p1, "ClaimPeriodOver", epoch)
    treasury = int(chain.token.balance_of(chain.treasury))
    left = 100 * TOKEN - chain.staking.epoch(epoch).claimed
    receipt = chain.tx(fn(chain).sweepEpoch(epoch), chain.governance)
    args = chain.one_event(receipt, "RewardsSwept")
    assert (args["epoch"], args["treasury"], args["amount"]) == (epoch, chain.treasury, left)
    assert int(chain.token.balance_of(chain.treasury)) - treasury == left
    assert chain.staking.epoch(epoch).claimed == 100 * TOKEN
    chain.expect_revert(fn(chain).sweepEpoch(epoch), chain.governance, "ZeroAmount")


def test_an_empty_roots_pool_is_swept_after_its_claim_period(chain: Chain) -> None:
    epoch, _ = _published(chain, 40 * TOKEN, {}, delay=0)
    chain.mine(fn(chain).claimableAt(epoch).call() + fn(chain).REWARD_CLAIM_PERIOD().call())
    receipt = chain.tx(fn(chain).sweepEpoch(epoch), chain.governance)
    assert chain.one_event(receipt, "RewardsSwept")["amount"] == 40 * TOKEN


def test_an_unpublished_epoch_cannot_be_swept(chain: Chain) -> None:
    epoch = chain.staking.current_epoch()
    fund(chain, epoch, 5 * TOKEN)
    chain.expect_revert(fn(chain).sweepEpoch(epoch), chain.governance, "EpochNotPublished", epoch)


def test_sweep_excess_takes_direct_transfers_and_never_stake_pools_or_bonds(chain: Chain) -> None:
    staking = chain.staking.address
    # Stake, an unswept pool and an open appeal bond are owed: nothing is excess.
    epoch = chain.staking.current_epoch()
    fund(chain, epoch, 20 * TOKEN)
    v, sig = chain.signed(chain.providers[0])
    chain.tx(chain.staking.propose_slash(v, sig, 1_000), chain.service)
    bond = int(chain.staking.appeal_params().bond)
    chain.tx(chain.token.transfer(chain.providers[0], bond), chain.governance)
    chain.tx(chain.token.approve(staking, bond), chain.providers[0])
    chain.tx(chain.staking.appeal_slash(v.id, REASON), chain.providers[0])
    chain.expect_revert(fn(chain).sweepExcess(), chain.governance, "ZeroAmount")

    chain.tx(chain.token.transfer(staking, 7 * TOKEN), chain.governance)  # sent directly
    held = int(chain.token.balance_of(staking))
    receipt = chain.tx(fn(chain).sweepExcess(), chain.governance)
    args = chain.one_event(receipt, "ExcessSwept")
    assert (args["treasury"], args["amount"]) == (chain.treasury, 7 * TOKEN)
    assert int(chain.token.balance_of(staking)) == held - 7 * TOKEN
    assert int(chain.token.balance_of(staking)) == fn(chain).totalBonded().call() + 20 * TOKEN + bond
    chain.expect_revert(fn(chain).sweepExcess(), chain.governance, "ZeroAmount")
