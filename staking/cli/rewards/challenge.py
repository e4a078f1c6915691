"""`rewards revoke`, `rewards sweep` and `rewards sweep-excess` (SPEC section 9, audit finding 4):
the council's challenge of a published root, and governance's sweep of what strands.

- `revoke EPOCH --reason`: VETOER_ROLE (the council Safe in the Safe shape), while claims of the
  epoch have not opened (`claimableAt`, the publication plus `rewardChallengeDelay`): the root is
  withdrawn, nothing of the pool moved, and the epoch may be published again.
- `sweep EPOCH`: GOVERNANCE_ROLE (timelocked in the Safe shape), once the claim period after
  `claimableAt` is over: what is left of the pool goes to the treasury.
- `sweep-excess`: GOVERNANCE_ROLE: tokens beyond bonded stake, reward pools and appeal bonds (sent
  to the contract directly, or left by swept epochs' claims) go to the treasury.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from staking.cli.chainops import Gov, Operation, Signing
from staking.cli.common import reason_hash, relative, tokens, utc
from staking.cli.rewards.shared import EpochArg, epoch_lines, stake_token
from staking.cli.routes import with_governance

if TYPE_CHECKING:
    from staking.chain.contracts import EpochRecord


def _epoch_state(gov: Gov, epoch: int) -> tuple[EpochRecord, int]:
    """The epoch as `getEpoch` answers it, and when its claims open."""
    return gov.staking.epoch(epoch), gov.staking.claimable_at(epoch)


def _state_lines(gov: Gov, epoch: int, rec: EpochRecord, claimable_at: int) -> list[str]:
    lines = epoch_lines(epoch, rec)
    if rec.published:
        closes = claimable_at + gov.staking.contract.functions.REWARD_CLAIM_PERIOD().call()
        now = gov.now()
        lines.append(
            f"claims open {utc(claimable_at)} ({relative(claimable_at, now)}), close {utc(closes)} "
            f"({relative(closes, now)})"
        )
    return lines


@with_governance
def revoke(
    epoch: EpochArg,
    reason: Annotated[str, typer.Option(help="why; its keccak256 goes on chain as reasonHash")],
    signing: Signing,
) -> None:
    """Withdraw a published root before its claims open (VETOER_ROLE: the council)."""
    digest = reason_hash(reason)

    def build(gov: Gov) -> Operation[tuple[EpochRecord, int]]:
        return Operation(
            gov.staking.revoke_eligibility(epoch, digest),
            ("VETOER_ROLE",),
            lambda: _epoch_state(gov, epoch),
            lambda st: _state_lines(gov, epoch, *st),
            lambda st: (type(st[0])(b"\x00" * 32, 0, st[0].pool, st[0].claimed, False), 0),
            [f"reasonHash 0x{digest.hex()}; the rewards oracle may publish the epoch again"],
        )

    signing.send(build)


@with_governance
def sweep(epoch: EpochArg, signing: Signing) -> None:
    """Send what is left of an epoch's pool to the treasury, after its claim period
    (GOVERNANCE_ROLE; timelocked in the Safe shape)."""

    def build(gov: Gov) -> Operation[tuple[EpochRecord, int]]:
        left = gov.staking.epoch(epoch)
        return Operation(
            gov.staking.sweep_epoch(epoch),
            ("GOVERNANCE_ROLE",),
            lambda: _epoch_state(gov, epoch),
            lambda st: _state_lines(gov, epoch, *st),
            None,
            [f"{tokens(left.pool - left.claimed)} SWARM unclaimed, to the treasury {gov.staking.treasury()}"],
        )

    signing.send(build)


@with_governance
def sweep_excess(signing: Signing) -> None:
    """Send the tokens the contract holds beyond what it owes (bonded stake, reward pools, appeal
    bonds) to the treasury (GOVERNANCE_ROLE; timelocked in the Safe shape)."""

    def build(gov: Gov) -> Operation[int]:
        token = stake_token(gov)

        def read() -> int:
            return token.balance_of(gov.staking.address)

        return Operation(
            gov.staking.sweep_excess(),
            ("GOVERNANCE_ROLE",),
            read,
            lambda balance: [f"SwarmStaking holds {tokens(balance)} SWARM"],
            None,
            [f"to the treasury {gov.staking.treasury()}; bonded stake and owed rewards stay"],
        )

    signing.send(build)
