"""`swarm-staking rewards revoke|sweep` in the Safe shape (SPEC section 9, audit finding 4), on a
real Anvil with Safe's own contracts and OpenZeppelin's timelock: the council Safe withdraws a
published root while claims have not opened, not after; governance sweeps an epoch's remainder to
the treasury only once its claim period is over, through its Safe and the timelock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from staking.devnet.accounts import COUNCIL_OWNERS, GOVERNANCE, GOVERNANCE_OWNERS, devnet_account
from staking.rewards.merkle import WeightTree
from tests.support.chain import Chain
from tests.support.cli import CommandLine, command_line, refused, succeeded

pytestmark = pytest.mark.e2e

T = 10**18
POOL = 1_000 * T
CHALLENGE = 3_600
REASON = "weights from a detector's bad report batch"


@pytest.fixture
def cli(safe_chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CommandLine]:
    with command_line(safe_chain, tmp_path, monkeypatch) as c:
        yield c


def published(chain: Chain) -> tuple[int, WeightTree]:
    """Epoch 0 funded and published under a one-hour challenge (set as the timelock would)."""
    s, timelock = chain.staking, chain.deployment.governance.timelock
    assert timelock is not None
    chain.rpc("anvil_impersonateAccount", timelock)
    chain.rpc("anvil_setBalance", timelock, hex(10**18))
    chain.tx(s.set_reward_challenge_delay(CHALLENGE), timelock)
    chain.rpc("anvil_stopImpersonatingAccount", timelock)
    funder = devnet_account(GOVERNANCE).address  # the deployer, holding the devnet's tokens
    chain.tx(chain.token.approve(s.address, POOL), funder)
    chain.tx(s.fund_rewards(0, POOL), funder)
    chain.advance(s.contract.functions.epochLength().call())
    tree = WeightTree.build({chain.providers[0]: 3, chain.providers[1]: 5})
    receipt = chain.tx(s.publish_eligibility(0, tree.root, tree.total_weight, "ipfs://w0"), chain.service)
    return int(chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]), tree


def test_the_council_revokes_a_root_under_challenge_and_not_after(
    cli: CommandLine, safe_chain: Chain
) -> None:
    chain, s = safe_chain, safe_chain.staking
    at, tree = published(chain)
    assert s.claimable_at(0) == at + CHALLENGE
    cli.sign_as(COUNCIL_OWNERS[0])
    block = chain.w3.eth.block_number
    dry = succeeded(cli("rewards", "revoke", "0", "--reason", REASON, "--sign", "--dry-run"))
    assert "(predicted) epoch 0: not published" in dry and "dry run: nothing was sent or written" in dry
    assert chain.w3.eth.block_number == block
    out = succeeded(
        cli("rewards", "revoke", "0", "--reason", REASON, "--sign", "--signature-out", "r.sig.json", "--yes")
    )
    assert "signers  1 of 2" in out and s.epoch(0).published
    cli.sign_as(COUNCIL_OWNERS[1])
    out = succeeded(
        cli("rewards", "revoke", "0", "--reason", REASON, "--sign", "--signatures", "r.sig.json", "--yes")
    )
    assert "the Safe executed it" in out
    e = s.epoch(0)
    assert not e.published and e.pool == POOL and e.claimed == 0 and s.claimable_at(0) == 0

    # Published again (a corrected root); once claims open, the council is too late.
    chain.tx(s.publish_eligibility(0, tree.root, tree.total_weight, "ipfs://w0-fixed"), chain.service)
    chain.advance(CHALLENGE + 1)
    refused(
        cli("rewards", "revoke", "0", "--reason", REASON, "--sign", "--yes"), "ChallengeClosed", "too late"
    )
    assert s.epoch(0).published


def test_governance_sweeps_an_epoch_only_after_its_claim_period(cli: CommandLine, safe_chain: Chain) -> None:
    chain, s = safe_chain, safe_chain.staking
    published(chain)
    chain.advance(CHALLENGE + 1)
    cli.sign_as(GOVERNANCE_OWNERS[0])
    refused(cli("rewards", "sweep", "0", "--sign", "--yes"), "ClaimPeriodOpen", "stays claimable until")
    chain.advance(s.contract.functions.REWARD_CLAIM_PERIOD().call())
    succeeded(cli("rewards", "sweep", "0", "--sign", "--signature-out", "w.sig.json", "--yes"))
    cli.sign_as(GOVERNANCE_OWNERS[1])
    out = succeeded(cli("rewards", "sweep", "0", "--sign", "--signatures", "w.sig.json", "--yes"))
    assert "queued   operation 0x" in out  # GOVERNANCE_ROLE: the timelock's call
    op = next(
        o for o in json.loads(succeeded(cli("timelock", "list", "--json"))) if "sweepEpoch" in o["call"]
    )
    chain.mine(op["eta"])
    before = chain.token.balance_of(s.treasury())
    succeeded(cli("timelock", "execute", op["id"], "--yes"))
    assert chain.token.balance_of(s.treasury()) - before == POOL  # nobody claimed
    assert s.epoch(0).claimed == POOL
